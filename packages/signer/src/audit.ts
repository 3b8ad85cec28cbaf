/**
 * Append-only, hash-chained audit log (spec core.md §5.8).
 *
 * Each line is one JSON record (Python `json.dumps` spelling: `", "` / `": "` separators, non-ASCII
 * escaped) whose last field `prev_hash` is the SHA-256 hex of the previous line's exact text
 * (UTF-8, without the newline), `"0" × 64` for the first. The verifier walks the file with the
 * same running hash and pinpoints the first line whose link is broken. The chain is unsigned: it
 * makes edits evident, not impossible (anyone can rewrite the whole file).
 */
import { appendFile, mkdir, open, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { pythonJsonDumps, sha256Hex } from '@plora/common'
import { SignerError, SignerErrorCode } from './errors.js'

/** `prev_hash` of the first record. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64)

/** The gate's record fields, in the original's key order (`prev_hash` is added on append). */
export interface GateAuditRecord {
  plasmid_id: string
  sha256: string
  domain: string
  passed: boolean
  reasons: string[]
  [extra: string]: unknown
}

/** What {@link appendAuditRecord} wrote. */
export interface AuditAppendResult {
  /** The line written (without newline). */
  line: string
  prevHash: string
  /** SHA-256 hex of `line`, the next record's `prev_hash`. */
  hash: string
}

// Appends within this process are serialised per file, so two concurrent appends cannot read
// the same last line and fork the chain.
const queues = new Map<string, Promise<unknown>>()

/** Python's `json.dumps` (ensure_ascii): every character outside printable ASCII escaped as \uXXXX. */
function pythonJsonLine(value: unknown): string {
  return pythonJsonDumps(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

async function lastLine(path: string): Promise<{ line: string | null; endsWithNewline: boolean }> {
  let fh: Awaited<ReturnType<typeof open>>
  try {
    fh = await open(path, 'r')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { line: null, endsWithNewline: true }
    throw e
  }
  try {
    const size = (await fh.stat()).size
    if (size === 0) return { line: null, endsWithNewline: true }
    // Read backwards in growing chunks until the line before the last newline is complete.
    let chunk = 4096
    for (;;) {
      const start = Math.max(0, size - chunk)
      const buf = Buffer.alloc(size - start)
      await fh.read(buf, 0, buf.length, start)
      const text = buf.toString('utf8')
      const endsWithNewline = text.endsWith('\n')
      const body = endsWithNewline ? text.slice(0, -1) : text
      const cut = body.lastIndexOf('\n')
      if (cut >= 0 || start === 0) {
        const line = body.slice(cut + 1).replace(/\r$/, '')
        return { line, endsWithNewline }
      }
      chunk *= 4
    }
  } finally {
    await fh.close()
  }
}

/**
 * Appends `record` to the audit log at `path` (created with its folder), chained to the last line.
 * The record's own key order is kept; `prev_hash` is set last.
 */
export async function appendAuditRecord(path: string, record: Record<string, unknown>): Promise<AuditAppendResult> {
  const prior = queues.get(path) ?? Promise.resolve()
  const run = prior.then(async () => {
    try {
      await mkdir(dirname(path), { recursive: true })
      const last = await lastLine(path)
      const prevHash = last.line === null || last.line === '' ? AUDIT_GENESIS_HASH : sha256Hex(last.line)
      const { prev_hash: _ignored, ...rest } = record
      const line = pythonJsonLine({ ...rest, prev_hash: prevHash })
      // A torn previous append (no final newline) must not be glued to this record.
      await appendFile(path, `${last.endsWithNewline ? '' : '\n'}${line}\n`, { flag: 'a' })
      return { line, prevHash, hash: sha256Hex(line) }
    } catch (e) {
      throw new SignerError(
        SignerErrorCode.AuditWriteFailed,
        `cannot append to audit log ${path}: ${(e as Error).message}`,
        { path },
        { cause: e },
      )
    }
  })
  queues.set(
    path,
    run.catch(() => undefined),
  )
  return run
}

/** Why a chain is broken. */
export type AuditBreakReason =
  | 'missing_file'
  | 'blank_line'
  | 'invalid_json'
  | 'missing_prev_hash'
  | 'prev_hash_mismatch'

/** Outcome of {@link verifyAuditChain}. */
export interface AuditVerifyResult {
  ok: boolean
  /** Number of lines whose link verified. */
  records: number
  /** 1-based line number of the first broken link. */
  line?: number
  reason?: AuditBreakReason
  expected?: string
  found?: string
  /** One-line explanation (`OK: …` or `BROKEN at line n: …`). */
  message: string
  /** SHA-256 of the last line: the chain head. */
  head: string
}

/** Verifies an audit log's hash chain from the first line; stops at the first broken link. */
export async function verifyAuditChain(path: string): Promise<AuditVerifyResult> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      return {
        ok: false,
        records: 0,
        reason: 'missing_file',
        message: `BROKEN: ${path} does not exist`,
        head: AUDIT_GENESIS_HASH,
      }
    }
    throw new SignerError(
      SignerErrorCode.AuditReadFailed,
      `cannot read audit log ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  let running = AUDIT_GENESIS_HASH
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '')
    const n = i + 1
    const broken = (reason: AuditBreakReason, why: string, extra: { expected?: string; found?: string } = {}) => ({
      ok: false,
      records: i,
      line: n,
      reason,
      ...extra,
      message: `BROKEN at line ${n}: ${why}`,
      head: running,
    })
    if (line.trim() === '') return broken('blank_line', 'blank line inside the chain')
    let rec: unknown
    try {
      rec = JSON.parse(line)
    } catch {
      return broken('invalid_json', 'not a JSON record')
    }
    const prev = rec !== null && typeof rec === 'object' ? (rec as Record<string, unknown>).prev_hash : undefined
    if (typeof prev !== 'string') return broken('missing_prev_hash', 'record has no prev_hash')
    if (prev !== running) {
      return broken('prev_hash_mismatch', `prev_hash ${prev.slice(0, 16)}… expected ${running.slice(0, 16)}…`, {
        expected: running,
        found: prev,
      })
    }
    running = sha256Hex(line)
  }
  return { ok: true, records: lines.length, message: `OK: ${lines.length} records, head ${running}`, head: running }
}

/** Like {@link verifyAuditChain} but raises `SIGNER_AUDIT_CHAIN_BROKEN` when the chain is broken. */
export async function assertAuditChain(path: string): Promise<AuditVerifyResult> {
  const r = await verifyAuditChain(path)
  if (!r.ok) {
    throw new SignerError(SignerErrorCode.AuditChainBroken, `${path}: ${r.message}`, {
      path,
      line: r.line,
      reason: r.reason,
    })
  }
  return r
}
