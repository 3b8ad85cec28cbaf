import { describe, expect, it } from 'vitest'
import { bootstrapCiMean } from '../../src/stats.js'

describe('bootstrapCiMean (spec §15 test 21)', () => {
  it('narrows with more data and brackets the mean', () => {
    const small = [1, 2, 3, 4, 5]
    const big = Array.from({ length: 10 }, () => small).flat()
    const [a, b] = bootstrapCiMean(small, { nResamples: 500, seed: 0 })
    const [c, d] = bootstrapCiMean(big, { nResamples: 500, seed: 0 })
    // The original's values for this test (spec §15 test 21), reproduced exactly.
    expect([a, b, c, d]).toEqual([1.8, 4.2, 2.6, 3.4])
    expect(d - c).toBeLessThanOrEqual(b - a)
    expect(a).toBeLessThan(3)
    expect(b).toBeGreaterThan(3)
    expect(bootstrapCiMean([])).toEqual([0, 0])
  })
})
