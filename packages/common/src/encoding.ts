/** Strict hex and base64 codecs: malformed input is an error, never silently truncated. */
import { CommonError, CommonErrorCode } from './errors.js'

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Lowercase hex of bytes. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Bytes of an even-length hex string; anything else raises `COMMON_ENCODING_INVALID`. */
export function hexToBytes(hex: string, what = 'hex string'): Uint8Array {
  if (!HEX_RE.test(hex)) {
    throw new CommonError(CommonErrorCode.EncodingInvalid, `${what} is not valid hex (expected pairs of 0-9a-f)`, {
      length: hex.length,
    })
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** True for a lowercase 64-character SHA-256 hex digest. */
export function isSha256Hex(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{64}$/.test(s)
}

/** Standard base64 of bytes (with padding). */
export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/**
 * Bytes of canonical, padded standard base64. Node's own decoder skips junk characters and
 * accepts missing padding; signatures must not, so the text is checked first and re-encoded.
 */
export function base64ToBytes(b64: string, what = 'base64 string'): Uint8Array {
  const text = b64.trim()
  if (!BASE64_RE.test(text)) {
    throw new CommonError(CommonErrorCode.EncodingInvalid, `${what} is not canonical base64`, { length: text.length })
  }
  const bytes = Buffer.from(text, 'base64')
  if (bytes.toString('base64') !== text) {
    throw new CommonError(CommonErrorCode.EncodingInvalid, `${what} is not canonical base64 (non-zero padding bits)`, {
      length: text.length,
    })
  }
  return new Uint8Array(bytes)
}
