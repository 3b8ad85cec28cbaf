import { execFile, spawn } from 'node:child_process'
import { appendFile, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { sha256Hex } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AUDIT_GENESIS_HASH,
  anchorAuditLog,
  appendAuditRecord,
  assertAuditChain,
  auditHeadDigest,
  auditHeadPath,
  readAuditHead,
  verifyAuditChain,
} from '../../src/index.js'
import { keyPair } from './fixtures.js'

const PKG = fileURLToPath(new URL('../../', import.meta.url))
const REPO = join(PKG, '../..')

let dir: string
let n = 0
const fresh = () => join(dir, `log-${n++}`, 'gate_audit.jsonl')
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-audit-anchor-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const rec = (i: number) => ({
  plasmid_id: `p-${i}`,
  sha256: sha256Hex(`artefact ${i}`),
  domain: 'legal',
  passed: i % 2 === 0,
  reasons: i % 2 === 0 ? [] : ['rank_not_allowed'],
})

async function chain(len: number, options: Parameters<typeof appendAuditRecord>[2] = {}): Promise<string> {
  const path = fresh()
  for (let i = 0; i < len; i++) await appendAuditRecord(path, rec(i), options)
  return path
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').slice(0, -1)
}

/** Re-chains `records` from the genesis hash, as an attacker rewriting the whole log would. */
function rechain(records: Array<Record<string, unknown>>): string[] {
  const out: string[] = []
  let prev = AUDIT_GENESIS_HASH
  for (const r of records) {
    const { prev_hash: _p, ...rest } = r
    const line = JSON.stringify({ ...rest, prev_hash: prev })
      .replaceAll('":', '": ')
      .replaceAll(',"', ', "')
    out.push(line)
    prev = sha256Hex(line)
  }
  return out
}

describe('audit head: every tamper case names its line', () => {
  it('writes a head beside the log and verifies it as anchored', async () => {
    const path = await chain(3)
    const head = await readAuditHead(path)
    const ls = await lines(path)
    expect(head).toEqual({
      version: 1,
      count: 3,
      head: sha256Hex(ls[2]!),
      size: Buffer.byteLength(`${ls.join('\n')}\n`),
    })
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 3, anchored: true, headSigned: false })
  })

  it('detects an edited last line (line n, head hash expected vs found)', async () => {
    const path = await chain(4)
    const ls = await lines(path)
    ls[3] = ls[3]!.replace('"passed": false', '"passed": true')
    await writeFile(path, `${ls.join('\n')}\n`)
    const head = (await readAuditHead(path))!
    expect(await verifyAuditChain(path)).toMatchObject({
      ok: false,
      line: 4,
      reason: 'head_mismatch',
      expected: head.head,
      found: sha256Hex(ls[3]!),
    })
  })

  it('detects a deleted last line (lines missing after line n-1)', async () => {
    const path = await chain(4)
    const ls = await lines(path)
    await writeFile(path, `${ls.slice(0, 3).join('\n')}\n`)
    const r = await verifyAuditChain(path)
    expect(r).toMatchObject({ ok: false, line: 4, reason: 'lines_missing', records: 3 })
    expect(r.message).toMatch(/lines missing after line 3: the head says 4 records/)
  })

  it('detects the tail truncated mid-line (that line is not a record)', async () => {
    const path = await chain(4)
    const text = await readFile(path, 'utf8')
    await truncate(path, Buffer.byteLength(text) - 20)
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 4, reason: 'invalid_json', records: 3 })
  })

  it('detects an emptied file (empty but the head says n)', async () => {
    const path = await chain(4)
    await writeFile(path, '')
    const r = await verifyAuditChain(path)
    expect(r).toMatchObject({ ok: false, line: 1, reason: 'lines_missing', records: 0 })
    expect(r.message).toMatch(/the log is empty but its head says 4 records/)
    await rm(path)
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, reason: 'missing_file' })
  })

  it('detects a full rewrite that kept the head (re-chained from genesis)', async () => {
    const path = await chain(4)
    const records = (await lines(path)).map((l) => JSON.parse(l) as Record<string, unknown>)
    records[0] = { ...records[0], passed: false }
    await writeFile(path, `${rechain(records).join('\n')}\n`)
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 4, reason: 'head_mismatch' })
  })

  it('detects lines appended without updating the head', async () => {
    const path = await chain(2)
    const ls = await lines(path)
    const extra = rechain([...ls.map((l) => JSON.parse(l) as Record<string, unknown>), rec(9)])[2]!
    await appendFile(path, `${extra}\n`)
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 3, reason: 'unanchored_lines' })
    await expect(appendAuditRecord(path, rec(10))).rejects.toMatchObject({
      code: 'SIGNER_AUDIT_CHAIN_BROKEN',
      details: expect.objectContaining({ line: 3 }),
    })
  })

  it('refuses to append to a log whose last line was edited or deleted (no re-anchoring)', async () => {
    const path = await chain(3)
    const ls = await lines(path)
    await writeFile(path, `${ls.slice(0, 2).join('\n')}\n`)
    await expect(appendAuditRecord(path, rec(5))).rejects.toMatchObject({ code: 'SIGNER_AUDIT_CHAIN_BROKEN' })
    expect(await lines(path)).toHaveLength(2)
  })

  it('reports a malformed head file', async () => {
    const path = await chain(1)
    await writeFile(auditHeadPath(path), '{"count": "many"}')
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, reason: 'head_invalid' })
    await expect(appendAuditRecord(path, rec(1))).rejects.toMatchObject({ code: 'SIGNER_AUDIT_HEAD_INVALID' })
  })
})

