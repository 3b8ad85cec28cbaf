/** Parquet files in the shape of the original's three hub datasets, written with hyparquet-writer. */
import { parquetWriteBuffer } from 'hyparquet-writer'

function bytes(buf: ArrayBuffer): Uint8Array {
  return new Uint8Array(buf)
}

/** deepmind/aqua_rat (raw): question, options, rationale, correct. */
export function aquaRatParquet(rows: Array<{ question: string; rationale: string }>): Uint8Array {
  return bytes(
    parquetWriteBuffer({
      columnData: [
        { name: 'question', data: rows.map((r) => r.question), type: 'STRING' },
        { name: 'options', data: rows.map(() => ['A)1', 'B)2', 'C)3', 'D)4', 'E)5']) },
        { name: 'rationale', data: rows.map((r) => r.rationale), type: 'STRING' },
        { name: 'correct', data: rows.map(() => 'C'), type: 'STRING' },
      ],
    }),
  )
}

/** lex_glue case_hold: context, endings (list of 5), label (int64). */
export function caseHoldParquet(rows: Array<{ context: string; endings: string[]; label: number }>): Uint8Array {
  return bytes(
    parquetWriteBuffer({
      columnData: [
        { name: 'context', data: rows.map((r) => r.context), type: 'STRING' },
        { name: 'endings', data: rows.map((r) => r.endings) },
        { name: 'label', data: rows.map((r) => BigInt(r.label)), type: 'INT64' },
      ],
    }),
  )
}

/** openlifescienceai/medmcqa: question, exp (nullable), and a few of its other columns. */
export function medmcqaParquet(rows: Array<{ question: string; exp: string | null }>): Uint8Array {
  return bytes(
    parquetWriteBuffer({
      columnData: [
        { name: 'id', data: rows.map((_, i) => `id-${i}`), type: 'STRING' },
        { name: 'question', data: rows.map((r) => r.question), type: 'STRING' },
        { name: 'opa', data: rows.map(() => 'a'), type: 'STRING' },
        { name: 'cop', data: rows.map(() => 1), type: 'INT32' },
        { name: 'exp', data: rows.map((r) => r.exp), type: 'STRING' },
      ],
    }),
  )
}
