// pairedStat against goldens computed independently by test/golden/paired-stats.py (scipy's
// wilcoxon with zero_method="pratt", Python's random.Random(42) bootstrap, the binomial sign test,
// scipy rankdata for the rank-biserial correlation, numpy's std for Cohen's d_z).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { pairedStat } from '../../src/index.js'

interface Golden {
  name: string
  baseline: number[]
  after: number[]
  delta_mean: number
  wilcoxon_p: number
  ci: [number, number]
  sign_test_p: number
  n_improved: number
  n_worse: number
  rank_biserial: number
  cohens_dz: number
  p_at_floor: boolean
}

const goldens = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'golden', 'paired-stats-python.json'), 'utf8'),
) as Golden[]

const close = (a: number, b: number, tol = 1e-10) =>
  expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)))

describe('pairedStat', () => {
  for (const g of goldens) {
    it(`matches the Python golden ${g.name}`, () => {
      const s = pairedStat(g.baseline, g.after)
      close(s.delta_mean, g.delta_mean, 1e-12)
      close(s.wilcoxon_p, g.wilcoxon_p)
      close(s.ci[0], g.ci[0], 1e-12)
      close(s.ci[1], g.ci[1], 1e-12)
      close(s.sign_test_p, g.sign_test_p)
      close(s.rank_biserial, g.rank_biserial, 1e-12)
      close(s.cohens_dz, g.cohens_dz, 1e-10)
      expect(s.n_improved).toBe(g.n_improved)
      expect(s.n_worse).toBe(g.n_worse)
      expect(s.p_at_floor).toBe(g.p_at_floor)
      expect(s.n).toBe(g.baseline.length)
    })
  }

  it('counts unchanged examples and rejects mismatched or empty input', () => {
    const s = pairedStat([1, 2, 3, 4], [1, 1.5, 3.5, 4])
    expect([s.n_improved, s.n_worse, s.n_zero]).toEqual([1, 1, 2])
    expect(() => pairedStat([1, 2], [1])).toThrow(expect.objectContaining({ code: 'METRICS_LENGTH_MISMATCH' }))
    expect(() => pairedStat([], [])).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
    expect(() => pairedStat([1], [Number.NaN])).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
  })
})
