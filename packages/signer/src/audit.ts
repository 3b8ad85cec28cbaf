/**
 * Append-only, hash-chained audit log (spec core.md §5.8), anchored by a head file.
 *
 * Each line is one JSON record (Python `json.dumps` spelling: `", "` / `": "` separators, non-ASCII
 * escaped) whose last field `prev_hash` is the SHA-256 hex of the previous line's exact text
 * (UTF-8, without the newline), `"0" × 64` for the first. The verifier walks the file with the
 * same running hash and pinpoints the first line whose link is broken.
 *
 * A chain alone cannot show that its tail was edited, cut or that the whole file was rewritten:
 * nothing follows the last line. So every append also writes `<log>.head` (JSON: record count,
 * SHA-256 of the last line, file size; {@link AuditHead}), atomically and inside a lock that
 * works across processes (`<log>.lock`, created with O_EXCL; it holds the owner's pid and host
 * and is broken when that pid is dead or the lock is older than `lockStaleMs`). Read head →
 * check the log still matches it → append → fsync → write head all happen under the lock, so
 * concurrent `gate check` processes never fork the chain, and an append refuses to extend a log
 * that no longer matches its head (it would otherwise re-anchor the tampering).
 *
 * Threat model: without a key, someone who can write both files can still rewrite the log and
 * the head together. Given a private key (the verifier's own), the head is signed
 * (`PLORA|AUDIT-HEAD|v1|` + SHA-256 of the head fields); verifying with the public key then
 * refuses an unsigned or forged head, which closes that hole. What a signature cannot show is a
 * roll-back to an older, genuinely signed (log, head) pair; compare `records`/`head` with a
 * value kept elsewhere for that. A signing writer also checks the current head's signature
 * before appending, so it never signs over a forged or deleted head.
 *
 * A legacy log without a head verifies with `anchored: false` and a warning (or fails under
 * `requireHead`); an unsigned append anchors it after verifying its chain, a signing one
 * refuses until `anchorAuditLog` (`plora audit anchor`) is run: the explicit operator repair,
 * also for the one crash window left (killed between the appended line and the head write,
 * which `verify` reports as `unanchored_lines`).
 */
import { type KeyObject, randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, rename, rm, stat, truncate } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pythonJsonDumps, sha256Hex, writeFileAtomic } from '@plora/common'
import { SignerError, SignerErrorCode } from './errors.js'
import { algoForKey, type KeyInput, keyFingerprint, loadPrivateKey, loadPublicKey } from './keys.js'
import { signSha256Hex, verifySha256Hex } from './sign.js'

/** `prev_hash` of the first record. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64)
/** Suffix of the head file beside the log. */
export const AUDIT_HEAD_SUFFIX = '.head'
/** Suffix of the lock file beside the log. */
export const AUDIT_LOCK_SUFFIX = '.lock'
/** Tag prefixed to the head digest before signing. */
export const AUDIT_HEAD_TAG = 'PLORA|AUDIT-HEAD|v1|'
/** How long an append waits for the lock before `SIGNER_AUDIT_LOCK_TIMEOUT`. */
export const DEFAULT_AUDIT_LOCK_TIMEOUT_MS = 10_000
/** A lock older than this is stale even when its pid cannot be checked (another host, pid reuse). */
export const DEFAULT_AUDIT_LOCK_STALE_MS = 30_000

/** The gate's record fields, in the original's key order (`prev_hash` is added on append). */
export interface GateAuditRecord {
  plasmid_id: string
  sha256: string
  domain: string
  passed: boolean
  reasons: string[]
  [extra: string]: unknown
}

/** Content of `<log>.head`. */
export interface AuditHead {
  version: 1
  /** Records (lines) in the log. */
  count: number
  /** SHA-256 hex of the last line ({@link AUDIT_GENESIS_HASH} when empty). */
  head: string
  /** Size of the log in bytes, trailing newline included. */
  size: number
  /** Present when signed: the signer's algorithm, key fingerprint and base64 signature. */
  algo?: 'RSA-PSS-SHA256' | 'ED25519-SHA256'
  pubkey_fingerprint?: string
  signature_b64?: string
}

/** What {@link appendAuditRecord} wrote. */
export interface AuditAppendResult {
  /** The line written (without newline). */
  line: string
  prevHash: string
  /** SHA-256 hex of `line`, the next record's `prev_hash`. */
  hash: string
  /** The head file written after the line. */
  headRecord: AuditHead
}

