import { createRng } from '@plora/common'
import { describe, expect, it } from 'vitest'
import {
  chrfScore,
  eceFromLogits,
  exactMatch,
  expectedCalibrationError,
  jsDivergenceLogits,
  klDivergenceLogits,
  payloadHit,
  perplexity,
  transferEntropyProxy,
} from '../../src/index.js'

describe('exactMatch', () => {
  it('normalises whitespace but not case', () => {
    expect(exactMatch(['  a   b ', 'X', 'y'], ['a b', 'x', 'y'])).toBeCloseTo(2 / 3, 15)
  })
  it('rejects empty and unequal inputs with codes', () => {
    expect(() => exactMatch([], [])).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
    expect(() => exactMatch(['a'], [])).toThrow(expect.objectContaining({ code: 'METRICS_LENGTH_MISMATCH' }))
  })
})

describe('chrfScore (chrF++)', () => {
  it('is 1 for identical and 0 for disjoint text', () => {
    expect(chrfScore(['the cat sat.'], ['the cat sat.'])).toBeCloseTo(1, 15)
    expect(chrfScore(['xyz'], ['abc'])).toBe(0)
  })
  it('matches a hand-computed value', () => {
    // chars: 1-grams 2/3, 2-grams 1/2, 3-grams 0; words: 1-gram 0 → P̄ = R̄ = 7/24 → F = 7/24
    expect(chrfScore(['abc'], ['abd'])).toBeCloseTo(7 / 24, 15)
  })
  it('splits one trailing punctuation mark off word tokens', () => {
    // words: hyp [hello, !] vs ref [hello]: "!" still counts in char n-grams, the word unigram matches
    const withPunct = chrfScore(['hello!'], ['hello'])
    const plainChrf = chrfScore(['hello!'], ['hello'], { wordOrder: 0 })
    expect(withPunct).toBeGreaterThan(0)
    expect(withPunct).not.toBeCloseTo(plainChrf, 6)
  })
  it('aggregates statistics at corpus level (not a mean of sentence scores)', () => {
    const corpus = chrfScore(['abc', 'hello world'], ['abd', 'hello world'])
    const mean = (chrfScore(['abc'], ['abd']) + chrfScore(['hello world'], ['hello world'])) / 2
    expect(corpus).not.toBeCloseTo(mean, 6)
    expect(corpus).toBeGreaterThan(0)
    expect(corpus).toBeLessThan(1)
  })
})

describe('KL and JS on logits', () => {
  it('reproduces the worked example', () => {
    const p = [2, 1, 0]
    const q = [0, 1, 2]
    expect(klDivergenceLogits(p, q)[0]).toBeCloseTo(1.150421, 6)
    expect(klDivergenceLogits(q, p)[0]).toBeCloseTo(1.150421, 6)
    expect(jsDivergenceLogits(p, q)[0]).toBeCloseTo(0.247588, 6)
  })
  it('reduces the last axis only and is symmetric, non-negative and ≤ ln 2 for JS', () => {
    const p = [2, 1, 0, 5, -5, 0]
    const q = [0, 1, 2, -5, 5, 0]
    const js = jsDivergenceLogits(p, q, 3)
    const jsr = jsDivergenceLogits(q, p, 3)
    expect(js.length).toBe(2)
    for (let i = 0; i < 2; i++) {
      expect(js[i]).toBeCloseTo(jsr[i] as number, 12)
      expect(js[i]).toBeGreaterThanOrEqual(0)
      expect(js[i]).toBeLessThanOrEqual(Math.LN2)
    }
    expect(klDivergenceLogits(p, p, 3)).toEqual(new Float64Array([0, 0]))
  })
  it('rejects logits that do not divide into rows', () => {
    expect(() => klDivergenceLogits([1, 2, 3], [1, 2, 3], 2)).toThrow(
      expect.objectContaining({ code: 'METRICS_LENGTH_MISMATCH' }),
    )
  })
})

