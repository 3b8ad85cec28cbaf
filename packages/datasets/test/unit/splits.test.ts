import { describe, expect, it } from 'vitest'
import {
  assignSplit,
  capPairs,
  checkSplitFractions,
  normalizeQuestion,
  orderPairs,
  type QaPair,
  selectSplit,
  splitPairs,
  splitPosition,
} from '../../src/index.js'

const pairs: QaPair[] = Array.from({ length: 3000 }, (_, i) => ({
  question: `Question number ${i}?`,
  answer: `Answer ${i}.`,
}))

describe('hash splits', () => {
  it('are disjoint, cover every pair and follow the fractions', () => {
    const s = splitPairs(pairs)
    expect(s.train.length + s.validation.length + s.test.length).toBe(3000)
    const seen = new Set<string>()
    for (const split of [s.train, s.validation, s.test])
      for (const p of split) {
        expect(seen.has(p.question)).toBe(false)
        seen.add(p.question)
      }
    // binomial(3000, 0.1): sd ≈ 16.4, so ±80 is about 5 sd
    expect(Math.abs(s.validation.length - 300)).toBeLessThan(80)
    expect(Math.abs(s.test.length - 300)).toBeLessThan(80)
  })

  it('never move a pair when the pool or the cap changes', () => {
    const small = splitPairs(pairs.slice(0, 500))
    const big = splitPairs(pairs)
    const whereBig = new Map<string, string>()
    for (const [name, ps] of Object.entries(big)) for (const p of ps) whereBig.set(p.question, name)
    for (const [name, ps] of Object.entries(small))
      for (const p of ps) expect(whereBig.get(p.question), p.question).toBe(name)
    // caps take prefixes of one fixed order: a larger cap is a superset
    const v = selectSplit(pairs, 'validation')
    expect(capPairs(v, 10)).toEqual(capPairs(v, 50).slice(0, 10))
    expect(capPairs(selectSplit(pairs.slice().reverse(), 'validation'), 25)).toEqual(capPairs(v, 25))
  })

  it('keeps questions that differ only in case or spacing in the same split', () => {
    for (let i = 0; i < 200; i++) {
      const q = `What is item ${i}?`
      expect(assignSplit(`  what   IS item ${i}? `)).toBe(assignSplit(q))
    }
    expect(normalizeQuestion('  A\tB\n c ')).toBe('a b c')
    expect(splitPosition('x')).toBeGreaterThanOrEqual(0)
    expect(splitPosition('x')).toBeLessThan(1)
  })

  it('removes exact duplicate pairs and keeps paraphrased answers', () => {
    const dup = orderPairs([
      { question: 'q', answer: 'a' },
      { question: 'q', answer: 'a' },
      { question: 'q', answer: 'b' },
    ])
    expect(dup).toHaveLength(2)
  })

  it('honours custom fractions, including an empty split', () => {
    const s = splitPairs(pairs, { train: 1, validation: 0, test: 0 })
    expect(s.train).toHaveLength(3000)
    expect(s.validation).toEqual([])
  })

  it('rejects bad fractions and caps', () => {
    expect(() => checkSplitFractions({ train: 0.8, validation: 0.3, test: 0 })).toThrow(
      expect.objectContaining({ code: 'DATASETS_OPTIONS_INVALID' }),
    )
    expect(() => capPairs(pairs, 0)).toThrow(expect.objectContaining({ code: 'DATASETS_OPTIONS_INVALID' }))
    expect(() => capPairs(pairs, 2.5)).toThrow(expect.objectContaining({ code: 'DATASETS_OPTIONS_INVALID' }))
    expect(capPairs(pairs)).toHaveLength(3000)
  })
})
