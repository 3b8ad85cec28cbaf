/**
 * Signature counting and the quorum decision (spec core.md §5.3–§5.5), with the original's
 * defects fixed deliberately:
 *
 * - one signing form: the manifest signature and attestations are verified over the tagged digest
 *   `PLORA|ADAPTER|v1|` + `artifacts.sha256`; untagged only with `allow_untagged` ([D-02]);
 * - keys are credited once per SPKI fingerprint, never per file path ([D-18]);
 * - revocation is by key fingerprint from the verifier's own list, not by a free `signer_id` read
 *   from the sender's folder ([D-05], [D-07]);
 * - attestations must carry an integer `ts_unix` no older than `attest_max_age_sec` and no more than
 *   `attest_max_skew_sec` in the future ([D-08]);
 * - threshold mode applies the same rules instead of bypassing them ([D-06]).
 *
 * Replay: the signed message covers only the digest, so a fresh timestamp cannot be proven by the
 * signature itself; the freshness rule limits how long an attestation file keeps counting.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { canonicalManifestBytes, type Manifest } from '@plora/manifest'
import { creditSignature, type TrustedKey, verifyAdapterSignature, verifyFolderStatement } from '@plora/signer'
import type { GateContext } from './context.js'
import { loadTrustedKeys } from './context.js'
import type { Policy } from './policy.js'
import type { RejectReason } from './reasons.js'

/** What the signature stage measured. */
export interface SignatureMetrics {
  /** Fingerprints credited toward the quorum. */
  credited: string[]
  /** Fingerprint of the trusted key that verified the manifest's own signature, if any. */
  primary_signer: string | null
  /** Revoked keys whose signature would otherwise have counted. */
  revoked_ignored: string[]
  quorum_required: number
  attestations: { lines: number; credited: number; stale: number; wrong_domain: number; unsigned: number }
  peer_keys: number
}

/**
 * Finds the trusted, non-revoked key that verifies the manifest's own signature (tagged form;
 * fingerprint in the manifest must match the key when it is one). Returns its fingerprint, or null.
 */
export function verifyPrimarySignature(
  manifest: Manifest,
  keys: Iterable<TrustedKey>,
  revoked: ReadonlySet<string>,
  allowUntagged: boolean,
): { signer: string | null; revokedSigner: string | null } {
  const s = manifest.signer
  if (!s.signature_b64 || s.algo === 'none') return { signer: null, revokedSigner: null }
  let revokedSigner: string | null = null
  for (const k of keys) {
    const r = verifyAdapterSignature(
      k.key,
      {
        sha256: manifest.artifacts.sha256,
        signature_b64: s.signature_b64,
        pubkey_fingerprint: s.pubkey_fingerprint,
        algo: s.algo,
      },
      { allowUntagged },
    )
    if (!r.ok) continue
    if (revoked.has(k.fingerprint)) {
      revokedSigner = k.fingerprint
      continue
    }
    return { signer: k.fingerprint, revokedSigner }
  }
  return { signer: null, revokedSigner }
}

/**
 * Runs the signature stage: primary signature, trusted-key attestations, peer-key attestations and
 * the quorum decision. `statementSigners` are the trusted keys credited by a folder statement that
 * holds ({@link checkFolderStatement}); they count toward the quorum as well. Appends reasons in spec order and returns the metrics.
 */
