import { createRng } from '@plora/common'
import { describe, expect, it } from 'vitest'
import {
  ChebyshevKdTree,
  chooseMiEstimator,
  digammaInt,
  discreteMutualInformation,
  ksgMutualInformation,
  mixedKsgMutualInformation,
  mutualInformation,
} from '../../src/index.js'
import { gaussianPair, linf, parkMiller } from './helpers.js'

// O(N²) reference implementations straight from the formulas, to check the k-d tree path.
function bruteKsg(x: number[][], y: number[][], k: number, algorithm: 1 | 2): number {
  const n = x.length
  const dx = (i: number, j: number) => Math.max(...x[i]!.map((v, a) => Math.abs(v - x[j]![a]!)))
  const dy = (i: number, j: number) => Math.max(...y[i]!.map((v, a) => Math.abs(v - y[j]![a]!)))
  let acc = 0
  for (let i = 0; i < n; i++) {
    const others = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)
    others.sort((a, b) => Math.max(dx(i, a), dy(i, a)) - Math.max(dx(i, b), dy(i, b)) || a - b)
    const nn = others.slice(0, k)
    if (algorithm === 1) {
      const eps = Math.max(dx(i, nn[k - 1]!), dy(i, nn[k - 1]!))
      const nx = others.filter((j) => dx(i, j) < eps).length
      const ny = others.filter((j) => dy(i, j) < eps).length
      acc += digammaInt(nx + 1) + digammaInt(ny + 1)
    } else {
      const ex = Math.max(...nn.map((j) => dx(i, j)))
      const ey = Math.max(...nn.map((j) => dy(i, j)))
      acc +=
        digammaInt(others.filter((j) => dx(i, j) <= ex).length) +
        digammaInt(others.filter((j) => dy(i, j) <= ey).length)
    }
  }
  return digammaInt(k) + digammaInt(n) - (algorithm === 2 ? 1 / k : 0) - acc / n
}

describe('ksgMutualInformation', () => {
  it('reproduces the original mi_knn reference values (swarm.md A.4)', () => {
    const x = parkMiller(12345, 60)
    const e = parkMiller(67890, 60)
    const y = x.map((v, i) => 0.6 * v + 0.4 * e[i]!)
    expect(ksgMutualInformation(x, y, { k: 3 })).toBeCloseTo(0.6860797421931881, 10)
    expect(ksgMutualInformation(x, y, { k: 5 })).toBeCloseTo(0.6467741399277207, 10)
    expect(ksgMutualInformation(x, parkMiller(13579, 60), { k: 3 })).toBeCloseTo(-0.089708351600442, 10)
    expect(ksgMutualInformation([1, 2, 3], [3, 2, 1], { k: 3 })).toBe(0)
  })

  it('matches the O(N²) definition for algorithms 1 and 2 in several dimensions', () => {
    const rng = createRng(3)
    for (const [dx, dy] of [
      [1, 1],
      [2, 1],
      [2, 3],
    ] as const) {
      const n = 80
      const x = Array.from({ length: n }, () => Array.from({ length: dx }, () => rng.gauss(0, 1)))
      const y = x.map((r) => Array.from({ length: dy }, (_, a) => 0.7 * r[a % dx]! + 0.5 * rng.gauss(0, 1)))
      for (const algorithm of [1, 2] as const) {
        for (const k of [1, 4]) {
          const fast = ksgMutualInformation(x, y, { k, algorithm, jitter: 0 })
          expect(fast, `d=${dx}+${dy} alg ${algorithm} k ${k}`).toBeCloseTo(bruteKsg(x, y, k, algorithm), 10)
        }
      }
    }
  })

  it('handles exact ties deterministically (index tie-break) and equals brute force with jitter off', () => {
    const rng = createRng(4)
    const x = Array.from({ length: 60 }, () => [rng.randbelow(5)])
    const y = x.map((r) => [r[0]! + rng.randbelow(3)])
    const a = ksgMutualInformation(x, y, { jitter: 0, k: 3 })
    expect(a).toBeCloseTo(bruteKsg(x, y, 3, 1), 10)
    expect(ksgMutualInformation(x, y, { jitter: 0, k: 3 })).toBe(a)
  })

  it('calibrates on bivariate Gaussians: within 0.02 nats of −½ln(1−ρ²) (mean of 10 seeds, n = 10,000)', () => {
    for (const rho of [0, 0.3, 0.6, 0.9]) {
      const truth = -0.5 * Math.log(1 - rho * rho)
      let sum = 0
      for (let seed = 0; seed < 10; seed++) {
        const { x, y } = gaussianPair(rho, 10_000, 1000 * seed + Math.round(rho * 10))
        sum += ksgMutualInformation(x, y)
      }
      const mean = sum / 10
      expect(Math.abs(mean - truth), `rho ${rho}: mean ${mean} vs ${truth}`).toBeLessThan(rho === 0 ? 0.01 : 0.02)
    }
  })

  it('orders MI as the original test does: MI(ρ=.9) > MI(ρ=.1) and MI(X;X) > MI(ρ=.9)', () => {
    const lo = gaussianPair(0.1, 400, 1)
    const hi = gaussianPair(0.9, 400, 2)
    const miLo = ksgMutualInformation(lo.x, lo.y)
    const miHi = ksgMutualInformation(hi.x, hi.y)
    expect(miHi).toBeGreaterThan(miLo)
    expect(ksgMutualInformation(hi.x, hi.x)).toBeGreaterThan(miHi)
  })

  it('rejects mismatched lengths, bad k and NaN with codes', () => {
    expect(() => ksgMutualInformation([1, 2, 3], [1, 2])).toThrow(
      expect.objectContaining({ code: 'IT_LENGTH_MISMATCH' }),
    )
    expect(() => ksgMutualInformation([1, 2, 3], [1, 2, 3], { k: 0 })).toThrow(
      expect.objectContaining({ code: 'IT_ARGUMENT_INVALID' }),
    )
    expect(() => ksgMutualInformation([1, Number.NaN], [1, 2])).toThrow(
      expect.objectContaining({ code: 'IT_ARGUMENT_INVALID' }),
    )
  })
})

