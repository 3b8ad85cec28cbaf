import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  activeNativeKernels,
  initBackend,
  installNativeMatMul,
  nativeGemm,
  nativeKernelsInfo,
  planMatMul,
  probeNativeAddon,
} from '../../src/index.js'

/** A C compiler is on PATH: then `pnpm run build` must have produced the addon. */
function compilerPresent(): boolean {
  try {
    execFileSync(process.env.CC?.trim() || 'cc', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const info = nativeKernelsInfo()

/** Deterministic values in [-1, 1). */
function fill(f: Float32Array, seed: number): void {
  let s = seed >>> 0
  for (let i = 0; i < f.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    f[i] = s / 2 ** 31 - 1
  }
}

interface Case {
  batch: number
  m: number
  n: number
  k: number
  tA: boolean
  tB: boolean
  bias: boolean
  alpha: number
}

/** Lays a case out on a fresh heap, runs the GEMM and returns the worst error against a float64 product. */
function runCase(c: Case, isa: string): { err: number; tol: number; out: Float32Array } {
  const aLen = c.batch * c.m * c.k
  const bLen = c.batch * c.k * c.n
  const heap = new ArrayBuffer((3 + aLen + bLen + c.n + c.batch * c.m * c.n) * 4)
  const f = new Float32Array(heap)
  const aOff = 3 // deliberately not 16-byte aligned
  const bOff = aOff + aLen
  const cOff = bOff + bLen
  const oOff = cOff + c.n
  fill(f.subarray(aOff, cOff + c.n), c.m * 31 + c.n * 7 + c.k)
  nativeGemm(
    heap,
    {
      batch: c.batch,
      m: c.m,
      n: c.n,
      k: c.k,
      alpha: c.alpha,
      // Stored [m, k] or (tA) [k, m]; [k, n] or (tB) [n, k].
      a: { off: aOff, sb: c.m * c.k, sr: c.tA ? 1 : c.k, sc: c.tA ? c.m : 1 },
      b: { off: bOff, sb: c.k * c.n, sr: c.tB ? 1 : c.n, sc: c.tB ? c.k : 1 },
      ...(c.bias ? { cin: { off: cOff, sb: 0, sr: 0 } } : {}),
      out: { off: oOff, sb: c.m * c.n, sr: c.n },
    },
    isa,
  )
  let err = 0
  let scale = 0
  for (let bi = 0; bi < c.batch; bi++) {
    for (let i = 0; i < c.m; i++) {
      for (let j = 0; j < c.n; j++) {
        let s = 0
        let abs = 0
        for (let k = 0; k < c.k; k++) {
          const a = f[aOff + bi * c.m * c.k + (c.tA ? k * c.m + i : i * c.k + k)]!
          const b = f[bOff + bi * c.k * c.n + (c.tB ? j * c.k + k : k * c.n + j)]!
          s += a * b
          abs += Math.abs(a * b)
        }
        const want = (c.bias ? f[cOff + j]! : 0) + c.alpha * s
        err = Math.max(err, Math.abs(f[oOff + (bi * c.m + i) * c.n + j]! - want))
        scale = Math.max(scale, Math.abs(c.alpha) * abs + 1)
      }
    }
  }
  // float32 accumulation: a few ulps per term at worst, far below any layout or indexing mistake.
  return { err, tol: 4 * c.k * 2 ** -24 * scale, out: f.slice(oOff, oOff + c.batch * c.m * c.n) }
}

const CASES: Case[] = [
  { batch: 1, m: 1, n: 1, k: 1, tA: false, tB: false, bias: false, alpha: 1 },
  { batch: 1, m: 13, n: 29, k: 7, tA: false, tB: false, bias: true, alpha: 1 },
  { batch: 1, m: 37, n: 70, k: 300, tA: true, tB: false, bias: false, alpha: 0.5 }, // two k blocks
  { batch: 1, m: 50, n: 33, k: 64, tA: false, tB: true, bias: true, alpha: -2 },
  { batch: 3, m: 17, n: 40, k: 9, tA: true, tB: true, bias: false, alpha: 1 },
  { batch: 1, m: 160, n: 2100, k: 8, tA: false, tB: false, bias: true, alpha: 1 }, // two n blocks, short k
  { batch: 2, m: 200, n: 12, k: 520, tA: false, tB: true, bias: false, alpha: 1 }, // three k blocks, two m blocks
]

describe('native GEMM addon', () => {
  it('is built wherever a C compiler is present (else it says why)', () => {
    if (compilerPresent()) expect(info, info.reason).toMatchObject({ available: true })
    else expect(info.reason).toMatch(/not built|failed to load/)
  })

  it('says why a missing or broken addon cannot be used (plora then keeps the wasm kernels)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plora-native-'))
    expect(probeNativeAddon(join(dir, 'none.node'))).toMatchObject({
      addon: null,
      reason: expect.stringMatching(/not built .*none\.node is missing/),
    })
    writeFileSync(join(dir, 'junk.node'), 'not a shared object')
    expect(probeNativeAddon(join(dir, 'junk.node'))).toMatchObject({
      addon: null,
      reason: expect.stringMatching(/failed to load .*junk\.node/),
    })
  })

  describe.skipIf(!info.available)('on every instruction set this CPU runs', () => {
    it('offers the baseline and names the ISAs best first', () => {
      expect(info.isas.at(-1)).toBe('generic')
      expect(new Set(info.isas).size).toBe(info.isas.length)
    })

    for (const isa of info.isas) {
      it.each(CASES)(`${isa}: batch $batch, $m×$k·$k×$n, tA $tA, tB $tB, bias $bias, alpha $alpha`, (c) => {
        const r = runCase(c, isa)
        expect(r.err).toBeLessThanOrEqual(r.tol)
        // The same call gives the same bits.
        expect(Buffer.from(runCase(c, isa).out.buffer).equals(Buffer.from(r.out.buffer))).toBe(true)
      })
    }

    it('rejects operands that reach past the heap, overlapping outputs and bad arguments, before writing', () => {
      const heap = new ArrayBuffer(64 * 4)
      const f = new Float32Array(heap)
      f.fill(7)
      const ok = {
        batch: 1,
        m: 4,
        n: 4,
        k: 4,
        a: { off: 0, sb: 0, sr: 4, sc: 1 },
        b: { off: 16, sb: 0, sr: 4, sc: 1 },
        out: { off: 32, sb: 0, sr: 4 },
      }
      const bad = (patch: object) => () => nativeGemm(heap, { ...ok, ...patch })
      expect(bad({ a: { off: 60, sb: 0, sr: 4, sc: 1 } })).toThrow(/reaches past the heap/)
      expect(bad({ out: { off: 50, sb: 0, sr: 4 } })).toThrow(/reaches past the heap/)
      expect(bad({ b: { off: 16, sb: 0, sr: 2 ** 40, sc: 1 } })).toThrow(/reaches past the heap/)
      expect(bad({ cin: { off: -5, sb: 0, sr: 0 } })).toThrow(/reaches past the heap/)
      expect(bad({ out: { off: 32, sb: 0, sr: 2 } })).toThrow(/overlap/)
      expect(bad({ batch: 2, out: { off: 32, sb: 2, sr: 8 } })).toThrow(/overlap/)
      expect(bad({ m: 1.5 })).toThrow(/integers/)
      expect(bad({ alpha: Number.NaN })).toThrow(/alpha/)
      expect(() => nativeGemm(heap, ok, 'sse9')).toThrow(expect.objectContaining({ code: 'MODEL_BACKEND_UNAVAILABLE' }))
      expect(bad({ a: { off: 60, sb: 0, sr: 4, sc: 1 } })).toThrow(
        expect.objectContaining({ code: 'MODEL_INPUT_INVALID' }),
      )
      expect(f.every((v) => v === 7)).toBe(true)
      // Interleaved batches that do not overlap are accepted: batch stride 4 inside row stride 8.
      nativeGemm(heap, { ...ok, batch: 2, out: { off: 32, sb: 4, sr: 8 } })
      expect(f.subarray(32).some((v) => v !== 7)).toBe(true)
    })
  })
})

