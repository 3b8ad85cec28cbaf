/**
 * Issue 15 points 13–15, through the real bin: a bad flag value is a usage error (exit 2, one
 * stderr line, no stack, no "this is a bug"); a file a policy flag names that does not exist is a
 * `PloraError` (exit 1, one line with its code) — never silently dropped, in every command that
 * takes policy flags. The globalSetup builds the CLI; the invocations run a few at a time.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const REPO = resolve(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')
const cwd = mkdtempSync(join(tmpdir(), 'plora-usage-'))
writeFileSync(join(cwd, 'targets.txt'), 'c_attn\n')

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, PLORA_CONFIG: '', PLORA_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A flag the old code accepted can start a server or a run: stop it rather than hang the suite.
      timeout: 30_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    child.on('close', (code) => res({ code, stdout, stderr }))
  })
}

/** [args, expected exit, pattern the one stderr line must match]. */
type Case = [string[], 1 | 2, RegExp]
const USAGE = /^error: /

const CASES: Case[] = [
  // point 15: numeric and enum flags of every command group
  [['offer', '--port', 'abc'], 2, /--port <n>.*found "abc"/],
  [['offer', '--port', '70000'], 2, /in \[0, 65535\]/],
  // a value carrying a newline and a terminal escape still gives one line, escaped
  [['offer', '--port', '1\n2\u001b[31m'], 2, /argument '1 2\\x1b\[31m' is invalid/],
  [['fetc'], 2, /unknown command 'fetc' \(Did you mean fetch\?\)$/],
  [['offer', '--max-concurrent', '0'], 2, USAGE],
  [['fetch', '--port', '0', '--list'], 2, USAGE],
  [['fetch', '--timeout', '1.5', '--list'], 2, USAGE],
  [['fetch', '--protocol', 'tcp', '--list'], 2, USAGE],
  [['certs', '--days', '0'], 2, USAGE],
  [['net-it', '--boot', 'abc', '--history', 'h.json'], 2, /--boot <n>/],
  [['net-it', '--alpha', '1.5', '--history', 'h.json'], 2, USAGE],
  [['mine-calib', '--n', '0'], 2, /--n <n>.*found "0"/],
  [['mine-calib', '--rho', '1'], 2, USAGE],
  [['swarm', 'v2', '--agents', '0'], 2, USAGE],
  [['swarm', 'v2', '--graph_p', '1.5'], 2, /--graph_p/],
  [['swarm', 'v2', '--early-stop', 'maybe'], 2, USAGE],
  [['swarm', 'v2', '--security', 'on', '--allowed-targets', 'heads', '--print-config'], 2, /--allowed-targets/],
  [['swarm', 'v2', '--security', 'on', '--allowed_ranks', '4,x', '--print-config'], 2, USAGE],
  [['sweep', '--ns', '20,,40'], 2, USAGE],
  [['sweep', '--topos', 'er,xx'], 2, USAGE],
  [['calibrate-c', '--topology', 'er', '--ns', '2,4', '--out', 'c.json'], 2, USAGE],
  [['validate-bounds', '--seed', '-1'], 2, USAGE],
  [['train', '--epochs', '-1', '--output', 'o', '--domain', 'legal'], 2, /--epochs <n>/],
  [['train', '--rank', 'abc', '--output', 'o', '--domain', 'legal'], 2, /--rank <r>/],
  [['train', '--dropout', '1', '--output', 'o', '--domain', 'legal'], 2, USAGE],
  [['monolithic-train', '--batch-size', '0', '--output', 'o', '--domains', 'legal'], 2, USAGE],
  [['probes', 'calibrate', '--poison-rates', '0.9'], 2, USAGE],
  [['gate', 'eval', '--bootstrap', 'lots'], 2, USAGE],
  [['gate', 'check', '--adapter-dir', 'a', '--tau-trigger', '0x10'], 2, /--tau-trigger/],
  [['dump-policy', '--allowed-ranks', '4,0'], 2, USAGE],
  [['dump-policy', '--tau_norm_z', 'abc'], 2, /--tau_norm_z/],
  [['dump-policy', '--allowed-targets', 'attention', '--allowed-targets-file', 'targets.txt'], 2, /cannot be used/],
  [['merge', '--plasmids', 'a', '--out', 'o', '--weights', 'abc'], 2, USAGE],
  [['merge', '--plasmids', 'a', '--out', 'o', '--module-cap', 'c_attn'], 2, USAGE],
  [['merge', '--plasmids', 'a', '--out', 'o', '--method', 'mean'], 2, USAGE],
  [['merge', '--plasmids', 'a', '--out', 'o', '--density', '0'], 2, /--density/],
  [['merge', '--plasmids', 'a', '--out', 'o', '--drop-rate', '1'], 2, /--drop-rate/],
  [['merge', '--plasmids', 'a', '--out', 'o', '--seed', '-1'], 2, /--seed/],
  [['placebo', '--like', 'a', '--out', 'b', '--seed', 'x'], 2, USAGE],
  [['generate', '--prompt', 'hi', '--max-new-tokens', '-1'], 2, USAGE],
  [['base-model', 'init', '--seed', '1e3'], 2, USAGE],
  [['data', 'show', '--domain', 'legal', '-n', '0'], 2, USAGE],
  // point 13: a file a policy flag names must exist, in every command that builds a policy
  [
    ['swarm', 'v2', '--security', 'on', '--policy-file', 'missing.json', '--print-config'],
    1,
    /GATE_POLICY_PATH_NOT_FOUND/,
  ],
  [
    ['swarm', 'v2', '--security', 'on', '--allowed-targets-file', 'missing', '--print-config'],
    1,
    /GATE_POLICY_PATH_NOT_FOUND/,
  ],
  [['swarm', 'v2', '--security', 'on', '--probes-calib', 'missing', '--print-config'], 1, /GATE_POLICY_PATH_NOT_FOUND/],
  [['dump-policy', '--policy-file', 'missing.json'], 1, /^plora dump-policy: .*\[GATE_POLICY_PATH_NOT_FOUND\]$/],
  [['dump-policy', '--allowed-targets-file', 'missing'], 1, /GATE_POLICY_PATH_NOT_FOUND/],
  [
    ['gate', 'check', '--adapter-dir', 'a', '--policy-file', 'missing.json', '--no-audit'],
    1,
    /GATE_POLICY_PATH_NOT_FOUND/,
  ],
]