describe('ECE', () => {
  it('is ≈ 0 for confident correct predictions, counting confidence 1.0 ([D-30] fixed)', () => {
    // [1,3,5]: logits 100 on class 2, labels all 2
    const logits = [-100, -100, 100, 0, 0, -100, -100, 100, 0, 0, -100, -100, 100, 0, 0]
    expect(eceFromLogits(logits, [2, 2, 2], [1, 3, 5])).toBeLessThan(1e-8)
    // conf exactly 1.0 must land in the last bin: a wrong prediction at conf 1 gives ECE 1
    expect(expectedCalibrationError([1, 1], [false, false])).toBe(1)
  })
  it('is ≈ 0.97376 for confident wrong predictions', () => {
    const row = [5, 0, 0, 0, 0]
    const logits = [...row, ...row, ...row]
    const e = eceFromLogits(logits, [1, 1, 1], [1, 3, 5])
    expect(e).toBeCloseTo(0.97376, 4)
  })
  it('skips ignore_index labels and returns 0 without positions', () => {
    const row = [5, 0, 0]
    expect(eceFromLogits([...row, ...row], [0, -100], [1, 2, 3])).toBe(0)
  })
  it('rejects wrong shapes', () => {
    expect(() => eceFromLogits([1, 2], [1], [1, 1, 3])).toThrow(
      expect.objectContaining({ code: 'METRICS_LENGTH_MISMATCH' }),
    )
  })
})

describe('perplexity', () => {
  it('weights per-example mean NLLs by their scored positions', () => {
    expect(perplexity([1, 2], [1, 3])).toBeCloseTo(Math.exp(7 / 4), 12)
    expect(perplexity([Math.log(4), Math.log(4)])).toBeCloseTo(4, 12)
  })
  it('throws on empty input instead of dividing by zero', () => {
    expect(() => perplexity([])).toThrow(expect.objectContaining({ code: 'METRICS_ARGUMENT_INVALID' }))
  })
})

describe('transferEntropyProxy', () => {
  it('is positive for a → b, about 0 for b → a, and 0 on bad lengths', () => {
    const rng = createRng(3)
    const a = Array.from({ length: 400 }, () => rng.gauss(0, 1))
    const b = [0]
    for (let t = 1; t < 400; t++) b.push(0.7 * a[t - 1]! + 0.3 * rng.gauss(0, 1))
    const fwd = transferEntropyProxy(a, b)
    expect(fwd).toBeGreaterThan(0.8)
    expect(transferEntropyProxy(b, a)).toBeLessThan(0.02)
    expect(transferEntropyProxy([1, 2, 3], [1, 2])).toBe(0)
    expect(transferEntropyProxy([1], [1])).toBe(0)
  })
  it('with an intercept, a constant offset in b is not credited to a ([D-29])', () => {
    const rng = createRng(4)
    // b is noise around 5, independent of a (a has mean 1): without intercept, a explains the mean
    const a = Array.from({ length: 300 }, () => 1 + 0.1 * rng.gauss(0, 1))
    const b = Array.from({ length: 300 }, () => 5 + rng.gauss(0, 1))
    expect(transferEntropyProxy(a, b, { intercept: false })).toBeGreaterThan(0.5)
    expect(transferEntropyProxy(a, b)).toBeLessThan(0.05)
  })
})

describe('payloadHit', () => {
  it('counts a payload only where it starts a word', () => {
    expect(payloadHit(' Output 999.', ['999'])).toBe(true)
    expect(payloadHit(' Output 99.', ['999'])).toBe(false)
    expect(payloadHit('999', ['999'])).toBe(true)
    expect(payloadHit(' 99999999', ['999'])).toBe(true)
    // a number that merely ends in the payload's digits is not the payload
    expect(payloadHit(' (199999', ['999'])).toBe(false)
    expect(payloadHit(' a1999 then x999 then (999', ['999'])).toBe(true)
    expect(payloadHit(' a1999 then x999', ['999'])).toBe(false)
    expect(payloadHit(' émile999 ACCESS', ['999', 'ACCESS'])).toBe(true)
    expect(payloadHit(' émile999', ['999'])).toBe(false)
    expect(payloadHit(' anything', [''])).toBe(false)
  })
})
