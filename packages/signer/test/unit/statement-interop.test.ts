/**
 * Golden interop vector for folder statements (test/golden/statement-interop.json, made by
 * scripts/golden/statement-plora-made.mjs + statement_vectors.py): Python built the same in-toto
 * statement bytes from the files and the YAML, verified plora's signatures and signed the same
 * message itself. This test needs no Python: it checks plora against what Python recorded.
 */
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildFolderStatement,
  canonicalStatementBytes,
  FOLDER_TAG,
  type FolderStatement,
  STATEMENT_MEDIA_TYPE,
  type StatementSignature,
  signFolderStatement,
  statementDigest,
  verifyFolderStatement,
  writeStatementFile,
} from '../../src/index.js'

const v = JSON.parse(readFileSync(join(import.meta.dirname, '../golden/statement-interop.json'), 'utf8')) as {
  files: Record<string, string>
  manifest_canonical: string
  statement: FolderStatement
  python_statement_canonical: string
  statement_sha256: string
  message: string
  keys: Record<'rsa' | 'ed25519', { public_pem: string; private_pem: string; fingerprint: string }>
  plora_signatures: Array<StatementSignature & { key: 'rsa' | 'ed25519' }>
  python_signatures: Array<StatementSignature & { key: 'rsa' | 'ed25519' }>
  python_verdicts: Array<{ key: string; python_verified: boolean }>
}
const manifestBytes = new Uint8Array(Buffer.from(v.manifest_canonical, 'utf8'))
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-statement-golden-'))
  for (const [name, b64] of Object.entries(v.files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), Buffer.from(b64, 'base64'))
  }
  await writeFile(join(dir, 'plora.yml'), 'not read by the signer\n')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('folder statement golden vector (Python cryptography / PyYAML)', () => {
  it('plora builds the statement bytes Python built from the same files and manifest', () => {
    const files = Object.entries(v.files).map(([name, b64]) => {
      const b = Buffer.from(b64, 'base64')
      return { name, size: b.length, sha256: sha256Hex(b) }
    })
    const st = buildFolderStatement(files, { manifestBytes })
    expect(Buffer.from(canonicalStatementBytes(st)).toString('utf8')).toBe(v.python_statement_canonical)
    expect(statementDigest(st)).toBe(v.statement_sha256)
    expect(FOLDER_TAG + v.statement_sha256).toBe(v.message)
  })
  it('Python verified both plora signatures, and plora verifies the 2 Python-made ones (2-of-2 quorum)', async () => {
    expect(v.python_verdicts).toEqual([
      { key: 'rsa', python_verified: true },
      { key: 'ed25519', python_verified: true },
    ])
    await writeStatementFile(dir, {
      media_type: STATEMENT_MEDIA_TYPE,
      statement: v.statement,
      signatures: v.python_signatures.map(({ algo, fingerprint, signature_b64 }) => ({
        algo,
        fingerprint,
        signature_b64,
      })),
    })
    const r = await verifyFolderStatement(dir, {
      manifestBytes,
      trustedKeys: [v.keys.rsa.public_pem, v.keys.ed25519.public_pem],
      quorum: 2,
    })
    expect(r.problems).toEqual([])
    expect(r.quorum?.count).toBe(2)
  })
  it("plora's Ed25519 signature equals Python's (deterministic EdDSA over the same message)", () => {
    const py = v.python_signatures.find((s) => s.key === 'ed25519')!
    expect(signFolderStatement(v.statement, v.keys.ed25519.private_pem).signature_b64).toBe(py.signature_b64)
  })
})
