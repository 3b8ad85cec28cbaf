import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { describe, expect, it } from 'vitest'
import {
  ADAPTER_TAG,
  keyFingerprint,
  POLICY_TAG,
  signMessage,
  signSha256Hex,
  verifyAdapterSignature,
  verifyMessage,
  verifyPolicyBytes,
  verifyQuorum,
  verifySha256Hex,
} from '../../src/index.js'

interface Sig {
  key: string
  form: string
  message: string
  signature_b64: string
  python_verified?: boolean
  python_rejects_other_message?: boolean
}
const V = JSON.parse(readFileSync(join(import.meta.dirname, '../golden/python-interop.json'), 'utf8')) as {
  env: { cryptography: string }
  digest: string
  other_digest: string
  policy_text: string
  python_keys: Record<string, { private_pem: string; public_pem: string; fingerprint: string; passphrase?: string }>
  python_signatures: Sig[]
  plora_made: {
    keys: Record<string, { public_pem: string; fingerprint: string }>
    signatures: Sig[]
    fingerprints: Record<string, { plora: string; python: string; python_from_private: string }>
  }
}
const TAGS: Record<string, string> = { raw: '', adapter: ADAPTER_TAG, policy: POLICY_TAG }

describe(`signatures made by Python cryptography ${V.env.cryptography} the original's way`, () => {
  it('has the vectors it claims (RSA and Ed25519 × raw, adapter-tagged, policy-tagged)', () => {
    expect(V.python_signatures.map((s) => `${s.key}/${s.form}`).sort()).toEqual(
      ['ed25519/adapter', 'ed25519/policy', 'ed25519/raw', 'rsa/adapter', 'rsa/policy', 'rsa/raw'].sort(),
    )
  })

  it.each(V.python_signatures.map((s) => [`${s.key}/${s.form}`, s] as const))('%s verifies in plora', (_n, s) => {
    const pub = V.python_keys[s.key]!.public_pem
    const tag = TAGS[s.form]!
    const digest = s.message.slice(tag.length)
    expect(s.message.startsWith(tag)).toBe(true)
    expect(verifySha256Hex(pub, digest, s.signature_b64, { tag })).toBe(true)
    // …and only over that exact text: another digest, or the other form, fails.
    expect(verifySha256Hex(pub, V.other_digest, s.signature_b64, { tag })).toBe(false)
    expect(verifySha256Hex(pub, digest, s.signature_b64, { tag: tag === '' ? ADAPTER_TAG : '' })).toBe(false)
    if (s.key === 'rsa') expect(Buffer.from(s.signature_b64, 'base64')).toHaveLength(384)
  })

  it('Python policy signatures verify over the exact policy bytes', () => {
    for (const key of ['rsa', 'ed25519']) {
      const s = V.python_signatures.find((x) => x.key === key && x.form === 'policy')!
      expect(s.message).toBe(POLICY_TAG + sha256Hex(V.policy_text))
      expect(verifyPolicyBytes(Buffer.from(V.policy_text), V.python_keys[key]!.public_pem, s.signature_b64)).toBe(true)
    }
  })

  it('plora computes the same fingerprints as Python for Python-made keys', () => {
    for (const [name, k] of Object.entries(V.python_keys)) {
      expect(keyFingerprint(k.public_pem), name).toBe(k.fingerprint)
    }
  })

  it('Ed25519 signatures are byte-identical to Python for the same key and text', () => {
    const k = V.python_keys.ed25519!
    for (const s of V.python_signatures.filter((x) => x.key === 'ed25519')) {
      expect(signMessage(k.private_pem, s.message)).toBe(s.signature_b64)
    }
  })

  it("loads Python's encrypted PKCS#8 key with its passphrase and signs verifiably", () => {
    const k = V.python_keys.rsa_encrypted!
    const sig = signSha256Hex(k.private_pem, V.digest, { tag: ADAPTER_TAG, passphrase: k.passphrase! })
    expect(verifySha256Hex(V.python_keys.rsa!.public_pem, V.digest, sig, { tag: ADAPTER_TAG })).toBe(true)
    expect(() => signSha256Hex(k.private_pem, V.digest)).toThrow(
      expect.objectContaining({ code: 'SIGNER_KEY_PASSPHRASE_INVALID' }),
    )
  })

  it("accepts an adapter signed by the original's sign script (tagged, empty fingerprint) in plora verify", () => {
    const s = V.python_signatures.find((x) => x.key === 'rsa' && x.form === 'adapter')!
    const r = verifyAdapterSignature(V.python_keys.rsa!.public_pem, {
      sha256: V.digest,
      signature_b64: s.signature_b64,
      pubkey_fingerprint: '',
      algo: 'RSA-PSS-SHA256',
    })
    expect(r).toMatchObject({ ok: true, form: 'tagged', fingerprintChecked: false })
  })

  it('Python adapter signatures from two keys meet a quorum of 2', () => {
    const sigs = V.python_signatures.filter((x) => x.form === 'adapter').map((x) => x.signature_b64)
    const keys = [
      V.python_keys.rsa!.public_pem,
      V.python_keys.ed25519!.public_pem,
      V.python_keys.rsa_encrypted!.public_pem,
    ]
    expect(verifyQuorum(V.digest, sigs, keys, 2)).toMatchObject({ met: true, count: 2 })
  })
})

describe('signatures made by plora, as verified by Python (recorded in the vectors)', () => {
  const made = V.plora_made.signatures.filter((s) => s.form !== 'raw-salt32')

  it('Python verified every plora-made signature and rejected them over another message', () => {
    expect(made).toHaveLength(6)
    for (const s of made) {
      expect(s.python_verified, `${s.key}/${s.form}`).toBe(true)
      expect(s.python_rejects_other_message, `${s.key}/${s.form}`).toBe(true)
    }
  })

  it('plora still verifies them, and its fingerprints equal the ones Python computed', () => {
    for (const s of made)
      expect(verifyMessage(V.plora_made.keys[s.key]!.public_pem, s.message, s.signature_b64)).toBe(true)
    for (const [name, f] of Object.entries(V.plora_made.fingerprints)) {
      expect(f.plora, name).toBe(f.python)
      expect(f.python_from_private, name).toBe(f.python)
      expect(keyFingerprint(V.plora_made.keys[name]!.public_pem)).toBe(f.python)
    }
  })
})
