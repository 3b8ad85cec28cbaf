import { createRng } from '@plora/common'
import { describe, expect, it } from 'vitest'
import { equalWidthCodes, transferEntropy, transferEntropyTest } from '../../src/index.js'
import { parkMiller } from './helpers.js'

/** x is AR(1); y_t = 0.5·y_{t−1} + 0.6·x_{t−1} + noise: x drives y, not the reverse. */
function coupledAr(n: number, seed: number): { x: number[]; y: number[] } {
  const rng = createRng(seed)
  const x = [rng.gauss(0, 1)]
  const y = [rng.gauss(0, 1)]
  for (let t = 1; t < n; t++) {
    x.push(0.6 * x[t - 1]! + rng.gauss(0, 1))
    y.push(0.5 * y[t - 1]! + 0.6 * x[t - 1]! + 0.5 * rng.gauss(0, 1))
  }
  return { x, y }
}

describe('transferEntropy (the original discrete estimator)', () => {
  it('reproduces the reference values of swarm.md A.5', () => {
    const a = parkMiller(2468, 300)
    const c = parkMiller(1357, 299)
    const b = [0.5]
    for (let t = 1; t < 300; t++) b.push(0.8 * a[t - 1]! + 0.2 * c[t - 1]!)
    expect(transferEntropy(a, b, { k: 1, bins: 4 })).toBeCloseTo(0.8991541388379323, 10)
    expect(transferEntropy(b, a, { k: 1, bins: 4 })).toBeCloseTo(0.0746627561910147, 10)
    expect(transferEntropy(a, b, { k: 2, bins: 8 })).toBeCloseTo(1.2304520976060576, 10)
  })

  it('bins like numpy linspace + digitize, constant columns to bins − 1', () => {
    expect(Array.from(equalWidthCodes([0, 0.25, 0.5, 0.75, 1], 4))).toEqual([0, 1, 2, 3, 3])
    expect(Array.from(equalWidthCodes([2, 2, 2], 5))).toEqual([4, 4, 4])
  })

  it('returns 0 when the series are not longer than k and truncates to the shorter one', () => {
    expect(transferEntropy([1], [2], { k: 1 })).toBe(0)
    expect(transferEntropy([1, 2, 3, 4, 5, 6], [1, 2, 3, 4])).toBe(transferEntropy([1, 2, 3, 4], [1, 2, 3, 4]))
  })

  it('passes the original directionality test (AR a→b, n = 800, bins = 10)', () => {
    const rng = createRng(800)
    const a = Array.from({ length: 800 }, () => rng.gauss(0, 1))
    const b = [0]
    for (let t = 1; t < 800; t++) b.push(0.8 * a[t - 1]! + 0.2 * b[t - 1]! + 0.1 * rng.gauss(0, 1))
    expect(transferEntropy(a, b, { k: 1, bins: 10 })).toBeGreaterThan(transferEntropy(b, a, { k: 1, bins: 10 }))
  })
})

describe('transferEntropyTest (surrogate nulls)', () => {
  it('detects X → Y in a coupled AR pair with p < 0.01 and not Y → X', () => {
    for (const seed of [1, 2, 3]) {
      const { x, y } = coupledAr(1000, seed)
      for (const nullMethod of ['shift', 'permute'] as const) {
        const fwd = transferEntropyTest(x, y, { k: 1, bins: 6, nSurrogates: 299, nullMethod, seed })
        const rev = transferEntropyTest(y, x, { k: 1, bins: 6, nSurrogates: 299, nullMethod, seed })
        expect(fwd.pValue, `seed ${seed} ${nullMethod} forward`).toBeLessThan(0.01)
        expect(rev.pValue, `seed ${seed} ${nullMethod} reverse`).toBeGreaterThan(0.01)
        expect(fwd.effectiveTe).toBeGreaterThan(rev.effectiveTe)
        expect(fwd.effectiveTe).toBeGreaterThan(0)
      }
    }
  })

  it('gives roughly uniform p-values for independent series (shift null)', () => {
    let small = 0
    const reps = 40
    for (let r = 0; r < reps; r++) {
      const rng = createRng(500 + r)
      const a = Array.from({ length: 300 }, () => rng.gauss(0, 1))
      const b = Array.from({ length: 300 }, () => rng.gauss(0, 1))
      if (transferEntropyTest(a, b, { bins: 4, nSurrogates: 99, seed: r }).pValue < 0.1) small++
    }
    // Binomial(40, 0.1): mean 4; far more would mean an anti-conservative null
    expect(small).toBeLessThanOrEqual(10)
  })

  it('is reproducible for a seed and caps shift surrogates at the distinct shifts', () => {
    const { x, y } = coupledAr(60, 9)
    const a = transferEntropyTest(x, y, { nSurrogates: 1000, seed: 4 })
    expect(a.nSurrogates).toBeLessThan(60)
    expect(transferEntropyTest(x, y, { nSurrogates: 1000, seed: 4 })).toEqual(a)
    expect(() => transferEntropyTest(x, y, { nSurrogates: 0 })).toThrow(
      expect.objectContaining({ code: 'IT_ARGUMENT_INVALID' }),
    )
  })
})
