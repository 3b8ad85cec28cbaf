import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADAPTER_TAG,
  POLICY_TAG,
  signPolicyFile,
  signSha256Hex,
  verifyPolicyBytes,
  verifyPolicyFile,
} from '../../src/index.js'
import { keyPair } from './fixtures.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-policy-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe.each(['rsa', 'ed25519'] as const)('policy signing (%s)', (type) => {
  const pair = keyPair('policy', type)

  it('verifies the signed file and fails once the file changes (test_policy_signing)', async () => {
    const path = join(dir, `policy-${type}.json`)
    await writeFile(path, JSON.stringify({ min_reputation: 0.5, quorum_required: 2 }))
    const sig = await signPolicyFile(path, pair.privateKeyPem)
    expect(await verifyPolicyFile(path, pair.publicKeyPem, sig)).toBe(true)
    // Exact bytes, no canonicalisation: even whitespace changes the digest.
    await writeFile(path, JSON.stringify({ min_reputation: 0.5, quorum_required: 2 }, null, 1))
    expect(await verifyPolicyFile(path, pair.publicKeyPem, sig)).toBe(false)
  })

  it('is the tagged form POLICY_TAG + sha256(bytes), distinct from the adapter tag', () => {
    const bytes = Buffer.from('{"a": 1}')
    const asAdapter = signSha256Hex(pair.privateKeyPem, sha256Hex(bytes), { tag: ADAPTER_TAG })
    expect(verifyPolicyBytes(bytes, pair.publicKeyPem, asAdapter)).toBe(false)
    const asPolicy = signSha256Hex(pair.privateKeyPem, sha256Hex(bytes), { tag: POLICY_TAG })
    expect(verifyPolicyBytes(bytes, pair.publicKeyPem, asPolicy)).toBe(true)
  })

  it('reports an unreadable policy file', async () => {
    await expect(signPolicyFile(join(dir, 'missing.json'), pair.privateKeyPem)).rejects.toMatchObject({
      code: 'SIGNER_POLICY_READ_FAILED',
    })
  })
})
