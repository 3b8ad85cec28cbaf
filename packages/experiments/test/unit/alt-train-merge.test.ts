/**
 * The alternating train–merge loop end to end on a tiny random GPT-2 (2 domains × 2 cycles, 4
 * fresh training pairs per cycle, real training, real merges, real line search):
 * - cycle 2 really starts from merged model 1: the weights it trained on are pristine + cycle 1's
 *   merged delta (rebuilt independently from the cycle-1 adapters on disk), not the pristine base,
 *   and retraining with the same data and seed reproduces its adapter on that model but not on the
 *   pristine base;
 * - every cycle trains on fresh, disjoint, seed-determined data;
 * - only the LoRA target weights change: embeddings, norms, biases and other linears of the merged
 *   model are bit-identical to the base, and the base is restored after the run;
 * - α = 0 rejects a merge; an existing output needs `replace`; the split rule holds.
 */
import { readFileSync, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadDomainDataset } from '@plora/datasets'
import { baseFingerprint, injectDeltas, planMerge } from '@plora/loader'
import { type CausalLM, initBackend, loadCausalLMFromDir, writeEmbeddedBaseModel } from '@plora/model'
import { type LoraAdapter, loadPeftAdapter } from '@plora/peft'
import { trainAdapter } from '@plora/trainer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AltTrainMergeOptions,
  type AltTrainMergeResult,
  convergenceMarkdown,
  cycleTrainBlock,
  cycleTrainSeed,
  runAltTrainMerge,
} from '../../src/index.js'

let root: string
let modelDir: string
let run: AltTrainMergeResult
let opts: Partial<AltTrainMergeOptions> & Pick<AltTrainMergeOptions, 'modelDir'>

const adapterBytes = (dir: string) => readFileSync(join(dir, 'adapter_model.safetensors'))

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  root = await mkdtemp(join(tmpdir(), 'plora-alt-train-merge-'))
  modelDir = await writeEmbeddedBaseModel(join(root, 'base'), { seed: 3 })
  opts = {
    modelDir,
    domains: ['legal', 'medical'],
    cycles: 2,
    samples: 4,
    rank: 1,
    scheme: 'attention',
    seed: 7,
    output: join(root, 'out'),
    alphas: [0, 0.5, 1],
    lineSearchSize: 4,
    devSize: 6,
    maxLength: 48,
    training: { epochs: 1, lr: 3e-3, maxLen: 48, dropout: 0.1, batchSize: 2, valSamples: 2 },
  }
  run = await runAltTrainMerge({ ...opts, saveMergedModels: true })
}, 240_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

/** The cycle's merged delta rebuilt from its adapters on disk, as an injection into `model`. */
async function injectCycle(model: CausalLM, cycle: number, alpha: number) {
  const adapters: LoraAdapter[] = []
  for (const d of opts.domains!) adapters.push(await loadPeftAdapter(join(opts.output!, `cycle_${cycle}`, d)))
  const plan = planMerge(
    adapters.map((a) => ({ name: a.dir!, modules: a.modules })),
    { strategy: 'weighted_sum', weights: null },
  )
  return injectDeltas(model, plan.deltas.values(), { coefficient: alpha })
}

