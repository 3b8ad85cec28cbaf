/**
 * Signed statements over a whole adapter folder (issue 15 point 8). The legacy manifest signature
 * (`PLORA|ADAPTER|v1|<artifacts.sha256>`, adapter.ts) covers one file; editing `domain`,
 * `base_model`, `lora.r`, metrics, licence or `adapter_config.json`'s `lora_alpha` left it valid.
 * A folder statement covers every file the loader could read plus the manifest's content.
 *
 * Shape: an in-toto Statement v1 (https://in-toto.io/Statement/v1), as OpenSSF model signing
 * (model-transparency) uses one, with one subject per file:
 *
 * ```json
 * { "_type": "https://in-toto.io/Statement/v1",
 *   "subject": [{ "name": "adapter_config.json", "digest": { "sha256": "…" }, "annotations": { "size": 612 } }, …],
 *   "predicateType": "https://plora.dev/adapter-folder/v1",
 *   "predicate": { "manifest_file": "plora.yml", "manifest_sha256": "…", "manifest": { …canonical manifest… },
 *                  "files": [{ "name": "adapter_config.json", "size": 612, "sha256": "…" }, …] } }
 * ```
 *
 * - Subjects: every regular file under the folder (recursively, `/`-separated relative names,
 *   sorted by UTF-16 code units) except `plora.yml` (it is rewritten by signing; its content is
 *   covered through `manifest`), the sidecar `plora.sig.json` itself, and names the caller
 *   excludes (the gate's attestations file, which others append to after signing). Symlinks and
 *   special files are refused: a statement cannot say what they point to.
 * - `manifest` is the manifest's canonical object (`@plora/manifest` `canonicalManifestObject`:
 *   no `signer` block, no nulls) and `manifest_sha256` the SHA-256 of its RFC 8785 bytes, so a
 *   verifier can name the field that changed. This package receives the bytes from the caller
 *   (layer rule: signer imports only common).
 * - The predicate type URI `https://plora.dev/adapter-folder/v1` names this predicate; it is an
 *   identifier, nothing is fetched from it.
 * - Signed message: the UTF-8 text `PLORA|FOLDER|v1|` + SHA-256 hex of the statement's RFC 8785
 *   canonical bytes, signed like every plora digest (sign.ts: RSA-PSS max salt / Ed25519). The
 *   distinct tag means no signature over a folder can be replayed as an adapter or policy one.
 *   (This is not a DSSE envelope; the statement is the in-toto shape, the signature plora's.)
 * - Sidecar `plora.sig.json`: `{media_type, statement, signatures: [{algo, fingerprint,
 *   signature_b64}]}`, written atomically. Several signers sign the same statement (k-of-n, the
 *   quorum counting of quorum.ts over distinct fingerprints).
 *
 * Verification recomputes every file's size and SHA-256 and refuses a missing, changed or unlisted
 * file (naming it), a manifest whose canonical bytes differ (naming the fields), and a statement
 * whose signatures do not reach the quorum. Outcomes are data ({@link verifyFolderStatement});
 * {@link assertFolderStatement} raises the first problem as a `SignerError`.
 */
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { canonicalJson, canonicalJsonBytes, sha256File, sha256Hex, writeFileAtomic } from '@plora/common'
import { SignerError, SignerErrorCode } from './errors.js'
import { algoForKey, type KeyInput, keyFingerprint, loadPrivateKey } from './keys.js'
import { type QuorumResult, type TrustedKeyInput, verifyQuorum } from './quorum.js'
import { signSha256Hex } from './sign.js'

/** Tag prefixed to a folder statement's digest before signing. */
export const FOLDER_TAG = 'PLORA|FOLDER|v1|'
/** in-toto Statement v1 `_type`. */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
/** `predicateType` of a plora adapter-folder statement. */
export const FOLDER_PREDICATE_TYPE = 'https://plora.dev/adapter-folder/v1'
/** The sidecar file name inside the adapter folder. */
export const STATEMENT_FILENAME = 'plora.sig.json'
/** `media_type` of the sidecar. */
export const STATEMENT_MEDIA_TYPE = 'application/vnd.plora.folder-statement.v1+json'
/** The manifest file name (covered through its canonical content, never as a subject). */
export const STATEMENT_MANIFEST_FILE = 'plora.yml'
/** Most files one statement covers. */
export const MAX_STATEMENT_FILES = 4096
/** Largest sidecar read (bytes). */
export const MAX_STATEMENT_BYTES = 16 * 1024 * 1024
/** Deepest sub-folder level scanned. */
const MAX_DEPTH = 16

