// `plora swarm v2|evaluate`, `plora sweep`, `plora calibrate-c`, `plora validate-bounds` and
// `plora consensus-smoke`, run in-process through the CLI's main() (issue 8).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers.js'

let dir: string

const run = runCli

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-swarm-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('plora swarm v2', () => {
  it('accepts the original flag spellings and writes report, history and alias', async () => {
    const r = await run(
      'swarm',
      'v2',
      '--agents',
      '4',
      '--rounds',
      '2',
      '--graph',
      'er',
      '--graph_p',
      '0.2',
      '--seed',
      '3',
      '--security',
      'off',
      '--trojan_rate',
      '0',
      '--report_dir',
      dir,
      '--history-alias',
      join(dir, 'alias.json'),
    )
    expect(r.code, r.err).toBe(0)
    expect(r.out).toContain('Saved v2 report to')
    const report = JSON.parse(await readFile(join(dir, 'swarm_v2_report_seed3.json'), 'utf8'))
    expect(report.meta).toMatchObject({ topology: 'erdos_renyi', N: 4, seed: 3, p: 0.2 })
    expect(report.final).toHaveProperty('gate.false_negatives')
    expect(await readFile(join(dir, 'alias.json'), 'utf8')).toBe(
      await readFile(join(dir, 'history_seed3.json'), 'utf8'),
    )
  })

  it('--history off writes the report only, and refuses an alias it could not write', async () => {
    const out = join(dir, 'no-history')
    const r = await run(
      'swarm',
      'v2',
      '--agents',
      '5',
      '--rounds',
      '2',
      '--seed',
      '4',
      '--history',
      'off',
      '--report-dir',
      out,
    )
    expect(r.code, r.err).toBe(0)
    expect(r.out).toContain('No history (--history off)')
    const { readdir } = await import('node:fs/promises')
    expect(await readdir(out)).toEqual(['swarm_v2_report_seed4.json'])
    const bad = await run(
      'swarm',
      'v2',
      '--history',
      'off',
      '--history-alias',
      join(dir, 'h.json'),
      '--report-dir',
      out,
    )
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--history is off')
  })

  it('runs the gate with synthetic adapters and consensus', async () => {
    // No reference population in this run: the verifier's policy opts out of require_weight_reference
    // (by default the gate rejects adapters its weight detectors could not evaluate, issue 15 point 6).
    const policyFile = join(dir, 'no-reference-policy.json')
    await writeFile(policyFile, JSON.stringify({ require_weight_reference: false }))
    const r = await run(
      'swarm',
      'v2',
      '--policy_file',
      policyFile,
      '--agents',
      '9',
      '--rounds',
      '6',
      '--seed',
      '11',
      '--security',
      'on',
      '--adapters',
      'synthetic',
      '--synthetic_variants',
      '1',
      '--allowed_ranks',
      '4',
      '--allowed_targets',
      'attention',
      '--consensus',
      'on',
      '--quorum',
      '2',
      '--trojan_rate',
      '0',
      '--report_dir',
      dir,
    )
    expect(r.code, r.err).toBe(0)
    const report = JSON.parse(await readFile(join(dir, 'swarm_v2_report_seed11.json'), 'utf8'))
    expect(Object.keys(report.final.consensus.committed)).toEqual(['arithmetic', 'legal', 'medical'])
  })

  it('without a policy file scores synthetic adapters without a reference; --require-weight-reference on rejects them all', async () => {
    const args = (seed: string): string[] => [
      'swarm',
      'v2',
      '--agents',
      '9',
      '--rounds',
      '6',
      '--seed',
      seed,
      '--security',
      'on',
      '--adapters',
      'synthetic',
      '--synthetic_variants',
      '1',
      '--allowed_ranks',
      '4',
      '--allowed_targets',
      'attention',
      '--trojan_rate',
      '0',
      '--report_dir',
      join(dir, 'no-reference'),
    ]
    const lenient = await run(...args('21'))
    expect(lenient.code, lenient.err).toBe(0)
    const a = JSON.parse(await readFile(join(dir, 'no-reference', 'swarm_v2_report_seed21.json'), 'utf8'))
    expect(a.final.gate.accepted_clean_total).toBeGreaterThan(0)
    expect(a.final.gate.rejection_reasons).not.toHaveProperty('weights_not_evaluated')
    const strict = await run(...args('22'), '--require-weight-reference', 'on')
    expect(strict.code, strict.err).toBe(0)
    const b = JSON.parse(await readFile(join(dir, 'no-reference', 'swarm_v2_report_seed22.json'), 'utf8'))
    expect(b.final.gate.accepted_clean_total).toBe(0)
    expect(b.final.gate.rejection_reasons.weights_not_evaluated).toBeGreaterThan(0)
  })

  it('rejects a bad flag value as a usage error (exit 2, one line), the alias spelling included', async () => {
    const r = await run('swarm', 'v2', '--agents', 'many', '--report_dir', dir)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(
      /^error: option '--agents <n>' argument 'many' is invalid\. expected a decimal integer ≥ 1, found "many"\n$/,
    )
    const t = await run('swarm', 'v2', '--trojan_rate', '2', '--report_dir', dir)
    expect(t.code).toBe(2)
    expect(t.err).toMatch(/--trojan_rate <r>.*expected a decimal number in \[0, 1\]/)
  })
})