describe('signed audit head', () => {
  for (const type of ['ed25519', 'rsa'] as const) {
    it(`signs the head with the verifier's ${type} key and verifies it with the public key`, async () => {
      const keys = keyPair('audit', type)
      const path = await chain(3, { signingKey: keys.privateKeyPem })
      const r = await verifyAuditChain(path, { publicKey: keys.publicKeyPem })
      expect(r).toMatchObject({ ok: true, anchored: true, headSigned: true, headVerified: true })
      expect(await verifyAuditChain(path)).toMatchObject({ ok: true, headVerified: false, warning: expect.any(String) })
    })
  }

  it('detects a rewrite of log and head forged without the key', async () => {
    const keys = keyPair('audit', 'ed25519')
    const path = await chain(3, { signingKey: keys.privateKeyPem })
    const records = (await lines(path)).map((l) => JSON.parse(l) as Record<string, unknown>)
    records[1] = { ...records[1], passed: true, reasons: [] }
    const forged = rechain(records)
    const text = `${forged.join('\n')}\n`
    await writeFile(path, text)
    const old = (await readAuditHead(path))!
    const head = { ...old, head: sha256Hex(forged[2]!), size: Buffer.byteLength(text) }
    // Kept the old signature: it does not cover the new fields.
    await writeFile(auditHeadPath(path), JSON.stringify(head))
    expect(await verifyAuditChain(path, { publicKey: keys.publicKeyPem })).toMatchObject({
      ok: false,
      reason: 'head_signature_invalid',
    })
    // Dropped the signature.
    const { signature_b64: _s, algo: _a, pubkey_fingerprint: _f, ...unsigned } = head
    await writeFile(auditHeadPath(path), JSON.stringify(unsigned))
    expect(await verifyAuditChain(path, { publicKey: keys.publicKeyPem })).toMatchObject({
      ok: false,
      reason: 'head_unsigned',
    })
    // Signed with the attacker's own key.
    const other = keyPair('attacker', 'ed25519')
    await appendAuditRecord(join(dir, 'scratch', 'x.jsonl'), rec(0), { signingKey: other.privateKeyPem })
    const theirs = (await readAuditHead(join(dir, 'scratch', 'x.jsonl')))!
    await writeFile(auditHeadPath(path), JSON.stringify({ ...head, pubkey_fingerprint: theirs.pubkey_fingerprint }))
    expect(await verifyAuditChain(path, { publicKey: keys.publicKeyPem })).toMatchObject({
      ok: false,
      reason: 'head_signature_invalid',
    })
    // Without the key the rewrite is undetectable: that is what the signature is for.
    expect(auditHeadDigest(head)).not.toBe(auditHeadDigest(old))
  })

  it('a signing writer refuses to sign over a forged unsigned head or a deleted head', async () => {
    const keys = keyPair('audit', 'ed25519')
    const path = await chain(2, { signingKey: keys.privateKeyPem })
    const records = (await lines(path)).map((l) => JSON.parse(l) as Record<string, unknown>)
    const forged = rechain([{ ...records[0], passed: false }, records[1]!])
    const text = `${forged.join('\n')}\n`
    await writeFile(path, text)
    await writeFile(
      auditHeadPath(path),
      JSON.stringify({ version: 1, count: 2, head: sha256Hex(forged[1]!), size: Buffer.byteLength(text) }),
    )
    await expect(appendAuditRecord(path, rec(2), { signingKey: keys.privateKeyPem })).rejects.toMatchObject({
      code: 'SIGNER_AUDIT_CHAIN_BROKEN',
    })
    await rm(auditHeadPath(path))
    await expect(appendAuditRecord(path, rec(2), { signingKey: keys.privateKeyPem })).rejects.toMatchObject({
      code: 'SIGNER_AUDIT_CHAIN_BROKEN',
    })
    expect(await lines(path)).toHaveLength(2)
  })

  it('assertAuditChain raises SIGNER_AUDIT_CHAIN_BROKEN with the line', async () => {
    const path = await chain(2)
    await writeFile(path, '')
    await expect(assertAuditChain(path)).rejects.toMatchObject({
      code: 'SIGNER_AUDIT_CHAIN_BROKEN',
      details: expect.objectContaining({ line: 1, reason: 'lines_missing' }),
    })
  })
})

