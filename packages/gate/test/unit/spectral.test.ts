/**
 * The spectral weight features (Q/K/V split of GPT-2's fused c_attn checked against a dense
 * computation in the Conv1D orientation) and the logistic-regression classifier (separable and
 * known-coefficient synthetic sets, determinism, refusals).
 */
import { createRng } from '@plora/common'
import { Matrix, SingularValueDecomposition } from 'ml-matrix'
import { describe, expect, it } from 'vitest'
import { fitLogisticRegression, logisticScore } from '../../src/spectral-classifier.js'
import {
  moduleKind,
  moduleSpectralParts,
  SPECTRAL_FEATURE_NAMES,
  type SpectralModuleInput,
  spectralFeatures,
  spectralStats,
} from '../../src/spectral-features.js'

function randomModule(
  seed: number,
  path: string,
  rank: number,
  inF: number,
  outF: number,
  scale = 2,
): SpectralModuleInput {
  const rng = createRng(seed)
  return {
    path,
    rank,
    inFeatures: inF,
    outFeatures: outF,
    scale,
    a: Float32Array.from({ length: rank * inF }, () => rng.gauss(0, 1)),
    b: Float32Array.from({ length: outF * rank }, () => rng.gauss(0, 1)),
  }
}

/** The stored GPT-2 Conv1D update ΔWᵀ = (s·B·A)ᵀ, `[in, out]`, built entry by entry. */
function conv1dDelta(m: SpectralModuleInput): Matrix {
  const w = new Matrix(m.inFeatures, m.outFeatures)
  for (let i = 0; i < m.inFeatures; i++) {
    for (let o = 0; o < m.outFeatures; o++) {
      let acc = 0
      for (let p = 0; p < m.rank; p++) acc += m.b[o * m.rank + p]! * m.a[p * m.inFeatures + i]!
      w.set(i, o, m.scale * acc)
    }
  }
  return w
}

const feature = (values: readonly number[], name: string): number => values[SPECTRAL_FEATURE_NAMES.indexOf(name)]!

