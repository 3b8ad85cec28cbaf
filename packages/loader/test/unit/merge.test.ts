import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRng } from '@plora/common'
import {
  buildPeftLoraConfig,
  createPlaceboAdapter,
  deltaFrobeniusSquared,
  denseDelta,
  factoredDeltaOf,
  type LoraAdapter,
  loadPeftAdapter,
  resolveTargetModules,
} from '@plora/peft'
import { readSafetensors } from '@plora/safetensors'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { baseFingerprint } from '../../src/inject.js'
import { createDeltaObjective, lineSearchScale } from '../../src/line-search.js'
import { mergeAdapters, writeMergedAdapter, writeMergedModel } from '../../src/merge.js'
import { createGpt2Host, maxAbsDiff, randomAdapterModules, snapshotParams } from '../helpers/fake-host.js'
import { makeTmpDir } from '../helpers/tmp.js'

describe('line search', () => {
  it('returns α = 0 when every step makes the objective worse', async () => {
    const r = await lineSearchScale(async (alpha) => 1 + alpha * alpha)
    expect(r.alpha).toBe(0)
    expect(r.value).toBe(r.baseValue)
    expect(r.evaluations.map((e) => e.alpha)).toEqual([0, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125])
    // Backtracking stops at the first candidate that is worse than the best so far.
    const stop = await lineSearchScale(async (alpha) => (alpha === 0 ? 1 : 3 - alpha))
    expect(stop.evaluations.map((e) => e.alpha)).toEqual([0, 1, 0.5])
    expect(stop.alpha).toBe(0)
  })

  it('backtracks by halving while the objective improves, down to 1/32', async () => {
    const r = await lineSearchScale(async (alpha) => (alpha - 0.2) ** 2)
    expect(r.alpha).toBe(0.25)
    const tiny = await lineSearchScale(async (alpha) => (alpha === 0 ? 1 : alpha))
    expect(tiny.alpha).toBe(1 / 32)
  })

  it('never returns a scale that scores worse than the base (seeded random objectives)', async () => {
    const rng = createRng(7)
    for (let k = 0; k < 200; k++) {
      const table = new Map<number, number>()
      const r = await lineSearchScale(async (alpha) => {
        if (!table.has(alpha)) table.set(alpha, rng.gauss(0, 1))
        return table.get(alpha)!
      })
      expect(r.value, `objective ${k}`).toBeLessThanOrEqual(r.baseValue)
      expect(r.value).toBe(table.get(r.alpha))
    }
  })

  it('rejects non-finite objective values', async () => {
    await expect(lineSearchScale(async () => Number.NaN)).rejects.toMatchObject({
      code: 'LOADER_LINE_SEARCH_OBJECTIVE_INVALID',
    })
  })
})