/** One file of the folder. */
export interface FolderFile {
  /** Relative name, `/`-separated. */
  name: string
  size: number
  sha256: string
}

/** An in-toto subject. */
export interface StatementSubject {
  name: string
  digest: { sha256: string }
  annotations: { size: number }
}

/** The predicate of {@link FOLDER_PREDICATE_TYPE}. */
export interface FolderPredicate {
  manifest_file: string
  manifest_sha256: string
  /** The manifest's canonical object (no `signer` block, no nulls). */
  manifest: Record<string, unknown>
  files: FolderFile[]
}

/** An in-toto Statement v1 over an adapter folder. */
export interface FolderStatement {
  _type: typeof STATEMENT_TYPE
  subject: StatementSubject[]
  predicateType: typeof FOLDER_PREDICATE_TYPE
  predicate: FolderPredicate
}

/** One signature over a statement. `algo` and `fingerprint` are advisory: the trusted keys decide. */
export interface StatementSignature {
  algo: 'RSA-PSS-SHA256' | 'ED25519-SHA256'
  fingerprint: string
  signature_b64: string
}

/** The content of `plora.sig.json`. */
export interface SignedFolderStatement {
  media_type: typeof STATEMENT_MEDIA_TYPE
  statement: FolderStatement
  signatures: StatementSignature[]
}

/** The manifest as the caller loaded it: RFC 8785 bytes from `@plora/manifest` `canonicalManifestBytes`. */
export interface StatementManifestInput {
  manifestBytes: Uint8Array
}

/** Options of {@link scanFolder} and friends. */
export interface FolderScanOptions {
  /** Further top-level names left out (e.g. the gate's attestations file). */
  exclude?: readonly string[]
}

/** What {@link scanFolder} found. */
export interface FolderScan {
  files: FolderFile[]
  /** Symlinks, devices, sockets, FIFOs (and folders nested too deep), by relative name. */
  unsupported: string[]
}

function excluded(options: FolderScanOptions): Set<string> {
  return new Set([STATEMENT_MANIFEST_FILE, STATEMENT_FILENAME, ...(options.exclude ?? [])])
}

function byCodeUnits(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/**
 * Lists and hashes (streamed) every regular file of `dir` except the excluded top-level names.
 * @throws SignerError `SIGNER_STATEMENT_TOO_LARGE` over {@link MAX_STATEMENT_FILES} files
 */
export async function scanFolder(dir: string, options: FolderScanOptions = {}): Promise<FolderScan> {
  const skip = excluded(options)
  const files: FolderFile[] = []
  const unsupported: string[] = []
  const walk = async (rel: string, depth: number): Promise<void> => {
    const entries = await readdir(rel === '' ? dir : join(dir, rel), { withFileTypes: true })
    for (const e of entries) {
      const name = rel === '' ? e.name : `${rel}/${e.name}`
      if (rel === '' && skip.has(e.name)) continue
      if (e.isDirectory()) {
        if (depth >= MAX_DEPTH) unsupported.push(name)
        else await walk(name, depth + 1)
      } else if (e.isFile()) {
        if (files.length >= MAX_STATEMENT_FILES) {
          throw new SignerError(
            SignerErrorCode.StatementTooLarge,
            `${dir} holds more than ${MAX_STATEMENT_FILES} files; a folder statement covers at most that many`,
            { dir, max: MAX_STATEMENT_FILES },
          )
        }
        const { sha256, size } = await sha256File(join(dir, name))
        files.push({ name, size, sha256 })
      } else {
        unsupported.push(name)
      }
    }
  }
  await walk('', 0)
  files.sort(byCodeUnits)
  unsupported.sort()
  return { files, unsupported }
}

/** Builds the statement for files and manifest bytes (pure; see the file header for the shape). */
export function buildFolderStatement(files: readonly FolderFile[], manifest: StatementManifestInput): FolderStatement {
  const sorted = [...files].sort(byCodeUnits)
  return {
    _type: STATEMENT_TYPE,
    subject: sorted.map((f) => ({ name: f.name, digest: { sha256: f.sha256 }, annotations: { size: f.size } })),
    predicateType: FOLDER_PREDICATE_TYPE,
    predicate: {
      manifest_file: STATEMENT_MANIFEST_FILE,
      manifest_sha256: sha256Hex(manifest.manifestBytes),
      manifest: parseManifestBytes(manifest.manifestBytes),
      files: sorted.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
    },
  }
}

function parseManifestBytes(bytes: Uint8Array): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch (e) {
    throw new SignerError(SignerErrorCode.StatementInvalid, 'manifest bytes are not canonical JSON', {}, { cause: e })
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new SignerError(SignerErrorCode.StatementInvalid, 'manifest bytes must hold a JSON object')
  }
  return v as Record<string, unknown>
}

