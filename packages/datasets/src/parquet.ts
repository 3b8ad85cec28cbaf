/**
 * Parquet rows through hyparquet (a pure-JavaScript, dependency-free reader) with the codecs of
 * hyparquet-compressors (zstd, gzip, brotli, lz4 — hub files are mostly snappy or zstd).
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { DatasetsError, DatasetsErrorCode } from './errors.js'

/** One row as an object of column → value (lists as arrays, INT64 as bigint). */
export type Row = Record<string, unknown>

/** The top-level column names of a parquet file. */
export async function readParquetColumns(path: string): Promise<string[]> {
  try {
    const file = await asyncBufferFromFile(path)
    const metadata = await parquetMetadataAsync(file)
    return parquetSchema(metadata).children.map((c) => c.element.name)
  } catch (e) {
    throw invalid(path, e)
  }
}

function invalid(path: string, e: unknown): DatasetsError {
  if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') {
    return new DatasetsError(DatasetsErrorCode.FileNotFound, `parquet file not found: ${path}`, { path }, { cause: e })
  }
  return new DatasetsError(
    DatasetsErrorCode.FileInvalid,
    `cannot read parquet file ${path}: ${(e as Error)?.message ?? String(e)}`,
    { path },
    { cause: e },
  )
}

/**
 * Reads `columns` of every row of a parquet file; a column absent from the file is
 * `DATASETS_COLUMN_MISSING` listing the columns it has.
 */
export async function readParquetRows(path: string, columns: readonly string[]): Promise<Row[]> {
  let file: Awaited<ReturnType<typeof asyncBufferFromFile>>
  let names: string[]
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>
  try {
    file = await asyncBufferFromFile(path)
    metadata = await parquetMetadataAsync(file)
    names = parquetSchema(metadata).children.map((c) => c.element.name)
  } catch (e) {
    throw invalid(path, e)
  }
  const missing = columns.filter((c) => !names.includes(c))
  if (missing.length > 0) {
    throw new DatasetsError(
      DatasetsErrorCode.ColumnMissing,
      `parquet file ${path} has no column ${missing.map((m) => `"${m}"`).join(', ')}; it has: ${names.join(', ')}`,
      { path, missing, columns: names },
    )
  }
  try {
    return (await parquetReadObjects({ file, metadata, columns: [...columns], compressors })) as Row[]
  } catch (e) {
    throw invalid(path, e)
  }
}
