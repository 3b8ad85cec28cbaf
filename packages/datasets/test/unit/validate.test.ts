import { describe, expect, it } from 'vitest'
import { validateQaPairs } from '../../src/index.js'

const good = Array.from({ length: 30 }, (_, i) => ({
  question: `What is term ${i}?`,
  answer: `Term ${i} is a distinct thing number ${i}.`,
}))

describe('validateQaPairs (spec core.md §15.3)', () => {
  it('returns valid pairs unchanged with their answer diversity', () => {
    const r = validateQaPairs(good, 'legal')
    expect(r.pairs).toEqual(good)
    expect(r.dropped).toBe(0)
    expect(r.warnings).toEqual([])
    expect(r.answerDiversity).toBe(1)
  })

  it('fails on empty input when strict, and returns it otherwise', () => {
    expect(() => validateQaPairs([], 'legal')).toThrow(expect.objectContaining({ code: 'DATASETS_PAIRS_EMPTY' }))
    expect(validateQaPairs([], 'legal', { strict: false }).pairs).toEqual([])
  })

  it('drops blank or missing sides and says how many', () => {
    const r = validateQaPairs(
      [...good, { question: '  ', answer: 'x' }, { question: 'q?', answer: null }, { question: 'q2?' }],
      'medical',
    )
    expect(r.pairs).toHaveLength(30)
    expect(r.dropped).toBe(3)
    expect(r.warnings[0]).toContain('dropped 3 of 33')
    expect(() => validateQaPairs([{ question: '', answer: '' }], 'medical')).toThrow(
      expect.objectContaining({ code: 'DATASETS_PAIRS_EMPTY' }),
    )
  })

  it('detects placeholder data and quotes the dominant answer', () => {
    const placeholder = good.map((p, i) => (i < 16 ? { ...p, answer: 'See the statute for details.' } : p))
    let err: unknown
    try {
      validateQaPairs(placeholder, 'legal')
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'DATASETS_PLACEHOLDER_DETECTED', details: { count: 16, total: 30 } })
    expect((err as Error).message).toContain('"See the statute for details."')
    expect((err as Error).message).toContain('16 of 30')
    // exactly half is allowed, and fewer than 20 pairs are never judged
    expect(() =>
      validateQaPairs(
        good.map((p, i) => (i < 15 ? { ...p, answer: 'same answer here' } : p)),
        'legal',
      ),
    ).not.toThrow()
    expect(() =>
      validateQaPairs(
        good.slice(0, 19).map((p) => ({ ...p, answer: 'same answer here' })),
        'legal',
      ),
    ).not.toThrow()
    expect(validateQaPairs(placeholder, 'legal', { strict: false }).warnings[0]).toContain('placeholder data detected')
  })

  it('warns about short answers and synthetic templates', () => {
    const short = good.map((p, i) => ({ ...p, answer: `A${i}` }))
    expect(validateQaPairs(short, 'arithmetic').warnings.join(' ')).toContain('shorter than 10 characters')
    const templated = good.map((p) => ({ ...p, question: `Classify this document: ${p.question}` }))
    expect(validateQaPairs(templated, 'legal').warnings.join(' ')).toContain('synthetic classification template')
  })
})
