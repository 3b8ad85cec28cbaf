import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalJsonBytes, sha256Hex } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADAPTER_TAG,
  assertFolderStatement,
  buildFolderStatement,
  canonicalStatementBytes,
  FOLDER_TAG,
  readStatementFile,
  STATEMENT_FILENAME,
  signAdapterFolder,
  signFolderStatement,
  signSha256Hex,
  statementDigest,
  verifyFolderStatement,
  writeStatementFile,
} from '../../src/index.js'
import { keyPair } from './fixtures.js'

const MANIFEST = { domain: 'legal', base_model: 'sshleifer/tiny-gpt2', lora: { r: 4, alpha: 8 } }
const manifestBytes = (m: unknown = MANIFEST) => canonicalJsonBytes(m)

let root: string
let n = 0
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'plora-statement-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A folder with weights, a config, a nested file and a plora.yml (which is never a subject). */
async function folder(): Promise<string> {
  const dir = join(root, `a${n++}`)
  await mkdir(join(dir, 'extra'), { recursive: true })
  await writeFile(join(dir, 'adapter_model.safetensors'), Buffer.from('weights-bytes'))
  await writeFile(join(dir, 'adapter_config.json'), '{"lora_alpha": 8, "r": 4}\n')
  await writeFile(join(dir, 'extra/README.md'), 'card\n')
  await writeFile(join(dir, 'plora.yml'), 'domain: legal\n')
  return dir
}

describe.each(['ed25519', 'rsa'] as const)('folder statements (%s)', (type) => {
  const k = () => keyPair('a', type)
  it('signs every file but plora.yml and the sidecar, and verifies', async () => {
    const dir = await folder()
    const { signed, mode } = await signAdapterFolder(dir, k().privateKeyPem, { manifestBytes: manifestBytes() })
    expect(mode).toBe('new')
    expect(signed.statement.subject.map((s) => s.name)).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'extra/README.md',
    ])
    expect(signed.statement.predicate.manifest_sha256).toBe(sha256Hex(manifestBytes()))
    expect(signed.signatures[0]).toMatchObject({
      fingerprint: k().fingerprint,
      algo: type === 'rsa' ? 'RSA-PSS-SHA256' : 'ED25519-SHA256',
    })
    const r = await verifyFolderStatement(dir, { manifestBytes: manifestBytes(), trustedKeys: [k().publicKeyPem] })
    expect(r).toMatchObject({ present: true, ok: true, problems: [] })
    expect(r.quorum?.count).toBe(1)
    expect(r.statementSha256).toBe(statementDigest(signed.statement))
  })
  it('names a changed, a missing and an unlisted file, and a changed manifest field', async () => {
    const dir = await folder()
    await signAdapterFolder(dir, k().privateKeyPem, { manifestBytes: manifestBytes() })
    const opts = { manifestBytes: manifestBytes(), trustedKeys: [k().publicKeyPem] }
    await writeFile(join(dir, 'adapter_config.json'), '{"lora_alpha": 8000, "r": 4}\n')
    let r = await verifyFolderStatement(dir, opts)
    expect(r.problems).toEqual([
      expect.objectContaining({ code: 'SIGNER_STATEMENT_FILE_MISMATCH', file: 'adapter_config.json' }),
    ])
    await rm(join(dir, 'adapter_config.json'))
    await writeFile(join(dir, 'adapter_model.2.safetensors'), 'second weights')
    await writeFile(join(dir, 'extra/hidden.bin'), 'x')
    r = await verifyFolderStatement(dir, opts)
    expect(r.problems.map((p) => [p.code, p.file])).toEqual([
      ['SIGNER_STATEMENT_FILE_MISSING', 'adapter_config.json'],
      ['SIGNER_STATEMENT_FILE_UNLISTED', 'adapter_model.2.safetensors'],
      ['SIGNER_STATEMENT_FILE_UNLISTED', 'extra/hidden.bin'],
    ])
    const dir2 = await folder()
    await signAdapterFolder(dir2, k().privateKeyPem, { manifestBytes: manifestBytes() })
    r = await verifyFolderStatement(dir2, {
      ...opts,
      manifestBytes: manifestBytes({ ...MANIFEST, domain: 'medical', lora: { r: 64, alpha: 8 } }),
    })
    expect(r.problems).toEqual([
      expect.objectContaining({
        code: 'SIGNER_STATEMENT_MANIFEST_MISMATCH',
        file: 'plora.yml',
        fields: ['domain', 'lora.r'],
      }),
    ])
    expect(r.problems[0]?.message).toContain('domain (signed "legal", found "medical")')
    await expect(
      assertFolderStatement(dir2, { ...opts, manifestBytes: manifestBytes({ ...MANIFEST, domain: 'x' }) }),
    ).rejects.toMatchObject({
      code: 'SIGNER_STATEMENT_MANIFEST_MISMATCH',
      details: { file: 'plora.yml', fields: ['domain'] },
    })
  })
  it('refuses another key, a tampered statement and a signature made with another tag', async () => {
    const dir = await folder()
    const { signed } = await signAdapterFolder(dir, k().privateKeyPem, { manifestBytes: manifestBytes() })
    const other = keyPair('other', type)
    let r = await verifyFolderStatement(dir, { manifestBytes: manifestBytes(), trustedKeys: [other.publicKeyPem] })
    expect(r.problems.map((p) => p.code)).toEqual(['SIGNER_STATEMENT_SIGNATURE_INVALID'])
    // an attacker edits the weights and rewrites the statement to match: the signature no longer covers it
    await writeFile(join(dir, 'adapter_model.safetensors'), 'poisoned')
    const forged = structuredClone(signed)
    const s = forged.statement.subject.find((x) => x.name === 'adapter_model.safetensors')!
    s.digest.sha256 = sha256Hex('poisoned')
    s.annotations.size = 8
    const f = forged.statement.predicate.files.find((x) => x.name === 'adapter_model.safetensors')!
    f.sha256 = s.digest.sha256
    f.size = 8
    await writeStatementFile(dir, forged)
    r = await verifyFolderStatement(dir, { manifestBytes: manifestBytes(), trustedKeys: [k().publicKeyPem] })
    expect(r.problems.map((p) => p.code)).toEqual(['SIGNER_STATEMENT_SIGNATURE_INVALID'])
    // the legacy form over the same digest is not a folder signature (domain separation)
    const legacy = signSha256Hex(k().privateKeyPem, statementDigest(signed.statement), { tag: ADAPTER_TAG })
    await writeStatementFile(dir, { ...signed, signatures: [{ ...signed.signatures[0]!, signature_b64: legacy }] })
    await writeFile(join(dir, 'adapter_model.safetensors'), Buffer.from('weights-bytes'))
    r = await verifyFolderStatement(dir, { manifestBytes: manifestBytes(), trustedKeys: [k().publicKeyPem] })
    expect(r.problems.map((p) => p.code)).toEqual(['SIGNER_STATEMENT_SIGNATURE_INVALID'])
  })
})