/**
 * Scans `dir` and builds its statement.
 * @throws SignerError `SIGNER_STATEMENT_FILE_UNSUPPORTED` for a symlink or special file, `SIGNER_STATEMENT_TOO_LARGE`
 */
export async function createFolderStatement(
  dir: string,
  manifest: StatementManifestInput,
  options: FolderScanOptions = {},
): Promise<FolderStatement> {
  const scan = await scanFolder(dir, options)
  if (scan.unsupported.length > 0) {
    throw new SignerError(
      SignerErrorCode.StatementFileUnsupported,
      `cannot sign ${dir}: ${scan.unsupported[0]} is not a regular file (symlinks and special files cannot be covered)`,
      { dir, file: scan.unsupported[0], files: scan.unsupported },
    )
  }
  return buildFolderStatement(scan.files, manifest)
}

/** RFC 8785 canonical bytes of a statement. */
export function canonicalStatementBytes(statement: FolderStatement): Uint8Array {
  return canonicalJsonBytes(statement)
}

/** SHA-256 hex of {@link canonicalStatementBytes}: the digest that is signed after {@link FOLDER_TAG}. */
export function statementDigest(statement: FolderStatement): string {
  return sha256Hex(canonicalStatementBytes(statement))
}

/**
 * Signs a statement: `FOLDER_TAG + statementDigest(statement)`.
 *
 * @example
 * const st = await createFolderStatement(dir, { manifestBytes: canonicalManifestBytes(m) })
 * const sig = signFolderStatement(st, privPem)
 */
export function signFolderStatement(
  statement: FolderStatement,
  privateKey: KeyInput,
  options: { passphrase?: string } = {},
): StatementSignature {
  const key = loadPrivateKey(privateKey, options.passphrase)
  return {
    algo: algoForKey(key),
    fingerprint: keyFingerprint(key),
    signature_b64: signSha256Hex(key, statementDigest(statement), { tag: FOLDER_TAG }),
  }
}

// --- sidecar parsing (strict: unknown keys and wrong types are refused) --------------------

function invalid(where: string, what: string): never {
  throw new SignerError(SignerErrorCode.StatementInvalid, `${where}: ${what}`, { file: STATEMENT_FILENAME })
}

function obj(v: unknown, keys: readonly string[], at: string, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) invalid(where, `${at} must be a JSON object`)
  const o = v as Record<string, unknown>
  const extra = Object.keys(o).filter((k) => !keys.includes(k))
  if (extra.length > 0) invalid(where, `${at} has unknown field ${JSON.stringify(extra[0])}`)
  for (const k of keys) if (!(k in o)) invalid(where, `${at}.${k} is missing`)
  return o
}

function text(v: unknown, at: string, where: string, re?: RegExp): string {
  if (typeof v !== 'string' || (re && !re.test(v)))
    invalid(where, `${at} must be ${re ? `a string matching ${re}` : 'a string'}`)
  return v
}

function size(v: unknown, at: string, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) invalid(where, `${at} must be a non-negative integer`)
  return v
}

function list(v: unknown, at: string, where: string, max: number): unknown[] {
  if (!Array.isArray(v)) invalid(where, `${at} must be a JSON list`)
  if (v.length > max) invalid(where, `${at} has ${v.length} entries, more than ${max}`)
  return v
}

const HEX64 = /^[0-9a-f]{64}$/

/** True for a safe relative name: `/`-separated, no empty, `.` or `..` segment, no `\` or NUL. */
export function isSafeRelativeName(name: string): boolean {
  return name !== '' && !/[\\\0]/.test(name) && name.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
}

