import { describe, expect, it } from 'vitest'
import { randIndex, shuffleInPlace, Xoshiro128 } from '../../src/shuffle.js'

describe('seeded permutation draws', () => {
  it('randIndex is uniform on [0, n) (chi-square, 7 cells)', () => {
    const rng = new Xoshiro128(123)
    const counts = new Array(7).fill(0)
    const draws = 70_000
    for (let i = 0; i < draws; i++) counts[randIndex(rng, 7)]++
    const expected = draws / 7
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0)
    // 6 degrees of freedom: P(chi2 > 22.46) = 0.001
    expect(chi2).toBeLessThan(22.46)
  })
  it('shuffles into a permutation, reproducibly for a seed', () => {
    const a = Int32Array.from({ length: 50 }, (_, i) => i)
    const b = Int32Array.from(a)
    shuffleInPlace(a, new Xoshiro128(9))
    shuffleInPlace(b, new Xoshiro128(9))
    expect(a).toEqual(b)
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
  it('gives different streams for different seeds, including seeds above 2^32', () => {
    const s = (seed: number) => Array.from({ length: 4 }, () => new Xoshiro128(seed).nextUint32())
    const first = (seed: number) => {
      const r = new Xoshiro128(seed)
      return [r.nextUint32(), r.nextUint32()]
    }
    expect(first(1)).not.toEqual(first(2))
    expect(first(2 ** 40 + 1)).not.toEqual(first(1))
    expect(s(5)).toEqual(s(5))
  })
})
