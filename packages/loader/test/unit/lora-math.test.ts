import { createRng } from '@plora/common'
import {
  deltaFrobeniusSquared,
  denseDelta,
  type FactoredDelta,
  factoredDeltaOf,
  factoredSvd,
  reprojectDelta,
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
})