function parseFiles(v: unknown, at: string, where: string): FolderFile[] {
  return list(v, at, where, MAX_STATEMENT_FILES).map((f, i) => {
    const o = obj(f, ['name', 'size', 'sha256'], `${at}[${i}]`, where)
    const name = text(o.name, `${at}[${i}].name`, where)
    if (!isSafeRelativeName(name))
      invalid(where, `${at}[${i}].name ${JSON.stringify(name)} is not a safe relative name`)
    return {
      name,
      size: size(o.size, `${at}[${i}].size`, where),
      sha256: text(o.sha256, `${at}[${i}].sha256`, where, HEX64),
    }
  })
}

/**
 * Validates a parsed sidecar (every field, strictly) and returns it typed.
 * @throws SignerError `SIGNER_STATEMENT_INVALID`
 */
export function parseSignedFolderStatement(raw: unknown, where = STATEMENT_FILENAME): SignedFolderStatement {
  const top = obj(raw, ['media_type', 'statement', 'signatures'], '(top level)', where)
  if (top.media_type !== STATEMENT_MEDIA_TYPE)
    invalid(where, `media_type must be ${JSON.stringify(STATEMENT_MEDIA_TYPE)}`)
  const st = obj(top.statement, ['_type', 'subject', 'predicateType', 'predicate'], 'statement', where)
  if (st._type !== STATEMENT_TYPE) invalid(where, `statement._type must be ${JSON.stringify(STATEMENT_TYPE)}`)
  if (st.predicateType !== FOLDER_PREDICATE_TYPE) {
    invalid(where, `statement.predicateType must be ${JSON.stringify(FOLDER_PREDICATE_TYPE)}`)
  }
  const subject = list(st.subject, 'statement.subject', where, MAX_STATEMENT_FILES).map((s, i) => {
    const at = `statement.subject[${i}]`
    const o = obj(s, ['name', 'digest', 'annotations'], at, where)
    const name = text(o.name, `${at}.name`, where)
    if (!isSafeRelativeName(name)) invalid(where, `${at}.name ${JSON.stringify(name)} is not a safe relative name`)
    const d = obj(o.digest, ['sha256'], `${at}.digest`, where)
    const a = obj(o.annotations, ['size'], `${at}.annotations`, where)
    return {
      name,
      digest: { sha256: text(d.sha256, `${at}.digest.sha256`, where, HEX64) },
      annotations: { size: size(a.size, `${at}.annotations.size`, where) },
    }
  })
  const p = obj(st.predicate, ['manifest_file', 'manifest_sha256', 'manifest', 'files'], 'statement.predicate', where)
  const manifest = p.manifest
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    invalid(where, 'statement.predicate.manifest must be a JSON object')
  }
  const predicate: FolderPredicate = {
    manifest_file: text(p.manifest_file, 'statement.predicate.manifest_file', where),
    manifest_sha256: text(p.manifest_sha256, 'statement.predicate.manifest_sha256', where, HEX64),
    manifest: manifest as Record<string, unknown>,
    files: parseFiles(p.files, 'statement.predicate.files', where),
  }
  const signatures = list(top.signatures, 'signatures', where, 64).map((s, i) => {
    const o = obj(s, ['algo', 'fingerprint', 'signature_b64'], `signatures[${i}]`, where)
    const algo = text(o.algo, `signatures[${i}].algo`, where, /^(RSA-PSS-SHA256|ED25519-SHA256)$/)
    return {
      algo: algo as StatementSignature['algo'],
      fingerprint: text(o.fingerprint, `signatures[${i}].fingerprint`, where, HEX64),
      signature_b64: text(o.signature_b64, `signatures[${i}].signature_b64`, where),
    }
  })
  return {
    media_type: STATEMENT_MEDIA_TYPE,
    statement: { _type: STATEMENT_TYPE, subject, predicateType: FOLDER_PREDICATE_TYPE, predicate },
    signatures,
  }
}

/**
 * Reads `dir/plora.sig.json`; null when the folder has none.
 * @throws SignerError `SIGNER_STATEMENT_INVALID` (unreadable, not JSON, malformed), `SIGNER_STATEMENT_TOO_LARGE`
 */
