/**
 * Signatures over SHA-256 hex digests, exactly as the original signs them (spec core.md §2.1–§2.5).
 *
 * The signed message is the UTF-8 text `tag + sha_hex` (never the raw 32-byte digest).
 * RSA: RSA-PSS, SHA-256, MGF1-SHA-256, maximum salt when signing (350 bytes for a 3072-bit key:
 * emLen − hLen − 2), salt auto-detected when verifying, so signatures with any salt length verify,
 * as with Python `cryptography`'s `PSS.MAX_LENGTH` on verify. Ed25519: pure EdDSA over the same
 * bytes (RFC 8032). The algorithm is chosen from the key type, never by try/catch (`[D-13]`), and
 * the passphrase reaches every path, tagged ones included (`[D-14]`).
 */
import { constants, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { base64ToBytes, bytesToBase64, isSha256Hex } from '@plora/common'
import { SignerError, SignerErrorCode } from './errors.js'
import { type KeyInput, loadPrivateKey, loadPublicKey } from './keys.js'

/** Tag prefixed to an adapter (manifest / tarball) digest before signing. */
export const ADAPTER_TAG = 'PLORA|ADAPTER|v1|'
/** Tag prefixed to a policy file digest before signing. */
export const POLICY_TAG = 'PLORA|POLICY|v1|'

function isRsa(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss'
}

/** Signs arbitrary message text (UTF-8) with the scheme of the key; returns base64. */
export function signMessage(privateKey: KeyInput, message: string, options: { passphrase?: string } = {}): string {
  const key = loadPrivateKey(privateKey, options.passphrase)
  const data = Buffer.from(message, 'utf8')
  const sig = isRsa(key)
    ? cryptoSign('sha256', data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
      })
    : cryptoSign(null, data, key)
  return bytesToBase64(sig)
}

/**
 * Verifies a base64 signature over message text. Returns false for a bad, corrupted or
 * non-canonical-base64 signature; a key that cannot be loaded raises (as in the original).
 */
export function verifyMessage(publicKey: KeyInput, message: string, signatureB64: string): boolean {
  const key = loadPublicKey(publicKey)
  let sig: Uint8Array
  try {
    sig = base64ToBytes(signatureB64, 'signature')
  } catch {
    return false
  }
  if (sig.byteLength === 0) return false
  const data = Buffer.from(message, 'utf8')
  try {
    return isRsa(key)
      ? cryptoVerify(
          'sha256',
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          sig,
        )
      : cryptoVerify(null, data, key, sig)
  } catch {
    // OpenSSL raises on some malformed inputs (e.g. a signature longer than the modulus).
    return false
  }
}

/** Options of {@link signSha256Hex}. */
export interface SignDigestOptions {
  /** Prefix such as {@link ADAPTER_TAG}; omitted = the original's untagged ("raw") form. */
  tag?: string
  /** Passphrase of an encrypted private key. */
  passphrase?: string
}

/**
 * Signs `tag + sha256Hex` and returns the base64 signature.
 *
 * @example
 * const sig = signSha256Hex(privPem, manifest.artifacts.sha256, { tag: ADAPTER_TAG })
 * verifySha256Hex(pubPem, manifest.artifacts.sha256, sig, { tag: ADAPTER_TAG }) // true
 */
export function signSha256Hex(privateKey: KeyInput, sha256Hex: string, options: SignDigestOptions = {}): string {
  if (!isSha256Hex(sha256Hex)) {
    const text = String(sha256Hex as unknown)
    throw new SignerError(
      SignerErrorCode.DigestInvalid,
      `digest to sign must be 64 lowercase hex characters, found ${JSON.stringify(text.slice(0, 80))}`,
      { length: text.length },
    )
  }
  return signMessage(
    privateKey,
    (options.tag ?? '') + sha256Hex,
    options.passphrase ? { passphrase: options.passphrase } : {},
  )
}

/**
 * Verifies a base64 signature over `tag + sha256Hex` (default tag: none, the raw form). Never
 * raises for a bad signature; raises only when the public key cannot be loaded.
 */
export function verifySha256Hex(
  publicKey: KeyInput,
  sha256Hex: string,
  signatureB64: string,
  options: { tag?: string } = {},
): boolean {
  return verifyMessage(publicKey, (options.tag ?? '') + sha256Hex, signatureB64)
}
