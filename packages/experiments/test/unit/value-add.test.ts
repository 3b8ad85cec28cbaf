/**
 * The value-add runner end to end on a tiny random GPT-2 (real training, real placebos, real
 * statistics; 2 domains × 2 seeds, 4 training pairs, 6 evaluation pairs):
 * - the contamination bug cannot happen: the base tensors' hash after the run equals a freshly
 *   loaded model's, and the baselines the cross-domain deltas used are the in-domain baselines of
 *   the same examples, recomputed on a fresh model;
 * - seeds really differ; the same seed twice gives identical records apart from latency;
 * - resume skips finished cells, a changed setting does not reuse stale records;
 * - dataset failures name the domain and split; `nllOn` is recorded.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadDomainDataset } from '@plora/datasets'
import { baseFingerprint, createLoraBranches } from '@plora/loader'
import { pairedStat } from '@plora/metrics'
import {
  encodePair,
  initBackend,
  loadCausalLMFromDir,
  loadTokenizer,
  tokenNlls,
  writeEmbeddedBaseModel,
} from '@plora/model'
import { loadPeftAdapter } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildValueAdd,
  discoverArtifacts,
  exampleNlls,
  filterArtifacts,
  placeboGuardOffenders,
  readValueAddRecords,
  runValueAdd,
  type ValueAddOptions,
  type ValueAddRecord,
  type ValueAddResult,
  valueAddMarkdown,
} from '../../src/index.js'

let root: string
let modelDir: string
let first: ValueAddResult
let opts: Partial<ValueAddOptions> & Pick<ValueAddOptions, 'modelDir'>

const LATENCY_FIELDS = ['latency_ms', 'latency_trials_ms', 'latency_guard_exceeded']

function withoutLatency(line: string): string {
  const r = JSON.parse(line) as Record<string, unknown>
  for (const k of LATENCY_FIELDS) delete r[k]
  return JSON.stringify(r)
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  root = mkdtempSync(join(tmpdir(), 'plora-value-add-'))
  modelDir = await writeEmbeddedBaseModel(join(root, 'base'), { seed: 3 })
  opts = {
    modelDir,
    domains: ['legal', 'medical'],
    ranks: [1],
    schemes: ['attention'],
    seeds: [41, 42],
    samples: 4,
    devSize: 6,
    output: join(root, 'a'),
    latencyBudgetMs: 1e9,
    maxLength: 48,
    training: { epochs: 1, lr: 3e-3, maxLen: 48, dropout: 0.1, batchSize: 2, valSamples: 2 },
  }
  first = await runValueAdd(opts)
}, 240_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

describe('runValueAdd', () => {
  it('writes one record per cell with the spec fields first, and a report', () => {
    expect(first.newRecords).toBe(4)
    const lines = readFileSync(first.jsonlPath, 'utf8').split('\n')
    expect(lines.at(-1)).toBe('')
    expect(lines.length).toBe(5)
    const r = first.records[0]!
    expect(Object.keys(r).slice(0, 7)).toEqual([
      'config',
      'trained',
      'placebo_a',
      'placebo_b',
      'cross_domain',
      'latency_ms',
      'latency_guard_exceeded',
    ])
    expect(Object.keys(r.config).slice(0, 5)).toEqual(['domain', 'rank', 'scheme', 'seed', 'eval_split'])
    expect(r.nll_on).toBe('answer')
    expect(Object.keys(r.cross_domain!)).toEqual(['medical'])
    expect(typeof r.cross_domain!.medical!.wilcoxon_p).toBe('number')
    expect(r.cross_domain!.medical!.ci).toHaveLength(2)
    const md = readFileSync(first.mdPath, 'utf8')
    expect(md.startsWith('# Value-add experiment – summary\n\n## Domain: legal\n\n')).toBe(true)
    expect(md).toBe(valueAddMarkdown(first.records))
  })

  it('leaves the base weights bit-identical to a freshly loaded model', async () => {
    const fresh = await loadCausalLMFromDir(modelDir)
    try {
      const sha = await baseFingerprint(fresh)
      expect(first.baseSha256End).toBe(sha)
      expect(first.baseSha256Start).toBe(sha)
      for (const r of first.records) {
        const bw = r.base_weights as Record<string, unknown>
        expect(bw).toEqual({ sha256_run_start: sha, sha256_before_cell: sha, sha256_after_cell: sha, pristine: true })
      }
    } finally {
      fresh.dispose()
    }
  })

  it('compares cross-domain deltas with the in-domain baseline of the same examples, on pristine weights', async () => {
    const fresh = await loadCausalLMFromDir(modelDir)
    const tok = await loadTokenizer(modelDir)
    try {
      const dev = (await loadDomainDataset('medical', { split: 'validation', samples: 6 })).pairs.map((p) => ({
        prompt: p.question,
        answer: p.answer,
      }))
      const nllOpts = { nllOn: 'answer' as const, maxLength: 48, batchSize: 8, lora: undefined }
      const baseline = await exampleNlls(fresh, tok, dev, nllOpts)
      expect(first.baselines.medical).toEqual(baseline)
      // legal's adapter on medical (cross) and medical's own adapter (in-domain) against that baseline
      const legal = first.records.find((r) => r.config.domain === 'legal' && r.config.seed === 41)!
      const medical = first.records.find((r) => r.config.domain === 'medical' && r.config.seed === 41)!
      const after = async (dir: string) => {
        const set = createLoraBranches(fresh, [await loadPeftAdapter(join(opts.output!, dir))])
        try {
          return await exampleNlls(fresh, tok, dev, { ...nllOpts, lora: set.branches })
        } finally {
          set.dispose()
        }
      }
      const adapters = (r: ValueAddRecord) => r.adapters as Record<string, { dir: string }>
      expect(legal.cross_domain!.medical).toEqual(pairedStat(baseline, await after(adapters(legal).trained!.dir)))
      expect(medical.trained).toEqual(pairedStat(baseline, await after(adapters(medical).trained!.dir)))
    } finally {
      fresh.dispose()
    }
  })

  it('trains a different adapter per seed', () => {
    const [s41, s42] = first.records.filter((r) => r.config.domain === 'legal')
    const sha = (r: ValueAddRecord) => (r.adapters as Record<string, { sha256: string }>).trained!.sha256
    expect(sha(s41!)).not.toBe(sha(s42!))
    expect(s41!.trained!.delta_mean).not.toBe(s42!.trained!.delta_mean)
    expect(s41!.placebo_a!.delta_mean).not.toBe(s42!.placebo_a!.delta_mean)
  })

  it('gives identical records apart from latency for the same seed, in a fresh folder', async () => {
    const again = await runValueAdd({ ...opts, output: join(root, 'b'), seeds: [41] })
    const a = readFileSync(first.jsonlPath, 'utf8').split('\n').filter(Boolean)
    const b = readFileSync(again.jsonlPath, 'utf8').split('\n').filter(Boolean)
    expect(b.map(withoutLatency)).toEqual([a[0]!, a[2]!].map(withoutLatency))
  }, 120_000)

  it('resumes finished cells and never reuses records of another configuration', async () => {
    const before = readFileSync(first.jsonlPath, 'utf8')
    const resumed = await runValueAdd(opts)
    expect(resumed.newRecords).toBe(0)
    expect(resumed.skipped).toBe(4)
    expect(readFileSync(first.jsonlPath, 'utf8')).toBe(before)
    // a different dev size changes the result: the cell runs again, the stale record stays beside it
    const copy = join(root, 'c')
    cpSync(opts.output!, copy, { recursive: true })
    const changed = await runValueAdd({ ...opts, output: copy, seeds: [41], domains: ['legal'], devSize: 5 })
    expect(changed.newRecords).toBe(1)
    expect(changed.records.at(-1)!.config.dev_size).toBe(5)
    expect(changed.records.at(-1)!.trained!.n).toBe(5)
  }, 120_000)

  it('scores the whole text with nllOn "all" and says so', async () => {
    const all = await runValueAdd({ ...opts, output: join(root, 'd'), seeds: [41], domains: ['legal'], nllOn: 'all' })
    const r = all.records[0]!
    expect(r.nll_on).toBe('all')
    expect(r.config.nll_on).toBe('all')
    const answer = first.records[0]!
    expect(r.trained!.delta_mean).not.toBe(answer.trained!.delta_mean)
  }, 120_000)

  it('names the domain and split when a dev set cannot be loaded', async () => {
    await expect(
      runValueAdd({ ...opts, output: join(root, 'e'), domains: ['legal', 'no-such-domain'] }),
    ).rejects.toMatchObject({
      code: 'EXPERIMENTS_DATASET_FAILED',
      details: { domain: 'no-such-domain', split: 'validation' },
    })
  })
})

describe('value-add records', () => {
  it('drops a torn last line and keeps the complete ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plora-va-torn-'))
    try {
      const path = join(dir, 'value_add.jsonl')
      const good = readFileSync(first.jsonlPath, 'utf8').split('\n')[0]!
      writeFileSync(path, `${good}\n${good.slice(0, 40)}`)
      const r = await readValueAddRecords(path)
      expect(r.droppedTornLine).toBe(true)
      expect(r.records).toHaveLength(1)
      expect(readFileSync(path, 'utf8')).toBe(`${good}\n`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("the original's older records (spec §9.11)", () => {
  const fixture = join(import.meta.dirname, '..', 'fixtures', 'value_add_original.jsonl')

  it('reads them without placebo_b, status, eval_split or latency, and renders the §9.8 table', async () => {
    const { records } = await readValueAddRecords(fixture, { repair: false })
    expect(records).toHaveLength(3)
    expect(records[0]!.placebo_b).toBeUndefined()
    const md = valueAddMarkdown(records)
    const lines = md.split('\n')
    expect(lines.slice(0, 7)).toEqual([
      '# Value-add experiment – summary',
      '',
      '## Domain: arithmetic',
      '',
      '| Cell | r | scheme | ΔNLL | p | 95% CI | split | latency(ms) | guard |',
      '|---|---|---|---|---|---|---|---|---|',
      '| trained_seed41 | 4 | all | **-0.720** | 2.658e-43 | [-0.764, -0.674] | validation | 221.5 |  |',
    ])
    expect(lines[7]).toBe(
      '| trained_seed42 | 16 | all | +0.088 | 4.696e-05 | [0.035, 0.134] | validation | 256.6 | ⚠ |',
    )
    // no eval_split → "?", no latency → 0.0
    expect(md).toContain('| trained_seed41 | 4 | all | **-1.203** | 4.056e-169 | [-1.251, -1.157] | ? | 0.0 |  |')
    // second part: missing placebo B and cross p-values shown as dashes
    expect(md).toContain('# Controls, cross-domain transfer and adjusted p-values')
    expect(md).toMatch(
      /\| trained_seed41 \| 4 \| all \| [^|]+ \| [^|]+ \| \+0\.000 \| [^|]+ \| — \| — \| legal \+0\.000 \(—\); medical \+0\.000 \(—\) \| — \| — \|/,
    )
    expect(md.endsWith('|\n')).toBe(true)
    expect(md.endsWith('\n\n')).toBe(false)
  })
})

describe('placeboGuardOffenders', () => {
  const stat = (delta: number, p: number, hi: number) => ({
    delta_mean: delta,
    wilcoxon_p: p,
    ci: [delta - 0.01, hi] as [number, number],
  })
  const rec = (domain: string, a: ReturnType<typeof stat>, b: ReturnType<typeof stat>): ValueAddRecord => ({
    config: { domain, rank: 1, scheme: 'attention', seed: 41 },
    trained: stat(-0.5, 1e-30, -0.4),
    placebo_a: a,
    placebo_b: b,
  })
  it('names the cell whose placebo helps significantly after Holm and by at least the minimum effect', () => {
    const records = [
      rec('legal', stat(-0.05, 1e-20, -0.04), stat(-0.3, 1e-20, -0.2)),
      rec('medical', stat(-0.0004, 1e-15, -0.0001), stat(0.01, 0.5, 0.02)),
      rec('arithmetic', stat(-0.05, 0.004, -0.01), stat(0, 1, 0.01)),
    ]
    const g = { alpha: 0.01, minEffect: 0.01, conditions: ['placebo_a'] as const }
    // arithmetic's raw p 0.004 is not significant after Holm over 9 tests; medical's effect is negligible
    expect(placeboGuardOffenders(records, g)).toEqual([expect.stringMatching(/^legal r=1 attention seed41 placebo_a /)])
    expect(placeboGuardOffenders(records, { ...g, minEffect: 0 })).toHaveLength(2)
    expect(placeboGuardOffenders(records, { ...g, conditions: ['placebo_a', 'placebo_b'] })).toHaveLength(2)
  })
})

describe('buildValueAdd', () => {
  it("reproduces the runner's trained, placebo and cross-domain ΔNLL from its artefacts, on the held-out split", async () => {
    const out = join(root, 'build', 'value_add.jsonl')
    const built = await buildValueAdd({
      artifactsDir: opts.output!,
      output: out,
      domains: ['legal', 'medical'],
      devSize: 6,
      maxLength: 48,
      evalSplit: 'validation',
      baseModel: 'embedded',
      resolveModelDir: async () => modelDir,
      latencyTrials: 2,
    })
    expect(built.evaluated).toBe(4)
    expect(built.records.map((r) => `${r.config.domain}/${r.config.seed}`)).toEqual([
      'legal/41',
      'legal/42',
      'medical/41',
      'medical/42',
    ])
    for (const b of built.records) {
      const r = first.records.find((x) => x.config.domain === b.config.domain && x.config.seed === b.config.seed)!
      expect(b.config.eval_split).toBe('validation')
      expect(Math.abs(b.trained!.delta_mean - r.trained!.delta_mean)).toBeLessThan(1e-9)
      expect(Math.abs(b.placebo_a!.delta_mean - r.placebo_a!.delta_mean)).toBeLessThan(1e-9)
      expect(Math.abs(b.placebo_b!.delta_mean - r.placebo_b!.delta_mean)).toBeLessThan(1e-9)
      const other = b.config.domain === 'legal' ? 'medical' : 'legal'
      expect(Math.abs(b.cross_domain![other]!.delta_mean! - r.cross_domain![other]!.delta_mean!)).toBeLessThan(1e-9)
      expect(b.effect_decomposition!.skill_specific).toBeCloseTo(b.trained!.delta_mean - b.placebo_b!.delta_mean, 12)
    }
    // a second build reuses every record (same full config); a changed dev size does not
    const again = await buildValueAdd({
      artifactsDir: opts.output!,
      output: out,
      domains: ['legal', 'medical'],
      devSize: 6,
      maxLength: 48,
      resolveModelDir: async () => modelDir,
      baseModel: 'embedded',
    })
    expect(again.reused).toBe(4)
    const changed = await buildValueAdd({
      artifactsDir: opts.output!,
      output: out,
      domains: ['legal', 'medical'],
      devSize: 5,
      maxLength: 48,
      resolveModelDir: async () => modelDir,
      baseModel: 'embedded',
      filter: 'legal',
      seeds: [41],
    })
    expect(changed.evaluated).toBe(1)
    expect(changed.records.find((r) => r.config.domain === 'legal' && r.config.seed === 41)!.trained!.n).toBe(5)
  }, 120_000)

  it('discovers flat and nested layouts and fails with the spec codes', () => {
    const dir = join(root, 'layouts')
    cpSync(join(opts.output!, 'rank_r1', 'legal_attention_seed41'), join(dir, 'legal_r2_mlp_seed7'), {
      recursive: true,
    })
    cpSync(join(opts.output!, 'rank_r1'), join(dir, 'rank_r1'), { recursive: true })
    const found = discoverArtifacts(dir)
    expect(found.map((c) => `${c.domain} ${c.rank} ${c.scheme} ${c.seed} ${c.layout}`)).toEqual([
      'legal 1 attention 41 nested',
      'legal 1 attention 42 nested',
      'legal 2 mlp 7 flat',
      'medical 1 attention 41 nested',
      'medical 1 attention 42 nested',
    ])
    expect(() => discoverArtifacts(join(root, 'nope'))).toThrow(
      expect.objectContaining({ code: 'EXPERIMENTS_ARTIFACTS_MISSING' }),
    )
    expect(() => filterArtifacts(found, { filter: 'zzz', seeds: [], domains: ['legal'] })).toThrow(
      expect.objectContaining({ code: 'EXPERIMENTS_NO_CONFIGS' }),
    )
  })
})

describe('the monolithic baseline', () => {
  it('is evaluated on the same examples and reported beside the per-domain adapters', async () => {
    const copy = join(root, 'mono')
    cpSync(opts.output!, copy, { recursive: true })
    const monoDir = join(copy, 'rank_r1', 'legal_attention_seed41')
    const r = await runValueAdd({ ...opts, output: copy, monolithic: monoDir })
    expect(r.newRecords).toBe(0)
    const legal41 = r.records.find((x) => x.config.domain === 'legal' && x.config.seed === 41)!
    expect(r.monolithic!.legal).toEqual(legal41.trained)
    expect(r.monolithic!.medical).toEqual(legal41.cross_domain!.medical)
    expect(readFileSync(r.mdPath, 'utf8')).toContain('Monolithic baseline on the same legal examples: ΔNLL')
    const summary = JSON.parse(readFileSync(r.summaryPath, 'utf8')) as { monolithic: unknown; base_pristine: boolean }
    expect(summary.base_pristine).toBe(true)
    expect(summary.monolithic).toEqual(JSON.parse(JSON.stringify(r.monolithic)))
  }, 60_000)
})

describe('the latency guard', () => {
  it('stops the run after writing the cell and the report, unless ignored', async () => {
    const base = { ...opts, seeds: [41], domains: ['legal'], latencyBudgetMs: 1e-9 }
    const out = join(root, 'latency')
    await expect(runValueAdd({ ...base, output: out })).rejects.toMatchObject({
      code: 'EXPERIMENTS_LATENCY_GUARD_EXCEEDED',
      details: { cell: { domain: 'legal', rank: 1, scheme: 'attention', seed: 41 } },
    })
    const { records } = await readValueAddRecords(join(out, 'value_add.jsonl'))
    expect(records).toHaveLength(1)
    expect(records[0]!.latency_guard_exceeded).toBe(true)
    expect(readFileSync(join(out, 'value_add.md'), 'utf8')).toContain('| ⚠ |')
    const tensors = tf.memory().numTensors
    const ignored = await runValueAdd({ ...base, output: join(root, 'latency-ignored'), ignoreLatencyGuard: true })
    expect(ignored.records[0]!.latency_guard_exceeded).toBe(true)
    // the run's model, branches, injections and training tensors are all released
    expect(tf.memory().numTensors).toBe(tensors)
  }, 60_000)
})

describe('an unreadable JSONL', () => {
  it('is copied to value_add.jsonl.bak and the run starts empty (spec §9.2 step 4)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plora-va-bad-'))
    try {
      const path = join(dir, 'value_add.jsonl')
      const good = readFileSync(first.jsonlPath, 'utf8').split('\n')[0]!
      writeFileSync(path, `${good}\nnot json\n${good}\n`)
      const r = await readValueAddRecords(path)
      expect(r.backedUp).toBe(true)
      expect(r.records).toEqual([])
      expect(readFileSync(`${path}.bak`, 'utf8')).toBe(`${good}\nnot json\n${good}\n`)
      expect(readFileSync(path, 'utf8')).toBe('')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('builder failure records', () => {
  it('records eval_failed:base_model_unknown for an artefact that names no base model when none is given', async () => {
    const dir = join(root, 'unnamed')
    const a = join(dir, 'legal_r1_attention_seed9')
    cpSync(join(opts.output!, 'rank_r1', 'legal_attention_seed41'), a, { recursive: true })
    rmSync(join(a, 'plora.yml'))
    rmSync(join(a, 'README.md'))
    const cfg = JSON.parse(readFileSync(join(a, 'adapter_config.json'), 'utf8')) as Record<string, unknown>
    delete cfg.base_model_name_or_path
    writeFileSync(join(a, 'adapter_config.json'), JSON.stringify(cfg))
    const r = await buildValueAdd({
      artifactsDir: dir,
      output: join(dir, 'value_add.jsonl'),
      domains: ['legal'],
      devSize: 6,
      baseModel: undefined,
      resolveModelDir: async () => modelDir,
    })
    expect(r.failed).toBe(1)
    expect(r.records[0]).toMatchObject({ status: 'eval_failed:base_model_unknown', trained: null, cross_domain: null })
    expect(Object.keys(r.records[0]!).slice(0, 3)).toEqual(['config', 'status', 'trained'])
  })
})

describe('exampleNlls', () => {
  it("'answer' equals the model's answer-token scoring; 'all' averages every next-token position", async () => {
    const model = await loadCausalLMFromDir(modelDir)
    const tok = await loadTokenizer(modelDir)
    try {
      const pairs = [
        { prompt: 'What is a tort?', answer: 'a civil wrong' },
        { prompt: 'Define habeas corpus.', answer: 'a writ requiring a person to be brought before a court' },
      ]
      const o = { maxLength: 48, batchSize: 8, lora: undefined }
      const answer = await exampleNlls(model, tok, pairs, { ...o, nllOn: 'answer' })
      const ref = await tokenNlls(model, tok, pairs, { maxLength: 48 })
      for (const [i, r] of ref.entries()) expect(Math.abs(answer[i]! - r.meanNll)).toBeLessThan(1e-6)
      const all = await exampleNlls(model, tok, pairs, { ...o, nllOn: 'all' })
      for (let i = 0; i < pairs.length; i++) {
        const { ids } = encodePair(tok, pairs[i]!, 48)
        const logp = tf.tidy(() =>
          tf.logSoftmax(model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).squeeze([0]) as tf.Tensor2D),
        )
        const lp = (await logp.array()) as number[][]
        logp.dispose()
        let sum = 0
        for (let t = 1; t < ids.length; t++) sum -= lp[t - 1]![ids[t]!]!
        expect(Math.abs(all[i]! - sum / (ids.length - 1))).toBeLessThan(1e-4)
        expect(all[i]).not.toBe(answer[i])
      }
    } finally {
      model.dispose()
    }
  })
})
