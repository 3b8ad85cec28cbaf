import { describe, expect, it } from 'vitest'
import { clopperPearson } from '../../src/index.js'

describe('clopperPearson', () => {
  it('matches scipy binomtest(k, n).proportion_ci(method="exact")', () => {
    // scipy 1.10: stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method='exact')
    const goldens: Array<[number, number, number, number]> = [
      [0, 20, 0.0, 0.16843347098308548],
      [3, 20, 0.03207093718554477, 0.37892682654529564],
      [20, 20, 0.8315665290169145, 1.0],
      [1, 4, 0.006309463209709889, 0.8058795503167566],
      [100, 400, 0.2083015066819634, 0.29544171863531676],
    ]
    for (const [k, n, lo, hi] of goldens) {
      const e = clopperPearson(k, n)
      expect(e.rate, `${k}/${n}`).toBe(k / n)
      expect(e.lo, `${k}/${n}`).toBeCloseTo(lo, 9)
      expect(e.hi, `${k}/${n}`).toBeCloseTo(hi, 9)
    }
  })

  it('widens with the confidence level and is NaN for no trials', () => {
    const a = clopperPearson(3, 10, 0.9)
    const b = clopperPearson(3, 10, 0.99)
    expect(b.lo).toBeLessThan(a.lo)
    expect(b.hi).toBeGreaterThan(a.hi)
    expect(clopperPearson(0, 0).lo).toBeNaN()
  })

  it('rejects impossible counts', () => {
    expect(() => clopperPearson(5, 4)).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
    expect(() => clopperPearson(1.5, 4)).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
  })
})
