/**
 * The rank × scheme ablation end to end on a tiny random GPT-2 (real training and statistics;
 * 1 domain × 2 ranks × 2 schemes, 4 training pairs, 6 evaluation pairs): every record field,
 * numbers that differ across ranks, run-wide Holm/BH over the cells, `replace` / `resume`
 * protection of an existing output folder, determinism per seed, the Markdown report.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benjaminiHochberg, holm } from '@plora/metrics'
import { initBackend, writeEmbeddedBaseModel } from '@plora/model'
import { loadPeftAdapter } from '@plora/peft'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AblationOptions,
  type AblationRecord,
  type AblationResult,
  ablationMarkdown,
  bestAblationCell,
  readAblationRecords,
  runAblation,
  trainableParams,
} from '../../src/index.js'

let root: string
let opts: Partial<AblationOptions> & Pick<AblationOptions, 'modelDir'>
let first: AblationResult

/** Fields that measure time (and the folder size, which includes plora.yml's timestamp). */
const CLOCK_FIELDS = ['train_seconds', 'inject_remove_ms', 'inject_remove_trials_ms', 'adapter_dir_bytes']
function withoutClock(r: AblationRecord): Record<string, unknown> {
  const x = { ...r } as Record<string, unknown>
  for (const k of CLOCK_FIELDS) delete x[k]
  return x
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  root = mkdtempSync(join(tmpdir(), 'plora-ablation-'))
  const modelDir = await writeEmbeddedBaseModel(join(root, 'base'), { seed: 3 })
  opts = {
    modelDir,
    domains: ['legal'],
    ranks: [1, 2],
    schemes: ['attention', 'mlp'],
    samples: 4,
    seed: 7,
    devSize: 6,
    maxLength: 48,
    latencyTrials: 3,
    output: join(root, 'a'),
    training: { epochs: 1, lr: 3e-3, maxLen: 48, dropout: 0.1, batchSize: 2, valSamples: 2 },
  }
  first = await runAblation(opts)
}, 120_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

