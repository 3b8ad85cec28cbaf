import { createRng } from '@plora/common'
import {
  deltaFrobeniusSquared,
  deltaGrams,
  denseDelta,
  type FactoredDelta,
  factoredDeltaOf,
  factoredSvd,
  frobeniusSquaredFromGrams,
  reprojectDelta,
  reprojectDeltaWithError,
  scaleDeltaInPlace,
  scaleGramsInPlace,
  stackDeltas,
} from '@plora/peft'
import { Matrix, SingularValueDecomposition } from 'ml-matrix'
import { describe, expect, it } from 'vitest'
import { maxAbsDiff, randomLoraModule } from '../helpers/fake-host.js'

function randomDelta(m: number, n: number, r: number, seed: number): FactoredDelta {
  const rng = createRng(seed)
  return factoredDeltaOf(randomLoraModule({ path: 'x', inFeatures: n, outFeatures: m, conv1d: false }, r, rng, 1.5))
}

/** Truncated dense SVD reconstruction, the reference the factor method must match. */
function truncatedDense(dense: Float64Array, m: number, n: number, k: number): Float64Array {
  const svd = new SingularValueDecomposition(
    new Matrix(Array.from({ length: m }, (_, i) => Array.from(dense.subarray(i * n, (i + 1) * n)))),
    {
      autoTranspose: true,
    },
  )
  const U = svd.leftSingularVectors
  const V = svd.rightSingularVectors
  const s = svd.diagonal
  const out = new Float64Array(m * n)
  for (let t = 0; t < k; t++)
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j]! += U.get(i, t) * s[t]! * V.get(j, t)
  return out
}

