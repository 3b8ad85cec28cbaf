/**
 * The one manifest-signing form used end to end (fixes `[D-02]`, spec core.md §2.7): the
 * manifest's `artifacts.sha256` is signed **tagged** (`PLORA|ADAPTER|v1|` + sha); `plora sign`
 * writes it, and `plora verify`, the gate and the fetch client check it. The original's untagged
 * form (from `train_task.py --sign`) verifies only when `allowUntagged` is set explicitly.
 *
 * Fingerprint rule (`[D-16]`): signing writes the real key fingerprint; on verify, a manifest
 * fingerprint that is a SHA-256 hex (optionally `SHA256:`-prefixed) must equal the verifying
 * key's; an empty one (what the original's signing script leaves) is accepted and reported as
 * unchecked; any other free text fails unless `allowUntagged` (legacy mode) is set.
 */
import { KeyObject } from 'node:crypto'
import {
  algoForKey,
  type KeyInput,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  normalizeFingerprint,
} from './keys.js'
import { ADAPTER_TAG, signSha256Hex, verifySha256Hex } from './sign.js'

/** The `signer` block of a manifest, as written by {@link signAdapterDigest}. */
export interface AdapterSignature {
  algo: 'RSA-PSS-SHA256' | 'ED25519-SHA256'
  pubkey_fingerprint: string
  signature_b64: string
}

/** Signs an adapter digest in the tagged form and returns the manifest's new `signer` block. */
export function signAdapterDigest(
  privateKey: KeyInput,
  sha256Hex: string,
  options: { passphrase?: string } = {},
): AdapterSignature {
  const key = privateKey instanceof KeyObject ? privateKey : loadPrivateKey(privateKey, options.passphrase)
  return {
    algo: algoForKey(key),
    pubkey_fingerprint: keyFingerprint(key),
    signature_b64: signSha256Hex(key, sha256Hex, { tag: ADAPTER_TAG }),
  }
}

/** Why an adapter signature was refused. */
export type AdapterSignatureFailure =
  | 'signature_missing'
  | 'fingerprint_mismatch'
  | 'algo_mismatch'
  | 'signature_invalid'

/** Outcome of {@link verifyAdapterSignature}. */
export interface AdapterSignatureResult {
  ok: boolean
  /** Which form verified (`tagged`, or `raw` in legacy mode). */
  form?: 'tagged' | 'raw'
  reason?: AdapterSignatureFailure
  /** One-line explanation for humans. */
  message: string
  /** Fingerprint of the verifying key. */
  keyFingerprint: string
  /** False when the manifest carried no fingerprint to compare. */
  fingerprintChecked: boolean
}

/** Options of {@link verifyAdapterSignature}. */
export interface VerifyAdapterOptions {
  /** Also accept the original's untagged signatures and free-text fingerprints (legacy). */
  allowUntagged?: boolean
}

/**
 * Checks a manifest's signature block against a public key and the manifest's digest.
 * Expected outcomes are returned as data (`ok`, `reason`); only an unloadable key raises.
 */
export function verifyAdapterSignature(
  publicKey: KeyInput,
  signed: { sha256: string; signature_b64: string; pubkey_fingerprint?: string; algo?: string },
  options: VerifyAdapterOptions = {},
): AdapterSignatureResult {
  const key = loadPublicKey(publicKey)
  const fp = keyFingerprint(key)
  const base = { keyFingerprint: fp, fingerprintChecked: false }
  if (!signed.signature_b64) {
    return {
      ...base,
      ok: false,
      reason: 'signature_missing',
      message: 'manifest has no signature (signer.signature_b64 is empty)',
    }
  }
  const claimed = signed.pubkey_fingerprint ?? ''
  if (claimed !== '') {
    const norm = normalizeFingerprint(claimed)
    if (norm === null ? !options.allowUntagged : norm !== fp) {
      return {
        ...base,
        ok: false,
        reason: 'fingerprint_mismatch',
        message: `manifest fingerprint ${claimed} does not match the public key's ${fp}`,
      }
    }
    base.fingerprintChecked = norm !== null
  }
  const algo = signed.algo ?? ''
  if (algo !== '' && algo !== 'none' && algo !== algoForKey(key)) {
    // The original always wrote RSA-PSS-SHA256, even for Ed25519 keys; tolerate that in legacy mode.
    if (!(options.allowUntagged && algo === 'RSA-PSS-SHA256')) {
      return {
        ...base,
        ok: false,
        reason: 'algo_mismatch',
        message: `manifest algo ${algo} does not match the ${algoForKey(key)} public key`,
      }
    }
  }
  if (verifySha256Hex(key, signed.sha256, signed.signature_b64, { tag: ADAPTER_TAG })) {
    return { ...base, ok: true, form: 'tagged', message: 'signature verified (tagged form)' }
  }
  if (options.allowUntagged && verifySha256Hex(key, signed.sha256, signed.signature_b64)) {
    return { ...base, ok: true, form: 'raw', message: 'signature verified (legacy untagged form)' }
  }
  return {
    ...base,
    ok: false,
    reason: 'signature_invalid',
    message: `signature does not verify over ${ADAPTER_TAG}${signed.sha256.slice(0, 12)}… with key ${fp.slice(0, 16)}…`,
  }
}
