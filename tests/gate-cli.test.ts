// `plora dump-policy`, `plora gate check` and `plora gate reference`, run in-process through the
// CLI's main() against real adapter folders built by @plora/gate's test helpers.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BASE, generateKeyPair, tempDir, verifyAuditChain, writeAdapter } from '../packages/gate/test/helpers.js'
import { runCli } from './helpers.js'

let tmp: { path: string; cleanup: () => Promise<void> }

const run = runCli

beforeAll(async () => {
  tmp = await tempDir('plora-gate-cli-')
})
afterAll(async () => {
  await tmp.cleanup()
})
afterEach(() => {
  process.exitCode = undefined
})

describe('plora dump-policy', () => {
  it('prints the effective policy as JSON, the original keys first and in order', async () => {
    const r = await run('dump-policy', '--allowed-ranks', '4,8,16', '--signatures', 'on', '--base-model', 'm/x')
    expect(r.code, r.err).toBe(0)
    const p = JSON.parse(r.out)
    expect(Object.keys(p).slice(0, 9)).toEqual([
      'base_model',
      'allowed_ranks',
      'allowed_targets',
      'max_size_bytes',
      'signatures_enabled',
      'trusted_public_keys',
      'tau_trigger',
      'tau_norm_z',
      'tau_clean_delta',
    ])
    expect(p).toMatchObject({
      base_model: 'm/x',
      allowed_ranks: [4, 8, 16],
      signatures_enabled: true,
      trusted_public_keys: null,
    })
  })

  it('reads --policy_file (original spelling) and an allowed-targets file; flags win over the file', async () => {
    const policy = join(tmp.path, 'policy.json')
    await writeFile(policy, JSON.stringify({ base_model: 'file/model', allowed_ranks: [2], tau_norm_z: 4.5 }))
    const targets = join(tmp.path, 'targets.txt')
    await writeFile(targets, '# suffixes\nq_proj\nv_proj\n')
    const r = await run(
      'dump-policy',
      '--policy_file',
      policy,
      '--allowed-targets-file',
      targets,
      '--allowed-ranks',
      '8',
    )
    expect(r.code, r.err).toBe(0)
    expect(JSON.parse(r.out)).toMatchObject({
      base_model: 'file/model',
      allowed_ranks: [8],
      allowed_targets: ['q_proj', 'v_proj'],
      tau_norm_z: 4.5,
    })
  })

  it('rejects unknown policy keys and missing paths with stable codes', async () => {
    const bad = join(tmp.path, 'bad.json')
    await writeFile(bad, JSON.stringify({ tau_trigerr: 0.1 }))
    const r1 = await run('dump-policy', '--policy-file', bad)
    expect(r1.code).toBe(1)
    expect(r1.err).toMatch(/unknown field "tau_trigerr".*\[GATE_POLICY_INVALID\]/)
    const missing = join(tmp.path, 'keys-missing.json')
    await writeFile(missing, JSON.stringify({ trusted_public_keys: ['nope.pem'] }))
    const r2 = await run('dump-policy', '--policy-file', missing)
    expect(r2.code).toBe(1)
    expect(r2.err).toMatch(/trusted_public_keys\[0\].*\[GATE_POLICY_PATH_NOT_FOUND\]/)
    const r3 = await run('dump-policy', '--policy-file', join(tmp.path, 'absent.json'))
    expect(r3.err).toMatch(/\[GATE_POLICY_PATH_NOT_FOUND\]/)
  })
})

describe('plora gate check / gate reference', () => {
  it('passes a clean signed adapter, rejects a tampered one (exit 3), and chains both decisions in the audit log', async () => {
    const key = generateKeyPair({ type: 'ed25519' })
    await mkdir(join(tmp.path, 'keys'), { recursive: true })
    const pub = join(tmp.path, 'keys', 'trusted.pub')
    await writeFile(pub, key.publicKeyPem)
    const refDirs: string[] = []
    for (let i = 0; i < 12; i++) refDirs.push(await writeAdapter(join(tmp.path, 'ref', `c${i}`), { seed: 500 + i }))
    const refFile = join(tmp.path, 'gate-ref.json')
    const ref = await run('gate', 'reference', '--out', refFile, ...refDirs)
    expect(ref.code, ref.err).toBe(0)
    expect(JSON.parse(await readFile(refFile, 'utf8')).populations[0]).toMatchObject({
      r: 4,
      count: 12,
      base_model: BASE,
    })

    const policy = join(tmp.path, 'gate-policy.json')
    await writeFile(
      policy,
      JSON.stringify({
        base_model: BASE,
        allowed_ranks: [4],
        allowed_targets: ['c_attn'],
        signatures_enabled: true,
        trusted_public_keys: ['keys/trusted.pub'], // relative to the policy file
        reference_file: 'gate-ref.json',
      }),
    )
    const good = await writeAdapter(join(tmp.path, 'in', 'good'), { seed: 42, key })
    const audit = join(tmp.path, 'audit', 'gate_audit.jsonl')
    const r1 = await run('gate', 'check', '--adapter-dir', good, '--policy-file', policy, '--audit-log', audit)
    expect(r1.code, r1.err).toBe(0)
    const d1 = JSON.parse(r1.out)
    expect(d1).toMatchObject({ passed: true, reasons: [] })
    expect(d1.metrics.signatures.credited).toEqual([key.fingerprint])

    const bad = await writeAdapter(join(tmp.path, 'in', 'bad'), { seed: 43, key, bScale: 10 })
    const r2 = await run('gate', 'check', '--adapter_dir', bad, '--policy-file', policy, '--audit-log', audit)
    expect(r2.code).toBe(3)
    expect(JSON.parse(r2.out).reasons).toContain('weight_norm_outlier')

    // --require-statement: the clean adapter carries only the legacy signature, no plora.sig.json.
    const r3 = await run(
      'gate',
      'check',
      '--adapter-dir',
      good,
      '--policy-file',
      policy,
      '--audit-log',
      audit,
      '--require-statement',
    )
    expect(r3.code, r3.err).toBe(3)
    expect(JSON.parse(r3.out).reasons).toEqual(['statement_missing'])

    expect(await verifyAuditChain(audit)).toMatchObject({ ok: true, records: 3 })
    const v = await run('audit', 'verify', audit)
    expect(v.code, v.err).toBe(0)
  })

  it('with probes on, loads the base model first and fails without a verdict when it is not available', async () => {
    const dir = await writeAdapter(join(tmp.path, 'in', 'p'), { seed: 44 })
    const saved = { ...process.env }
    process.env.HF_HUB_OFFLINE = '1'
    process.env.HF_HUB_CACHE = join(tmp.path, 'empty-hf-cache')
    try {
      const r = await run(
        'gate',
        'check',
        '--adapter-dir',
        dir,
        '--base-model',
        BASE,
        '--allowed-ranks',
        '4',
        '--probes',
        'on',
        '--no-audit',
      )
      expect(r.code).toBe(1)
      expect(r.out).toBe('')
      expect(r.err).toContain(BASE)
      expect(r.err).toMatch(/offline|cache/i)
    } finally {
      process.env = saved
    }
  })
})
