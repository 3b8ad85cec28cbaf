import { describe, expect, it } from 'vitest'
import { mad, median, robustZ } from '../../src/lora-stats.js'

describe('robust statistics', () => {
  it('median and MAD follow the spec definitions', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(mad([1, 2, 3, 4, 100])).toBe(1)
  })

  it('robustZ reproduces the original tensor-norm example (MAD 0 → z 10)', () => {
    const s8 = Math.sqrt(8)
    const z = robustZ([s8, s8, s8, 100 * s8])
    expect(Math.max(...z)).toBe(10)
    expect(z.slice(0, 3)).toEqual([0, 0, 0])
  })
})
