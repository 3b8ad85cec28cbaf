import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  aggregateSignatures,
  creditSignature,
  POLICY_TAG,
  parseAggregate,
  readKeyFile,
  signSha256Hex,
  toTrustedKeys,
  verifyAggregate,
  verifyQuorum,
} from '../../src/index.js'
import { keyPair } from './fixtures.js'

const SHA = sha256Hex('artefact')
const OTHER = sha256Hex('another artefact')
const [k0, k1, k2] = [keyPair('q0'), keyPair('q1', 'ed25519'), keyPair('q2')]
const tagged = (k: typeof k0, sha = SHA) => signSha256Hex(k.privateKeyPem, sha, { tag: 'PLORA|ADAPTER|v1|' })

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-quorum-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('k-of-n quorum', () => {
  it('is met by two valid signatures from two distinct keys', () => {
    const r = verifyQuorum(SHA, [tagged(k0), tagged(k1)], [k0.publicKeyPem, k1.publicKeyPem, k2.publicKeyPem], 2)
    expect(r).toMatchObject({ met: true, count: 2 })
    expect(r.credited.map((c) => c.fingerprint)).toEqual([k0.fingerprint, k1.fingerprint])
  })

  it('is NOT met by one key presented twice via two file paths ([D-18])', async () => {
    const a = join(dir, 'key-a.pem')
    const b = join(dir, 'copy', 'key-b.pem')
    await writeFile(a, k0.publicKeyPem)
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'copy'), { recursive: true }))
    await writeFile(b, await readFile(a))
    const keys = [
      { key: await readKeyFile(a), label: a },
      { key: await readKeyFile(b), label: b },
    ]
    expect(toTrustedKeys(keys)).toHaveLength(1)
    // Two different (randomised PSS) signatures by the same key: the key is credited once.
    const r = verifyQuorum(SHA, [tagged(k0), tagged(k0)], keys, 2)
    expect(r).toMatchObject({ met: false, count: 1 })
    expect(r.ignored).toEqual([{ index: 1, reason: 'key_already_credited', fingerprint: k0.fingerprint }])
  })

  it('is NOT met by the same signature repeated', () => {
    const s = tagged(k0)
    const r = verifyQuorum(SHA, [s, s, ` ${s}`], [k0.publicKeyPem, k1.publicKeyPem], 2)
    expect(r).toMatchObject({ met: false, count: 1 })
    expect(r.ignored.map((i) => i.reason)).toEqual(['duplicate_signature', 'duplicate_signature'])
  })

  it('is NOT met when one of the two keys is revoked (by fingerprint)', () => {
    const sigs = [tagged(k0), tagged(k1)]
    const keys = [k0.publicKeyPem, k1.publicKeyPem]
    expect(verifyQuorum(SHA, sigs, keys, 2).met).toBe(true)
    const r = verifyQuorum(SHA, sigs, keys, 2, { revokedFingerprints: [`SHA256:${k1.fingerprint}`] })
    expect(r).toMatchObject({ met: false, count: 1 })
    expect(r.ignored).toEqual([{ index: 1, reason: 'revoked_key', fingerprint: k1.fingerprint }])
  })

  it('is NOT met when a signature covers another digest or another tag', () => {
    const keys = [k0.publicKeyPem, k1.publicKeyPem]
    const other = verifyQuorum(SHA, [tagged(k0), tagged(k1, OTHER)], keys, 2)
    expect(other).toMatchObject({ met: false, count: 1 })
    expect(other.ignored).toEqual([{ index: 1, reason: 'no_trusted_key' }])
    const policyTagged = signSha256Hex(k1.privateKeyPem, SHA, { tag: POLICY_TAG })
    expect(verifyQuorum(SHA, [tagged(k0), policyTagged], keys, 2).met).toBe(false)
  })

  it('does not count untrusted keys', () => {
    expect(verifyQuorum(SHA, [tagged(k0), tagged(k2)], [k0.publicKeyPem, k1.publicKeyPem], 2).met).toBe(false)
  })

  it('counts untagged signatures only with allowUntagged', () => {
    const raw = [signSha256Hex(k0.privateKeyPem, SHA), signSha256Hex(k1.privateKeyPem, SHA)]
    const keys = [k0.publicKeyPem, k1.publicKeyPem]
    expect(verifyQuorum(SHA, raw, keys, 2).met).toBe(false)
    const r = verifyQuorum(SHA, raw, keys, 2, { allowUntagged: true })
    expect(r.met).toBe(true)
    expect(r.credited.map((c) => c.form)).toEqual(['raw', 'raw'])
  })

  it('treats quorum ≤ 0 as met and rejects a non-integer quorum', () => {
    expect(verifyQuorum(SHA, [], [], 0).met).toBe(true)
    expect(() => verifyQuorum(SHA, [], [], 1.5)).toThrow(expect.objectContaining({ code: 'SIGNER_QUORUM_INVALID' }))
  })
})

