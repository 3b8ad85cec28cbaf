import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { appendAuditRecord, auditHeadPath, generateKeyPair } from '@plora/signer'
import { afterAll, describe, expect, it } from 'vitest'
import { runPlora } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'plora-cli-audit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

async function log(records: number, signingKey?: string): Promise<string> {
  const path = join(dir, `audit-${n++}.jsonl`)
  for (let i = 0; i < records; i++) {
    await appendAuditRecord(
      path,
      { plasmid_id: `p-${i}`, sha256: '0'.repeat(64), domain: 'legal', passed: true, reasons: [] },
      signingKey ? { signingKey } : {},
    )
  }
  return path
}

describe('plora audit verify', () => {
  it('prints OK for an anchored log and names the broken line after the last line is deleted', async () => {
    const path = await log(3)
    const ok = runPlora(['audit', 'verify', path])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^OK: 3 records, head [0-9a-f]{64} \(anchored\)/)
    const lines = readFileSync(path, 'utf8').split('\n')
    writeFileSync(path, `${lines.slice(0, 2).join('\n')}\n`)
    const bad = runPlora(['audit', 'verify', path])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/BROKEN at line 3: lines missing after line 2.*\[SIGNER_AUDIT_CHAIN_BROKEN\]/)
    expect(bad.stderr).not.toMatch(/\n\s+at /)
  })

  it('warns about a legacy log without a head, and fails it with --require-head', async () => {
    const path = await log(2)
    rmSync(auditHeadPath(path))
    const warned = runPlora(['audit', 'verify', path])
    expect(warned.code).toBe(0)
    expect(warned.stderr).toMatch(/warning: no head file/)
    const strict = runPlora(['audit', 'verify', path, '--require-head'])
    expect(strict.code).toBe(1)
    expect(strict.stderr).toMatch(/\[SIGNER_AUDIT_CHAIN_BROKEN\]/)
  })

  it('checks a signed head with --public-key', async () => {
    const keys = generateKeyPair({ type: 'ed25519' })
    const other = generateKeyPair({ type: 'ed25519' })
    writeFileSync(join(dir, 'verifier.pub'), keys.publicKeyPem)
    writeFileSync(join(dir, 'other.pub'), other.publicKeyPem)
    const path = await log(2, keys.privateKeyPem)
    const ok = runPlora(['audit', 'verify', path, '--public-key', join(dir, 'verifier.pub')])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/signed head verified/)
    const bad = runPlora(['audit', 'verify', path, '--public-key', join(dir, 'other.pub')])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/not by the given key/)
  })

  it('audit anchor re-anchors a legacy log (signed with --private-key)', async () => {
    const keys = generateKeyPair({ type: 'ed25519' })
    writeFileSync(join(dir, 'anchor.pem'), keys.privateKeyPem)
    writeFileSync(join(dir, 'anchor.pub'), keys.publicKeyPem)
    const path = await log(2)
    rmSync(auditHeadPath(path))
    const r = runPlora(['audit', 'anchor', path, '--private-key', join(dir, 'anchor.pem')])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^anchored .*: 2 records, head [0-9a-f]{64} \(signed\)/)
    const v = runPlora(['audit', 'verify', path, '--require-head', '--public-key', join(dir, 'anchor.pub')])
    expect(v.code, v.stderr).toBe(0)
  })
})