/** Options of {@link appendAuditRecord}. */
export interface AuditAppendOptions {
  /** Private key (PEM/DER/KeyObject) that signs the head; absent = unsigned head. */
  signingKey?: KeyInput
  /** Passphrase of an encrypted `signingKey`. */
  passphrase?: string
  lockTimeoutMs: number
  lockStaleMs: number
}

/** Path of the head file of the log at `logPath`. */
export function auditHeadPath(logPath: string): string {
  return `${logPath}${AUDIT_HEAD_SUFFIX}`
}

/** The digest a head signature covers. */
export function auditHeadDigest(head: Pick<AuditHead, 'count' | 'head' | 'size'>): string {
  return sha256Hex(`plora-audit-head|v1|${head.count}|${head.head}|${head.size}`)
}

// Appends within this process are serialised per file (the lock file serialises processes).
const queues = new Map<string, Promise<unknown>>()

/** Python's `json.dumps` (ensure_ascii): every character outside printable ASCII escaped as \uXXXX. */
function pythonJsonLine(value: unknown): string {
  return pythonJsonDumps(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === code
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return isErrno(e, 'EPERM')
  }
}

/**
 * Removes `lockPath` when it is stale: its owner (same host) is dead, or it is older than
 * `staleMs`. The lock is renamed aside first and its inode compared, so a lock taken by someone
 * else in between is put back rather than deleted. Returns true when the caller should retry now.
 */
async function breakStaleLock(lockPath: string, staleMs: number): Promise<boolean> {
  let ino: number
  let mtimeMs: number
  let owner: { pid?: unknown; host?: unknown } = {}
  try {
    const st = await stat(lockPath)
    ino = st.ino
    mtimeMs = st.mtimeMs
    owner = JSON.parse(await readFile(lockPath, 'utf8')) as typeof owner
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return true
    // Unparsable: the owner is between creating and writing it; only age can make it stale.
    owner = {}
    try {
      const st = await stat(lockPath)
      ino = st.ino
      mtimeMs = st.mtimeMs
    } catch (e2) {
      if (isErrno(e2, 'ENOENT')) return true
      throw e2
    }
  }
  const dead = owner.host === hostname() && typeof owner.pid === 'number' && !pidAlive(owner.pid)
  if (!dead && Date.now() - mtimeMs <= staleMs) return false
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    await rename(lockPath, aside)
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return true
    throw e
  }
  if ((await stat(aside)).ino !== ino) {
    // A live lock was taken between the check and the rename: put it back.
    await link(aside, lockPath).catch(() => undefined)
  }
  await rm(aside, { force: true })
  return true
}

async function withAuditLock<T>(
  path: string,
  o: Pick<AuditAppendOptions, 'lockTimeoutMs' | 'lockStaleMs'>,
  fn: () => Promise<T>,
  /** A reader runs `fn` unlocked when no lock can be created (read-only folder, no folder). */
  readerFallback = false,
): Promise<T> {
  const lockPath = `${path}${AUDIT_LOCK_SUFFIX}`
  const token = randomBytes(8).toString('hex')
  const deadline = Date.now() + o.lockTimeoutMs
  let wait = 1
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx', 0o644)
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), token, since: Date.now() }))
      } finally {
        await fh.close()
      }
      break
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) {
        if (readerFallback) return fn()
        throw e
      }
      if (await breakStaleLock(lockPath, o.lockStaleMs)) continue
      if (Date.now() >= deadline) {
        throw new SignerError(
          SignerErrorCode.AuditLockTimeout,
          `audit log ${path} is locked by another writer (${lockPath}) for more than ${o.lockTimeoutMs} ms`,
          { path, lockPath },
        )
      }
      await sleep(wait)
      wait = Math.min(wait * 2, 25)
    }
  }
  try {
    return await fn()
  } finally {
    // Remove only our own lock (a lock broken as stale may belong to someone else now).
    try {
      const held = JSON.parse(await readFile(lockPath, 'utf8')) as { token?: unknown }
      if (held.token === token) await rm(lockPath, { force: true })
    } catch {
      /* gone or replaced: nothing of ours to remove */
    }
  }
}

function headError(path: string, why: string): SignerError {
  return new SignerError(SignerErrorCode.AuditHeadInvalid, `audit head ${auditHeadPath(path)}: ${why}`, {
    path: auditHeadPath(path),
  })
}

function isHex64(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)
}

