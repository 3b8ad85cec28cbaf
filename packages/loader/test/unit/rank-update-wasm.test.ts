// The fused rank-r update kernel (issue 21): exact layout handling against a float64 reference on
// its own memory, and inject/remove through it on TensorFlow.js' wasm backend (with and without
// @plora/model's native GEMM, which takes the shapes the kernel cannot tile).
import { createRng } from '@plora/common'
import { activeNativeKernels, initBackend, nativeKernelsInfo } from '@plora/model'
import { denseDelta, factoredDeltaOf, resolveTargetModules } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { baseFingerprint, fusedInjectionAvailable, injectAdapters } from '../../src/inject.js'
import { packLeft, packRight, rankUpdateKernel, rankUpdateSupported, wasmApi } from '../../src/rank-update-wasm.js'
import {
  createGpt2Host,
  createLlamaHost,
  maxAbsDiff,
  randomAdapterModules,
  snapshotParams,
} from '../helpers/fake-host.js'

describe('rank-update kernel on its own memory', () => {
  const wasm = wasmApi()!
  const memory = new wasm.Memory({ initial: 4 })
  const kernel = rankUpdateKernel(memory)

  it('compiles where WebAssembly SIMD exists and rejects shapes it cannot tile', () => {
    expect(kernel).not.toBeNull()
    expect(rankUpdateSupported(8, 16, 3)).toBe(true)
    expect(rankUpdateSupported(6, 16, 3)).toBe(false)
    expect(rankUpdateSupported(8, 12, 3)).toBe(false)
    expect(rankUpdateSupported(8, 16, 0)).toBe(false)
  })

  it.each([
    [4, 8, 1],
    [8, 24, 3],
    [12, 16, 8],
    [16, 40, 5],
  ])('out = W + L·R for %i×%i, rank %i (W untouched)', (rows, cols, rank) => {
    const rng = createRng(rows * 1000 + cols * 10 + rank)
    const f32 = (n: number) => Float32Array.from({ length: n }, () => rng.gauss(0, 1))
    const w = f32(rows * cols)
    const l = f32(rows * rank)
    const r = f32(rank * cols)
    const heap = new Float32Array(memory.buffer)
    // Float offsets with gaps (and not all 16-byte aligned): W, out, packed L, packed R.
    const wAt = 16
    const outAt = wAt + rows * cols + 2
    const lAt = outAt + rows * cols + 1
    const rAt = lAt + rows * rank + 3
    heap.fill(Number.NaN)
    heap.set(w, wAt)
    heap.set(packLeft(l, rows, rank), lAt)
    heap.set(packRight(r, rank, cols), rAt)
    kernel!(outAt * 4, wAt * 4, lAt * 4, rAt * 4, rows, cols, rank)
    const expected = new Float64Array(rows * cols)
    let bound = 0
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        let s = w[i * cols + j]!
        let mag = Math.abs(s)
        for (let k = 0; k < rank; k++) {
          s += l[i * rank + k]! * r[k * cols + j]!
          mag += Math.abs(l[i * rank + k]! * r[k * cols + j]!)
        }
        expected[i * cols + j] = s
        bound = Math.max(bound, mag)
      }
    }
    const out = heap.subarray(outAt, outAt + rows * cols)
    expect(maxAbsDiff(out, expected)).toBeLessThan(2 * (rank + 1) * 2 ** -24 * bound)
    expect(heap.subarray(wAt, wAt + rows * cols)).toEqual(w)
    // Nothing written outside `out`.
    expect(Number.isNaN(heap[outAt - 1]!)).toBe(true)
    expect(Number.isNaN(heap[outAt + rows * cols]!)).toBe(true)
  })
})

// Twice: shapes the wasm kernel cannot tile (d = 6) take tf ops without the native GEMM, and the
// native GEMM with it (@plora/model's addon, where it is built).
describe.each(['off', 'auto'] as const)(
  'inject / remove on the wasm backend (fused path, native kernels %s)',
  (nativeKernels) => {
    beforeAll(async () => {
      await initBackend({ backend: 'wasm', nativeKernels })
      if (nativeKernels === 'auto' && nativeKernelsInfo().available) expect(activeNativeKernels()).not.toBe('off')
    })
    afterAll(async () => {
      await initBackend({ backend: 'cpu', nativeKernels: 'off' })
    })

    it('takes the fused path, gives W + s·ΔW, and restores every weight bit for bit', async () => {
      expect(tf.getBackend()).toBe('wasm')
      expect(fusedInjectionAvailable()).toBe(true)
      // d = 8 tiles everywhere; d = 6 does not (rows 6, 18 …), so the tf ops fallback runs beside it.
      for (const host of [
        createGpt2Host({ layers: 2, d: 8 }),
        createLlamaHost({ layers: 1, d: 8 }),
        createGpt2Host({ d: 6 }),
      ]) {
        const targets = resolveTargetModules(host.modules, 'all').modules
        const first = { modules: randomAdapterModules(targets, 3, 11, 0.75) }
        const second = { modules: randomAdapterModules(targets, 8, 12, 2) }
        const before = snapshotParams(host)
        const fingerprint = await baseFingerprint(host)
        const tensors = tf.memory().numTensors
        const bytes = tf.memory().numBytes
        const h1 = injectAdapters(host, [first])
        const h2 = injectAdapters(host, [second])
        for (const m of first.modules.values()) {
          const info = host.modules.find((x) => x.path === m.path)!
          const w0 = before.get(`${m.path}.weight`)!
          const w1 = host.params.get(`${m.path}.weight`)!.dataSync() as Float32Array
          const d1 = denseDelta(factoredDeltaOf(m))
          const d2 = denseDelta(factoredDeltaOf(second.modules.get(m.path)!))
          const expected = new Float64Array(w0.length)
          for (let i = 0; i < m.outFeatures; i++) {
            for (let j = 0; j < m.inFeatures; j++) {
              const at = info.conv1d ? j * m.outFeatures + i : i * m.inFeatures + j
              expected[at] = w0[at]! + d1[i * m.inFeatures + j]! + d2[i * m.inFeatures + j]!
            }
          }
          expect(maxAbsDiff(w1, expected), m.path).toBeLessThan(1e-4)
        }
        h1.remove() // not on top: h2 is undone and re-applied
        h2.remove()
        expect(await baseFingerprint(host)).toBe(fingerprint)
        // Nothing leaks: the fused outputs and the packed factors are released with the handles.
        expect(tf.memory().numTensors).toBe(tensors)
        expect(tf.memory().numBytes).toBe(bytes)
        host.dispose()
      }
    })
  },
)
