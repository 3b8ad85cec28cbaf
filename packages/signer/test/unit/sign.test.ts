import {
  constants,
  createHash,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  generateKeyPairSync,
} from 'node:crypto'
import { sha256Hex } from '@plora/common'
import { describe, expect, it } from 'vitest'
import {
  ADAPTER_TAG,
  algoForKey,
  generateKeyPair,
  keyFingerprint,
  loadPrivateKey,
  normalizeFingerprint,
  POLICY_TAG,
  publicKeyPem,
  RSA_MODULUS_BITS,
  signMessage,
  signSha256Hex,
  verifySha256Hex,
} from '../../src/index.js'
import { flipBit, keyPair } from './fixtures.js'

const A64 = 'a'.repeat(64)
const B64HEX = 'b'.repeat(64)

describe.each(['rsa', 'ed25519'] as const)('%s signatures over hex digests', (type) => {
  const pair = keyPair('main', type)

  it('verifies its own signature and returns false (not an exception) for another digest (test_signer)', () => {
    const sig = signSha256Hex(pair.privateKeyPem, A64)
    expect(verifySha256Hex(pair.publicKeyPem, A64, sig)).toBe(true)
    expect(verifySha256Hex(pair.publicKeyPem, B64HEX, sig)).toBe(false)
  })

  it('fails after any single bit flip in the signature (test_signatures, without the 1/256 flake [D-43])', () => {
    const sha = sha256Hex('hello')
    const sig = signSha256Hex(pair.privateKeyPem, sha)
    const n = Buffer.from(sig, 'base64').length
    for (const byte of [0, 1, n >> 1, n - 1]) {
      for (const bit of [0, 7])
        expect(verifySha256Hex(pair.publicKeyPem, sha, flipBit(sig, byte, bit)), `${byte}:${bit}`).toBe(false)
    }
  })

  it('keeps the tagged forms apart from each other and from the raw form', () => {
    const sha = sha256Hex('payload')
    const tagged = signSha256Hex(pair.privateKeyPem, sha, { tag: ADAPTER_TAG })
    expect(verifySha256Hex(pair.publicKeyPem, sha, tagged, { tag: ADAPTER_TAG })).toBe(true)
    expect(verifySha256Hex(pair.publicKeyPem, sha, tagged)).toBe(false)
    expect(verifySha256Hex(pair.publicKeyPem, sha, tagged, { tag: POLICY_TAG })).toBe(false)
    // The tagged form is exactly a signature over the text TAG + sha.
    expect(verifySha256Hex(pair.publicKeyPem, `${ADAPTER_TAG}${sha}`, tagged)).toBe(true)
  })

  it('rejects another key, bad base64, and empty signatures with false', () => {
    const other = keyPair('other', type)
    const sig = signSha256Hex(pair.privateKeyPem, A64)
    expect(verifySha256Hex(other.publicKeyPem, A64, sig)).toBe(false)
    expect(verifySha256Hex(pair.publicKeyPem, A64, `${sig.slice(0, -4)}!!!!`)).toBe(false)
    expect(verifySha256Hex(pair.publicKeyPem, A64, sig.replace(/=+$/, ''))).toBe(!sig.endsWith('='))
    expect(verifySha256Hex(pair.publicKeyPem, A64, '')).toBe(false)
    expect(verifySha256Hex(pair.publicKeyPem, A64, 'AAAA')).toBe(false)
  })

  it('names the algorithm after the key', () => {
    expect(algoForKey(pair.publicKeyPem)).toBe(type === 'rsa' ? 'RSA-PSS-SHA256' : 'ED25519-SHA256')
  })
})

