/**
 * `compareAdapters` on the tiny random embedded GPT-2 with seeded random adapters (2 domains,
 * 5 evaluation pairs): one row per (domain, variant) with finite statistics; the merge with
 * weights [1, 0] under `cat` is exactly the first domain's adapter, so its rows equal that
 * adapter's NLL deltas; adjusted p-values are never below the raw ones; the base model is untouched.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PythonRandom } from '@plora/common'
import { baseFingerprint } from '@plora/loader'
import {
  type CausalLM,
  initBackend,
  loadCausalLMFromDir,
  loadTokenizer,
  type Tokenizer,
  writeEmbeddedBaseModel,
} from '@plora/model'
import { buildPeftLoraConfig, type LoraModule, resolveTargetModules, writePeftAdapter } from '@plora/peft'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AdapterComparisonReport, compareAdapters } from '../../src/index.js'

let root: string
let model: CausalLM
let tok: Tokenizer
const dirs: Record<string, string> = {}

async function writeRandomAdapter(dir: string, seed: number, rank: number): Promise<void> {
  const targets = resolveTargetModules(model.linearModules(), 'attention')
  const rng = new PythonRandom(seed)
  const modules = new Map<string, LoraModule>()
  for (const m of targets.modules) {
    modules.set(m.path, {
      path: m.path,
      rank,
      inFeatures: m.inFeatures,
      outFeatures: m.outFeatures,
      a: Float32Array.from({ length: rank * m.inFeatures }, () => rng.gauss(0, 1 / Math.sqrt(m.inFeatures))),
      b: Float32Array.from({ length: m.outFeatures * rank }, () => rng.gauss(0, 0.2)),
      scale: 1,
    })
  }
  const config = buildPeftLoraConfig({
    r: rank,
    loraAlpha: rank,
    targetModules: targets.peftTargetModules,
    fanInFanOut: true,
    baseModelNameOrPath: 'embedded',
  })
  await writePeftAdapter(dir, { config, modules })
}

const base = () => ({
  model,
  tok,
  domains: ['arithmetic', 'legal'],
  perDomain: new Map([
    ['arithmetic', dirs.arithmetic!],
    ['legal', dirs.legal!],
  ]),
  monolithic: dirs.mono!,
  density: 0.5,
  dropRate: 0.5,
  seed: 1,
  evalSplit: 'validation' as const,
  devSize: 5,
  maxLength: 64,
  nllOn: 'answer' as const,
  dataset: {},
  bootstrap: { nResamples: 200, seed: 42 },
})

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  root = mkdtempSync(join(tmpdir(), 'plora-compare-'))
  const modelDir = await writeEmbeddedBaseModel(join(root, 'base'), { seed: 3 })
  model = await loadCausalLMFromDir(modelDir)
  tok = await loadTokenizer(modelDir)
  for (const [name, seed, rank] of [
    ['arithmetic', 1, 1],
    ['legal', 2, 1],
    ['mono', 3, 2],
  ] as const) {
    dirs[name] = join(root, name)
    await writeRandomAdapter(dirs[name]!, seed, rank)
  }
}, 60_000)

afterAll(() => {
  model?.dispose()
  rmSync(root, { recursive: true, force: true })
})

describe('compareAdapters', () => {
  let report: AdapterComparisonReport
  it('writes one row per (domain, variant) with finite statistics, and leaves the base model untouched', async () => {
    const before = await baseFingerprint(model)
    report = await compareAdapters({
      ...base(),
      methods: ['cat', 'ties'],
      weights: null,
      jsonOut: join(root, 'cmp.json'),
      markdownOut: join(root, 'cmp.md'),
    })
    expect(await baseFingerprint(model)).toBe(before)
    const keys = report.rows.map((r) => `${r.domain}/${r.variant}`)
    expect(keys).toEqual([
      'arithmetic/per_domain',
      'arithmetic/monolithic',
      'arithmetic/merged:cat',
      'arithmetic/merged:ties',
      'legal/per_domain',
      'legal/monolithic',
      'legal/merged:cat',
      'legal/merged:ties',
    ])
    expect(report.settings.m).toBe(8)
    for (const r of report.rows) {
      expect(r.n).toBe(5)
      for (const x of [r.delta_mean, r.ci[0], r.ci[1], r.wilcoxon_p, r.p_holm, r.p_bh])
        expect(Number.isFinite(x)).toBe(true)
      expect(r.ci[0]).toBeLessThanOrEqual(r.ci[1])
      expect(r.p_holm).toBeGreaterThanOrEqual(r.wilcoxon_p)
      expect(r.p_bh).toBeGreaterThanOrEqual(r.wilcoxon_p)
    }
    // random adapters do move the NLL; different variants differ
    expect(new Set(report.rows.map((r) => r.delta_mean.toFixed(9))).size).toBe(8)
    expect(report.truncation.cat).toBeNull()
    expect(report.truncation.ties).toBeGreaterThan(0)
    expect(JSON.parse(readFileSync(join(root, 'cmp.json'), 'utf8')).rows).toHaveLength(8)
    const md = readFileSync(join(root, 'cmp.md'), 'utf8')
    expect(md).toContain('## arithmetic')
    expect(md).toContain('## legal')
    expect(md.match(/\| merged:ties \|/g)).toHaveLength(2)
  }, 60_000)

  it('a cat merge with weights [1, 0] is the first adapter exactly, row for row', async () => {
    const one = await compareAdapters({
      ...base(),
      monolithic: null,
      methods: ['cat'],
      weights: [1, 0],
      jsonOut: join(root, 'one.json'),
      markdownOut: join(root, 'one.md'),
    })
    const arith = report.rows.find((r) => r.domain === 'arithmetic' && r.variant === 'per_domain')!
    const merged = one.rows.find((r) => r.domain === 'arithmetic' && r.variant === 'merged:cat')!
    expect(merged.delta_mean).toBeCloseTo(arith.delta_mean, 5)
    expect(one.rows.map((r) => r.variant)).toEqual(['per_domain', 'merged:cat', 'per_domain', 'merged:cat'])
  }, 60_000)

  it('refuses a domain without an adapter and a wrong number of weights', async () => {
    const o = { ...base(), methods: [], jsonOut: join(root, 'x.json'), markdownOut: join(root, 'x.md') }
    await expect(compareAdapters({ ...o, weights: null, domains: ['arithmetic', 'medical'] })).rejects.toThrow(
      /missing medical/,
    )
    await expect(compareAdapters({ ...o, weights: [1] })).rejects.toThrow(/expected 2 merge weights/)
  })
})
