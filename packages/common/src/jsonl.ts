/** JSON Lines: one JSON value per line, appended with a single write so lines never interleave. */
import { appendFile, mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CommonError, CommonErrorCode } from './errors.js'

/** Appends one record as a line to `path` (created with its directory if missing). */
export async function appendJsonl(path: string, record: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await appendFile(path, `${JSON.stringify(record)}\n`, { flag: 'a' })
}

/** Parses JSONL text; blank lines are skipped, a malformed line is an error naming its number. */
export function parseJsonl<T = unknown>(text: string, source = '<jsonl>'): T[] {
  const out: T[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    try {
      out.push(JSON.parse(line) as T)
    } catch (e) {
      throw new CommonError(
        CommonErrorCode.JsonlInvalid,
        `${source}:${i + 1}: not valid JSON (${(e as Error).message})`,
        { source, line: i + 1 },
        { cause: e },
      )
    }
  }
  return out
}

/** Reads and parses a JSONL file. */
export async function readJsonl<T = unknown>(path: string): Promise<T[]> {
  return parseJsonl<T>(await readFile(path, 'utf8'), path)
}
