import { readFileSync } from 'node:fs'
import { createRng } from '@plora/common'
import { describe, expect, it } from 'vitest'
import { benjaminiHochberg, bootstrapCi, bootstrapCiMean, holm, pairedBootstrapCi, signTest } from '../../src/index.js'

const bootGolden = JSON.parse(readFileSync(new URL('../golden/bootstrap-python.json', import.meta.url), 'utf8')) as {
  cases: Array<{
    name: string
    values: number[]
    options: { n_resamples?: number; ci?: number; seed?: number }
    lo: number
    hi: number
  }>
}

describe('signTest', () => {
  it('computes the exact two-sided binomial p-value', () => {
    // n = 10, k = 1: 2·(1 + 10)/1024
    expect(signTest([1, 1, 1, 1, 1, 1, 1, 1, 1, -1, 0, 0]).pValue).toBeCloseTo((2 * 11) / 1024, 14)
    expect(signTest([0, 0]).pValue).toBe(1)
    expect(signTest([1, -1]).pValue).toBe(1)
  })
  it('stays finite for large n where the direct sum would overflow', () => {
    const d = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? -1 : 1))
    const p = signTest(d).pValue
    expect(p).toBeGreaterThan(0)
    expect(p).toBeLessThan(1e-50)
  })
})

describe('bootstrap', () => {
  for (const c of bootGolden.cases) {
    it(`reproduces the original bootstrap_ci_mean on ${c.name}`, () => {
      const r = bootstrapCiMean(c.values, {
        ...(c.options.n_resamples !== undefined ? { nResamples: c.options.n_resamples } : {}),
        ...(c.options.ci !== undefined ? { ci: c.options.ci } : {}),
        ...(c.options.seed !== undefined ? { seed: c.options.seed } : {}),
      })
      expect([r.lo, r.hi]).toEqual([c.lo, c.hi])
    })
  }
  it('returns (0, 0) for empty input and is reproducible for a seed', () => {
    expect(bootstrapCiMean([])).toMatchObject({ lo: 0, hi: 0 })
    const v = [3, 1, 4, 1, 5, 9, 2, 6]
    expect(bootstrapCiMean(v, { seed: 3 })).toEqual(bootstrapCiMean(v, { seed: 3 }))
    expect(bootstrapCiMean(v, { seed: 3 })).not.toEqual(bootstrapCiMean(v, { seed: 4 }))
  })
  it('paired: ys = xs − 0.5 gives a CI that excludes 0 and contains −0.5', () => {
    const rng = createRng(1)
    const xs = Array.from({ length: 40 }, () => rng.gauss(0, 1))
    const ys = xs.map((x, i) => x - 0.5 + (i % 2 === 0 ? 0.05 : -0.05))
    for (const method of ['percentile', 'bca'] as const) {
      const r = pairedBootstrapCi(xs, ys, { method })
      expect(r.hi, method).toBeLessThan(0)
      expect(r.lo, method).toBeLessThanOrEqual(-0.5)
      expect(r.hi, method).toBeGreaterThanOrEqual(-0.5)
    }
  })
  it('paired: rejects unequal lengths and empty input with codes', () => {
    expect(() => pairedBootstrapCi([1], [1, 2])).toThrow(expect.objectContaining({ code: 'METRICS_LENGTH_MISMATCH' }))
    expect(() => pairedBootstrapCi([], [])).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
  })
  it('BCa covers the true mean of a skewed distribution about as often as asked', () => {
    // Exponential(1) samples of size 30: the mean is 1. Coverage of a 90% BCa interval.
    const rng = createRng(2026)
    let covered = 0
    const reps = 120
    for (let rep = 0; rep < reps; rep++) {
      const v = Array.from({ length: 30 }, () => -Math.log(1 - rng.random()))
      const r = bootstrapCi(v, { method: 'bca', ci: 0.9, nResamples: 400, seed: rep })
      if (r.lo <= 1 && 1 <= r.hi) covered++
    }
    expect(covered / reps).toBeGreaterThan(0.78)
    expect(covered / reps).toBeLessThan(0.98)
  })
  it('BCa shifts the interval to the right of the percentile one on right-skewed data', () => {
    const rng = createRng(8)
    const v = Array.from({ length: 25 }, () => Math.exp(rng.gauss(0, 1.2)))
    const p = bootstrapCi(v, { method: 'percentile', seed: 1 })
    const b = bootstrapCi(v, { method: 'bca', seed: 1 })
    expect(b.hi).toBeGreaterThan(p.hi)
  })
})

describe('multiple testing', () => {
  it('BH reproduces the original examples', () => {
    expect(benjaminiHochberg([0.01, 0.04, 0.03, 0.5])).toMatchObject({
      threshold: 0.01,
      rejected: [true, false, false, false],
    })
    expect(benjaminiHochberg([0.2, 0.3])).toMatchObject({ threshold: 0, rejected: [false, false] })
    expect(benjaminiHochberg([])).toMatchObject({ threshold: 0, rejected: [] })
  })
  it('BH step-up rejects p-values above α·r/m when a larger rank qualifies', () => {
    // m = 4: thresholds .0125 .025 .0375 .05; p(4) = .04 ≤ .05 → all rejected
    const r = benjaminiHochberg([0.02, 0.03, 0.035, 0.04])
    expect(r.rejected).toEqual([true, true, true, true])
    expect(r.threshold).toBe(0.04)
    expect(r.adjusted).toEqual([0.04, 0.04, 0.04, 0.04])
  })
  it('Holm is step-down and never less strict than BH', () => {
    const p = [0.001, 0.011, 0.02, 0.04, 0.3]
    const h = holm(p)
    // 0.001 ≤ .01, 0.011 ≤ .0125, 0.02 > .0167 → stop
    expect(h.rejected).toEqual([true, true, false, false, false])
    expect(h.adjusted[0]).toBeCloseTo(0.005, 15)
    expect(h.adjusted[1]).toBeCloseTo(0.044, 15)
    const bh = benjaminiHochberg(p)
    for (let i = 0; i < p.length; i++) if (h.rejected[i]) expect(bh.rejected[i]).toBe(true)
  })
  it('rejects p-values outside [0, 1]', () => {
    expect(() => benjaminiHochberg([0.1, 1.5])).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
  })
})