describe('plora swarm evaluate / sweep / calibrate-c / validate-bounds / consensus-smoke', () => {
  it('evaluate summarises the reports', async () => {
    const r = await run('swarm', 'evaluate', '--reports', dir, '--out', join(dir, 'summary_v2.json'))
    expect(r.code, r.err).toBe(0)
    expect(JSON.parse(await readFile(join(dir, 'summary_v2.json'), 'utf8'))).toHaveLength(2)
  })

  it('sweep writes the JSONL (spec §15 test 17)', async () => {
    const out = join(dir, 'thesis_sweep.jsonl')
    const r = await run(
      'sweep',
      '--topos',
      'er',
      '--ns',
      '10',
      '--seeds',
      '7',
      '--p',
      '0.4',
      '--rounds',
      '3',
      '--trojan_rates',
      '0.0',
      '--out',
      out,
      '--workers',
      '1',
    )
    expect(r.code, r.err).toBe(0)
    const first = JSON.parse((await readFile(out, 'utf8')).split('\n')[0]!)
    expect(first).toHaveProperty('lambda2')
    expect(first).toHaveProperty('t_pred')
    expect(first).toHaveProperty('mi_series')
  })

  it('sweep --shard i/n and sweep merge give the bytes of a one-machine run', async () => {
    const grid = ['--topos', 'er,ws', '--ns', '10', '--seeds', '7,8', '--p', '0.4', '--rounds', '3', '--workers', '1']
    const one = join(dir, 'shard-one.jsonl')
    expect((await run('sweep', ...grid, '--out', one)).code).toBe(0)
    for (const i of [1, 2]) {
      const r = await run('sweep', ...grid, '--shard', `${i}/2`, '--out', join(dir, `shard-${i}.jsonl`))
      expect(r.code, r.err).toBe(0)
    }
    const merged = join(dir, 'shard-merged.jsonl')
    const m = await run(
      'sweep',
      'merge',
      join(dir, 'shard-2.jsonl'),
      join(dir, 'shard-1.jsonl'),
      ...grid,
      '--out',
      merged,
    )
    expect(m.code, m.err).toBe(0)
    expect(m.out).toMatch(/Merged 2 shard file\(s\) into .* \(8 lines, grid order\)/)
    expect(await readFile(merged)).toEqual(await readFile(one))
    const missing = await run('sweep', 'merge', join(dir, 'shard-1.jsonl'), ...grid, '--out', join(dir, 'no.jsonl'))
    expect(missing.code).toBe(1)
    expect(missing.err).toMatch(/lack 4 of 8 grid points.*SWARM_SWEEP_FAILED/)
    expect((await run('sweep', ...grid, '--shard', '3/2', '--out', join(dir, 'no.jsonl'))).code).toBe(2)
  })

  it('calibrate-c and validate-bounds write their records', async () => {
    const c = await run(
      'calibrate-c',
      '--topology',
      'er',
      '--ns',
      '10,12',
      '--p',
      '0.3',
      '--rounds',
      '5',
      '--seed',
      '1',
      '--out',
      join(dir, 'c_calib_er.json'),
    )
    expect(c.code, c.err).toBe(0)
    expect(JSON.parse(await readFile(join(dir, 'c_calib_er.json'), 'utf8'))[0].topology).toBe('er')
    const b = await run('validate-bounds', '--ns', '20', '--p', '0.25', '--out', join(dir, 'b.json'))
    expect(b.code, b.err).toBe(0)
    expect(JSON.parse(await readFile(join(dir, 'b.json'), 'utf8'))[0].lambda2).toBeCloseTo(0.31556897540013445, 9)
  })

  it('consensus-smoke prints OK', async () => {
    const r = await run('consensus-smoke')
    expect(r).toMatchObject({ code: 0, out: 'Consensus smoke OK\n' })
  })
})
