import { denseDelta, factoredDeltaOf, resolveTargetModules } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, describe, expect, it } from 'vitest'
import {
  activeInjections,
  assertPristineBase,
  baseFingerprint,
  createLoraBranches,
  injectAdapters,
  injectDeltas,
  withInjectedAdapters,
} from '../../src/inject.js'
import {
  bitEqual,
  createGpt2Host,
  createLlamaHost,
  maxAbsDiff,
  randomAdapterModules,
  snapshotParams,
} from '../helpers/fake-host.js'

describe('inject / remove', () => {
  const gpt2 = createGpt2Host({ layers: 2, d: 8 })
  const llama = createLlamaHost({ layers: 1, d: 8 })
  afterAll(() => {
    gpt2.dispose()
    llama.dispose()
  })

  function expectBitIdentical(before: Map<string, Float32Array>, host: typeof gpt2): void {
    for (const [name, data] of snapshotParams(host)) expect(bitEqual(data, before.get(name)!), name).toBe(true)
  }

  it('gives W + s·(B·A)ᵀ on GPT-2 Conv1D and W + s·B·A on Linear targets', () => {
    for (const host of [gpt2, llama]) {
      const targets = resolveTargetModules(host.modules, 'all').modules
      const adapter = { modules: randomAdapterModules(targets, 3, 5, 0.75) }
      const before = snapshotParams(host)
      const handle = injectAdapters(host, [adapter])
      for (const m of adapter.modules.values()) {
        const info = host.modules.find((x) => x.path === m.path)!
        const w0 = before.get(`${m.path}.weight`)!
        const w1 = host.params.get(`${m.path}.weight`)!.dataSync() as Float32Array
        const delta = denseDelta(factoredDeltaOf(m)) // [out, in]
        const expected = new Float64Array(w0.length)
        for (let i = 0; i < m.outFeatures; i++) {
          for (let j = 0; j < m.inFeatures; j++) {
            const at = info.conv1d ? j * m.outFeatures + i : i * m.inFeatures + j
            expected[at] = w0[at]! + delta[i * m.inFeatures + j]!
          }
        }
        expect(maxAbsDiff(w1, expected), m.path).toBeLessThan(1e-5)
      }
      handle.remove()
      expectBitIdentical(before, host)
    }
  })

  it('restores every base tensor bit for bit after nested, repeated and out-of-order removals', async () => {
    const targets = gpt2.modules
    const before = snapshotParams(gpt2)
    const fingerprint = await baseFingerprint(gpt2)
    const numTensors = tf.memory().numTensors
    const a1 = { modules: randomAdapterModules(targets.slice(0, 4), 2, 11) }
    const a2 = { modules: randomAdapterModules(targets.slice(2, 8), 4, 12) }
    for (let round = 0; round < 3; round++) {
      const h1 = injectAdapters(gpt2, [a1], { label: 'a1' })
      const h2 = injectAdapters(gpt2, [a2], { label: 'a2' })
      const h3 = injectAdapters(gpt2, [a1, a2], { label: 'both' })
      expect(activeInjections(gpt2)).toHaveLength(3)
      await expect(assertPristineBase(gpt2)).rejects.toMatchObject({ code: 'LOADER_BASE_NOT_PRISTINE' })
      // Remove the middle one first: the others must still be applied exactly.
      h2.remove()
      const expectedTop = snapshotParams(gpt2)
      const again = injectAdapters(gpt2, [a2])
      again.remove()
      expectBitIdentical(expectedTop, gpt2)
      h1.remove()
      h3.remove()
      expect(activeInjections(gpt2)).toEqual([])
      expectBitIdentical(before, gpt2)
    }
    await assertPristineBase(gpt2, { expectedFingerprint: fingerprint })
    expect(tf.memory().numTensors).toBe(numTensors)
  })

  it('rejects a second removal and mismatched adapters without changing anything', async () => {
    const fingerprint = await baseFingerprint(gpt2)
    const h = injectAdapters(gpt2, [{ modules: randomAdapterModules(gpt2.modules.slice(0, 1), 2, 3) }])
    h.remove()
    expect(() => h.remove()).toThrow(expect.objectContaining({ code: 'LOADER_INJECTION_STATE_INVALID' }))
    const wrongShape = randomAdapterModules([{ ...gpt2.modules[0]!, inFeatures: 5 }], 2, 4)
    expect(() => injectAdapters(gpt2, [{ modules: wrongShape }])).toThrow(
      expect.objectContaining({ code: 'LOADER_ADAPTER_MODEL_MISMATCH' }),
    )
    const missing = randomAdapterModules(
      [{ path: 'transformer.h.9.attn.c_attn', inFeatures: 8, outFeatures: 24, conv1d: true }],
      2,
      4,
    )
    expect(() => injectAdapters(gpt2, [{ modules: missing }])).toThrow(
      expect.objectContaining({ code: 'LOADER_ADAPTER_MODEL_MISMATCH' }),
    )
    expect(await baseFingerprint(gpt2)).toBe(fingerprint)
    expect(activeInjections(gpt2)).toEqual([])
  })

  it('detects changed weights through the fingerprint', async () => {
    const fingerprint = await baseFingerprint(llama)
    const v = llama.params.get('lm_head.weight')!
    const old = tf.clone(v)
    v.assign(tf.tidy(() => tf.add(v, 1e-3)))
    await expect(assertPristineBase(llama, { expectedFingerprint: fingerprint, where: 'test' })).rejects.toMatchObject({
      code: 'LOADER_BASE_NOT_PRISTINE',
    })
    v.assign(old)
    old.dispose()
    await assertPristineBase(llama, { expectedFingerprint: fingerprint })
  })

  it('removes the injection when the callback throws', async () => {
    const before = snapshotParams(gpt2)
    await expect(
      withInjectedAdapters(gpt2, [{ modules: randomAdapterModules(gpt2.modules, 2, 9) }], () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expectBitIdentical(before, gpt2)
  })

  it('scales factored deltas by the coefficient, and coefficient 0 leaves the weights unchanged', () => {
    const m = [...randomAdapterModules(llama.modules.slice(0, 2), 2, 21).values()]
    const before = snapshotParams(llama)
    const h0 = injectDeltas(
      llama,
      m.map((x) => factoredDeltaOf(x)),
      { coefficient: 0 },
    )
    for (const [name, data] of snapshotParams(llama)) expect(maxAbsDiff(data, before.get(name)!), name).toBe(0)
    h0.remove()
    const h = injectDeltas(
      llama,
      m.map((x) => factoredDeltaOf(x)),
      { coefficient: 0.5 },
    )
    const w = llama.params.get(`${m[0]!.path}.weight`)!.dataSync() as Float32Array
    const d = denseDelta(factoredDeltaOf(m[0]!))
    const expected = before.get(`${m[0]!.path}.weight`)!.map((x, i) => x + 0.5 * d[i]!)
    expect(maxAbsDiff(w, expected)).toBeLessThan(1e-5)
    h.remove()
  })

  it('builds un-merged side branches and frees them', () => {
    const n = tf.memory().numTensors
    const a1 = { modules: randomAdapterModules(gpt2.modules.slice(0, 2), 2, 31) }
    const a2 = { modules: randomAdapterModules(gpt2.modules.slice(0, 1), 3, 32) }
    const set = createLoraBranches(gpt2, [a1, a2])
    const stacked = set.branches.get(gpt2.modules[0]!.path)!
    expect(stacked.a.shape).toEqual([5, 8])
    expect(stacked.b.shape).toEqual([24, 5])
    // The stacked branch carries the sum of both deltas.
    const dense = tf.tidy(() => tf.mul(tf.matMul(stacked.b, stacked.a), stacked.scale).dataSync())
    const expected = denseDelta(factoredDeltaOf(a1.modules.get(gpt2.modules[0]!.path)!)).map(
      (x, i) => x + denseDelta(factoredDeltaOf(a2.modules.get(gpt2.modules[0]!.path)!))[i]!,
    )
    expect(maxAbsDiff(dense, expected)).toBeLessThan(1e-5)
    expect(set.branches.get(gpt2.modules[1]!.path)!.scale).toBe(2)
    set.dispose()
    expect(tf.memory().numTensors).toBe(n)
  })
})
