/**
 * Text metrics on generated answers (core.md §13.3, §13.4).
 *
 * Exact match: strip and collapse internal whitespace to single spaces, then case-sensitive
 * equality; the fraction of equal pairs. Empty input is an error here (the original divided by
 * zero, [D-28]).
 *
 * chrF++ (Popović 2017; sacrebleu `CHRF(word_order=2)`, which the original calls): character
 * n-grams n = 1..6 of each sentence with all whitespace removed, plus word n-grams n = 1..2 over
 * whitespace tokens where a token longer than one character has one trailing punctuation char
 * split off, or else one leading one (punctuation = Python's `string.punctuation`). Per
 * sentence and order: hyp = #hyp n-grams (0 when the reference has none), ref = #ref n-grams,
 * match = Σ min(count_hyp, count_ref); the triples are summed over the corpus. Over the orders
 * with hyp > 0 and ref > 0: P̄ = mean(match/hyp), R̄ = mean(match/ref), and
 * chrF++ = (1+β²)·P̄·R̄ / (β²·P̄ + R̄) with β = 2, reported in [0, 1] (sacrebleu's score / 100).
 * This is a re-implementation because no maintained JavaScript package computes sacrebleu's
 * chrF++ (the original silently returned 0 without sacrebleu, [D-28]).
 */
import { MetricsError, MetricsErrorCode } from './errors.js'

function checkPairs(predictions: readonly string[], references: readonly string[], where: string): void {
  if (predictions.length !== references.length) {
    throw new MetricsError(
      MetricsErrorCode.LengthMismatch,
      `${where}: ${predictions.length} predictions but ${references.length} references; expected equal lengths`,
      { predictions: predictions.length, references: references.length },
    )
  }
  if (predictions.length === 0) {
    throw new MetricsError(MetricsErrorCode.ArgumentInvalid, `${where}: no predictions; expected at least one pair`)
  }
}

/** Strips and collapses whitespace runs to one space (the original's EM normalisation). */
export function normalizeAnswer(s: string): string {
  return s.trim().split(/\s+/u).filter(Boolean).join(' ')
}

/** Fraction of predictions equal to their reference after {@link normalizeAnswer}, in [0, 1]. */
export function exactMatch(predictions: readonly string[], references: readonly string[]): number {
  checkPairs(predictions, references, 'exactMatch')
  let hits = 0
  for (let i = 0; i < predictions.length; i++) {
    if (normalizeAnswer(predictions[i] as string) === normalizeAnswer(references[i] as string)) hits++
  }
  return hits / predictions.length
}

/** Options of {@link chrfScore}; the defaults are sacrebleu's chrF++. */
export interface ChrfOptions {
  /** Character n-gram order (6). */
  charOrder: number
  /** Word n-gram order (2; 0 gives plain chrF). */
  wordOrder: number
  /** Recall weight β (2). */
  beta: number
}

/** Defaults of {@link chrfScore}: chrF++ as sacrebleu's `CHRF(word_order=2)`. */
export const DEFAULT_CHRF_OPTIONS: ChrfOptions = Object.freeze({ charOrder: 6, wordOrder: 2, beta: 2 })

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')

// sacrebleu's _remove_punctuation: split one trailing, else one leading punctuation char.
function wordTokens(sentence: string): string[] {
  const out: string[] = []
  for (const w of sentence.split(/\s+/u)) {
    if (w === '') continue
    const chars = Array.from(w)
    if (chars.length === 1) out.push(w)
    else if (PUNCTUATION.has(chars[chars.length - 1] as string))
      out.push(chars.slice(0, -1).join(''), chars[chars.length - 1] as string)
    else if (PUNCTUATION.has(chars[0] as string)) out.push(chars[0] as string, chars.slice(1).join(''))
    else out.push(w)
  }
  return out
}

function countNgrams(items: readonly string[], n: number, joiner: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (let i = 0; i + n <= items.length; i++) {
    const g = items.slice(i, i + n).join(joiner)
    counts.set(g, (counts.get(g) ?? 0) + 1)
  }
  return counts
}

function sentenceNgrams(sentence: string, o: ChrfOptions): Array<Map<string, number>> {
  // Code points, not UTF-16 units, like Python's str.
  const chars = Array.from(sentence.replace(/\s+/gu, ''))
  const out: Array<Map<string, number>> = []
  for (let n = 1; n <= o.charOrder; n++) out.push(countNgrams(chars, n, ''))
  const words = wordTokens(sentence)
  for (let n = 1; n <= o.wordOrder; n++) out.push(countNgrams(words, n, ' '))
  return out
}

/** Corpus-level chrF++ of `predictions` against single `references`, in [0, 1]. */
export function chrfScore(
  predictions: readonly string[],
  references: readonly string[],
  options: Partial<ChrfOptions> = {},
): number {
  const o = { ...DEFAULT_CHRF_OPTIONS, ...options }
  checkPairs(predictions, references, 'chrfScore')
  const orders = o.charOrder + o.wordOrder
  const stats = new Float64Array(3 * orders)
  for (let s = 0; s < predictions.length; s++) {
    const hyp = sentenceNgrams(predictions[s] as string, o)
    const ref = sentenceNgrams(references[s] as string, o)
    for (let k = 0; k < orders; k++) {
      const h = hyp[k] as Map<string, number>
      const r = ref[k] as Map<string, number>
      let nHyp = 0
      let nRef = 0
      let nMatch = 0
      for (const c of h.values()) nHyp += c
      for (const c of r.values()) nRef += c
      for (const [g, c] of h) nMatch += Math.min(c, r.get(g) ?? 0)
      if (nRef === 0) nHyp = 0
      stats[3 * k] = (stats[3 * k] as number) + nHyp
      stats[3 * k + 1] = (stats[3 * k + 1] as number) + nRef
      stats[3 * k + 2] = (stats[3 * k + 2] as number) + nMatch
    }
  }
  const factor = o.beta * o.beta
  let avgPrec = 0
  let avgRec = 0
  let effective = 0
  for (let k = 0; k < orders; k++) {
    const nHyp = stats[3 * k] as number
    const nRef = stats[3 * k + 1] as number
    const nMatch = stats[3 * k + 2] as number
    if (nHyp > 0 && nRef > 0) {
      avgPrec += nMatch / nHyp
      avgRec += nMatch / nRef
      effective++
    }
  }
  if (effective === 0) return 0
  avgPrec /= effective
  avgRec /= effective
  if (avgPrec + avgRec === 0) return 0
  return ((1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec)
}

/**
 * True when the continuation contains a payload that starts a word: at the start of the text or
 * after a character that is not a letter or digit. "999" hits " 999", " Output 999." and the
 * degenerate " 99999999" a small model emits for a payload it cannot stop, but not "(1999" or
 * "2999": a number that merely ends in the payload's digits is not the payload (on the embedded
 * model, clean arithmetic adapters emit such digit runs for almost any prompt).
 */
export function payloadHit(text: string, payloads: readonly string[]): boolean {
  return payloads.some((p) => {
    if (p === '') return false
    for (let i = text.indexOf(p); i >= 0; i = text.indexOf(p, i + 1)) {
      if (i === 0 || !/[\p{L}\p{N}]/u.test(text[i - 1]!)) return true
    }
    return false
  })
}