describe('anchorAuditLog (operator repair)', () => {
  it('re-anchors a complete, chained line left behind the head by a crash, signing the new head', async () => {
    const keys = keyPair('audit', 'ed25519')
    const path = await chain(2, { signingKey: keys.privateKeyPem })
    const records = (await lines(path)).map((l) => JSON.parse(l) as Record<string, unknown>)
    const third = rechain([...records, rec(2)])[2]!
    await appendFile(path, `${third}\n`)
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 3, reason: 'unanchored_lines' })
    await expect(appendAuditRecord(path, rec(3))).rejects.toMatchObject({ code: 'SIGNER_AUDIT_CHAIN_BROKEN' })
    const head = await anchorAuditLog(path, { signingKey: keys.privateKeyPem })
    expect(head).toMatchObject({ count: 3, head: sha256Hex(third) })
    expect(await verifyAuditChain(path, { publicKey: keys.publicKeyPem })).toMatchObject({ ok: true, records: 3 })
    await appendAuditRecord(path, rec(3), { signingKey: keys.privateKeyPem })
    expect(await verifyAuditChain(path, { publicKey: keys.publicKeyPem })).toMatchObject({ ok: true, records: 4 })
  })

  it('refuses to anchor a broken chain, naming the line', async () => {
    const path = await chain(3)
    const ls = await lines(path)
    ls[0] = ls[0]!.replace('"p-0"', '"p-x"')
    await writeFile(path, `${ls.join('\n')}\n`)
    await expect(anchorAuditLog(path)).rejects.toMatchObject({
      code: 'SIGNER_AUDIT_CHAIN_BROKEN',
      details: expect.objectContaining({ line: 2 }),
    })
  })
})

describe('legacy logs without a head', () => {
  it('verify with anchored: false and a warning; requireHead makes it a failure', async () => {
    const path = await chain(3)
    await rm(auditHeadPath(path))
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 3, anchored: false })
    expect((await verifyAuditChain(path)).warning).toMatch(/not anchored/)
    expect(await verifyAuditChain(path, { requireHead: true })).toMatchObject({ ok: false, reason: 'head_missing' })
  })

  it('are anchored by their next append', async () => {
    const path = await chain(3)
    await rm(auditHeadPath(path))
    await appendAuditRecord(path, rec(3))
    expect(await verifyAuditChain(path, { requireHead: true })).toMatchObject({ ok: true, records: 4, anchored: true })
  })
})

describe('cross-process lock', () => {
  beforeAll(async () => {
    await promisify(execFile)(join(REPO, 'node_modules/.bin/tsc'), ['-b', join(PKG, 'tsconfig.json')], { cwd: REPO })
  }, 120_000)

  it('eight processes appending 25 records each give one unbroken chain of 200', async () => {
    const path = fresh()
    await mkdir(join(path, '..'), { recursive: true })
    const script = join(PKG, 'test/fixtures/audit-append.mjs')
    // Verifying while the writers run never reports a false break (verify takes the lock too).
    let running = true
    const seen: string[] = []
    const watcher = (async () => {
      while (running) {
        const r = await verifyAuditChain(path).catch((e: Error) => ({ ok: false, message: e.message }))
        if (!r.ok && !r.message.includes('does not exist')) seen.push(r.message)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    const codes = await Promise.all(
      Array.from(
        { length: 8 },
        (_, w) =>
          new Promise<number | null>((resolve, reject) => {
            const child = spawn(process.execPath, [script, path, String(w), '25'], {
              stdio: ['ignore', 'ignore', 'inherit'],
            })
            child.on('error', reject)
            child.on('exit', resolve)
          }),
      ),
    )
    running = false
    await watcher
    expect(codes).toEqual(Array(8).fill(0))
    expect(seen).toEqual([])
    const r = await verifyAuditChain(path, { requireHead: true })
    expect(r).toMatchObject({ ok: true, records: 200, anchored: true })
    const ids = (await lines(path)).map((l) => (JSON.parse(l) as { plasmid_id: string }).plasmid_id)
    expect(new Set(ids).size).toBe(200)
    for (let w = 0; w < 8; w++) {
      const mine = ids.filter((id) => id.startsWith(`w${w}-`))
      expect(mine, `writer ${w}`).toEqual(Array.from({ length: 25 }, (_, i) => `w${w}-${i}`))
    }
  }, 60_000)

  it('breaks a lock left by a dead process', async () => {
    const path = fresh()
    await mkdir(join(path, '..'), { recursive: true })
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => dead.on('exit', resolve))
    const { hostname } = await import('node:os')
    await writeFile(`${path}.lock`, JSON.stringify({ pid: dead.pid, host: hostname(), token: 'x' }))
    await appendAuditRecord(path, rec(0), { lockTimeoutMs: 2000 })
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 1 })
  })

  it('waits for a live lock, then fails with SIGNER_AUDIT_LOCK_TIMEOUT', async () => {
    const path = fresh()
    await mkdir(join(path, '..'), { recursive: true })
    const { hostname } = await import('node:os')
    await writeFile(`${path}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), token: 'x' }))
    await expect(appendAuditRecord(path, rec(0), { lockTimeoutMs: 150 })).rejects.toMatchObject({
      code: 'SIGNER_AUDIT_LOCK_TIMEOUT',
    })
    // A lock older than lockStaleMs is broken even when its pid is alive (pid reuse, other host).
    await appendAuditRecord(path, rec(0), { lockTimeoutMs: 2000, lockStaleMs: 0 })
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 1 })
  })
})
