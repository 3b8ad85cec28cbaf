/**
 * k-of-n signature quorum over one artefact digest (spec core.md §3, §5.5).
 *
 * The original's "aggregate" is a JSON list of independent base64 signatures (no threshold
 * cryptography, `[D-17]`); this module reads and writes that format unchanged. What it fixes is
 * the counting (`[D-18]`): keys are identified by their SPKI fingerprint, not their file path, so
 * one key reachable under two paths is one key; a signature string is counted once; each key is
 * credited at most once; revoked fingerprints are dropped from the trusted set; and a signature
 * counts only over `tag + digest` (untagged only with `allowUntagged`). Quorum is met when
 * `count ≥ k` with count = number of distinct credited fingerprints.
 */
import type { KeyObject } from 'node:crypto'
import { pythonJsonDumps } from '@plora/common'
import { SignerError, SignerErrorCode } from './errors.js'
import { type KeyInput, keyFingerprint, loadPublicKey, normalizeFingerprint } from './keys.js'
import { ADAPTER_TAG, verifySha256Hex } from './sign.js'

/** A trusted public key, identified by its fingerprint. */
export interface TrustedKey {
  fingerprint: string
  key: KeyObject
  /** Where it came from (a file path), for messages only. */
  label?: string
}

/** A key for the trusted set: PEM/KeyObject, or `{key, label}`. */
export type TrustedKeyInput = KeyInput | TrustedKey | { key: KeyInput; label?: string }

function isWrapped(k: TrustedKeyInput): k is { key: KeyInput; label?: string } {
  return typeof k === 'object' && !(k instanceof Uint8Array) && 'key' in k && !('asymmetricKeyType' in k)
}

/**
 * Loads keys into a trusted set, deduplicated by fingerprint (the first occurrence wins), so the
 * same key listed twice, under two paths, counts once.
 */
export function toTrustedKeys(keys: Iterable<TrustedKeyInput>): TrustedKey[] {
  const out = new Map<string, TrustedKey>()
  for (const k of keys) {
    const raw = isWrapped(k) ? k.key : (k as KeyInput)
    const label = isWrapped(k) ? k.label : undefined
    const key = loadPublicKey(raw)
    const fingerprint = keyFingerprint(key)
    if (!out.has(fingerprint))
      out.set(fingerprint, label === undefined ? { fingerprint, key } : { fingerprint, key, label })
  }
  return [...out.values()]
}

/** The original's aggregate text: a JSON list with Python's default separators (`["a", "b"]`). */
export function aggregateSignatures(signaturesB64: Iterable<string>): string {
  return pythonJsonDumps([...signaturesB64])
}

/** Parses an aggregate (JSON list of strings); raises `SIGNER_AGGREGATE_INVALID` otherwise. */
export function parseAggregate(aggregate: string): string[] {
  let v: unknown
  try {
    v = JSON.parse(aggregate)
  } catch (e) {
    throw new SignerError(
      SignerErrorCode.AggregateInvalid,
      `aggregate is not JSON (${(e as Error).message})`,
      {},
      { cause: e },
    )
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new SignerError(SignerErrorCode.AggregateInvalid, 'aggregate must be a JSON list of base64 strings')
  }
  return v as string[]
}

/** Options of {@link verifyQuorum}. */
export interface QuorumOptions {
  /** Tag the signatures cover (default {@link ADAPTER_TAG}). */
  tag?: string
  /** Also credit untagged (raw) signatures, as the original did by default. Default false. */
  allowUntagged?: boolean
  /** Fingerprints (hex, optionally `SHA256:`-prefixed) whose keys never count. */
  revokedFingerprints?: Iterable<string>
}

/** Why a signature did not add to the count. */
export type QuorumIgnoreReason = 'duplicate_signature' | 'key_already_credited' | 'revoked_key' | 'no_trusted_key'

/** Outcome of {@link verifyQuorum}: the decision plus, per signature, why it did or did not count. */
export interface QuorumResult {
  met: boolean
  quorum: number
  /** Distinct credited fingerprints. */
  count: number
  credited: Array<{ index: number; fingerprint: string; form: 'tagged' | 'raw' }>
  ignored: Array<{ index: number; reason: QuorumIgnoreReason; fingerprint?: string }>
}

function verifiesWith(key: KeyObject, digest: string, sig: string, tag: string, raw: boolean): 'tagged' | 'raw' | null {
  if (verifySha256Hex(key, digest, sig, { tag })) return 'tagged'
  if (raw && verifySha256Hex(key, digest, sig)) return 'raw'
  return null
}

