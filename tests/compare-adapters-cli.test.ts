// `plora value-add compare` in-process on the embedded GPT-2 folder with random per-domain and
// monolithic adapters: one table per domain, one JSON row per (domain, variant); a missing
// per-domain adapter fails with its path and writes nothing.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomAdapterModules } from '../packages/loader/test/helpers/fake-host.js'
import { makeTmpDir } from '../packages/loader/test/helpers/tmp.js'
import { embeddedBaseModelConfig, writeEmbeddedBaseModel } from '../packages/model/src/index.js'
import { buildPeftLoraConfig, resolveTargetModules, writePeftAdapter } from '../packages/peft/src/index.js'
import { runCli, useOfflineCliEnv } from './helpers.js'

describe('plora value-add compare', () => {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  let base: string
  const saved = { ...process.env }
  const flags = () => [
    'value-add',
    'compare',
    '--base-model',
    base,
    '--domains',
    'arithmetic,legal',
    '--dev-size',
    '4',
    '--max-length',
    '64',
    '--bootstrap',
    '100',
    '--methods',
    'cat,svd',
    '--adapters-dir',
    join(tmp.dir, 'out'),
    '--monolithic',
    join(tmp.dir, 'out', 'monolithic_r4'),
  ]

  beforeAll(async () => {
    tmp = await makeTmpDir('plora-compare-cli-')
    useOfflineCliEnv(join(tmp.dir, 'cache'))
    process.env.PLORA_LOG_LEVEL = 'silent'
    base = await writeEmbeddedBaseModel(join(tmp.dir, 'base'), { seed: 3 })
    const cfg = embeddedBaseModelConfig() as { n_embd: number; n_layer: number }
    const d = cfg.n_embd
    const linear = Array.from({ length: cfg.n_layer }, (_, l) => [
      { path: `transformer.h.${l}.attn.c_attn`, inFeatures: d, outFeatures: 3 * d, conv1d: true },
      { path: `transformer.h.${l}.attn.c_proj`, inFeatures: d, outFeatures: d, conv1d: true },
    ]).flat()
    const targets = resolveTargetModules(linear, 'attention')
    for (const [name, seed, r] of [
      ['arithmetic', 1, 1],
      ['legal', 2, 1],
      ['monolithic_r4', 3, 4],
    ] as const) {
      const config = buildPeftLoraConfig({
        r,
        loraAlpha: r,
        targetModules: targets.peftTargetModules,
        fanInFanOut: true,
        baseModelNameOrPath: base,
      })
      await writePeftAdapter(join(tmp.dir, 'out', name), {
        config,
        modules: randomAdapterModules(targets.modules, r, seed, 0.2),
      })
    }
  }, 60_000)

  afterAll(async () => {
    process.env = saved
    await tmp.cleanup()
  })

  it('writes one table per domain and one row per (domain, variant)', async () => {
    const out = join(tmp.dir, 'results', 'cmp.json')
    const md = join(tmp.dir, 'results', 'cmp.md')
    const r = await runCli(...flags(), '--out', out, '--md', md)
    expect(r.code, r.err).toBe(0)
    const report = JSON.parse(readFileSync(out, 'utf8'))
    expect(report.rows.map((x: { domain: string; variant: string }) => `${x.domain}/${x.variant}`)).toEqual([
      'arithmetic/per_domain',
      'arithmetic/monolithic',
      'arithmetic/merged:cat',
      'arithmetic/merged:svd',
      'legal/per_domain',
      'legal/monolithic',
      'legal/merged:cat',
      'legal/merged:svd',
    ])
    for (const x of report.rows) expect(Number.isFinite(x.delta_mean) && Number.isFinite(x.p_holm)).toBe(true)
    expect(report.settings).toMatchObject({ eval_split: 'validation', dev_size: 4, weights: [0.5, 0.5], m: 8 })
    const text = readFileSync(md, 'utf8')
    expect(text.match(/^## /gm)).toHaveLength(2)
    expect(r.out).toContain('| monolithic | 4 |')
  }, 60_000)

  it('fails on a missing per-domain adapter and writes nothing', async () => {
    const out = join(tmp.dir, 'results', 'missing.json')
    const r = await runCli(...flags(), '--domains', 'arithmetic,medical', '--out', out)
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/out\/medical/)
    expect(existsSync(out)).toBe(false)
  }, 60_000)
})