describe('mergeAdapters on a model', () => {
  const host = createGpt2Host({ layers: 2, d: 6 })
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  const targets = resolveTargetModules(host.modules, 'attention')
  const config = buildPeftLoraConfig({
    r: 2,
    loraAlpha: 4,
    targetModules: targets.peftTargetModules,
    fanInFanOut: true,
    baseModelNameOrPath: 'fake',
  })
  const a1: LoraAdapter = { dir: 'a1', config, modules: randomAdapterModules(targets.modules, 2, 101) }
  const a2: LoraAdapter = { dir: 'a2', config, modules: randomAdapterModules(targets.modules, 2, 102) }
  beforeAll(async () => {
    tmp = await makeTmpDir()
  })
  afterAll(async () => {
    host.dispose()
    await tmp.cleanup()
  })

  /** Σ‖W − T‖² over the targeted weights, T = W0 + 0.25·(ΔW_1 + ΔW_2)/2 in stored (Conv1D) layout. */
  function distanceEvaluator(): () => Promise<number> {
    const w0 = snapshotParams(host)
    const targetsByName = new Map<string, Float64Array>()
    for (const m of targets.modules) {
      const d1 = denseDelta(factoredDeltaOf(a1.modules.get(m.path)!))
      const d2 = denseDelta(factoredDeltaOf(a2.modules.get(m.path)!))
      const w = w0.get(`${m.path}.weight`)!
      const t = new Float64Array(w.length)
      for (let i = 0; i < m.outFeatures; i++) {
        for (let j = 0; j < m.inFeatures; j++)
          t[j * m.outFeatures + i] =
            w[j * m.outFeatures + i]! + 0.25 * 0.5 * (d1[i * m.inFeatures + j]! + d2[i * m.inFeatures + j]!)
      }
      targetsByName.set(`${m.path}.weight`, t)
    }
    return async () => {
      let s = 0
      for (const [name, t] of targetsByName) {
        const w = host.params.get(name)!.dataSync()
        for (let i = 0; i < t.length; i++) s += (w[i]! - t[i]!) ** 2
      }
      return s
    }
  }

  it('line-searches on the true W0 + α·Δ and leaves the model bit-identical and leak-free [D-20]', async () => {
    const fingerprint = await baseFingerprint(host)
    const n = tf.memory().numTensors
    const result = await mergeAdapters(host, [a1, a2], { evaluate: distanceEvaluator() })
    expect(result.lineSearch!.alpha).toBe(0.25)
    expect(result.lineSearch!.value).toBeLessThan(1e-8)
    expect(await baseFingerprint(host)).toBe(fingerprint)
    expect(tf.memory().numTensors).toBe(n)
    // The returned deltas carry α.
    let s = 0
    for (const d of result.deltas.values()) s += deltaFrobeniusSquared(d)
    expect(Math.sqrt(s)).toBeCloseTo(result.plan.normBefore * 0.25, 9)
  })

  it('picks α = 0 when the objective says the merge only hurts, and a tiny cap keeps NLL-like objectives at base', async () => {
    const w0 = snapshotParams(host)
    const distanceToBase = async (): Promise<number> => {
      let s = 0
      for (const [name, w] of w0) {
        const x = host.params.get(name)!.dataSync()
        for (let i = 0; i < w.length; i++) s += (x[i]! - w[i]!) ** 2
      }
      return s
    }
    const r = await mergeAdapters(host, [a1, a2], { evaluate: distanceToBase })
    expect(r.lineSearch!.alpha).toBe(0)
    for (const d of r.deltas.values()) expect(deltaFrobeniusSquared(d)).toBe(0)
    const capped = await mergeAdapters(host, [a1, a2], {
      moduleCaps: [
        ['c_attn', 1e-6],
        ['c_proj', 1e-6],
      ],
    })
    expect(capped.plan.normAfter).toBeLessThanOrEqual(Math.SQRT2 * 1e-6 + 1e-15)
  })

  it('writes a rank-k PEFT adapter whose ΔW is the re-projected merge', async () => {
    const n = tf.memory().numTensors
    const result = await mergeAdapters(host, [a1, a2], { weights: [0.6, 0.4], reprojectRank: 3 })
    const out = join(tmp.dir, 'merged-adapter')
    await writeMergedAdapter(out, result.deltas, {
      baseModelNameOrPath: 'fake',
      fanInFanOut: true,
      targetModules: targets.peftTargetModules,
    })
    const loaded = await loadPeftAdapter(out)
    expect(loaded.config.r).toBe(3)
    expect(loaded.config.target_modules).toEqual(['attn.c_proj', 'c_attn'])
    for (const [path, d] of result.deltas) {
      expect(maxAbsDiff(denseDelta(factoredDeltaOf(loaded.modules.get(path)!)), denseDelta(d)), path).toBeLessThan(1e-5)
    }
    expect(tf.memory().numTensors).toBe(n)
  })

  it('writes a merged model folder with W0 + Δ and the source files, atomically', async () => {
    const modelDir = join(tmp.dir, 'base')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(modelDir)
    await writeFile(join(modelDir, 'config.json'), '{"model_type":"gpt2"}')
    await writeFile(join(modelDir, 'model.safetensors'), 'old weights, not copied')
    const withDir = Object.assign(host, { modelDir })
    const before = snapshotParams(host)
    const result = await mergeAdapters(host, [a1], { strategy: 'sequential' })
    const out = join(tmp.dir, 'merged-model')
    const numTensors = tf.memory().numTensors
    await writeMergedModel(out, withDir, result.deltas)
    expect(tf.memory().numTensors).toBe(numTensors)
    expect(await readFile(join(out, 'config.json'), 'utf8')).toBe('{"model_type":"gpt2"}')
    const st = await readSafetensors(join(out, 'model.safetensors'))
    expect([...st.tensors.keys()].sort()).toEqual([...host.params.keys()].sort())
    const path = targets.paths[0]!
    const m = host.modules.find((x) => x.path === path)!
    const d = denseDelta(factoredDeltaOf(a1.modules.get(path)!))
    const w = st.tensors.get(`${path}.weight`)!.data as Float32Array
    const w0 = before.get(`${path}.weight`)!
    let err = 0
    for (let i = 0; i < m.outFeatures; i++)
      for (let j = 0; j < m.inFeatures; j++)
        err = Math.max(err, Math.abs(w[j * m.outFeatures + i]! - w0[j * m.outFeatures + i]! - d[i * m.inFeatures + j]!))
    expect(err).toBeLessThan(1e-5)
    expect(
      maxAbsDiff(st.tensors.get('transformer.wte.weight')!.data as Float32Array, before.get('transformer.wte.weight')!),
    ).toBe(0)
    for (const [name, data] of snapshotParams(host)) expect(maxAbsDiff(data, before.get(name)!), name).toBe(0)
    await expect(writeMergedModel(out, withDir, result.deltas)).rejects.toMatchObject({
      code: 'COMMON_DIRECTORY_INSTALL_FAILED',
    })
  })

  it('creates a seeded placebo with the reference shapes and per-module ‖ΔW‖_F', () => {
    const p1 = createPlaceboAdapter(a1, { seed: 42 })
    const p2 = createPlaceboAdapter(a1, { seed: 42 })
    const p3 = createPlaceboAdapter(a1, { seed: 43 })
    for (const [path, ref] of a1.modules) {
      const m = p1.modules.get(path)!
      expect([m.rank, m.inFeatures, m.outFeatures, m.scale]).toEqual([
        ref.rank,
        ref.inFeatures,
        ref.outFeatures,
        ref.scale,
      ])
      const want = Math.sqrt(deltaFrobeniusSquared(factoredDeltaOf(ref)))
      expect(Math.sqrt(deltaFrobeniusSquared(factoredDeltaOf(m)))).toBeCloseTo(want, 4)
      expect(m.a).toEqual(p2.modules.get(path)!.a)
      expect(m.a).not.toEqual(p3.modules.get(path)!.a)
      // A random direction: far from the reference delta.
      expect(maxAbsDiff(denseDelta(factoredDeltaOf(m)), denseDelta(factoredDeltaOf(ref)))).toBeGreaterThan(1e-3)
    }
    expect(p1.config).toEqual(a1.config)
    expect(() => createPlaceboAdapter(a1, { seed: 0.5 })).toThrow(
      expect.objectContaining({ code: 'PEFT_PLACEBO_OPTIONS_INVALID' }),
    )
  })

  it('measures objectives through createDeltaObjective without touching the base at α = 0', async () => {
    const plan = await mergeAdapters(host, [a1])
    let calls = 0
    const objective = createDeltaObjective(host, plan.deltas, async () => {
      calls++
      return host.params.get(`${targets.paths[0]}.weight`)!.dataSync()[0]!
    })
    const base = await objective(0)
    const moved = await objective(1)
    expect(calls).toBe(2)
    expect(moved).not.toBe(base)
    expect(await objective(0)).toBe(base)
  })
})