describe('runAblation', () => {
  it('writes one record per cell with every field, and an adapter folder with plora.yml per cell', async () => {
    expect(first.newRecords).toBe(4)
    expect(first.records.map((r) => [r.config.domain, r.config.rank, r.config.scheme])).toEqual([
      ['legal', 1, 'attention'],
      ['legal', 1, 'mlp'],
      ['legal', 2, 'attention'],
      ['legal', 2, 'mlp'],
    ])
    const onDisk = await readAblationRecords(first.jsonlPath)
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(first.records)))
    for (const r of onDisk) {
      expect(Object.keys(r).sort()).toEqual(
        [
          'config',
          'adapter_dir',
          'adapter_sha256',
          'val_ppl_before',
          'val_ppl_after',
          'delta_nll',
          'p_holm',
          'p_bh',
          'tests_corrected',
          'trainable_params',
          'adapter_bytes',
          'adapter_dir_bytes',
          'train_seconds',
          'inject_remove_ms',
          'inject_remove_trials_ms',
          'resume_key',
        ].sort(),
      )
      expect(r.config).toMatchObject({ seed: 7, samples: 4, eval_split: 'validation', dev_size: 6, nll_on: 'answer' })
      expect(r.delta_nll.n).toBe(6)
      expect(r.delta_nll.ci[0]).toBeLessThanOrEqual(r.delta_nll.delta_mean)
      expect(r.delta_nll.ci[1]).toBeGreaterThanOrEqual(r.delta_nll.delta_mean)
      for (const v of [r.val_ppl_before, r.val_ppl_after, r.train_seconds, r.inject_remove_ms])
        expect(v).toBeGreaterThan(0)
      expect(r.inject_remove_trials_ms).toHaveLength(3)
      const dir = join(opts.output!, r.adapter_dir)
      expect(r.adapter_dir).toBe(`abl_legal_r${r.config.rank}_${r.config.scheme}`)
      expect(existsSync(join(dir, 'plora.yml'))).toBe(true)
      expect(existsSync(join(dir, 'adapter_config.json'))).toBe(true)
      expect(r.adapter_bytes).toBe(statSync(join(dir, 'adapter_model.safetensors')).size)
      expect(r.adapter_dir_bytes).toBeGreaterThan(r.adapter_bytes)
      const adapter = await loadPeftAdapter(dir)
      expect(adapter.config.r).toBe(r.config.rank)
      expect(r.trainable_params).toBe(trainableParams(adapter))
    }
    // every cell trains from the same base: one baseline perplexity
    expect(new Set(onDisk.map((r) => r.val_ppl_before)).size).toBe(1)
  })

  it('gives numbers that differ across ranks (parameters, bytes, perplexity, ΔNLL)', () => {
    for (const scheme of ['attention', 'mlp']) {
      const [r1, r2] = [1, 2].map(
        (rank) => first.records.find((r) => r.config.rank === rank && r.config.scheme === scheme)!,
      )
      expect(r2!.trainable_params).toBe(2 * r1!.trainable_params)
      expect(r2!.adapter_bytes).toBeGreaterThan(r1!.adapter_bytes)
      expect(r2!.val_ppl_after).not.toBe(r1!.val_ppl_after)
      expect(r2!.delta_nll.delta_mean).not.toBe(r1!.delta_nll.delta_mean)
      expect(r2!.adapter_sha256).not.toBe(r1!.adapter_sha256)
    }
  })

  it('adjusts the cells’ p-values together (Holm and BH over the run)', () => {
    const ps = first.records.map((r) => r.delta_nll.wilcoxon_p)
    expect(first.records.map((r) => r.p_holm)).toEqual(holm(ps).adjusted)
    expect(first.records.map((r) => r.p_bh)).toEqual(benjaminiHochberg(ps).adjusted)
    expect(first.records.every((r) => r.tests_corrected === 4)).toBe(true)
  })

  it('writes the Markdown report: a table per domain and the best-cell line', () => {
    const md = readFileSync(first.mdPath, 'utf8')
    expect(md).toBe(ablationMarkdown(first.records))
    expect(md).toContain('## Domain: legal')
    expect(md.split('\n').filter((l) => /^\| [12] \| (attention|mlp) \|/.test(l))).toHaveLength(4)
    expect(md).toMatch(/Best cell: (rank \d, (attention|mlp) \(ΔNLL|none significant)/)
  })

  it('refuses an output folder holding ablation outputs without replace, and leaves it untouched', async () => {
    const before = readFileSync(first.jsonlPath, 'utf8')
    await expect(runAblation(opts)).rejects.toMatchObject({
      code: 'EXPERIMENTS_OUTPUT_EXISTS',
      message: expect.stringContaining('--replace'),
    })
    expect(readFileSync(first.jsonlPath, 'utf8')).toBe(before)
    await expect(runAblation({ ...opts, replace: true, resume: true })).rejects.toMatchObject({
      code: 'EXPERIMENTS_INPUT_INVALID',
    })
    // a dev set that cannot be loaded stops even a --replace run before anything is deleted
    await expect(runAblation({ ...opts, replace: true, domains: ['legal', 'nosuchdomain'] })).rejects.toMatchObject({
      code: 'EXPERIMENTS_DATASET_FAILED',
      message: expect.stringContaining('validation split of domain "nosuchdomain"'),
    })
    expect(readFileSync(first.jsonlPath, 'utf8')).toBe(before)
  })

  it('resumes finished cells of the same settings, refuses records of other settings', async () => {
    const r = await runAblation({ ...opts, resume: true })
    expect(r.newRecords).toBe(0)
    expect(r.skipped).toBe(4)
    expect(r.records).toEqual(JSON.parse(JSON.stringify(first.records)))
    await expect(runAblation({ ...opts, resume: true, samples: 3 })).rejects.toMatchObject({
      code: 'EXPERIMENTS_OUTPUT_EXISTS',
      message: expect.stringContaining('other settings'),
    })
  })

  it('is deterministic per seed; replace removes only the ablation outputs; another seed differs', async () => {
    const out = join(root, 'b')
    const again = await runAblation({ ...opts, output: out, ranks: [1], schemes: ['attention'] })
    expect(withoutClock(again.records[0]!)).toEqual({
      ...withoutClock(first.records[0]!),
      // adjusted over 1 cell instead of 4
      p_holm: again.records[0]!.delta_nll.wilcoxon_p,
      p_bh: again.records[0]!.delta_nll.wilcoxon_p,
      tests_corrected: 1,
    })
    writeFileSync(join(out, 'keep.txt'), 'not an ablation output')
    const other = await runAblation({ ...opts, output: out, ranks: [2], schemes: ['mlp'], seed: 8, replace: true })
    expect(existsSync(join(out, 'keep.txt'))).toBe(true)
    expect(existsSync(join(out, 'abl_legal_r1_attention'))).toBe(false)
    expect(other.records.map((r) => r.adapter_dir)).toEqual(['abl_legal_r2_mlp'])
    const sameCell = first.records.find((r) => r.config.rank === 2 && r.config.scheme === 'mlp')!
    expect(other.records[0]!.adapter_sha256).not.toBe(sameCell.adapter_sha256)
  })
})

describe('bestAblationCell', () => {
  const rec = (rank: number, delta: number, pHolm: number) =>
    ({ config: { domain: 'legal', rank, scheme: 'mlp' }, delta_nll: { delta_mean: delta }, p_holm: pHolm }) as never
  it('picks the lowest significant improvement, else none', () => {
    expect(bestAblationCell([rec(1, -0.5, 0.2), rec(2, -0.1, 0.01), rec(4, -0.2, 0.04)], 'legal')).toMatchObject({
      config: { rank: 4 },
    })
    // significant but harmful (Δ > 0) is never "best"
    expect(bestAblationCell([rec(1, 0.3, 0.001), rec(2, -0.5, 0.5)], 'legal')).toBeUndefined()
    expect(bestAblationCell([rec(1, -0.3, 0.001)], 'medical')).toBeUndefined()
  })
})