/** Reads and checks the shape of `<log>.head`; null when there is none. */
export async function readAuditHead(logPath: string): Promise<AuditHead | null> {
  let text: string
  try {
    text = await readFile(auditHeadPath(logPath), 'utf8')
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null
    throw new SignerError(
      SignerErrorCode.AuditReadFailed,
      `cannot read audit head ${auditHeadPath(logPath)}: ${(e as Error).message}`,
      { path: auditHeadPath(logPath) },
      { cause: e },
    )
  }
  let v: Record<string, unknown>
  try {
    v = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw headError(logPath, 'not JSON')
  }
  const count = v?.count
  const size = v?.size
  if (
    v === null ||
    typeof v !== 'object' ||
    v.version !== 1 ||
    !Number.isSafeInteger(count) ||
    (count as number) < 0 ||
    !Number.isSafeInteger(size) ||
    (size as number) < 0 ||
    !isHex64(v.head)
  ) {
    throw headError(logPath, 'expected {"version": 1, "count": n, "head": <64 hex>, "size": bytes}')
  }
  const out: AuditHead = { version: 1, count: count as number, head: v.head, size: size as number }
  if (v.signature_b64 !== undefined) {
    if (
      typeof v.signature_b64 !== 'string' ||
      !isHex64(v.pubkey_fingerprint) ||
      (v.algo !== 'RSA-PSS-SHA256' && v.algo !== 'ED25519-SHA256')
    ) {
      throw headError(logPath, 'a signed head needs "algo", "pubkey_fingerprint" and "signature_b64"')
    }
    out.algo = v.algo
    out.pubkey_fingerprint = v.pubkey_fingerprint
    out.signature_b64 = v.signature_b64
  }
  return out
}

async function lastLine(path: string, size: number): Promise<{ line: string | null; endsWithNewline: boolean }> {
  if (size === 0) return { line: null, endsWithNewline: true }
  const fh = await open(path, 'r')
  try {
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
      if (cut >= 0 || start === 0) return { line: body.slice(cut + 1).replace(/\r$/, ''), endsWithNewline }
      chunk *= 4
    }
  } finally {
    await fh.close()
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return 0
    throw e
  }
}

function chainBroken(path: string, why: string, details: Record<string, unknown> = {}): SignerError {
  return new SignerError(
    SignerErrorCode.AuditChainBroken,
    `${path}: refusing to append: ${why} (run "plora audit verify ${path}")`,
    { path, ...details },
  )
}

/** Where the next record chains from, checked against the head (or, for a legacy log, the walk). */
async function currentTip(
  path: string,
  signer: KeyObject | null,
): Promise<{ prevHash: string; count: number; size: number }> {
  const head = await readAuditHead(path)
  let size = await fileSize(path)
  if (signer !== null) {
    // A signing writer never signs a state it did not sign itself: an unsigned, forged or missing
    // head (deleted to pass the log off as legacy) is refused, not re-anchored under the key.
    if (head === null && size > 0) {
      throw chainBroken(path, 'it has no head file; anchor it explicitly ("plora audit anchor --private-key")')
    }
    if (head !== null) {
      const pub = loadPublicKey(signer)
      const ok =
        head.signature_b64 !== undefined &&
        head.pubkey_fingerprint === keyFingerprint(pub) &&
        verifySha256Hex(pub, auditHeadDigest(head), head.signature_b64, { tag: AUDIT_HEAD_TAG })
      if (!ok) throw chainBroken(path, 'its head is not signed by the signing key (unsigned, forged or another key)')
    }
  }
  if (head === null) {
    if (size === 0) return { prevHash: AUDIT_GENESIS_HASH, count: 0, size: 0 }
    // A legacy log: anchor it only if its chain verifies.
    const walk = await verifyAgainst(path, null, {})
    if (!walk.ok || !(await readFile(path, 'utf8')).endsWith('\n')) {
      throw chainBroken(path, `the log has no head and its chain does not verify (${walk.message})`, {
        line: walk.line,
      })
    }
    return { prevHash: walk.head, count: walk.records, size }
  }
  if (size > head.size) {
    // Bytes past the head without a newline are a torn append (a crash inside the lock): cut them.
    const fh = await open(path, 'r')
    let tail: Buffer
    try {
      tail = Buffer.alloc(size - head.size)
      await fh.read(tail, 0, tail.length, head.size)
    } finally {
      await fh.close()
    }
    if (tail.includes(0x0a)) {
      throw chainBroken(path, `it has lines after record ${head.count} that its head does not cover`, {
        line: head.count + 1,
      })
    }
    await truncate(path, head.size)
    size = head.size
  }
  if (size !== head.size) {
    throw chainBroken(path, `it is ${size} bytes but its head says ${head.size}`)
  }
  const last = await lastLine(path, size)
  const hash = last.line === null ? AUDIT_GENESIS_HASH : sha256Hex(last.line)
  if (hash !== head.head || (size > 0 && !last.endsWithNewline)) {
    throw chainBroken(path, `its last line does not match its head (expected ${head.head}, found ${hash})`, {
      line: head.count,
    })
  }
  return { prevHash: head.head, count: head.count, size }
}