export async function readStatementFile(dir: string): Promise<SignedFolderStatement | null> {
  const path = join(dir, STATEMENT_FILENAME)
  let st: Awaited<ReturnType<typeof lstat>>
  try {
    st = await lstat(path)
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null
    throw new SignerError(SignerErrorCode.StatementInvalid, `cannot read ${path}: ${(e as Error).message}`, { path })
  }
  if (!st.isFile()) {
    throw new SignerError(SignerErrorCode.StatementInvalid, `${path} is not a regular file`, { path })
  }
  if (st.size > MAX_STATEMENT_BYTES) {
    throw new SignerError(
      SignerErrorCode.StatementTooLarge,
      `${path} is ${st.size} bytes, over the limit of ${MAX_STATEMENT_BYTES}`,
      { path, size: st.size },
    )
  }
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(path, 'utf8'))
  } catch (e) {
    throw new SignerError(
      SignerErrorCode.StatementInvalid,
      `${path} is not JSON (${(e as Error).message})`,
      { path, file: STATEMENT_FILENAME },
      { cause: e },
    )
  }
  return parseSignedFolderStatement(raw, path)
}

/** Writes `dir/plora.sig.json` atomically (2-space JSON; what is signed is the canonical form). */
export async function writeStatementFile(dir: string, signed: SignedFolderStatement): Promise<void> {
  await writeFileAtomic(join(dir, STATEMENT_FILENAME), `${JSON.stringify(signed, null, 2)}\n`)
}

/** Outcome of {@link signAdapterFolder}. */
export interface SignAdapterFolderResult {
  signed: SignedFolderStatement
  signature: StatementSignature
  /**
   * `new`: no (valid) sidecar, or one over other content, which was replaced; `added`: another
   * signer's signature over the same statement was kept (k-of-n); `replaced`: this key had signed
   * the same statement before.
   */
  mode: 'new' | 'added' | 'replaced'
}

/** Options of {@link signAdapterFolder}. */
export interface SignAdapterFolderOptions extends FolderScanOptions, StatementManifestInput {
  passphrase?: string
}

/**
 * Builds the folder's statement, signs it and writes the sidecar. When the sidecar already holds
 * the same statement, the other signers' signatures are kept, so k signers signing in turn give a
 * k-signature statement.
 *
 * @example
 * await signAdapterFolder('out/legal', privPem, { manifestBytes: canonicalManifestBytes(manifest) })
 */
export async function signAdapterFolder(
  dir: string,
  privateKey: KeyInput,
  options: SignAdapterFolderOptions,
): Promise<SignAdapterFolderResult> {
  const statement = await createFolderStatement(dir, options, options)
  const signature = signFolderStatement(
    statement,
    privateKey,
    options.passphrase === undefined ? {} : { passphrase: options.passphrase },
  )
  let previous: SignedFolderStatement | null = null
  try {
    previous = await readStatementFile(dir)
  } catch (e) {
    // An unreadable or malformed sidecar is replaced: it verifies nothing.
    if (!(e instanceof SignerError)) throw e
  }
  let mode: SignAdapterFolderResult['mode'] = 'new'
  let signatures = [signature]
  if (previous && canonicalJson(previous.statement) === canonicalJson(statement)) {
    const others = previous.signatures.filter((s) => s.fingerprint !== signature.fingerprint)
    mode = others.length < previous.signatures.length ? 'replaced' : 'added'
    signatures = [...others, signature]
  }
  const signed: SignedFolderStatement = { media_type: STATEMENT_MEDIA_TYPE, statement, signatures }
  await writeStatementFile(dir, signed)
  return { signed, signature, mode }
}

// --- verification ---------------------------------------------------------------------------

/** One reason a statement does not hold for a folder. */
export interface StatementProblem {
  code: SignerErrorCode
  message: string
  /** The file concerned (relative name), when there is one. */
  file?: string
  /** Manifest fields (dotted paths) that differ from the signed manifest. */
  fields?: string[]
}

/** Options of {@link verifyFolderStatement}. */
export interface VerifyFolderStatementOptions extends FolderScanOptions, StatementManifestInput {
  /** The verifier's trusted public keys. */
  trustedKeys: Iterable<TrustedKeyInput>
  /** Distinct trusted keys that must have signed (at least 1; default 1). */
  quorum?: number
  /** Fingerprints whose signatures never count. */
  revokedFingerprints?: Iterable<string>
  /** A folder without a sidecar fails (`SIGNER_STATEMENT_MISSING`) instead of passing as "absent". */
  require?: boolean
  /**
   * Check the signatures (default true). False checks only that the folder matches the statement
   * it carries: for a verifier without trusted keys (a gate with signatures off), which then learns
   * nothing about who signed, only that nothing was added or changed after signing.
   */
  signatures?: boolean
}

