/**
 * Data-quality validation of question/answer pairs, the original's `validate_qa_pairs`
 * (spec core.md §15.3):
 *   1. no pairs → error (strict) / returned as is;
 *   2. pairs with a missing or blank side are dropped (warning with the count);
 *   3. n ≥ 20 and the most common answer covers more than half → "placeholder data" error (strict);
 *   4. more than 50 % of answers shorter than 10 characters → warning;
 *   5. more than 90 % of questions carrying a synthetic classification template → warning.
 * Unlike the original, every finding is also returned as data (`warnings`), and errors quote
 * what was found (the dominant answer, its count, the share).
 */
import { type Logger, SILENT_LOGGER } from '@plora/common'
import { DatasetsError, DatasetsErrorCode } from './errors.js'
import { pythonStrip } from './python-text.js'
import type { QaPair } from './types.js'

/** Question fragments of the synthetic templates the original warns about (§15.3 step 5). */
export const SYNTHETIC_TEMPLATES = [
  'Which legal domain best fits:',
  'Classify this document:',
  'What category is this:',
] as const

/** Options of {@link validateQaPairs}. */
export interface ValidateOptions {
  /** Throw on empty data and placeholder data (default true), else only log. */
  strict: boolean
  logger: Logger
}

/** Defaults of {@link ValidateOptions}. */
export const DEFAULT_VALIDATE_OPTIONS: ValidateOptions = { strict: true, logger: SILENT_LOGGER }

/** What validation kept and found. */
export interface ValidationResult {
  pairs: QaPair[]
  /** Pairs dropped for a missing or blank side. */
  dropped: number
  /** Human-readable warnings (short answers, templates, dropped pairs, non-strict errors). */
  warnings: string[]
  /** Distinct answers ÷ pairs. */
  answerDiversity: number
}

function isBlank(s: unknown): boolean {
  return typeof s !== 'string' || pythonStrip(s) === ''
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`
}

/**
 * Validates `pairs` for `domain` (spec core.md §15.3) and returns those with both sides present.
 * Throws `DATASETS_PAIRS_EMPTY` / `DATASETS_PLACEHOLDER_DETECTED` when `strict`.
 */
export function validateQaPairs(
  pairs: ReadonlyArray<{ question?: unknown; answer?: unknown }>,
  domain: string,
  options: Partial<ValidateOptions> = {},
): ValidationResult {
  const o = { ...DEFAULT_VALIDATE_OPTIONS, ...options }
  const warnings: string[] = []
  const empty = (what: string): ValidationResult => {
    const msg = `no usable question/answer pairs for domain "${domain}": ${what}`
    o.logger.error(msg)
    if (o.strict) throw new DatasetsError(DatasetsErrorCode.PairsEmpty, msg, { domain })
    warnings.push(msg)
    return { pairs: pairs as QaPair[], dropped: 0, warnings, answerDiversity: 0 }
  }
  if (pairs.length === 0) return empty('the source returned no rows')

  const kept: QaPair[] = []
  for (const p of pairs) {
    if (isBlank(p.question) || isBlank(p.answer)) continue
    kept.push({ question: p.question as string, answer: p.answer as string })
  }
  const dropped = pairs.length - kept.length
  if (dropped > 0) {
    const msg = `dropped ${dropped} of ${pairs.length} pairs with an empty question or answer in domain "${domain}"`
    o.logger.warn(msg)
    warnings.push(msg)
  }
  if (kept.length === 0) return empty(`all ${pairs.length} rows have an empty question or answer`)

  const n = kept.length
  const counts = new Map<string, number>()
  for (const p of kept) counts.set(p.answer, (counts.get(p.answer) ?? 0) + 1)
  let top = ''
  let c = 0
  for (const [a, k] of counts) {
    if (k > c) {
      top = a
      c = k
    }
  }
  if (n >= 20 && c / n > 0.5) {
    const shown = top.length > 60 ? `${top.slice(0, 57)}...` : top
    const msg = `placeholder data detected in domain "${domain}": the answer ${JSON.stringify(shown)} appears in ${c} of ${n} pairs (${pct(c / n)}; at most 50% expected)`
    o.logger.error(msg)
    if (o.strict)
      throw new DatasetsError(DatasetsErrorCode.PlaceholderDetected, msg, { domain, answer: top, count: c, total: n })
    warnings.push(msg)
  }

  const short = kept.filter((p) => [...pythonStrip(p.answer)].length < 10).length
  if (short / n > 0.5) {
    const msg = `${short} of ${n} answers in domain "${domain}" are shorter than 10 characters (${pct(short / n)})`
    o.logger.warn(msg)
    warnings.push(msg)
  }

  const templated = kept.filter((p) => {
    const q = p.question.toLowerCase()
    return SYNTHETIC_TEMPLATES.some((t) => q.includes(t.toLowerCase()))
  }).length
  if (templated / n > 0.9) {
    const msg = `${templated} of ${n} questions in domain "${domain}" use a synthetic classification template (${pct(templated / n)})`
    o.logger.warn(msg)
    warnings.push(msg)
  }

  const answerDiversity = counts.size / n
  o.logger.debug(`validated ${n} pairs for domain "${domain}"`, {
    answer_diversity: Number(answerDiversity.toFixed(3)),
  })
  return { pairs: kept, dropped, warnings, answerDiversity }
}