describe('spectral features', () => {
  it('splits c_attn into Q, K, V by output columns of the Conv1D weight, exactly as a dense SVD does', () => {
    const d = 8
    const m = randomModule(1, 'transformer.h.0.attn.c_attn', 3, d, 3 * d)
    const parts = moduleSpectralParts(m)
    expect(parts.map((p) => [p.path, p.kind])).toEqual([
      ['transformer.h.0.attn.c_attn#q', 'q'],
      ['transformer.h.0.attn.c_attn#k', 'k'],
      ['transformer.h.0.attn.c_attn#v', 'v'],
    ])
    const dense = conv1dDelta(m)
    for (const [i, p] of parts.entries()) {
      // [Q K V] = x·W: the i-th third of the output columns
      const block = dense.subMatrix(0, d - 1, i * d, (i + 1) * d - 1)
      const sv = new SingularValueDecomposition(block).diagonal.slice(0, m.rank)
      expect(p.singularValues).toHaveLength(m.rank)
      p.singularValues.forEach((s, j) => {
        expect(s).toBeCloseTo(sv[j]!, 9)
      })
      let fro2 = 0
      for (const row of block.to2DArray()) for (const x of row) fro2 += x * x
      expect(p.stats.log_frobenius).toBeCloseTo(0.5 * Math.log(fro2), 10)
      expect(p.stats.stable_rank).toBeCloseTo(fro2 / sv[0]! ** 2, 9)
    }
    // the thirds differ (a split by input rows, or no split, would not give these three spectra)
    expect(parts[0]!.singularValues[0]).not.toBeCloseTo(parts[1]!.singularValues[0]!, 3)
  })

  it('maps GPT-2 and LLaMA module paths to kinds', () => {
    expect(moduleKind('transformer.h.3.attn.c_attn')).toBe('qkv')
    expect(moduleKind('transformer.h.3.attn.c_proj')).toBe('o')
    expect(moduleKind('transformer.h.3.mlp.c_proj')).toBe('down')
    expect(moduleKind('transformer.h.3.mlp.c_fc')).toBe('up')
    expect(moduleKind('model.layers.1.self_attn.q_proj')).toBe('q')
    expect(moduleKind('model.layers.1.self_attn.k_proj')).toBe('k')
    expect(moduleKind('model.layers.1.self_attn.v_proj')).toBe('v')
    expect(moduleKind('model.layers.1.self_attn.o_proj')).toBe('o')
    expect(moduleKind('model.layers.1.mlp.gate_proj')).toBe('gate')
    expect(moduleKind('model.layers.1.mlp.up_proj')).toBe('up')
    expect(moduleKind('model.layers.1.mlp.down_proj')).toBe('down')
    expect(moduleKind('lm_head')).toBe('other')
  })

  it('per-module statistics from singular values (hand-computed), with the zero-update convention', () => {
    const s = spectralStats([3, 4])
    expect(s.log_sigma1).toBeCloseTo(Math.log(3), 14)
    expect(s.log_frobenius).toBeCloseTo(Math.log(5), 14)
    expect(s.stable_rank).toBeCloseTo(25 / 9, 14)
    // σ is taken as given (descending order is the caller's); p = 9/25, 16/25
    expect(s.spectral_entropy).toBeCloseTo(-(0.36 * Math.log(0.36) + 0.64 * Math.log(0.64)), 14)
    expect(s.sigma1_share).toBeCloseTo(3 / 7, 14)
    expect(spectralStats([0, 0])).toMatchObject({ stable_rank: 1, spectral_entropy: 0, sigma1_share: 1 })
  })

  it('gives a fixed-length vector, independent of module order, layer count and zero-padded rank', () => {
    const layers = (n: number, rank: number) =>
      Array.from({ length: n }, (_, i) => randomModule(10 + i, `transformer.h.${i}.attn.c_attn`, rank, 8, 24))
    const two = spectralFeatures(layers(2, 2))
    expect(two.values).toHaveLength(SPECTRAL_FEATURE_NAMES.length)
    expect(SPECTRAL_FEATURE_NAMES).toHaveLength(8 * 16)
    expect(spectralFeatures(layers(2, 2).reverse()).values).toEqual(two.values)
    expect(spectralFeatures(layers(5, 2)).values).toHaveLength(SPECTRAL_FEATURE_NAMES.length)
    // presence flags; absent kinds are zeros
    expect(feature(two.values, 'q.present')).toBe(1)
    expect(feature(two.values, 'v.present')).toBe(1)
    expect(feature(two.values, 'o.present')).toBe(0)
    for (const n of SPECTRAL_FEATURE_NAMES.filter((x) => x.startsWith('down.'))) expect(feature(two.values, n)).toBe(0)
    // mean/max/std over the two layers of a kind
    const q = two.parts.filter((p) => p.kind === 'q').map((p) => p.stats.log_sigma1)
    expect(feature(two.values, 'q.log_sigma1.mean')).toBeCloseTo((q[0]! + q[1]!) / 2, 12)
    expect(feature(two.values, 'q.log_sigma1.max')).toBe(Math.max(...q))
    expect(feature(two.values, 'q.log_sigma1.std')).toBeCloseTo(Math.abs(q[0]! - q[1]!) / 2, 12)
    // the same ΔW at rank 4 (zero-padded factors) gives the same features
    const padded = layers(2, 2).map((m) => {
      const r = 4
      const a = new Float32Array(r * m.inFeatures)
      a.set(m.a)
      const b = new Float32Array(m.outFeatures * r)
      for (let o = 0; o < m.outFeatures; o++) for (let p = 0; p < 2; p++) b[o * r + p] = m.b[o * 2 + p]!
      return { ...m, rank: r, a, b }
    })
    spectralFeatures(padded).values.forEach((v, i) => {
      expect(v, SPECTRAL_FEATURE_NAMES[i]).toBeCloseTo(two.values[i]!, 6)
    })
  })

  it('refuses factors that do not chain or are not finite (GATE_WEIGHTS_INVALID)', () => {
    const m = randomModule(3, 'transformer.h.0.attn.c_proj', 2, 4, 4)
    expect(() => spectralFeatures([{ ...m, a: Float32Array.from(m.a).slice(1) }])).toThrowError(
      expect.objectContaining({ code: 'GATE_WEIGHTS_INVALID', message: expect.stringContaining('do not chain') }),
    )
    const nan = Float32Array.from(m.b)
    nan[2] = Number.NaN
    expect(() => spectralFeatures([{ ...m, b: nan }])).toThrowError(
      expect.objectContaining({ code: 'GATE_WEIGHTS_INVALID' }),
    )
    expect(() => spectralFeatures([{ ...m, scale: Number.POSITIVE_INFINITY }])).toThrow(/finite scale/)
  })
})