describe('planMatMul', () => {
  it('maps transposes and one-sided batch broadcasts onto strides, and declines the rest', () => {
    expect(planMatMul([2, 3], [3, 4], false, false)).toMatchObject({ batch: 1, m: 2, n: 4, k: 3, outShape: [2, 4] })
    expect(planMatMul([3, 2], [4, 3], true, true)).toMatchObject({ m: 2, n: 4, k: 3 })
    expect(planMatMul([5, 2, 3], [3, 4], false, false)).toMatchObject({ batch: 5, aSb: 6, bSb: 0, outShape: [5, 2, 4] })
    expect(planMatMul([1, 2, 3], [5, 3, 4], false, false)).toMatchObject({ batch: 5, aSb: 0, bSb: 12 })
    expect(planMatMul([2, 1, 2, 3], [1, 3, 3, 4], false, false)).toBeNull() // a true 2-D broadcast
    expect(planMatMul([2, 3], [4, 4], false, false)).toBeNull() // inner sizes differ
    expect(planMatMul([0, 3], [3, 4], false, false)).toBeNull() // empty
  })
})

describe.skipIf(!info.available)('wasm MatMul kernels on the native GEMM', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', nativeKernels: 'auto' })
  })
  afterAll(async () => {
    await initBackend({ backend: 'wasm', nativeKernels: 'auto' })
  })

  function products(): Float32Array[] {
    return tf.tidy(() => {
      const a = tf.randomNormal([3, 20, 30], 0, 1, 'float32', 1)
      const b = tf.randomNormal([3, 30, 25], 0, 1, 'float32', 2)
      const w = tf.randomNormal([30, 25], 0, 1, 'float32', 3)
      const bias = tf.randomNormal([25], 0, 1, 'float32', 4)
      const a2 = tf.reshape(tf.slice(a, [0, 0, 0], [1, 20, 30]), [20, 30])
      return [
        tf.matMul(a, b),
        tf.matMul(tf.transpose(a, [0, 2, 1]), b, true, false),
        tf.matMul(a, tf.transpose(b, [0, 2, 1]), false, true),
        tf.matMul(a, w), // broadcast of the 2-D operand over the batch
        tf.fused.matMul({ a: a2, b: w, bias }),
        tf.fused.matMul({ a: a2, b: w, bias, activation: 'relu' }), // falls back to XNNPACK
      ].map((t) => t.dataSync() as Float32Array)
    })
  }

  it('agree with the WebAssembly kernels on every form, and switch off and on again', async () => {
    expect(installNativeMatMul('auto').isa).toBe(info.isas[0])
    expect(activeNativeKernels()).toBe(info.isas[0])
    const native = products()
    await initBackend({ backend: 'wasm', nativeKernels: 'off' })
    expect(activeNativeKernels()).toBe('off')
    const wasm = products()
    for (const [i, x] of native.entries()) {
      const y = wasm[i]!
      expect(x.length).toBe(y.length)
      let err = 0
      for (let j = 0; j < x.length; j++) err = Math.max(err, Math.abs(x[j]! - y[j]!))
      expect(err, `product ${i}`).toBeLessThan(1e-4)
    }
    for (const isa of info.isas) {
      await initBackend({ backend: 'wasm', nativeKernels: isa as 'generic' })
      expect(activeNativeKernels()).toBe(isa)
    }
  })

  it('refuses an unknown choice or an ISA this machine lacks, and stays off on other backends', async () => {
    expect(() => installNativeMatMul('sse9' as 'off')).toThrow(
      expect.objectContaining({ code: 'MODEL_BACKEND_INVALID' }),
    )
    if (!info.isas.includes('avx512')) {
      expect(() => installNativeMatMul('avx512')).toThrow(
        expect.objectContaining({ code: 'MODEL_BACKEND_UNAVAILABLE' }),
      )
    }
    await initBackend({ backend: 'cpu', nativeKernels: 'auto' })
    expect(activeNativeKernels()).toBe('off')
  })
})