describe('ChebyshevKdTree', () => {
  it('returns the same k nearest neighbours and radius counts as brute force', () => {
    const rng = createRng(9)
    const n = 300
    const d = 3
    const data = new Float64Array(n * d)
    for (let i = 0; i < data.length; i++) data[i] = rng.randbelow(7) + (rng.random() < 0.5 ? 0 : rng.random())
    const tree = new ChebyshevKdTree(data, n, d)
    const dist = new Float64Array(6)
    const idx = new Int32Array(6)
    for (let i = 0; i < n; i += 7) {
      tree.knn(data, i * d, 6, i, dist, idx)
      const brute = Array.from({ length: n }, (_, j) => j)
        .filter((j) => j !== i)
        .map((j) => [linf(data, d, i, j), j] as const)
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .slice(0, 6)
      expect(Array.from(idx)).toEqual(brute.map((b) => b[1]))
      expect(Array.from(dist)).toEqual(brute.map((b) => b[0]))
      const r = dist[3]!
      const strict = Array.from({ length: n }, (_, j) => linf(data, d, i, j)).filter((v) => v < r).length
      const incl = Array.from({ length: n }, (_, j) => linf(data, d, i, j)).filter((v) => v <= r).length
      expect(tree.countWithin(data, i * d, r, true)).toBe(strict)
      expect(tree.countWithin(data, i * d, r, false)).toBe(incl)
    }
  })
})

describe('discrete and mixed estimators', () => {
  it('plug-in MI of a deterministic relation is H(X); Miller–Madow corrects the independent case towards 0', () => {
    const rng = createRng(5)
    const x = Array.from({ length: 4000 }, () => rng.randbelow(4))
    expect(discreteMutualInformation(x, x, { millerMadow: false })).toBeCloseTo(Math.log(4), 2)
    const y = Array.from({ length: 4000 }, () => rng.randbelow(4))
    const plug = discreteMutualInformation(x, y, { millerMadow: false })
    const mm = discreteMutualInformation(x, y)
    expect(plug).toBeGreaterThan(0)
    expect(Math.abs(mm)).toBeLessThan(plug)
  })

  it('mixed KSG recovers the MI of a discrete pair and of a continuous pair', () => {
    const rng = createRng(6)
    // X uniform on 4 symbols, Y = X: MI = ln 4
    const x = Array.from({ length: 3000 }, () => rng.randbelow(4))
    expect(mixedKsgMutualInformation(x, x)).toBeCloseTo(Math.log(4), 1)
    const { x: cx, y: cy } = gaussianPair(0.6, 4000, 7)
    expect(Math.abs(mixedKsgMutualInformation(cx, cy) - -0.5 * Math.log(1 - 0.36))).toBeLessThan(0.05)
  })

  it('chooses discrete for small-alphabet counts, mixed for tied reals, KSG for continuous data', () => {
    const rng = createRng(8)
    const counts = Array.from({ length: 200 }, () => rng.randbelow(3))
    expect(chooseMiEstimator(counts, counts)).toBe('discrete')
    const tied = Array.from({ length: 200 }, () => rng.randbelow(50) / 3)
    expect(chooseMiEstimator(tied, tied)).toBe('mixed')
    const { x, y } = gaussianPair(0.5, 200, 1)
    expect(chooseMiEstimator(x, y)).toBe('ksg1')
    expect(mutualInformation(counts, counts).estimator).toBe('discrete')
  })
})

describe('heavy ties', () => {
  it('mixed KSG on 20,000 samples of a 3-symbol variable ≈ the plug-in MI', { timeout: 30_000 }, () => {
    const rng = createRng(21)
    const x = Array.from({ length: 20_000 }, () => rng.randbelow(3))
    const y = x.map((v) => (rng.random() < 0.8 ? v : rng.randbelow(3)))
    // (O(N²) scanning of tied leaves would take minutes here; the test timeout guards against it)
    const mixed = mixedKsgMutualInformation(x, y)
    expect(mixed).toBeCloseTo(discreteMutualInformation(x, y), 2)
  })
})
