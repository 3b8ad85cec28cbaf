/**
 * The original's pair construction for its three hub datasets (spec core.md §15.1), plus plain
 * question/answer columns for any other dataset or local file:
 *
 * | builder   | question                         | answer            | skipped when                           |
 * |-----------|----------------------------------|-------------------|----------------------------------------|
 * | aqua_rat  | question.strip()                 | rationale.strip() | either side blank                      |
 * | case_hold | context[:1000] (not stripped)    | endings[label]    | label ∉ [0, len(endings)) or blank     |
 * | medmcqa   | question.strip()                 | exp.strip()       | either side blank (test split: all)    |
 * | columns   | <question>.strip()               | <answer>.strip()  | either side blank                      |
 */
import { type Logger, SILENT_LOGGER } from '@plora/common'
import type { Row } from './parquet.js'
import { headCodePoints, pythonStrip } from './python-text.js'
import type { HfPairBuilder } from './sources.js'
import type { QaPair } from './types.js'

/** The columns each builder reads. */
export function builderColumns(builder: HfPairBuilder, columns: { question: string; answer: string }): string[] {
  switch (builder) {
    case 'aqua_rat':
      return ['question', 'rationale']
    case 'case_hold':
      return ['context', 'endings', 'label']
    case 'medmcqa':
      return ['question', 'exp']
    case 'columns':
      return [columns.question, columns.answer]
  }
}

/** Python's `str.strip()` of a cell; non-strings become text, null/undefined become "". */
function text(v: unknown): string {
  if (v === null || v === undefined) return ''
  return pythonStrip(typeof v === 'string' ? v : String(v))
}

/** Characters of the case_hold context kept as the question. */
export const CASE_HOLD_CONTEXT_CHARS = 1000

/** Result of {@link buildPairs}. */
export interface BuildPairsResult {
  pairs: QaPair[]
  /** Rows skipped for a blank side. */
  blank: number
  /** Rows skipped for an out-of-range label (case_hold). */
  badLabel: number
}

/** Turns rows into pairs with `builder`. */
export function buildPairs(
  builder: HfPairBuilder,
  rows: Iterable<Row>,
  columns: { question: string; answer: string } = { question: 'question', answer: 'answer' },
  logger: Logger = SILENT_LOGGER,
): BuildPairsResult {
  const pairs: QaPair[] = []
  let blank = 0
  let badLabel = 0
  for (const row of rows) {
    let q: string
    let a: string
    if (builder === 'case_hold') {
      const context = typeof row.context === 'string' ? row.context : ''
      const endings = Array.isArray(row.endings) ? row.endings : []
      const label = typeof row.label === 'bigint' ? Number(row.label) : Number(row.label)
      if (!Number.isInteger(label) || label < 0 || label >= endings.length) {
        badLabel++
        continue
      }
      q = headCodePoints(context, CASE_HOLD_CONTEXT_CHARS)
      a = typeof endings[label] === 'string' ? (endings[label] as string) : ''
      if (pythonStrip(q) === '' || pythonStrip(a) === '') {
        blank++
        continue
      }
    } else {
      const [qc, ac] = builderColumns(builder, columns) as [string, string]
      q = text(row[qc])
      a = text(row[ac])
      if (q === '' || a === '') {
        blank++
        continue
      }
    }
    pairs.push({ question: q, answer: a })
  }
  if (badLabel > 0) logger.warn(`skipped ${badLabel} case_hold rows whose label is outside their endings`)
  return { pairs, blank, badLabel }
}