/** What one signature did to a count (see {@link creditSignature}). */
export type CreditOutcome =
  | { kind: 'credited'; fingerprint: string; form: 'tagged' | 'raw' }
  | { kind: 'key_already_credited'; fingerprint: string }
  | { kind: 'revoked_key'; fingerprint: string }
  | { kind: 'no_trusted_key' }

/**
 * The one crediting rule of every plora quorum (this module's counts, the gate's attestations and
 * peer keys): a signature over `tag + digest` (or the raw digest with `allowUntagged`) credits the
 * first key that verifies it and is neither revoked nor already in `credited` (which it is added
 * to). Otherwise it reports why not: a credited key signed it, only a revoked key did, or none did.
 */
export function creditSignature(
  keys: Iterable<TrustedKey>,
  digest: string,
  signatureB64: string,
  credited: Set<string>,
  revoked: ReadonlySet<string>,
  options: { tag?: string; allowUntagged?: boolean } = {},
): CreditOutcome {
  const tag = options.tag ?? ADAPTER_TAG
  const raw = options.allowUntagged ?? false
  const sig = signatureB64.trim()
  let alreadyBy: string | undefined
  let revokedBy: string | undefined
  for (const k of keys) {
    const form = verifiesWith(k.key, digest, sig, tag, raw)
    if (!form) continue
    if (revoked.has(k.fingerprint)) {
      revokedBy ??= k.fingerprint
      continue
    }
    if (credited.has(k.fingerprint)) {
      alreadyBy ??= k.fingerprint
      continue
    }
    credited.add(k.fingerprint)
    return { kind: 'credited', fingerprint: k.fingerprint, form }
  }
  if (alreadyBy !== undefined) return { kind: 'key_already_credited', fingerprint: alreadyBy }
  if (revokedBy !== undefined) return { kind: 'revoked_key', fingerprint: revokedBy }
  return { kind: 'no_trusted_key' }
}

/**
 * Counts valid signatures over `digest` from distinct trusted, non-revoked keys.
 *
 * @example
 * const r = verifyQuorum(sha, [sigA, sigB], [pubA, pubB, pubC], 2)
 * r.met // true only if two different keys signed PLORA|ADAPTER|v1|<sha>
 */
export function verifyQuorum(
  digest: string,
  signaturesB64: readonly string[],
  trustedKeys: Iterable<TrustedKeyInput>,
  quorum: number,
  options: QuorumOptions = {},
): QuorumResult {
  if (!Number.isInteger(quorum)) {
    throw new SignerError(SignerErrorCode.QuorumInvalid, `quorum must be an integer, found ${quorum}`, { quorum })
  }
  const revoked = new Set<string>()
  for (const f of options.revokedFingerprints ?? []) {
    const n = normalizeFingerprint(f)
    if (n) revoked.add(n)
  }
  const keys = toTrustedKeys(trustedKeys)
  const result: QuorumResult = { met: quorum <= 0, quorum, count: 0, credited: [], ignored: [] }
  const credited = new Set<string>()
  const seenSigs = new Set<string>()
  const creditOptions = { tag: options.tag ?? ADAPTER_TAG, allowUntagged: options.allowUntagged ?? false }
  signaturesB64.forEach((sigText, index) => {
    const sig = sigText.trim()
    if (seenSigs.has(sig)) {
      result.ignored.push({ index, reason: 'duplicate_signature' })
      return
    }
    seenSigs.add(sig)
    const c = creditSignature(keys, digest, sig, credited, revoked, creditOptions)
    if (c.kind === 'credited') result.credited.push({ index, fingerprint: c.fingerprint, form: c.form })
    else if (c.kind === 'no_trusted_key') result.ignored.push({ index, reason: c.kind })
    else result.ignored.push({ index, reason: c.kind, fingerprint: c.fingerprint })
  })
  result.count = credited.size
  result.met = quorum <= 0 || result.count >= quorum
  return result
}

/**
 * The original's `verify_aggregate(aggregate, sha256_hex, public_keys, quorum)` with the counting
 * fixed: parses the JSON list (a parse error → false) and applies {@link verifyQuorum}.
 */
export function verifyAggregate(
  aggregate: string,
  digest: string,
  trustedKeys: Iterable<TrustedKeyInput>,
  quorum: number,
  options: QuorumOptions = {},
): boolean {
  if (quorum <= 0) return true
  let sigs: string[]
  try {
    sigs = parseAggregate(aggregate)
  } catch {
    return false
  }
  return verifyQuorum(digest, sigs, trustedKeys, quorum, options).met
}
