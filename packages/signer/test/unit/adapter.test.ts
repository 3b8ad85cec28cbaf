import { sha256Hex } from '@plora/common'
import { describe, expect, it } from 'vitest'
import { ADAPTER_TAG, signAdapterDigest, signSha256Hex, verifyAdapterSignature } from '../../src/index.js'
import { flipBit, keyPair } from './fixtures.js'

const SHA = sha256Hex('adapter bytes')

describe.each(['rsa', 'ed25519'] as const)('adapter signature form (%s)', (type) => {
  const pair = keyPair('adapter', type)

  it('signs tagged and writes the real fingerprint and algo; verify accepts it', () => {
    const s = signAdapterDigest(pair.privateKeyPem, SHA)
    expect(s.algo).toBe(type === 'rsa' ? 'RSA-PSS-SHA256' : 'ED25519-SHA256')
    expect(s.pubkey_fingerprint).toBe(pair.fingerprint)
    const r = verifyAdapterSignature(pair.publicKeyPem, { sha256: SHA, ...s })
    expect(r).toMatchObject({ ok: true, form: 'tagged', fingerprintChecked: true, keyFingerprint: pair.fingerprint })
  })

  it('fails on another digest, a flipped signature bit, or another key', () => {
    const s = signAdapterDigest(pair.privateKeyPem, SHA)
    expect(verifyAdapterSignature(pair.publicKeyPem, { ...s, sha256: sha256Hex('other') }).reason).toBe(
      'signature_invalid',
    )
    expect(
      verifyAdapterSignature(pair.publicKeyPem, { ...s, sha256: SHA, signature_b64: flipBit(s.signature_b64, 5) })
        .reason,
    ).toBe('signature_invalid')
    const other = keyPair('adapter-other', type)
    expect(verifyAdapterSignature(other.publicKeyPem, { sha256: SHA, ...s }).reason).toBe('fingerprint_mismatch')
    expect(verifyAdapterSignature(other.publicKeyPem, { sha256: SHA, ...s, pubkey_fingerprint: '' }).reason).toBe(
      'signature_invalid',
    )
  })

  it("accepts the original's untagged form only with allowUntagged ([D-02])", () => {
    const raw = signSha256Hex(pair.privateKeyPem, SHA)
    const signed = { sha256: SHA, signature_b64: raw, pubkey_fingerprint: '', algo: 'RSA-PSS-SHA256' }
    const strict = verifyAdapterSignature(pair.publicKeyPem, signed)
    expect(strict.ok).toBe(false)
    expect(strict.reason).toBe(type === 'rsa' ? 'signature_invalid' : 'algo_mismatch')
    expect(verifyAdapterSignature(pair.publicKeyPem, signed, { allowUntagged: true })).toMatchObject({
      ok: true,
      form: 'raw',
    })
  })

  it('accepts an empty fingerprint (what the original leaves) but reports it unchecked', () => {
    const s = signAdapterDigest(pair.privateKeyPem, SHA)
    const r = verifyAdapterSignature(pair.publicKeyPem, { ...s, sha256: SHA, pubkey_fingerprint: '' })
    expect(r).toMatchObject({ ok: true, fingerprintChecked: false })
  })

  it('accepts the SHA256:-prefixed spelling, refuses free text unless in legacy mode', () => {
    const s = signAdapterDigest(pair.privateKeyPem, SHA)
    expect(
      verifyAdapterSignature(pair.publicKeyPem, { ...s, sha256: SHA, pubkey_fingerprint: `SHA256:${pair.fingerprint}` })
        .ok,
    ).toBe(true)
    const free = { ...s, sha256: SHA, pubkey_fingerprint: 'demo-signer' }
    expect(verifyAdapterSignature(pair.publicKeyPem, free).reason).toBe('fingerprint_mismatch')
    expect(verifyAdapterSignature(pair.publicKeyPem, free, { allowUntagged: true }).ok).toBe(true)
  })

  it('reports a missing signature', () => {
    expect(verifyAdapterSignature(pair.publicKeyPem, { sha256: SHA, signature_b64: '', algo: 'none' }).reason).toBe(
      'signature_missing',
    )
  })

  it('signs exactly TAG + sha', () => {
    const s = signAdapterDigest(pair.privateKeyPem, SHA)
    expect(verifyAdapterSignature(pair.publicKeyPem, { ...s, sha256: SHA }).ok).toBe(true)
    expect(signSha256Hex.length).toBeGreaterThan(0)
    expect(ADAPTER_TAG).toBe('PLORA|ADAPTER|v1|')
  })
})
