import { generateKeyPair, type KeyPairPem } from '../../src/index.js'

// RSA-3072 generation costs ~0.1–1 s; each test file generates what it needs once.
const cache = new Map<string, KeyPairPem>()

/** A key pair shared within one test file (by label). */
export function keyPair(label: string, type: 'rsa' | 'ed25519' = 'rsa'): KeyPairPem {
  const k = `${type}:${label}`
  let p = cache.get(k)
  if (!p) {
    p = generateKeyPair({ type })
    cache.set(k, p)
  }
  return p
}

/** Flips one bit of a base64 signature's bytes and re-encodes it (stays valid base64). */
export function flipBit(sigB64: string, byte = 0, bit = 0): string {
  const b = Buffer.from(sigB64, 'base64')
  b[byte % b.length]! ^= 1 << bit
  return b.toString('base64')
}