describe('creditSignature (the one crediting rule of every quorum)', () => {
  const keys = toTrustedKeys([k0.publicKeyPem, k1.publicKeyPem])
  it('credits the first uncredited key, then reports the key as already credited', () => {
    const credited = new Set<string>()
    expect(creditSignature(keys, SHA, tagged(k1), credited, new Set())).toEqual({
      kind: 'credited',
      fingerprint: k1.fingerprint,
      form: 'tagged',
    })
    expect(creditSignature(keys, SHA, tagged(k1), credited, new Set())).toEqual({
      kind: 'key_already_credited',
      fingerprint: k1.fingerprint,
    })
    expect([...credited]).toEqual([k1.fingerprint])
  })
  it('never credits a revoked key, a foreign key, another digest, or a raw signature unless allowed', () => {
    const credited = new Set<string>()
    expect(creditSignature(keys, SHA, tagged(k0), credited, new Set([k0.fingerprint]))).toEqual({
      kind: 'revoked_key',
      fingerprint: k0.fingerprint,
    })
    expect(creditSignature(keys, SHA, tagged(k2), credited, new Set()).kind).toBe('no_trusted_key')
    expect(creditSignature(keys, SHA, tagged(k0, OTHER), credited, new Set()).kind).toBe('no_trusted_key')
    const raw = signSha256Hex(k0.privateKeyPem, SHA)
    expect(creditSignature(keys, SHA, raw, credited, new Set()).kind).toBe('no_trusted_key')
    expect(creditSignature(keys, SHA, raw, credited, new Set(), { allowUntagged: true })).toMatchObject({
      kind: 'credited',
      form: 'raw',
    })
    expect(credited.size).toBe(1)
  })
})

describe("the original's aggregate format", () => {
  it('is a JSON list with Python separators, read back unchanged', () => {
    const agg = aggregateSignatures(['abc=', 'def='])
    expect(agg).toBe('["abc=", "def="]')
    expect(parseAggregate(agg)).toEqual(['abc=', 'def='])
    expect(() => parseAggregate('{"a":1}')).toThrow(expect.objectContaining({ code: 'SIGNER_AGGREGATE_INVALID' }))
    expect(() => parseAggregate('[1]')).toThrow(expect.objectContaining({ code: 'SIGNER_AGGREGATE_INVALID' }))
  })

  it('test_threshold_sigs: an aggregate of two raw signatures meets quorum 2 and fails 3 (legacy mode)', () => {
    const sigs = [k0, k1, k2].map((k) => signSha256Hex(k.privateKeyPem, SHA))
    const keys = [k0, k1, k2].map((k) => k.publicKeyPem)
    const agg = aggregateSignatures(sigs.slice(0, 2))
    expect(verifyAggregate(agg, SHA, keys, 2, { allowUntagged: true })).toBe(true)
    expect(verifyAggregate(agg, SHA, keys, 3, { allowUntagged: true })).toBe(false)
    expect(verifyAggregate('not json', SHA, keys, 1)).toBe(false)
    expect(verifyAggregate('not json', SHA, keys, 0)).toBe(true)
  })
})