describe('bad invocations: one line, the right exit status, never a stack', () => {
  it(`${CASES.length} invocations across every command group`, { timeout: 180_000 }, async () => {
    const results: Array<Awaited<ReturnType<typeof run>>> = new Array(CASES.length)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < CASES.length) {
        const i = next++
        results[i] = await run(CASES[i]![0])
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    CASES.forEach(([args, code, pattern], i) => {
      const r = results[i]!
      const what = `plora ${args.join(' ')}\n${r.stderr}`
      expect(r.code, what).toBe(code)
      expect(r.stderr.endsWith('\n'), what).toBe(true)
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, what).toHaveLength(1)
      expect(lines[0], what).toMatch(pattern)
      expect(r.stderr, what).not.toMatch(/this is a bug|internal error|\n\s+at /)
      expect(r.stdout, what).toBe('')
    })
  })

  it('a one-line allowed-targets file works (issue 15 point 14)', async () => {
    const r = await run(['dump-policy', '--allowed-targets-file', 'targets.txt'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).allowed_targets).toEqual(['c_attn'])
    const s = await run(['swarm', 'v2', '--security', 'on', '--allowed_targets_file', 'targets.txt', '--print-config'])
    expect(s.code, s.stderr).toBe(0)
    expect(JSON.parse(s.stdout).policy.allowed_targets).toEqual(['c_attn'])
  })
})