function signedHead(head: AuditHead, key: KeyObject | null, o: Partial<AuditAppendOptions>): AuditHead {
  if (key === null) return head
  return {
    ...head,
    algo: algoForKey(key),
    pubkey_fingerprint: keyFingerprint(key),
    signature_b64: signSha256Hex(key, auditHeadDigest(head), {
      tag: AUDIT_HEAD_TAG,
      ...(o.passphrase ? { passphrase: o.passphrase } : {}),
    }),
  }
}

/**
 * Appends `record` to the audit log at `path` (created with its folder), chained to the last
 * line, and rewrites `<path>.head` — all under the cross-process lock. The record's own key order
 * is kept; `prev_hash` is set last. Refuses (`SIGNER_AUDIT_CHAIN_BROKEN`) to extend a log that no
 * longer matches its head.
 */
export async function appendAuditRecord(
  path: string,
  record: Record<string, unknown>,
  options: Partial<AuditAppendOptions> = {},
): Promise<AuditAppendResult> {
  const o = { lockTimeoutMs: DEFAULT_AUDIT_LOCK_TIMEOUT_MS, lockStaleMs: DEFAULT_AUDIT_LOCK_STALE_MS, ...options }
  const prior = queues.get(path) ?? Promise.resolve()
  const run = prior.then(async () => {
    try {
      await mkdir(dirname(path), { recursive: true })
      const signer = o.signingKey === undefined ? null : loadPrivateKey(o.signingKey, o.passphrase)
      return await withAuditLock(path, o, async () => {
        const tip = await currentTip(path, signer)
        const { prev_hash: _ignored, ...rest } = record
        const line = pythonJsonLine({ ...rest, prev_hash: tip.prevHash })
        const bytes = Buffer.from(`${line}\n`, 'utf8')
        const fh = await open(path, 'a')
        try {
          await fh.write(bytes)
          await fh.sync()
        } finally {
          await fh.close()
        }
        const hash = sha256Hex(line)
        const headRecord = signedHead(
          { version: 1, count: tip.count + 1, head: hash, size: tip.size + bytes.length },
          signer,
          o,
        )
        await writeFileAtomic(auditHeadPath(path), `${JSON.stringify(headRecord)}\n`)
        return { line, prevHash: tip.prevHash, hash, headRecord }
      })
    } catch (e) {
      if (e instanceof SignerError) throw e
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

/**
 * Writes a fresh head for the log's current content after verifying its whole chain (under the
 * lock). The operator's repair after a crash between an append and its head write (`verify`
 * then reports `unanchored_lines` for one complete, correctly chained line), or to anchor (and
 * sign) a legacy log explicitly. It anchors whatever the chain holds, so inspect the tail first:
 * it is a decision, not something an append ever does by itself.
 * @throws SignerError `SIGNER_AUDIT_CHAIN_BROKEN` (with `line`) when the chain does not verify
 */
export async function anchorAuditLog(path: string, options: Partial<AuditAppendOptions> = {}): Promise<AuditHead> {
  const o = { lockTimeoutMs: DEFAULT_AUDIT_LOCK_TIMEOUT_MS, lockStaleMs: DEFAULT_AUDIT_LOCK_STALE_MS, ...options }
  return withAuditLock(path, o, async () => {
    const walk = await verifyAgainst(path, null, {})
    const size = await fileSize(path)
    const last = await lastLine(path, size).catch(() => ({ line: null, endsWithNewline: true }))
    if (!walk.ok || !last.endsWithNewline) {
      throw new SignerError(
        SignerErrorCode.AuditChainBroken,
        `${path}: cannot anchor: ${walk.ok ? 'the last line has no newline' : walk.message}`,
        { path, line: walk.line ?? walk.records, reason: walk.reason },
      )
    }
    const signer = o.signingKey === undefined ? null : loadPrivateKey(o.signingKey, o.passphrase)
    const head = signedHead({ version: 1, count: walk.records, head: walk.head, size }, signer, o)
    await writeFileAtomic(auditHeadPath(path), `${JSON.stringify(head)}\n`)
    return head
  })
}

/** Why a chain is broken. */
export type AuditBreakReason =
  | 'missing_file'
  | 'blank_line'
  | 'invalid_json'
  | 'missing_prev_hash'
  | 'prev_hash_mismatch'
  /** The log has fewer records than its head says (lines deleted or the tail cut). */
  | 'lines_missing'
  /** The log has records after the one its head anchors. */
  | 'unanchored_lines'
  /** The anchored record's hash (or the file size) differs from the head: edited or rewritten. */
  | 'head_mismatch'
  /** `requireHead` and there is no head file. */
  | 'head_missing'
  /** The head file is malformed. */
  | 'head_invalid'
  /** A public key was given but the head is not signed. */
  | 'head_unsigned'
  /** The head's signature does not verify with the given public key. */
  | 'head_signature_invalid'

/** Options of {@link verifyAuditChain}. */
export interface VerifyAuditOptions {
  /** Public key that must have signed the head (then an unsigned head is a failure). */
  publicKey?: KeyInput
  /** Fail when there is no head file (default: verify the chain alone, `anchored: false`). */
  requireHead?: boolean
}

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
  /** True when a head file anchors the chain (count, last hash and size all checked). */
  anchored: boolean
  /** True when the head is signed; `headVerified` says whether the signature was checked and held. */
  headSigned: boolean
  headVerified: boolean
  /** Why an `ok` result is weaker than it looks (no head, or a signature not checked). */
  warning?: string
}

/**
 * Verifies an audit log's hash chain from the first line and compares it with `<path>.head`;
 * stops at the first broken link and names its line, expected and found hashes.
 */
export async function verifyAuditChain(path: string, options: VerifyAuditOptions = {}): Promise<AuditVerifyResult> {
  // Under the writers' lock, so a verify racing an append never sees its line before its head.
  const lockOptions = { lockTimeoutMs: DEFAULT_AUDIT_LOCK_TIMEOUT_MS, lockStaleMs: DEFAULT_AUDIT_LOCK_STALE_MS }
  return withAuditLock(path, lockOptions, () => verifyUnlocked(path, options), true)
}

async function verifyUnlocked(path: string, options: VerifyAuditOptions): Promise<AuditVerifyResult> {
  let head: AuditHead | null
  try {
    head = await readAuditHead(path)
  } catch (e) {
    if (!(e instanceof SignerError) || e.code !== SignerErrorCode.AuditHeadInvalid) throw e
    return {
      ok: false,
      records: 0,
      reason: 'head_invalid',
      message: `BROKEN: ${e.message}`,
      head: AUDIT_GENESIS_HASH,
      anchored: false,
      headSigned: false,
      headVerified: false,
    }
  }
  return verifyAgainst(path, head, options)
}

/** The walk of {@link verifyAuditChain}, compared with `head` (null = the chain alone). */
async function verifyAgainst(
  path: string,
  head: AuditHead | null,
  options: VerifyAuditOptions,
): Promise<AuditVerifyResult> {
  const headInfo = { anchored: false, headSigned: head?.signature_b64 !== undefined, headVerified: false }
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (e) {
    if (isErrno(e, 'ENOENT')) {
      const why = head ? `, but its head says ${head.count} records` : ''
      return {
        ok: false,
        records: 0,
        reason: 'missing_file',
        message: `BROKEN: ${path} does not exist${why}`,
        head: AUDIT_GENESIS_HASH,
        ...headInfo,
      }
    }
    throw new SignerError(
      SignerErrorCode.AuditReadFailed,
      `cannot read audit log ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
  const text = bytes.toString('utf8')
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  let running = AUDIT_GENESIS_HASH
  const broken = (
    i: number,
    reason: AuditBreakReason,
    why: string,
    extra: { expected?: string; found?: string } = {},
  ): AuditVerifyResult => ({
    ok: false,
    records: Math.min(i, lines.length),
    line: i + 1,
    reason,
    ...extra,
    message: `BROKEN at line ${i + 1}: ${why}`,
    head: running,
    ...headInfo,
  })
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '')
    if (line.trim() === '') return broken(i, 'blank_line', 'blank line inside the chain')
    let rec: unknown
    try {
      rec = JSON.parse(line)
    } catch {
      return broken(i, 'invalid_json', 'not a JSON record (edited, or the tail was cut mid-line)')
    }
    const prev = rec !== null && typeof rec === 'object' ? (rec as Record<string, unknown>).prev_hash : undefined
    if (typeof prev !== 'string') return broken(i, 'missing_prev_hash', 'record has no prev_hash')
    if (prev !== running) {
      return broken(i, 'prev_hash_mismatch', `prev_hash ${prev.slice(0, 16)}… expected ${running.slice(0, 16)}…`, {
        expected: running,
        found: prev,
      })
    }
    running = sha256Hex(line)
    if (head && i + 1 === head.count && running !== head.head) {
      return broken(
        i,
        'head_mismatch',
        `hash ${running.slice(0, 16)}… differs from the head's ${head.head.slice(0, 16)}… (line ${i + 1} edited, or the log rewritten)`,
        { expected: head.head, found: running },
      )
    }
  }
  const n = lines.length
  if (head === null) {
    if (options.requireHead) {
      return {
        ok: false,
        records: n,
        reason: 'head_missing',
        message: `BROKEN: no head file ${auditHeadPath(path)} (required)`,
        head: running,
        ...headInfo,
      }
    }
    return {
      ok: true,
      records: n,
      message: `OK: ${n} records, head ${running} (not anchored: no ${auditHeadPath(path)})`,
      head: running,
      ...headInfo,
      warning: `no head file ${auditHeadPath(path)}: the chain is not anchored, so its tail could be cut or rewritten unnoticed; the next append anchors it`,
    }
  }
  if (n < head.count) {
    const why =
      n === 0
        ? `the log is empty but its head says ${head.count} records`
        : `lines missing after line ${n}: the head says ${head.count} records, the log has ${n}`
    return { ...broken(n, 'lines_missing', why), message: `BROKEN at line ${n + 1}: ${why}` }
  }
  if (n > head.count) {
    return broken(
      head.count,
      'unanchored_lines',
      `${n - head.count} line(s) after line ${head.count} are not covered by the head`,
    )
  }
  if (bytes.length !== head.size) {
    return {
      ...broken(Math.max(n - 1, 0), 'head_mismatch', `the log is ${bytes.length} bytes, its head says ${head.size}`),
    }
  }
  headInfo.anchored = true
  let warning: string | undefined
  if (options.publicKey !== undefined) {
    const pub = loadPublicKey(options.publicKey)
    const fail = (reason: AuditBreakReason, why: string): AuditVerifyResult => ({
      ok: false,
      records: n,
      reason,
      message: `BROKEN: head ${auditHeadPath(path)} ${why}`,
      head: running,
      ...headInfo,
    })
    if (head.signature_b64 === undefined) return fail('head_unsigned', 'is not signed (a signature was required)')
    if (head.pubkey_fingerprint !== keyFingerprint(pub)) {
      return fail('head_signature_invalid', `is signed by key ${head.pubkey_fingerprint}, not by the given key`)
    }
    if (!verifySha256Hex(pub, auditHeadDigest(head), head.signature_b64, { tag: AUDIT_HEAD_TAG })) {
      return fail('head_signature_invalid', 'has a signature that does not verify (forged or edited head)')
    }
    headInfo.headVerified = true
  } else if (headInfo.headSigned) {
    warning = 'the head is signed but no public key was given: its signature was not checked'
  }
  return {
    ok: true,
    records: n,
    message: `OK: ${n} records, head ${running}${headInfo.headVerified ? ' (anchored, signed head verified)' : ' (anchored)'}`,
    head: running,
    ...headInfo,
    ...(warning ? { warning } : {}),
  }
}

/** Like {@link verifyAuditChain} but raises `SIGNER_AUDIT_CHAIN_BROKEN` when the chain is broken. */
export async function assertAuditChain(path: string, options: VerifyAuditOptions = {}): Promise<AuditVerifyResult> {
  const r = await verifyAuditChain(path, options)
  if (!r.ok) {
    throw new SignerError(SignerErrorCode.AuditChainBroken, `${path}: ${r.message}`, {
      path,
      line: r.line,
      reason: r.reason,
      expected: r.expected,
      found: r.found,
    })
  }
  return r
}
