// `plora merge --gate` in-process against the embedded GPT-2 folder and random PEFT adapters: a
// merge the gate rejects (rank outside the policy; a delta far outside the clean reference) exits 3,
// names the reasons and leaves nothing (no output, no staging folder, no created parent); a clean
// merge is installed with a plora.yml that `plora gate check` accepts again; the policy flags are
// refused without --gate.
import { existsSync, readdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomAdapterModules } from '../packages/loader/test/helpers/fake-host.js'
import { makeTmpDir } from '../packages/loader/test/helpers/tmp.js'
import { embeddedBaseModelConfig, writeEmbeddedBaseModel } from '../packages/model/src/index.js'
import { buildPeftLoraConfig, resolveTargetModules, writePeftAdapter } from '../packages/peft/src/index.js'
import { runCli } from './helpers.js'

describe('plora merge --gate', () => {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  let base: string
  let ref: string
  let policy: string
  const adapters: string[] = []
  const saved = { ...process.env }
  const common = () => ['merge', '--base-model', base, '--plasmids', ...adapters, '--gate', '--allowed-ranks', '2']

  beforeAll(async () => {
    process.env.PLORA_BACKEND = 'cpu'
    process.env.PLORA_LOG_LEVEL = 'silent'
    delete process.env.PLORA_BASE_MODEL
    tmp = await makeTmpDir('plora-merge-gate-cli-')
    base = await writeEmbeddedBaseModel(join(tmp.dir, 'base'), { seed: 3 })
    const cfg = embeddedBaseModelConfig() as { n_embd: number; n_layer: number }
    const d = cfg.n_embd
    const linear = Array.from({ length: cfg.n_layer }, (_, l) => [
      { path: `transformer.h.${l}.attn.c_attn`, inFeatures: d, outFeatures: 3 * d, conv1d: true },
      { path: `transformer.h.${l}.attn.c_proj`, inFeatures: d, outFeatures: d, conv1d: true },
    ]).flat()
    const targets = resolveTargetModules(linear, 'attention')
    const config = buildPeftLoraConfig({
      r: 2,
      loraAlpha: 2,
      targetModules: targets.peftTargetModules,
      fanInFanOut: true,
      baseModelNameOrPath: base,
    })
    for (const seed of [1, 2, 3, 4, 5]) {
      const dir = join(tmp.dir, `adapter${seed}`)
      await writePeftAdapter(dir, { config, modules: randomAdapterModules(targets.modules, 2, seed) })
      if (seed <= 2) adapters.push(dir)
    }
    // A clean reference population of rank-2 merges: the re-projected merges of the other adapters.
    const refDirs: string[] = []
    for (const [i, pair] of [
      ['adapter3', 'adapter4'],
      ['adapter3', 'adapter5'],
      ['adapter4', 'adapter5'],
      ['adapter1', 'adapter3'],
      ['adapter2', 'adapter4'],
    ].entries()) {
      const out = join(tmp.dir, 'refpop', `m${i}`)
      const r = await runCli(
        'merge',
        '--base-model',
        base,
        '--plasmids',
        ...pair.map((p) => join(tmp.dir, p)),
        '--out',
        out,
        '--output',
        'adapter',
        '--reproject-rank',
        '2',
        '--gate',
        '--allowed-ranks',
        '2',
        '--probes',
        'off',
        '--require-weight-reference',
        'off',
      )
      expect(r.code, r.err).toBe(0)
      refDirs.push(out)
    }
    // Five reference samples give a noisy covariance: the test's policy relaxes only the Mahalanobis
    // threshold, so the norm detectors decide.
    policy = join(tmp.dir, 'policy.json')
    await writeFile(policy, JSON.stringify({ tau_mahalanobis: 1e6, probes_max: 2 }))
    ref = join(tmp.dir, 'ref.json')
    const r = await runCli('gate', 'reference', '--out', ref, ...refDirs)
    expect(r.code, r.err).toBe(0)
  }, 120_000)

  afterAll(async () => {
    process.env = saved
    await tmp.cleanup()
  })

  it('refuses a merged adapter whose rank the policy does not allow, and writes nothing', async () => {
    const parent = join(tmp.dir, 'not-yet', 'deeper')
    const out = join(parent, 'merged')
    const r = await runCli(...common(), '--out', out, '--output', 'adapter', '--probes', 'off', '--json')
    expect(r.code).toBe(3)
    expect(r.err).toContain('GATE_MERGE_REJECTED')
    expect(r.err).toContain('rank_not_allowed')
    expect(r.out).toBe('')
    expect(existsSync(join(tmp.dir, 'not-yet'))).toBe(false)
  })

  it('refuses a merged model whose delta is far outside the clean reference, and writes nothing', async () => {
    const out = join(tmp.dir, 'model-out')
    const before = readdirSync(tmp.dir).sort()
    const r = await runCli(
      ...common(),
      '--out',
      out,
      '--reproject-rank',
      '2',
      '--global-scale',
      '40',
      '--reference-file',
      ref,
      '--probes',
      'off',
    )
    expect(r.code).toBe(3)
    expect(r.err).toMatch(/merged model's delta.*weight_norm_outlier/)
    expect(readdirSync(tmp.dir).sort()).toEqual(before)
  })

  it('accepts a clean merge (weights + probes) and installs it with a manifest the gate accepts again', async () => {
    const out = join(tmp.dir, 'gated')
    const r = await runCli(
      ...common(),
      '--out',
      out,
      '--output',
      'adapter',
      '--reproject-rank',
      '2',
      '--reference-file',
      ref,
      '--policy-file',
      policy,
      '--json',
    )
    expect(r.code, r.err).toBe(0)
    expect(JSON.parse(r.out).gate).toEqual({ passed: true, reasons: [] })
    expect(readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'plora.yml'])
    const again = await runCli(
      'gate',
      'check',
      '--adapter-dir',
      out,
      '--allowed-ranks',
      '2',
      '--base-model',
      base,
      '--reference-file',
      ref,
      '--policy-file',
      policy,
      '--no-audit',
      '--probes',
      'on',
    )
    expect(again.code, again.out).toBe(0)
    const decision = JSON.parse(again.out)
    expect(decision.metrics.probes.ran).toBe(true)
    expect(decision.metrics.reference.population).not.toBeNull()
  })

  it('refuses the gate policy flags without --gate', async () => {
    const r = await runCli(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      ...adapters,
      '--out',
      join(tmp.dir, 'x'),
      '--allowed-ranks',
      '2',
    )
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/--allowed-ranks only apply with --gate/)
    expect(existsSync(join(tmp.dir, 'x'))).toBe(false)
  })
})