describe('k-of-n quorum over one statement', () => {
  it('collects signatures from signers in turn and counts distinct trusted keys', async () => {
    const [a, b, c] = [keyPair('a', 'ed25519'), keyPair('b', 'rsa'), keyPair('c', 'ed25519')]
    const dir = await folder()
    const mb = manifestBytes()
    expect((await signAdapterFolder(dir, a.privateKeyPem, { manifestBytes: mb })).mode).toBe('new')
    expect((await signAdapterFolder(dir, b.privateKeyPem, { manifestBytes: mb })).mode).toBe('added')
    expect((await signAdapterFolder(dir, b.privateKeyPem, { manifestBytes: mb })).mode).toBe('replaced')
    expect((await readStatementFile(dir))?.signatures.map((s) => s.fingerprint)).toEqual([a.fingerprint, b.fingerprint])
    const trusted = [a.publicKeyPem, b.publicKeyPem, c.publicKeyPem]
    const v = (quorum: number, extra = {}) =>
      verifyFolderStatement(dir, { manifestBytes: mb, trustedKeys: trusted, quorum, ...extra })
    expect((await v(2)).ok).toBe(true)
    expect((await v(3)).problems.map((p) => p.code)).toEqual(['SIGNER_STATEMENT_SIGNATURE_INVALID'])
    expect((await v(2, { revokedFingerprints: [b.fingerprint] })).ok).toBe(false)
    // the same signature listed twice counts once
    const signed = (await readStatementFile(dir))!
    await writeStatementFile(dir, { ...signed, signatures: [signed.signatures[0]!, signed.signatures[0]!] })
    expect((await v(2)).ok).toBe(false)
  })
  it('starts over when the folder changed between two signers', async () => {
    const [a, b] = [keyPair('a', 'ed25519'), keyPair('b', 'rsa')]
    const dir = await folder()
    await signAdapterFolder(dir, a.privateKeyPem, { manifestBytes: manifestBytes() })
    await writeFile(join(dir, 'adapter_config.json'), '{}')
    const r = await signAdapterFolder(dir, b.privateKeyPem, { manifestBytes: manifestBytes() })
    expect(r.mode).toBe('new')
    expect(r.signed.signatures).toHaveLength(1)
  })
})