describe('RSA-PSS parameters', () => {
  const pair = keyPair('main')

  it('generates 3072-bit keys and 384-byte signatures (512 base64 chars)', () => {
    expect(createPublicKey(pair.publicKeyPem).asymmetricKeyDetails?.modulusLength).toBe(RSA_MODULUS_BITS)
    const sig = signSha256Hex(pair.privateKeyPem, A64)
    expect(sig).toHaveLength(512)
    expect(Buffer.from(sig, 'base64')).toHaveLength(384)
  })

  it('signs with the maximum salt (350 bytes): the signature verifies with exactly saltLength 350', () => {
    const sig = Buffer.from(signSha256Hex(pair.privateKeyPem, A64), 'base64')
    const key = createPublicKey(pair.publicKeyPem)
    const v = (saltLength: number) =>
      cryptoVerify('sha256', Buffer.from(A64), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, sig)
    expect(v(350)).toBe(true)
    expect(v(32)).toBe(false)
  })

  it('auto-detects the salt on verify: a salt-32 signature verifies too', () => {
    const sig = cryptoSign('sha256', Buffer.from(A64), {
      key: loadPrivateKey(pair.privateKeyPem),
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    })
    expect(verifySha256Hex(pair.publicKeyPem, A64, sig.toString('base64'))).toBe(true)
  })

  it('is randomised (two signatures differ) while Ed25519 is deterministic', () => {
    expect(signSha256Hex(pair.privateKeyPem, A64)).not.toBe(signSha256Hex(pair.privateKeyPem, A64))
    const ed = keyPair('main', 'ed25519')
    expect(signSha256Hex(ed.privateKeyPem, A64)).toBe(signSha256Hex(ed.privateKeyPem, A64))
  })
})

describe('keys', () => {
  it('fingerprints are SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex, same from either half', () => {
    for (const type of ['rsa', 'ed25519'] as const) {
      const p = keyPair('main', type)
      const der = createPublicKey(p.publicKeyPem).export({ type: 'spki', format: 'der' })
      const expected = createHash('sha256').update(der).digest('hex')
      expect(keyFingerprint(p.publicKeyPem)).toBe(expected)
      expect(keyFingerprint(p.privateKeyPem)).toBe(expected)
      expect(p.fingerprint).toBe(expected)
      expect(expected).toMatch(/^[0-9a-f]{64}$/)
    }
  })

  it('gives one fingerprint for one RSA key in PKCS#1 and SPKI PEM spellings', () => {
    const p = keyPair('main')
    const pkcs1 = createPublicKey(p.publicKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY')
    expect(keyFingerprint(pkcs1)).toBe(p.fingerprint)
    expect(publicKeyPem(p.privateKeyPem)).toBe(p.publicKeyPem)
  })

  it('normalises manifest fingerprints (hex, SHA256: prefix) and refuses free text', () => {
    const fp = keyPair('main').fingerprint
    expect(normalizeFingerprint(fp)).toBe(fp)
    expect(normalizeFingerprint(`SHA256:${fp.toUpperCase()}`)).toBe(fp)
    expect(normalizeFingerprint('demo-signer')).toBeNull()
    expect(normalizeFingerprint('SHA256:ab12')).toBeNull()
  })

  it('encrypts the private key with a passphrase; signing needs it', () => {
    const p = generateKeyPair({ type: 'ed25519', passphrase: 'correct horse' })
    expect(p.privateKeyPem).toContain('BEGIN ENCRYPTED PRIVATE KEY')
    const sig = signSha256Hex(p.privateKeyPem, A64, { passphrase: 'correct horse', tag: ADAPTER_TAG })
    expect(verifySha256Hex(p.publicKeyPem, A64, sig, { tag: ADAPTER_TAG })).toBe(true)
    expect(() => signSha256Hex(p.privateKeyPem, A64)).toThrow(
      expect.objectContaining({ code: 'SIGNER_KEY_PASSPHRASE_INVALID' }),
    )
    expect(() => signSha256Hex(p.privateKeyPem, A64, { passphrase: 'wrong' })).toThrow(
      expect.objectContaining({ code: 'SIGNER_KEY_PASSPHRASE_INVALID' }),
    )
  })

  it('raises for unusable keys and digests instead of returning false', () => {
    expect(() => verifySha256Hex('not a key', A64, 'AAAA')).toThrow(
      expect.objectContaining({ code: 'SIGNER_KEY_INVALID' }),
    )
    expect(() => signSha256Hex(keyPair('main').publicKeyPem, A64)).toThrow(
      expect.objectContaining({ code: 'SIGNER_KEY_INVALID' }),
    )
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expect(() => signMessage(ec.privateKey, 'x')).toThrow(expect.objectContaining({ code: 'SIGNER_KEY_UNSUPPORTED' }))
    expect(() => signSha256Hex(keyPair('main').privateKeyPem, 'A'.repeat(64))).toThrow(
      expect.objectContaining({ code: 'SIGNER_DIGEST_INVALID' }),
    )
    expect(() => signSha256Hex(keyPair('main').privateKeyPem, `${ADAPTER_TAG}${A64}`)).toThrow(
      expect.objectContaining({ code: 'SIGNER_DIGEST_INVALID' }),
    )
  })
})