export async function checkSignatures(
  adapterDir: string,
  manifest: Manifest,
  policy: Policy,
  context: GateContext,
  reasons: RejectReason[],
  statementSigners: Iterable<string> = [],
): Promise<SignatureMetrics> {
  const revoked = context.revokedFingerprints ?? new Set<string>()
  const trusted = [...(context.trustedKeys?.values() ?? [])]
  const now = Math.floor((context.now ?? (() => Date.now() / 1000))())
  // Trusted keys that signed a folder statement which holds: they signed the artefact digest too.
  const credited = new Set<string>(statementSigners)
  const revokedIgnored = new Set<string>()
  const quorum = Math.max(1, policy.quorum_required)
  const att = { lines: 0, credited: 0, stale: 0, wrong_domain: 0, unsigned: 0 }

  const primary = verifyPrimarySignature(manifest, trusted, revoked, policy.allow_untagged)
  if (primary.signer) credited.add(primary.signer)
  if (primary.revokedSigner) revokedIgnored.add(primary.revokedSigner)

  // Peer keys: the verifier's own folder of agent_*.pem files (read each time: peers come and go).
  let peers: TrustedKey[] = []
  let peerError = false
  if (policy.peer_keys_dir) {
    try {
      const names = (await readdir(policy.peer_keys_dir)).filter((n) => /^agent_.*\.pem$/.test(n)).sort()
      peers = [...(await loadTrustedKeys(names.map((n) => join(policy.peer_keys_dir!, n)))).values()]
    } catch {
      peerError = true
    }
  }

  // Attestation lines live in the adapter folder: they are signatures, checked against the
  // verifier's keys, so a sender cannot forge one; all other metadata in a line is advisory.
  let text: string | null = null
  try {
    text = await readFile(join(adapterDir, policy.attestations_file), 'utf8')
  } catch {
    text = null
  }
  let parseError = false
  if (text !== null) {
    for (const rawLine of text.split('\n')) {
      const line = rawLine.trim()
      if (line === '') continue
      let rec: unknown
      try {
        rec = JSON.parse(line)
      } catch {
        parseError = true
        break // as the original: a parse error aborts the block, credits so far are kept
      }
      if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
        parseError = true
        break
      }
      att.lines++
      const r = rec as Record<string, unknown>
      if (typeof r.domain === 'string' && r.domain !== '' && r.domain !== manifest.domain) {
        att.wrong_domain++
        continue
      }
      const ts = r.ts_unix
      if (
        typeof ts !== 'number' ||
        !Number.isInteger(ts) ||
        now - ts > policy.attest_max_age_sec ||
        ts - now > policy.attest_max_skew_sec
      ) {
        att.stale++
        continue
      }
      const sig = typeof r.signature_b64 === 'string' ? r.signature_b64.trim() : ''
      if (sig === '') {
        att.unsigned++
        continue
      }
      // One crediting rule (signer's creditSignature): trusted keys in either form the policy
      // allows, then peer keys in the tagged form only, as the original's peer path.
      const sha = manifest.artifacts.sha256
      let c = creditSignature(trusted, sha, sig, credited, revoked, { allowUntagged: policy.allow_untagged })
      if (c.kind !== 'credited') {
        if (c.kind === 'revoked_key') revokedIgnored.add(c.fingerprint)
        c = creditSignature(peers, sha, sig, credited, revoked)
        if (c.kind === 'revoked_key') revokedIgnored.add(c.fingerprint)
      }
      const hit = c.kind === 'credited'
      if (hit) att.credited++
    }
  }
  if (parseError) reasons.push('attestations_parse_error')
  if (peerError) reasons.push('peer_attestations_error')
  if (credited.size < quorum) reasons.push('signature_quorum_not_met')
  return {
    credited: [...credited],
    primary_signer: primary.signer,
    revoked_ignored: [...revokedIgnored],
    quorum_required: quorum,
    attestations: att,
    peer_keys: peers.length,
  }
}

/** What the folder-statement stage found (`plora.sig.json`, issue 15 point 8). */
export interface StatementMetrics {
  /** Whether the folder has a `plora.sig.json`. */
  present: boolean
  ok: boolean
  /** Whether its signatures were checked (signatures_enabled or require_signed_statement). */
  signatures_checked: boolean
  /** Distinct trusted keys that signed the statement (null when not checked). */
  signers: number | null
  /** Their fingerprints, when the statement holds (credited toward the signature quorum). */
  credited: string[]
  /** Every problem: `SIGNER_STATEMENT_*` code, the file concerned, a one-line message. */
  problems: Array<{ code: string; file: string | null; message: string }>
}

/**
 * The signed folder statement: whenever `plora.sig.json` is present, every file of the folder
 * (except the policy's attestations file, which peers append to after signing) and the manifest's
 * canonical content must be as signed; a missing, changed or unlisted file is `statement_invalid`.
 * Its own signatures must reach `max(1, quorum_required)` distinct trusted, non-revoked keys when
 * `signatures_enabled` or `require_signed_statement` is on (attestation lines do not count: they
 * sign only the artefact digest). `require_signed_statement` makes an absent statement
 * `statement_missing`. Run before {@link checkSignatures}, which credits the statement's signers.
 */
export async function checkFolderStatement(
  adapterDir: string,
  manifest: Manifest,
  policy: Policy,
  context: GateContext,
  reasons: RejectReason[],
): Promise<StatementMetrics> {
  const checkSigs = policy.signatures_enabled || policy.require_signed_statement
  const r = await verifyFolderStatement(adapterDir, {
    manifestBytes: canonicalManifestBytes(manifest),
    trustedKeys: context.trustedKeys?.values() ?? [],
    quorum: Math.max(1, policy.quorum_required),
    revokedFingerprints: context.revokedFingerprints ?? [],
    require: policy.require_signed_statement,
    signatures: checkSigs,
    exclude: [policy.attestations_file],
  })
  if (!r.ok) reasons.push(r.present ? 'statement_invalid' : 'statement_missing')
  return {
    present: r.present,
    ok: r.ok,
    signatures_checked: checkSigs && r.present,
    signers: r.quorum?.count ?? null,
    credited: r.ok ? (r.quorum?.credited.map((c) => c.fingerprint) ?? []) : [],
    problems: r.problems.map((p) => ({ code: p.code, file: p.file ?? null, message: p.message })),
  }
}