/** Outcome of {@link verifyFolderStatement}. */
export interface FolderStatementResult {
  /** Whether the folder has a `plora.sig.json`. */
  present: boolean
  /** True when the statement holds (or is absent and not required). */
  ok: boolean
  /** Signature problems first, then file and manifest problems; empty when `ok`. */
  problems: StatementProblem[]
  /** The quorum count over the statement's signatures (null when none was read). */
  quorum: QuorumResult | null
  /** SHA-256 of the statement's canonical bytes (null when none was read). */
  statementSha256: string | null
}

function jsonText(v: unknown): string {
  const t = JSON.stringify(v)
  return t === undefined ? 'nothing' : t.length > 60 ? `${t.slice(0, 60)}…` : t
}

/** Dotted paths where two canonical manifest objects differ (lists compare whole). */
export function diffJsonFields(signed: unknown, current: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isObj(signed) && isObj(current)) {
    const keys = [...new Set([...Object.keys(signed), ...Object.keys(current)])].sort()
    return keys.flatMap((k) => diffJsonFields(signed[k], current[k], prefix === '' ? k : `${prefix}.${k}`))
  }
  const same = signed !== undefined && current !== undefined && canonicalJson(signed) === canonicalJson(current)
  return same ? [] : [prefix === '' ? '(root)' : prefix]
}

function valueAt(o: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o)
}

/**
 * Checks `dir` against its `plora.sig.json`: the signatures reach the quorum of trusted keys, every
 * listed file exists with its size and SHA-256, no other file is present, and the manifest's
 * canonical bytes are the signed ones. Returns every problem found (as data).
 *
 * @example
 * const r = await verifyFolderStatement(dir, { manifestBytes: canonicalManifestBytes(m), trustedKeys: [pub] })
 * if (!r.ok) console.log(r.problems[0].message) // e.g. 'plora.yml field domain changed …'
 */