describe('LoRA factor maths', () => {
  it('stacked factors equal the sum of the dense deltas (seeded loop)', () => {
    for (let seed = 0; seed < 5; seed++) {
      const d1 = randomDelta(7, 5, 2, seed)
      const d2 = randomDelta(7, 5, 3, seed + 100)
      const stacked = denseDelta(stackDeltas([d1, d2]))
      const a = denseDelta(d1)
      const b = denseDelta(d2)
      const sum = a.map((x, i) => x + b[i]!)
      expect(maxAbsDiff(stacked, sum), `seed ${seed}`).toBeLessThan(1e-12)
    }
  })

  it('computes ‖BA‖_F from the Gram matrices', () => {
    const d = stackDeltas([randomDelta(9, 6, 2, 1), randomDelta(9, 6, 2, 2)])
    const dense = denseDelta(d)
    const direct = dense.reduce((acc, x) => acc + x * x, 0)
    expect(deltaFrobeniusSquared(d)).toBeCloseTo(direct, 10)
  })

  it('re-projects to rank k like the truncated dense SVD of ΔW (1e-4), factor path and dense path', () => {
    const cases: Array<[number, number, number[], number]> = [
      [12, 9, [2, 3, 2], 3], // stacked rank 7 < min(12, 9): QR + core SVD
      [20, 6, [2, 2], 2],
      [6, 5, [3, 3], 2], // stacked rank 6 ≥ 5: dense fallback
      [16, 10, [4], 6], // k above the delta's rank: zero-padded, exact
    ]
    cases.forEach(([m, n, ranks, k], c) => {
      const d = stackDeltas(ranks.map((r, i) => randomDelta(m, n, r, 10 * c + i)))
      const dense = denseDelta(d)
      const reference = truncatedDense(dense, m, n, Math.min(k, d.rank, m, n))
      const projected = reprojectDelta(d, k)
      expect(projected.rank, `case ${c}`).toBe(k)
      expect(maxAbsDiff(denseDelta(projected), reference), `case ${c}`).toBeLessThan(1e-4)
    })
  })

  it('returns singular values in descending order matching the dense SVD', () => {
    const d = stackDeltas([randomDelta(30, 20, 4, 7), randomDelta(30, 20, 4, 8)])
    const svd = factoredSvd(d)
    const dense = denseDelta(d)
    const ref = new SingularValueDecomposition(
      new Matrix(Array.from({ length: 30 }, (_, i) => Array.from(dense.subarray(i * 20, (i + 1) * 20)))),
    )
    for (let t = 0; t < 8; t++) {
      expect(svd.s[t]!).toBeCloseTo(ref.diagonal[t]!, 8)
      if (t > 0) expect(svd.s[t]!).toBeLessThanOrEqual(svd.s[t - 1]!)
    }
  })

  describe('fast factor path (Cholesky or Householder QR + Jacobi core SVD) against a dense SVD', () => {
    /** Dense SVD of ΔW (ml-matrix), σ descending. */
    function denseSvd(d: FactoredDelta): { s: number[]; dense: Float64Array } {
      const dense = denseDelta(d)
      const { outFeatures: m, inFeatures: n } = d
      const svd = new SingularValueDecomposition(
        new Matrix(Array.from({ length: m }, (_, i) => Array.from(dense.subarray(i * n, (i + 1) * n)))),
        { autoTranspose: true },
      )
      return { s: svd.diagonal, dense }
    }
    function maxOrthonormalityError(x: Float64Array, rows: number, p: number, upTo: number): number {
      let worst = 0
      for (let s = 0; s < upTo; s++) {
        for (let t = 0; t < upTo; t++) {
          let g = 0
          for (let i = 0; i < rows; i++) g += x[i * p + s]! * x[i * p + t]!
          worst = Math.max(worst, Math.abs(g - (s === t ? 1 : 0)))
        }
      }
      return worst
    }
    const m = 48
    const n = 32
    const one = (seed: number, r: number) => randomDelta(m, n, r, seed)
    const zeroB = (seed: number, r: number) => {
      const d = one(seed, r)
      d.b.fill(0)
      return d
    }
    const nearlyDependent = (seed: number) => {
      // a second copy perturbed by 1e-9: condition ~1e9, the Cholesky route must not be trusted.
      const d = one(seed, 3)
      const e = one(seed + 1, 3)
      const f = one(seed, 3)
      for (let i = 0; i < f.b.length; i++) f.b[i] = f.b[i]! + 1e-9 * e.b[i]!
      return [d, f]
    }
    const cases: Array<[string, FactoredDelta[], number]> = [
      ['random 3 × rank 3 (Cholesky)', [one(1, 3), one(2, 3), one(3, 3)], 3],
      ['random 2 × rank 5 to 8 (k ≥ rank − 2)', [one(4, 5), one(5, 5)], 8],
      ['duplicated adapter (rank 6 stack, true rank 3)', [one(6, 3), one(6, 3)], 3],
      ['an untrained adapter (B = 0) stacked with a trained one', [zeroB(7, 4), one(8, 4)], 4],
      ['all-zero stack', [zeroB(9, 2), zeroB(10, 2)], 2],
      ['nearly dependent copies', nearlyDependent(11), 2],
      ['opposite copies cancel (B and −B)', [one(12, 3), scaleDeltaInPlace(one(12, 3), -1)], 2],
    ]
    it.each(cases)('%s', (_, parts, k) => {
      const d = stackDeltas(parts)
      const ref = denseSvd(d)
      const top = ref.s[0]!
      // Rounding is relative to the factors (‖B‖_F‖A‖_F), which matters when ΔW itself cancels to 0.
      const norm = (x: Float64Array) => Math.sqrt(x.reduce((acc, v) => acc + v * v, 0))
      const factorScale = norm(d.b) * norm(d.a)
      const tol = 1e-9 * top + 1e-12 * factorScale
      const svd = factoredSvd(d)
      expect(svd.count).toBe(d.rank)
      for (let t = 0; t < d.rank; t++) {
        expect(Math.abs(svd.s[t]! - ref.s[t]!), `σ_${t}`).toBeLessThanOrEqual(tol)
        if (t > 0) expect(svd.s[t]!).toBeLessThanOrEqual(svd.s[t - 1]!)
      }
      // U and V orthonormal, also for the columns of zero singular values.
      expect(maxOrthonormalityError(svd.u, m, svd.count, svd.count)).toBeLessThan(1e-9)
      expect(maxOrthonormalityError(svd.v, n, svd.count, svd.count)).toBeLessThan(1e-9)
      // ΔW = U diag(σ) Vᵀ
      const rebuilt = new Float64Array(m * n)
      for (let t = 0; t < svd.count; t++)
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++)
            rebuilt[i * n + j]! += svd.u[i * svd.count + t]! * svd.s[t]! * svd.v[j * svd.count + t]!
      expect(maxAbsDiff(rebuilt, ref.dense)).toBeLessThanOrEqual(tol)
      // Re-projection equals the truncated dense SVD, and its error is the root of the discarded σ².
      const projected = reprojectDeltaWithError(d, k)
      const keep = Math.min(k, d.rank)
      expect(maxAbsDiff(denseDelta(projected.delta), truncatedDense(ref.dense, m, n, keep))).toBeLessThanOrEqual(
        1e-8 * top + 1e-12 * factorScale,
      )
      const tail = Math.sqrt(ref.s.slice(keep).reduce((acc, x) => acc + x * x, 0))
      expect(Math.abs(projected.error - tail)).toBeLessThanOrEqual(tol)
      expect(projected.norm).toBeCloseTo(Math.sqrt(ref.s.reduce((acc, x) => acc + x * x, 0)), 12)
      expect(projected.delta.rank).toBe(k)
    })
  })

  it('reuses Gram matrices kept in step with scaling (same norm and re-projection as from scratch)', () => {
    const d = stackDeltas([randomDelta(40, 24, 4, 21), randomDelta(40, 24, 4, 22)])
    const grams = deltaGrams(d)
    expect(frobeniusSquaredFromGrams(grams)).toBeCloseTo(deltaFrobeniusSquared(d), 10)
    scaleDeltaInPlace(d, -0.37)
    scaleGramsInPlace(grams, -0.37)
    const fresh = reprojectDeltaWithError(d, 3)
    const reused = reprojectDeltaWithError(d, 3, grams)
    expect(maxAbsDiff(denseDelta(reused.delta), denseDelta(fresh.delta))).toBeLessThan(1e-12)
    expect(reused.error).toBeCloseTo(fresh.error, 12)
    // Grams of another delta give another result: the comparison above can fail.
    const other = deltaGrams(stackDeltas([randomDelta(40, 24, 4, 23), randomDelta(40, 24, 4, 24)]))
    const wrong = reprojectDeltaWithError(d, 3, other)
    expect(maxAbsDiff(denseDelta(wrong.delta), denseDelta(fresh.delta))).toBeGreaterThan(1e-6)
  })
})
