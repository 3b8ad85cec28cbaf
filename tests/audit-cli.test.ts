// Issue 15 point 11 through the real bin: eight concurrent `plora gate check` processes append to
// one audit log (with the verifier's key signing its head), and `plora audit verify` finds one
// unbroken, anchored chain of eight records; after the last line is deleted it names line 8.
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BASE, generateKeyPair, tempDir, writeAdapter } from '../packages/gate/test/helpers.js'

const BIN = resolve(import.meta.dirname, '../packages/cli/bin/plora.js')
let tmp: { path: string; cleanup: () => Promise<void> }
beforeAll(async () => {
  tmp = await tempDir('plora-audit-cli-')
})
afterAll(async () => {
  await tmp.cleanup()
})

function plora(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp.path,
      env: { ...process.env, PLORA_CONFIG: '' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('error', rej)
    child.on('exit', (code) => res({ code, out, err }))
  })
}

describe('plora gate check + audit verify (real processes)', () => {
  it('eight concurrent gate checks give one signed, unbroken chain of eight; a cut tail names its line', async () => {
    const verifier = generateKeyPair({ type: 'ed25519' })
    await writeFile(join(tmp.path, 'verifier.pem'), verifier.privateKeyPem)
    await writeFile(join(tmp.path, 'verifier.pub'), verifier.publicKeyPem)
    const policy = join(tmp.path, 'policy.json')
    await writeFile(policy, JSON.stringify({ base_model: BASE, allowed_ranks: [4], allowed_targets: ['c_attn'] }))
    const adapter = await writeAdapter(join(tmp.path, 'in', 'a'), { seed: 7 })
    const audit = join(tmp.path, 'audit', 'gate_audit.jsonl')
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        plora(
          'gate',
          'check',
          '--adapter-dir',
          adapter,
          '--policy-file',
          policy,
          '--audit-log',
          audit,
          '--audit-key',
          'verifier.pem',
        ),
      ),
    )
    // Passed (0) or rejected (3): either way the decision is appended.
    for (const r of runs) expect([0, 3], r.err).toContain(r.code)
    const ok = await plora('audit', 'verify', audit, '--public-key', 'verifier.pub', '--require-head')
    expect(ok.code, ok.err).toBe(0)
    expect(ok.out).toMatch(/^OK: 8 records, head [0-9a-f]{64} \(anchored, signed head verified\)/)

    const lines = (await readFile(audit, 'utf8')).split('\n')
    await writeFile(audit, `${lines.slice(0, 7).join('\n')}\n`)
    const bad = await plora('audit', 'verify', audit, '--public-key', 'verifier.pub')
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(
      /BROKEN at line 8: lines missing after line 7: the head says 8 records.*\[SIGNER_AUDIT_CHAIN_BROKEN\]/,
    )
    // The next gate check refuses to extend (and so re-anchor) the cut log.
    const next = await plora(
      'gate',
      'check',
      '--adapter-dir',
      adapter,
      '--policy-file',
      policy,
      '--audit-log',
      audit,
      '--audit-key',
      'verifier.pem',
    )
    expect(next.code).toBe(1)
    expect(next.err).toMatch(/\[SIGNER_AUDIT_CHAIN_BROKEN\]/)
  }, 120_000)
})