describe('presence, policy and malformed sidecars', () => {
  const k = () => keyPair('a', 'ed25519')
  it('an absent statement passes unless required', async () => {
    const dir = await folder()
    const opts = { manifestBytes: manifestBytes(), trustedKeys: [k().publicKeyPem] }
    expect(await verifyFolderStatement(dir, opts)).toMatchObject({ present: false, ok: true })
    await expect(assertFolderStatement(dir, { ...opts, require: true })).rejects.toMatchObject({
      code: 'SIGNER_STATEMENT_MISSING',
      details: { file: STATEMENT_FILENAME },
    })
  })
  it('refuses a sidecar that is not JSON, has unknown fields or unsafe names', async () => {
    const dir = await folder()
    const { signed } = await signAdapterFolder(dir, k().privateKeyPem, { manifestBytes: manifestBytes() })
    const opts = { manifestBytes: manifestBytes(), trustedKeys: [k().publicKeyPem] }
    const bad: unknown[] = [
      'not json',
      JSON.stringify({ ...signed, extra: 1 }),
      JSON.stringify({ ...signed, statement: { ...signed.statement, _type: 'https://in-toto.io/Statement/v0.1' } }),
      JSON.stringify({
        ...signed,
        statement: {
          ...signed.statement,
          subject: [{ name: '../x', digest: { sha256: 'a'.repeat(64) }, annotations: { size: 1 } }],
        },
      }),
      JSON.stringify({ ...signed, signatures: [{ ...signed.signatures[0], algo: 'HMAC' }] }),
    ]
    for (const text of bad) {
      await writeFile(join(dir, STATEMENT_FILENAME), text as string)
      const r = await verifyFolderStatement(dir, opts)
      expect(
        r.problems.map((p) => p.code),
        String(text).slice(0, 60),
      ).toEqual(['SIGNER_STATEMENT_INVALID'])
    }
  })
  it('refuses symlinks when signing and when verifying; excluded names are ignored', async () => {
    const dir = await folder()
    await symlink('/etc/hostname', join(dir, 'link'))
    await expect(signAdapterFolder(dir, k().privateKeyPem, { manifestBytes: manifestBytes() })).rejects.toMatchObject({
      code: 'SIGNER_STATEMENT_FILE_UNSUPPORTED',
      details: { file: 'link' },
    })
    await rm(join(dir, 'link'))
    await signAdapterFolder(dir, k().privateKeyPem, { manifestBytes: manifestBytes() })
    await symlink('adapter_config.json', join(dir, 'link'))
    const opts = { manifestBytes: manifestBytes(), trustedKeys: [k().publicKeyPem] }
    expect((await verifyFolderStatement(dir, opts)).problems).toEqual([
      expect.objectContaining({ code: 'SIGNER_STATEMENT_FILE_UNSUPPORTED', file: 'link' }),
    ])
    await rm(join(dir, 'link'))
    await writeFile(join(dir, 'attestations.jsonl'), '{}\n')
    expect((await verifyFolderStatement(dir, opts)).problems.map((p) => p.file)).toEqual(['attestations.jsonl'])
    expect((await verifyFolderStatement(dir, { ...opts, exclude: ['attestations.jsonl'] })).ok).toBe(true)
  })
})

describe('canonical statement bytes', () => {
  it('are RFC 8785 JSON with the in-toto Statement v1 shape', () => {
    const st = buildFolderStatement(
      [
        { name: 'b', size: 1, sha256: 'b'.repeat(64) },
        { name: 'a', size: 2, sha256: 'a'.repeat(64) },
      ],
      {
        manifestBytes: manifestBytes({ domain: 'legal' }),
      },
    )
    const text = Buffer.from(canonicalStatementBytes(st)).toString('utf8')
    expect(text).toBe(
      `{"_type":"https://in-toto.io/Statement/v1","predicate":{"files":[{"name":"a","sha256":"${'a'.repeat(64)}","size":2},{"name":"b","sha256":"${'b'.repeat(64)}","size":1}],` +
        `"manifest":{"domain":"legal"},"manifest_file":"plora.yml","manifest_sha256":"${sha256Hex('{"domain":"legal"}')}"},` +
        `"predicateType":"https://plora.dev/adapter-folder/v1","subject":[{"annotations":{"size":2},"digest":{"sha256":"${'a'.repeat(64)}"},"name":"a"},` +
        `{"annotations":{"size":1},"digest":{"sha256":"${'b'.repeat(64)}"},"name":"b"}]}`,
    )
    const sig = signFolderStatement(st, keyPair('a', 'ed25519').privateKeyPem)
    expect(FOLDER_TAG).toBe('PLORA|FOLDER|v1|')
    expect(sig.signature_b64).toBe(
      signSha256Hex(keyPair('a', 'ed25519').privateKeyPem, sha256Hex(text), { tag: FOLDER_TAG }),
    )
  })
  it('the written sidecar is parsed back to the same statement', async () => {
    const dir = await folder()
    const { signed } = await signAdapterFolder(dir, keyPair('a', 'ed25519').privateKeyPem, {
      manifestBytes: manifestBytes(),
    })
    expect(await readStatementFile(dir)).toEqual(signed)
    // written atomically: no temporary sibling is left behind
    expect((await readdir(dir)).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'extra',
      'plora.sig.json',
      'plora.yml',
    ])
    expect(JSON.parse(await readFile(join(dir, STATEMENT_FILENAME), 'utf8')).media_type).toBe(
      'application/vnd.plora.folder-statement.v1+json',
    )
  })
})
