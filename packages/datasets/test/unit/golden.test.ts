import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  assignSplit,
  buildPairs,
  type HfPairBuilder,
  normalizeQuestion,
  splitPosition,
  validateQaPairs,
} from '../../src/index.js'

/** Produced by scripts/golden/datasets_vectors.py (see test/golden/README.md). */
const golden = JSON.parse(readFileSync(new URL('../golden/datasets-vectors.json', import.meta.url), 'utf8')) as {
  splits: Array<{ question: string; norm: string; position: number; split: string }>
  pairs: Record<string, { rows: Array<Record<string, unknown>>; pairs: Array<[string, string]> }>
  validation: Record<
    string,
    {
      pairs: Array<[string | null, string | null]>
      result: { error?: string; kept?: number; short_warning?: boolean; count?: number }
    }
  >
}

describe('golden vectors from the Python reference', () => {
  it('normalises questions and assigns splits exactly like the reference', () => {
    for (const g of golden.splits) {
      expect(normalizeQuestion(g.question), JSON.stringify(g.question)).toBe(g.norm)
      expect(splitPosition(g.question), JSON.stringify(g.question)).toBe(g.position)
      expect(assignSplit(g.question), JSON.stringify(g.question)).toBe(g.split)
    }
  })

  it.each(['aqua_rat', 'case_hold', 'medmcqa'] as const)('builds %s pairs exactly like the original', (builder) => {
    const g = golden.pairs[builder]!
    const got = buildPairs(builder as HfPairBuilder, g.rows).pairs.map((p) => [p.question, p.answer])
    expect(got).toEqual(g.pairs)
  })

  it('validates like the original: same errors, same kept counts, same short-answer warning', () => {
    for (const [name, g] of Object.entries(golden.validation)) {
      const pairs = g.pairs.map(([question, answer]) => ({ question, answer }))
      if (g.result.error) {
        const code = g.result.error === 'empty' ? 'DATASETS_PAIRS_EMPTY' : 'DATASETS_PLACEHOLDER_DETECTED'
        expect(() => validateQaPairs(pairs, 'golden'), name).toThrow(expect.objectContaining({ code }))
      } else {
        const r = validateQaPairs(pairs, 'golden')
        expect(r.pairs.length, name).toBe(g.result.kept)
        expect(
          r.warnings.some((w) => w.includes('shorter than 10')),
          name,
        ).toBe(g.result.short_warning)
      }
    }
  })
})