describe('logistic regression', () => {
  it('separates a separable toy set and stays finite (L2), deterministically', () => {
    const x = [
      [0, 5],
      [1, -3],
      [2, 4],
      [3, 0],
      [4, 1],
      [5, -2],
    ]
    const y = [0, 0, 0, 1, 1, 1] as const
    const m = fitLogisticRegression(x, y, { lambda: 0.1 })
    expect(m.converged).toBe(true)
    const s = x.map((r) => logisticScore(m, r))
    expect(Math.min(...s.slice(3))).toBeGreaterThan(Math.max(...s.slice(0, 3)))
    expect(m.coefficients.every(Number.isFinite)).toBe(true)
    expect(fitLogisticRegression(x, y, { lambda: 0.1 })).toEqual(m)
    // a larger penalty shrinks the coefficients
    const strong = fitLogisticRegression(x, y, { lambda: 10 })
    expect(Math.abs(strong.coefficients[0]!)).toBeLessThan(Math.abs(m.coefficients[0]!))
  })

  it('recovers known coefficients of a synthetic logistic model', () => {
    const rng = createRng(42)
    const beta = [1.5, -2, 0.5]
    const b0 = -0.5
    const x: number[][] = []
    const y: (0 | 1)[] = []
    for (let i = 0; i < 20_000; i++) {
      const row = [rng.gauss(0, 1), rng.gauss(2, 0.5), rng.gauss(-1, 2)]
      const eta = b0 + row.reduce((a, v, j) => a + v * beta[j]!, 0)
      x.push(row)
      y.push(rng.random() < 1 / (1 + Math.exp(-eta)) ? 1 : 0)
    }
    const m = fitLogisticRegression(x, y, { lambda: 1e-6 })
    expect(m.converged).toBe(true)
    // back from standardised to raw coefficients
    const raw = m.coefficients.map((w, j) => w / m.stds[j]!)
    const intercept = m.intercept - m.coefficients.reduce((a, w, j) => a + (w * m.means[j]!) / m.stds[j]!, 0)
    // sampling error at n = 20,000 (seeds 1, 42: |error| ≤ 0.12), not a fit error: see the likelihoods
    raw.forEach((c, j) => {
      expect(Math.abs(c - beta[j]!), `β${j}`).toBeLessThan(0.2)
    })
    expect(Math.abs(intercept - b0)).toBeLessThan(0.4)
    // the fit is the maximum-likelihood estimate: it beats the true coefficients, by about χ²₄/2
    const logLik = (eta: (r: number[]) => number) =>
      x.reduce((a, r, i) => a + y[i]! * eta(r) - Math.log1p(Math.exp(eta(r))), 0)
    const fitted = logLik((r) => logisticScore(m, r))
    const truth = logLik((r) => b0 + r.reduce((a, v, j) => a + v * beta[j]!, 0))
    expect(fitted).toBeGreaterThan(truth)
    expect(fitted - truth).toBeLessThan(10)
    // at the optimum the penalised gradient vanishes
    const g = [0, 0, 0, 0]
    x.forEach((r, i) => {
      const p = 1 / (1 + Math.exp(-logisticScore(m, r)))
      const z = [1, ...r.map((v, j) => (v - m.means[j]!) / m.stds[j]!)]
      z.forEach((zj, j) => {
        g[j]! += (p - y[i]!) * zj
      })
    })
    for (let j = 1; j < 4; j++) g[j]! += 1e-6 * m.coefficients[j - 1]!
    for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-5)
  })

  it('gives a constant feature no weight, and refuses one-class labels and ragged or non-finite rows', () => {
    const m = fitLogisticRegression(
      [
        [1, 7],
        [2, 7],
        [3, 7],
        [4, 7],
      ],
      [0, 0, 1, 1],
    )
    expect(m.stds[1]).toBe(0)
    expect(m.coefficients[1]).toBe(0)
    expect(() => fitLogisticRegression([[1], [2]], [1, 1])).toThrowError(
      expect.objectContaining({ code: 'GATE_REFERENCE_INVALID', message: expect.stringContaining('both classes') }),
    )
    expect(() => fitLogisticRegression([[1, 2], [2]], [0, 1])).toThrow(/row 1 has 1 features/)
    expect(() => fitLogisticRegression([[1], [Number.NaN]], [0, 1])).toThrow(/finite/)
  })
})
