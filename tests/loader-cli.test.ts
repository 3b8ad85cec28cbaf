// `plora merge` and `plora placebo`, run in-process through the CLI's main() against a tiny GPT-2
// folder and PEFT adapters written by the test.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomAdapterModules } from '../packages/loader/test/helpers/fake-host.js'
import { makeTmpDir } from '../packages/loader/test/helpers/tmp.js'
import { embeddedBaseModelConfig, writeEmbeddedBaseModel } from '../packages/model/src/index.js'
import {
  buildPeftLoraConfig,
  deltaFrobeniusSquared,
  factoredDeltaOf,
  loadPeftAdapter,
  resolveTargetModules,
  writePeftAdapter,
} from '../packages/peft/src/index.js'
import { readSafetensors } from '../packages/safetensors/src/index.js'
import { runCli } from './helpers.js'

const run = runCli

describe('plora merge / plora placebo', () => {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  let base: string
  const adapters: string[] = []
  beforeAll(async () => {
    process.env.PLORA_BACKEND = 'cpu'
    process.env.PLORA_LOG_LEVEL = 'silent'
    tmp = await makeTmpDir('plora-merge-cli-')
    // The embedded base model: a real GPT-2 folder with a tokenizer (needed by --ls-data).
    base = await writeEmbeddedBaseModel(join(tmp.dir, 'base'), { seed: 3 })
    const cfg = embeddedBaseModelConfig() as { n_embd: number; n_layer: number }
    const d = cfg.n_embd
    const linear = Array.from({ length: cfg.n_layer }, (_, l) => [
      { path: `transformer.h.${l}.attn.c_attn`, inFeatures: d, outFeatures: 3 * d, conv1d: true },
      { path: `transformer.h.${l}.attn.c_proj`, inFeatures: d, outFeatures: d, conv1d: true },
      { path: `transformer.h.${l}.mlp.c_fc`, inFeatures: d, outFeatures: 4 * d, conv1d: true },
      { path: `transformer.h.${l}.mlp.c_proj`, inFeatures: 4 * d, outFeatures: d, conv1d: true },
    ]).flat()
    const targets = resolveTargetModules(linear, 'attention')
    const config = buildPeftLoraConfig({
      r: 2,
      loraAlpha: 4,
      targetModules: targets.peftTargetModules,
      fanInFanOut: true,
      baseModelNameOrPath: base,
    })
    for (const seed of [1, 2]) {
      const dir = join(tmp.dir, `adapter${seed}`)
      await writePeftAdapter(dir, { config, modules: randomAdapterModules(targets.modules, 2, seed) })
      adapters.push(dir)
    }
  })
  afterAll(async () => {
    delete process.env.PLORA_BACKEND
    delete process.env.PLORA_LOG_LEVEL
    await tmp.cleanup()
  })

  it('writes a merged model folder whose targeted weights moved and others did not', async () => {
    const out = join(tmp.dir, 'merged')
    const r = await run(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      ...adapters,
      '--out',
      out,
      '--weights',
      '0.7',
      '0.3',
      '--json',
    )
    expect(r.code, r.err).toBe(0)
    const summary = JSON.parse(r.out)
    expect(summary).toMatchObject({
      strategy: 'weighted_sum',
      weights: [0.7, 0.3],
      weight_source: 'explicit',
      modules: 8,
    })
    const before = await readSafetensors(join(base, 'model.safetensors'))
    const after = await readSafetensors(join(out, 'model.safetensors'))
    const diff = (k: string) => {
      const x = before.tensors.get(k)!.data as Float32Array
      const y = after.tensors.get(k)!.data as Float32Array
      return Math.max(...Array.from(x, (v, i) => Math.abs(v - y[i]!)))
    }
    expect(diff('transformer.h.0.attn.c_attn.weight')).toBeGreaterThan(1e-3)
    expect(diff('transformer.h.0.mlp.c_proj.weight')).toBe(0)
    expect(diff('transformer.wte.weight')).toBe(0)
  })

  it('writes a rank-k adapter with --output adapter --reproject-rank', async () => {
    const out = join(tmp.dir, 'merged-adapter')
    const r = await run(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      ...adapters,
      '--out',
      out,
      '--output',
      'adapter',
      '--reproject-rank',
      '3',
      '--max_delta_fro',
      '0.01',
    )
    expect(r.code, r.err).toBe(0)
    const merged = await loadPeftAdapter(out)
    expect(merged.config.r).toBe(3)
    let sq = 0
    for (const m of merged.modules.values()) sq += deltaFrobeniusSquared(factoredDeltaOf(m))
    expect(Math.sqrt(sq)).toBeLessThanOrEqual(0.01 + 1e-6)
  })

  it('--method ties / dare_ties: rank-k adapter, truncation error in the summary, seeded DARE', async () => {
    const ties = await run(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      ...adapters,
      '--out',
      join(tmp.dir, 'merged-ties'),
      '--output',
      'adapter',
      '--method',
      'ties',
      '--density',
      '0.5',
      '--weights',
      '0.8',
      '-0.4',
      '--json',
    )
    expect(ties.code, ties.err).toBe(0)
    const summary = JSON.parse(ties.out)
    expect(summary).toMatchObject({ method: 'ties', reproject_rank: 2, weights: [0.8, -0.4] })
    expect(summary.truncation.rank).toBe(2)
    expect(summary.truncation.relative).toBeGreaterThan(0)
    expect(summary.truncation.relative).toBeLessThan(1)
    expect((await loadPeftAdapter(join(tmp.dir, 'merged-ties'))).config.r).toBe(2)
    const dare = async (name: string, seed: string) => {
      const out = join(tmp.dir, name)
      const r = await run(
        'merge',
        '--base-model',
        base,
        '--plasmids',
        ...adapters,
        '--out',
        out,
        '--output',
        'adapter',
        '--method',
        'dare_ties',
        '--drop-rate',
        '0.5',
        '--seed',
        seed,
        '--reproject-rank',
        '3',
        '--json',
      )
      expect(r.code, r.err).toBe(0)
      expect(JSON.parse(r.out).truncation.rank).toBe(3)
      const a = await loadPeftAdapter(out)
      return [...a.modules.values()].map((m) => Array.from(m.b))
    }
    // Same seed, same adapter (other seeds draw other masks: merge-methods.test.ts).
    expect(await dare('dare-b', '5')).toEqual(await dare('dare-a', '5'))
  })

  it('fails with the library codes on bad input', async () => {
    const r = await run(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      ...adapters,
      '--out',
      join(tmp.dir, 'x'),
      '--weights',
      '1',
    )
    expect(r.code).toBe(1)
    expect(r.err).toContain('[LOADER_MERGE_OPTIONS_INVALID]')
    const missing = await run(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      join(tmp.dir, 'nope'),
      '--out',
      join(tmp.dir, 'y'),
    )
    expect(missing.err).toContain('[PEFT_ADAPTER_NOT_FOUND]')
    const usage = await run(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      adapters[0]!,
      '--out',
      join(tmp.dir, 'z'),
      '--strategy',
      'mean',
    )
    expect(usage.code).toBe(2)
  })

  it('line-searches α on the mean token NLL of --ls-data and never picks a worse model than base', async () => {
    const data = join(tmp.dir, 'ls.jsonl')
    await writeFile(
      data,
      ['{"prompt": "2 + 3", "answer": "5"}', '{"question": "capital of France", "answer": "Paris"}'].join('\n'),
    )
    const out = join(tmp.dir, 'merged-ls')
    const r = await run(
      'merge',
      '--base-model',
      base,
      '--plasmids',
      ...adapters,
      '--out',
      out,
      '--output',
      'adapter',
      '--ls-data',
      data,
      '--json',
    )
    expect(r.code, r.err).toBe(0)
    const ls = JSON.parse(r.out).line_search
    expect(ls.evaluations[0].alpha).toBe(0)
    expect(ls.value).toBeLessThanOrEqual(ls.baseValue)
  })

  it('writes placebo A with the reference shapes', async () => {
    const out = join(tmp.dir, 'placebo')
    const r = await run('placebo', '--like', adapters[0]!, '--out', out, '--seed', '7')
    expect(r.code, r.err).toBe(0)
    const ref = await loadPeftAdapter(adapters[0]!)
    const placebo = await loadPeftAdapter(out)
    expect(placebo.config).toEqual(ref.config)
    for (const [path, m] of ref.modules) {
      const p = placebo.modules.get(path)!
      expect(Math.sqrt(deltaFrobeniusSquared(factoredDeltaOf(p)))).toBeCloseTo(
        Math.sqrt(deltaFrobeniusSquared(factoredDeltaOf(m))),
        4,
      )
    }
  })
})