describe('runAltTrainMerge', () => {
  it('writes convergence.json with one param_delta_fro and held-out NLL per cycle, and the adapters', () => {
    const r = run.report
    expect(r.cycle_records.map((c) => c.cycle)).toEqual([1, 2])
    expect(r.param_delta_fro).toEqual(r.cycle_records.map((c) => c.param_delta_fro))
    expect(JSON.parse(readFileSync(run.jsonPath, 'utf8'))).toEqual(r)
    expect(Object.keys(r.base.heldout_nll)).toEqual(['legal', 'medical'])
    for (const c of r.cycle_records) {
      expect(c.line_search.map((x) => x.alpha)).toEqual([0, 0.5, 1])
      expect(Object.keys(c.heldout_nll)).toEqual(['legal', 'medical'])
      expect(c.adapters.map((a) => a.dir)).toEqual([`cycle_${c.cycle}/legal`, `cycle_${c.cycle}/medical`])
      for (const a of c.adapters) {
        expect(adapterBytes(join(run.output, a.dir)).length).toBeGreaterThan(0)
        expect(a.in_domain_nll).toBe(a.nll[a.domain])
        expect(a.cross_domain_nll).toBe(a.nll[a.domain === 'legal' ? 'medical' : 'legal'])
        // deltas are against the model the adapter trained on: merged model c−1 (cycle 0 = the base)
        const prev = c.cycle === 1 ? r.base.heldout_nll : r.cycle_records[c.cycle - 2]!.heldout_nll
        expect(a.in_domain_delta).toBe(a.nll[a.domain]! - prev[a.domain]!)
      }
      // the chosen α is the curve's minimum; a merge is applied iff α > 0
      expect(c.alpha).toBe(c.line_search.reduce((b, x) => (x.nll < b.nll ? x : b)).alpha)
      expect(c.accepted).toBe(c.alpha > 0)
    }
    // the line-search split is not the reported one
    expect(r.splits).toEqual({ train: 'train', line_search: 'validation', eval: 'test' })
    const md = readFileSync(run.mdPath, 'utf8')
    expect(md).toBe(convergenceMarkdown(r))
    expect(md).toContain('| 0 (base) |')
    expect(md).toMatch(/\n\| 2 \| /)
    // a winner at the grid's top edge is flagged (the minimum was not bracketed), an interior one is not
    const top = Math.max(...r.alphas)
    const edge = { ...r, cycle_records: r.cycle_records.map((c) => ({ ...c, alpha: top })) }
    expect(convergenceMarkdown(edge)).toMatch(/largest α of the grid \(1\) won/)
    const inner = { ...r, cycle_records: r.cycle_records.map((c) => ({ ...c, alpha: 0.5 })) }
    expect(convergenceMarkdown(inner)).not.toMatch(/did not bracket/)
  })

  it('starts cycle 2 from merged model 1 (pristine + cycle-1 delta), not from the pristine base', async () => {
    const [c1, c2] = run.report.cycle_records
    // precondition of this test: cycle 1's merge was accepted (deterministic for these seeds)
    expect(c1!.alpha).toBeGreaterThan(0)
    expect(c1!.param_delta_fro).toBeGreaterThan(0)
    const model = await loadCausalLMFromDir(modelDir)
    try {
      const pristine = await baseFingerprint(model)
      expect(run.report.base_sha256).toBe(pristine)
      expect(c1!.start_sha256).toBe(pristine)
      const h = await injectCycle(model, 1, c1!.alpha)
      const merged1 = await baseFingerprint(model)
      expect(merged1).not.toBe(pristine)
      expect(c1!.end_sha256).toBe(merged1)
      expect(c2!.start_sha256).toBe(merged1)

      // the cycle-2 adapter is what training on merged model 1 gives, and not what the pristine base gives
      const a = c2!.adapters.find((x) => x.domain === 'legal')!
      const train = (await loadDomainDataset('legal', { split: 'train' })).pairs
      const { pairs, block } = cycleTrainBlock(train, { seed: 7, domain: 'legal', cycle: 2, samples: 4 })
      expect(block).toEqual(a.train_block)
      const val = (await loadDomainDataset('legal', { split: 'validation', samples: 2 })).pairs
      const retrain = (output: string) =>
        trainAdapter({
          domain: 'legal',
          output,
          modelDir,
          model,
          rank: 1,
          scheme: 'attention',
          epochs: 1,
          lr: 3e-3,
          maxLen: 48,
          batchSize: 2,
          dropout: 0.1,
          valSamples: 2,
          seed: cycleTrainSeed(7, 2, 'legal'),
          pairs: { train: pairs, validation: val },
        })
      await retrain(join(root, 'retrain-merged'))
      h.remove()
      expect(await baseFingerprint(model)).toBe(pristine)
      await retrain(join(root, 'retrain-pristine'))
      const original = adapterBytes(join(run.output, a.dir))
      expect(adapterBytes(join(root, 'retrain-merged')).equals(original)).toBe(true)
      expect(adapterBytes(join(root, 'retrain-pristine')).equals(original)).toBe(false)
    } finally {
      model.dispose()
    }
  }, 60_000)

  it('trains every cycle on fresh, disjoint data determined by the seed', async () => {
    for (const d of ['legal', 'medical']) {
      const [a1, a2] = run.report.cycle_records.map((c) => c.adapters.find((x) => x.domain === d)!)
      expect(a1!.train_block).toEqual([0, 4])
      expect(a2!.train_block).toEqual([4, 8])
      expect(a1!.train_data_sha256).not.toBe(a2!.train_data_sha256)
      expect(a1!.seed).not.toBe(a2!.seed)
    }
    const train = (await loadDomainDataset('legal', { split: 'train' })).pairs
    const q = (xs: Array<{ question: string }>) => xs.map((p) => p.question)
    const b1 = q(cycleTrainBlock(train, { seed: 7, domain: 'legal', cycle: 1, samples: 4 }).pairs)
    const b2 = q(cycleTrainBlock(train, { seed: 7, domain: 'legal', cycle: 2, samples: 4 }).pairs)
    expect(b1.filter((x) => b2.includes(x))).toEqual([])
    expect(q(cycleTrainBlock(train, { seed: 7, domain: 'legal', cycle: 1, samples: 4 }).pairs)).toEqual(b1)
    expect(q(cycleTrainBlock(train, { seed: 8, domain: 'legal', cycle: 1, samples: 4 }).pairs)).not.toEqual(b1)
    // a prefix of the split (the original's data every cycle) is not what cycle 1 uses
    expect(b1).not.toEqual(q(train.slice(0, 4)))
  })

  it('changes only the LoRA target weights: embeddings and every other tensor stay bit-identical', async () => {
    const base = await loadCausalLMFromDir(modelDir)
    const merged = await loadCausalLMFromDir(join(run.output, 'merged_cycle_2'))
    try {
      const targets = new Set(
        [...(await loadPeftAdapter(join(run.output, 'cycle_1', 'legal'))).modules.keys()].map((p) => `${p}.weight`),
      )
      expect(targets.size).toBeGreaterThan(0)
      expect([...base.params.keys()].sort()).toEqual([...merged.params.keys()].sort())
      expect([...base.params.keys()].some((n) => /wte|embed/.test(n))).toBe(true)
      let changed = 0
      for (const [name, v] of base.params) {
        const a = await v.data()
        const b = await merged.params.get(name)!.data()
        const same = a.length === b.length && a.every((x, i) => Object.is(x, b[i]))
        if (targets.has(name)) {
          if (!same) changed++
        } else {
          expect(same, `${name} changed`).toBe(true)
        }
      }
      expect(changed).toBe(targets.size)
      expect(run.report.cycle_records.at(-1)!.changed_since_base).toEqual([...targets].sort())
      expect(run.report.base_restored).toBe(true)
    } finally {
      base.dispose()
      merged.dispose()
    }
  })

  it('rejects a merge at α = 0: the weights stay those of the previous model', async () => {
    const r = await runAltTrainMerge({
      ...opts,
      domains: ['legal'],
      cycles: 1,
      samples: 2,
      alphas: [0],
      output: join(root, 'rejected'),
    })
    const c = r.report.cycle_records[0]!
    expect(c.accepted).toBe(false)
    expect(c.param_delta_fro).toBe(0)
    expect(c.end_sha256).toBe(c.start_sha256)
    expect(c.changed_since_base).toEqual([])
    expect(c.heldout_nll).toEqual(r.report.base.heldout_nll)
    expect(readFileSync(r.mdPath, 'utf8')).toContain('0 (rejected)')
  }, 60_000)

  it('refuses an existing output folder without replace, and one split for line search and report', async () => {
    await expect(runAltTrainMerge({ ...opts, cycles: 1 })).rejects.toMatchObject({ code: 'EXPERIMENTS_OUTPUT_EXISTS' })
    expect(readFileSync(run.jsonPath, 'utf8')).toContain('"cycle": 2')
    await expect(
      runAltTrainMerge({ ...opts, output: join(root, 'x'), lineSearchSplit: 'test', evalSplit: 'test' }),
    ).rejects.toMatchObject({ code: 'EXPERIMENTS_INPUT_INVALID' })
    await expect(
      runAltTrainMerge({ ...opts, output: join(root, 'x'), domains: ['legal'], samples: 100_000 }),
    ).rejects.toMatchObject({ code: 'EXPERIMENTS_INPUT_INVALID', details: { domain: 'legal' } })
  })
})
