import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUDIT_GENESIS_HASH, appendAuditRecord, assertAuditChain, verifyAuditChain } from '../../src/index.js'

let dir: string
let n = 0
const fresh = () => join(dir, `log-${n++}`, 'audit', 'gate_audit.jsonl')
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-audit-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const rec = (i: number, passed = true) => ({
  plasmid_id: `p-${i}`,
  sha256: sha256Hex(`artefact ${i}`),
  domain: 'legal',
  passed,
  reasons: passed ? [] : ['rank_not_allowed'],
})

async function chain(len: number): Promise<string> {
  const path = fresh()
  for (let i = 0; i < len; i++) await appendAuditRecord(path, rec(i, i % 2 === 0))
  return path
}

describe('audit hash chain', () => {
  it("writes the original's line format: key order, Python separators, prev_hash last", async () => {
    const path = await chain(2)
    const lines = (await readFile(path, 'utf8')).split('\n')
    expect(lines[2]).toBe('')
    expect(lines[0]).toBe(
      `{"plasmid_id": "p-0", "sha256": "${sha256Hex('artefact 0')}", "domain": "legal", "passed": true, "reasons": [], "prev_hash": "${AUDIT_GENESIS_HASH}"}`,
    )
    expect(JSON.parse(lines[1]!).prev_hash).toBe(sha256Hex(lines[0]!))
    expect(lines[1]).toContain('"reasons": ["rank_not_allowed"]')
  })

  it('verifies an intact chain and reports its head', async () => {
    const path = await chain(5)
    const r = await verifyAuditChain(path)
    expect(r).toMatchObject({ ok: true, records: 5 })
    const last = (await readFile(path, 'utf8')).trimEnd().split('\n').at(-1)!
    expect(r.head).toBe(sha256Hex(last))
  })

  it('pinpoints the first broken link after an edit in the middle', async () => {
    const path = await chain(5)
    const lines = (await readFile(path, 'utf8')).split('\n')
    lines[2] = lines[2]!.replace('"passed": true', '"passed": false')
    await writeFile(path, lines.join('\n'))
    const r = await verifyAuditChain(path)
    expect(r).toMatchObject({ ok: false, line: 4, reason: 'prev_hash_mismatch', records: 3 })
    expect(r.message).toMatch(/^BROKEN at line 4/)
  })

  it('pinpoints a deleted line and a re-chained forgery of the first line', async () => {
    const path = await chain(4)
    const lines = (await readFile(path, 'utf8')).split('\n')
    await writeFile(path, [lines[0], lines[2], lines[3], ''].join('\n'))
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 2 })
    const forged = JSON.stringify({ ...JSON.parse(lines[0]!), prev_hash: 'f'.repeat(64) })
    await writeFile(path, [forged, ...lines.slice(1)].join('\n'))
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 1, expected: AUDIT_GENESIS_HASH })
  })

  it('reports a missing file, invalid JSON, a missing prev_hash and blank lines', async () => {
    expect(await verifyAuditChain(join(dir, 'none.jsonl'))).toMatchObject({ ok: false, reason: 'missing_file' })
    const path = await chain(2)
    await appendFile(path, 'not json\n')
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 3, reason: 'invalid_json' })
    const p2 = await chain(1)
    await appendFile(p2, '{"plasmid_id": "x"}\n')
    expect(await verifyAuditChain(p2)).toMatchObject({ ok: false, line: 2, reason: 'missing_prev_hash' })
    const p3 = await chain(1)
    const first = (await readFile(p3, 'utf8')).trimEnd()
    await rm(`${p3}.head`)
    const second = JSON.stringify({ ...rec(9), prev_hash: sha256Hex(first) })
      .replaceAll('":', '": ')
      .replaceAll(',"', ', "')
    await writeFile(p3, `${first}\n\n${second}\n`)
    expect(await verifyAuditChain(p3)).toMatchObject({ ok: false, line: 2, reason: 'blank_line' })
    await expect(assertAuditChain(p3)).rejects.toMatchObject({ code: 'SIGNER_AUDIT_CHAIN_BROKEN' })
    // An append never extends (and so never re-anchors) a broken chain.
    await expect(appendAuditRecord(p3, rec(10))).rejects.toMatchObject({ code: 'SIGNER_AUDIT_CHAIN_BROKEN' })
  })

  it('reports an unreadable log as SIGNER_AUDIT_READ_FAILED', async () => {
    await expect(verifyAuditChain(dir)).rejects.toMatchObject({ code: 'SIGNER_AUDIT_READ_FAILED' })
  })

  it('an empty log is a valid, empty chain', async () => {
    const path = join(dir, 'empty.jsonl')
    await writeFile(path, '')
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 0, head: AUDIT_GENESIS_HASH })
  })

  it('keeps the chain intact under concurrent appends', async () => {
    const path = fresh()
    await Promise.all(Array.from({ length: 20 }, (_, i) => appendAuditRecord(path, rec(i))))
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 20 })
  })

  it('cuts a torn (unterminated, unanchored) last write before appending; a legacy torn log is refused', async () => {
    const path = await chain(2)
    await appendFile(path, '{"plasmid_id": "torn')
    expect(await verifyAuditChain(path)).toMatchObject({ ok: false, line: 3, reason: 'invalid_json' })
    await appendAuditRecord(path, rec(7))
    const text = await readFile(path, 'utf8')
    expect(text.split('\n')).toHaveLength(4)
    expect(text).not.toContain('torn')
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 3, anchored: true })
    await rm(`${path}.head`)
    await appendFile(path, '{"plasmid_id": "torn')
    await expect(appendAuditRecord(path, rec(8))).rejects.toMatchObject({ code: 'SIGNER_AUDIT_CHAIN_BROKEN' })
  })

  it('chains to the exact bytes of a long last line (tail read across chunk boundaries)', async () => {
    const path = fresh()
    await appendAuditRecord(path, { ...rec(0), reasons: Array(2000).fill('tensor_norm_outlier') })
    await appendAuditRecord(path, { ...rec(1), note: 'é ✓ 😀' })
    await appendAuditRecord(path, rec(2))
    const text = await readFile(path, 'utf8')
    expect(text).toContain('"note": "\\u00e9 \\u2713 \\ud83d\\ude00"')
    expect(await verifyAuditChain(path)).toMatchObject({ ok: true, records: 3 })
  })
})
