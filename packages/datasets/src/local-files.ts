/**
 * Local data files: JSONL (one object per line), CSV with a header row (csv-parse), or parquet
 * (hyparquet). Rows become pairs through configurable question/answer columns.
 */
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parseJsonl } from '@plora/common'
import { parse as parseCsv } from 'csv-parse/sync'
import { DatasetsError, DatasetsErrorCode } from './errors.js'
import { type Row, readParquetRows } from './parquet.js'

/** Formats of local data files. */
export type LocalFormat = 'jsonl' | 'csv' | 'parquet'

/** The format named by the file extension (`.jsonl`/`.ndjson`, `.csv`, `.parquet`). */
export function detectFormat(path: string): LocalFormat {
  const ext = extname(path).toLowerCase()
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl'
  if (ext === '.csv') return 'csv'
  if (ext === '.parquet') return 'parquet'
  throw new DatasetsError(
    DatasetsErrorCode.SourceInvalid,
    `cannot tell the format of ${path} from its extension "${ext}": expected .jsonl, .ndjson, .csv or .parquet (or give the format explicitly)`,
    { path },
  )
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DatasetsError(DatasetsErrorCode.FileNotFound, `data file not found: ${path}`, { path }, { cause: e })
    }
    throw new DatasetsError(
      DatasetsErrorCode.FileInvalid,
      `cannot read data file ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
}

/** Reads the rows of a local file, checking that `columns` exist (named in the error otherwise). */
export async function readLocalRows(
  path: string,
  columns: readonly string[],
  format: LocalFormat = detectFormat(path),
): Promise<Row[]> {
  if (format === 'parquet') return readParquetRows(path, columns)
  const text = await readText(path)
  let rows: Row[]
  try {
    rows =
      format === 'jsonl'
        ? parseJsonl<Row>(text, path)
        : (parseCsv(text, { columns: true, skip_empty_lines: true, bom: true, relax_column_count: false }) as Row[])
  } catch (e) {
    throw new DatasetsError(
      DatasetsErrorCode.FileInvalid,
      `cannot parse ${format} file ${path}: ${(e as Error).message}`,
      { path, format },
      { cause: e },
    )
  }
  rows.forEach((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new DatasetsError(DatasetsErrorCode.FileInvalid, `${path}: record ${i + 1} is not an object`, {
        path,
        record: i + 1,
      })
    }
  })
  const present = new Set(rows.flatMap((r) => Object.keys(r)))
  const missing = columns.filter((c) => !present.has(c))
  if (rows.length > 0 && missing.length > 0) {
    throw new DatasetsError(
      DatasetsErrorCode.ColumnMissing,
      `${path} has no column ${missing.map((m) => `"${m}"`).join(', ')}; it has: ${[...present].join(', ')}`,
      { path, missing, columns: [...present] },
    )
  }
  return rows
}