export async function verifyFolderStatement(
  dir: string,
  options: VerifyFolderStatementOptions,
): Promise<FolderStatementResult> {
  let signed: SignedFolderStatement | null
  try {
    signed = await readStatementFile(dir)
  } catch (e) {
    if (!(e instanceof SignerError)) throw e
    return {
      present: true,
      ok: false,
      problems: [{ code: e.code, message: e.message, file: STATEMENT_FILENAME }],
      quorum: null,
      statementSha256: null,
    }
  }
  if (signed === null) {
    const problems: StatementProblem[] = options.require
      ? [
          {
            code: SignerErrorCode.StatementMissing,
            message: `${dir} has no ${STATEMENT_FILENAME} (a signed folder statement is required)`,
            file: STATEMENT_FILENAME,
          },
        ]
      : []
    return { present: false, ok: problems.length === 0, problems, quorum: null, statementSha256: null }
  }
  const problems: StatementProblem[] = []
  const { statement } = signed
  const digest = statementDigest(statement)

  // 1. signatures: distinct trusted, non-revoked keys over FOLDER_TAG + digest
  const quorum =
    options.signatures === false
      ? null
      : verifyQuorum(
          digest,
          signed.signatures.map((s) => s.signature_b64),
          options.trustedKeys,
          Math.max(1, options.quorum ?? 1),
          {
            tag: FOLDER_TAG,
            ...(options.revokedFingerprints ? { revokedFingerprints: options.revokedFingerprints } : {}),
          },
        )
  if (quorum && !quorum.met) {
    problems.push({
      code: SignerErrorCode.StatementSignatureInvalid,
      message: `${STATEMENT_FILENAME}: ${quorum.count} of the required ${quorum.quorum} trusted key(s) signed the statement (${signed.signatures.length} signature(s) present)`,
      file: STATEMENT_FILENAME,
    })
  }

  // 2. internal consistency: subjects and predicate.files list the same files
  const subj = statement.subject.map((s) => ({ name: s.name, size: s.annotations.size, sha256: s.digest.sha256 }))
  if (canonicalJson(subj) !== canonicalJson(statement.predicate.files)) {
    problems.push({
      code: SignerErrorCode.StatementInvalid,
      message: `${STATEMENT_FILENAME}: statement.subject and predicate.files disagree`,
      file: STATEMENT_FILENAME,
    })
  }
  if (new Set(subj.map((s) => s.name)).size !== subj.length) {
    problems.push({
      code: SignerErrorCode.StatementInvalid,
      message: `${STATEMENT_FILENAME}: a file is listed twice`,
      file: STATEMENT_FILENAME,
    })
  }

  // 3. files: missing, changed, unlisted, unsupported
  let scan: FolderScan
  try {
    scan = await scanFolder(dir, options)
  } catch (e) {
    if (!(e instanceof SignerError)) throw e
    return {
      present: true,
      ok: false,
      problems: [...problems, { code: e.code, message: e.message }],
      quorum,
      statementSha256: digest,
    }
  }
  const actual = new Map(scan.files.map((f) => [f.name, f]))
  const listed = new Map(subj.map((f) => [f.name, f]))
  for (const f of subj) {
    const got = actual.get(f.name)
    if (!got) {
      problems.push({
        code: SignerErrorCode.StatementFileMissing,
        message: `${f.name} is listed in the signed statement but missing from ${dir}`,
        file: f.name,
      })
    } else if (got.size !== f.size || got.sha256 !== f.sha256) {
      problems.push({
        code: SignerErrorCode.StatementFileMismatch,
        message:
          got.size !== f.size
            ? `${f.name} changed since signing: ${got.size} bytes, the statement says ${f.size}`
            : `${f.name} changed since signing: SHA-256 ${got.sha256.slice(0, 12)}…, the statement says ${f.sha256.slice(0, 12)}…`,
        file: f.name,
      })
    }
  }
  for (const f of scan.files) {
    if (!listed.has(f.name)) {
      problems.push({
        code: SignerErrorCode.StatementFileUnlisted,
        message: `${f.name} in ${dir} is not listed in the signed statement`,
        file: f.name,
      })
    }
  }
  for (const name of scan.unsupported) {
    problems.push({
      code: SignerErrorCode.StatementFileUnsupported,
      message: `${name} in ${dir} is not a regular file (symlink or special file)`,
      file: name,
    })
  }

  // 4. manifest: the canonical bytes of plora.yml as loaded now must be the signed ones
  const pred = statement.predicate
  if (
    pred.manifest_file !== STATEMENT_MANIFEST_FILE ||
    sha256Hex(canonicalJsonBytes(pred.manifest)) !== pred.manifest_sha256
  ) {
    problems.push({
      code: SignerErrorCode.StatementInvalid,
      message: `${STATEMENT_FILENAME}: predicate.manifest does not match predicate.manifest_sha256`,
      file: STATEMENT_FILENAME,
    })
  }
  const currentSha = sha256Hex(options.manifestBytes)
  if (currentSha !== pred.manifest_sha256) {
    const current = parseManifestBytes(options.manifestBytes)
    const fields = diffJsonFields(pred.manifest, current)
    const shown = fields
      .slice(0, 3)
      .map((f) => `${f} (signed ${jsonText(valueAt(pred.manifest, f))}, found ${jsonText(valueAt(current, f))})`)
    problems.push({
      code: SignerErrorCode.StatementManifestMismatch,
      message: `${STATEMENT_MANIFEST_FILE} changed since signing: ${fields.length === 0 ? 'canonical bytes differ' : `field ${shown.join(', ')}${fields.length > 3 ? ` and ${fields.length - 3} more` : ''}`}`,
      file: STATEMENT_MANIFEST_FILE,
      fields,
    })
  }
  // Signature problems first: without a valid signature the content findings are about an unsigned claim.
  problems.sort((a, b) => rank(a.code) - rank(b.code))
  return { present: true, ok: problems.length === 0, problems, quorum, statementSha256: digest }
}

function rank(code: SignerErrorCode): number {
  return code === SignerErrorCode.StatementSignatureInvalid || code === SignerErrorCode.StatementInvalid ? 0 : 1
}

/**
 * {@link verifyFolderStatement}, raising the first problem as a `SignerError` whose message names
 * the file or field and whose `details.problems` lists every problem.
 * @throws SignerError `SIGNER_STATEMENT_*`
 */
export async function assertFolderStatement(
  dir: string,
  options: VerifyFolderStatementOptions,
): Promise<FolderStatementResult> {
  const r = await verifyFolderStatement(dir, options)
  const first = r.problems[0]
  if (first) {
    const more = r.problems.length > 1 ? ` (+${r.problems.length - 1} more problem(s))` : ''
    throw new SignerError(first.code, `folder statement FAILED for ${dir}: ${first.message}${more}`, {
      dir,
      ...(first.file === undefined ? {} : { file: first.file }),
      ...(first.fields === undefined ? {} : { fields: first.fields }),
      problems: r.problems,
    })
  }
  return r
}
