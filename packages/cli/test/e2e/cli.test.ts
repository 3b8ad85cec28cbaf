import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BIN, REPO, runPlora } from './helpers.js'

/** A project folder with the shipped presets, so switching configs never touches the checkout. */
function project(): string {
  const root = mkdtempSync(join(tmpdir(), 'plora-cli-'))
  mkdirSync(join(root, 'config'))
  for (const f of ['plora.dry.yml', 'plora.full.yml']) cpSync(join(REPO, 'config', f), join(root, 'config', f))
  return root
}

describe('plora (the real bin)', () => {
  it('lists subcommands with --help and exits 0', () => {
    const r = runPlora(['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Usage: plora/)
    expect(r.stdout).toMatch(/config\s+show, query and switch/)
  })

  it('shows flags with defaults in a subcommand --help', () => {
    const r = runPlora(['config', 'get', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/--csv[\s\S]*\(default:\s+false\)/)
  })

  it('exits 2 on an unknown command or flag', () => {
    const a = runPlora(['frobnicate'])
    expect(a.code).toBe(2)
    expect(a.stderr).toMatch(/unknown command 'frobnicate'/)
    const b = runPlora(['config', 'get', 'samples', '--frob'])
    expect(b.code).toBe(2)
    expect(b.stderr).toMatch(/unknown option '--frob'/)
  })

  it('exits 2 with usage when no command is given', () => {
    const r = runPlora([])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Usage: plora/)
  })

  it('prints 32 under the dry config and 1000 after `config use full`', () => {
    const cwd = project()
    expect(runPlora(['config', 'get', 'samples'], { cwd }).stdout).toBe('32\n')
    const use = runPlora(['config', 'use', 'full'], { cwd })
    expect(use.code).toBe(0)
    expect(use.stdout).toMatch(/Switched config to .*plora\.full\.yml/)
    expect(runPlora(['config', 'get', 'samples'], { cwd }).stdout).toBe('1000\n')
    expect(runPlora(['config', 'get', 'value_add.ranks[0]'], { cwd }).stdout).toBe('4\n')
    expect(runPlora(['config', 'get', 'value_add.seeds'], { cwd }).stdout).toBe('[41, 42, 43]\n')
    expect(runPlora(['config', 'get', 'value_add.seeds', '--csv'], { cwd }).stdout).toBe('41,42,43\n')
  })

  it('fails with one line naming the file and the field for an invalid override', () => {
    const cwd = project()
    writeFileSync(join(cwd, 'config', 'plora.override.yml'), 'extends: dry\nsamples: -3\n')
    const r = runPlora(['config', 'get', 'samples'], { cwd })
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(
      /^plora config get: config\/plora\.override\.yml: field "samples".*\[CONFIG_SCHEMA_INVALID\]$/m,
    )
  })

  it('fails naming the file and position for a YAML syntax error', () => {
    const cwd = project()
    writeFileSync(join(cwd, 'config', 'plora.override.yml'), 'samples: [1,\n')
    const r = runPlora(['config', 'get', 'samples'], { cwd })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/config\/plora\.override\.yml:\d+:\d+: YAML syntax error.*\[CONFIG_YAML_INVALID\]/)
  })

  it('rejects an invalid environment variable with a clear error', () => {
    const r = runPlora(['config', 'get', 'samples'], { env: { PLORA_BACKEND: 'cuda' } })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /PLORA_BACKEND: expected one of auto, tensorflow, wasm, cpu, found "cuda" \[CONFIG_ENV_INVALID\]/,
    )
  })

  it('stops quietly when its output pipe closes early (plora … | head)', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; node ${JSON.stringify(BIN)} swarm v2 --help | head -1`], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.stdout).toMatch(/^Usage: plora swarm v2/)
    expect(r.stderr).not.toMatch(/EPIPE|Error/)
    expect(r.status).toBe(0)
  })

  it('honours --default for a missing key and fails without it', () => {
    expect(runPlora(['config', 'get', 'nope', '--default', 'x']).stdout).toBe('x\n')
    expect(runPlora(['config', 'get', 'nope']).code).toBe(1)
  })
})
