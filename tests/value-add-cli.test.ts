// `plora value-add run` through the real bin: SIGKILL in the middle of a cell, then a re-run
// resumes — every line complete, none duplicated — plus the usage and exit-status surface.
// Needs the built CLI (`pnpm run build`), like the other spawned-bin tests.
import { spawn } from 'node:child_process'
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../packages/gate/test/helpers.js'
import { initBackend, writeEmbeddedBaseModel } from '../packages/model/src/index.js'
import { runCli, useOfflineCliEnv } from './helpers.js'

const BIN = join(import.meta.dirname, '..', 'packages', 'cli', 'bin', 'plora.js')
let tmp: { path: string; cleanup: () => Promise<void> }
let modelDir: string
const saved = { ...process.env }

function flags(out: string): string[] {
  return [
    'value-add',
    'run',
    '--base-model',
    modelDir,
    '--domains',
    'legal,medical',
    '--ranks',
    '1',
    '--schemes',
    'attention',
    '--seeds',
    '41,42',
    '--samples',
    '4',
    '--dev-size',
    '6',
    '--eval-split',
    'validation',
    '--placebo-b-rank',
    'cell',
    '--latency-budget-ms',
    '1e9',
    '--max-length',
    '48',
    '--output',
    out,
  ]
}

function childEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PLORA_CACHE_DIR: join(tmp.path, 'cache'),
    PLORA_BACKEND: 'wasm',
    PLORA_LOG_LEVEL: 'warn',
    HF_HUB_OFFLINE: '1',
  }
}

/** Runs the bin; `killAfterCells` SIGKILLs it once that many cells have reported done. */
function runBin(
  args: string[],
  killAfterCells?: number,
): Promise<{ code: number | null; signal: string | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 200_000)
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString()
      const done = (err.match(/\[value-add \d+\/\d+\]/g) ?? []).length
      if (killAfterCells !== undefined && done >= killAfterCells && child.exitCode === null) child.kill('SIGKILL')
    })
    child.stdout.resume()
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, err })
    })
  })
}

function lines(path: string): string[] {
  const text = readFileSync(path, 'utf8')
  expect(text === '' || text.endsWith('\n')).toBe(true)
  return text.split('\n').filter((l) => l !== '')
}

beforeAll(async () => {
  tmp = await tempDir('plora-value-add-cli-')
  useOfflineCliEnv(join(tmp.path, 'cache'))
  delete process.env.PLORA_CONFIG
  await initBackend({ backend: 'wasm' })
  modelDir = await writeEmbeddedBaseModel(join(tmp.path, 'base-model'), { seed: 3 })
}, 120_000)

afterAll(async () => {
  process.env = saved
  await tmp.cleanup()
})

describe('plora value-add run', () => {
  it('resumes after a SIGKILL mid-cell with no duplicated or half-written line', async () => {
    const out = join(tmp.path, 'killed')
    const killed = await runBin(flags(out), 1)
    expect(killed.signal).toBe('SIGKILL')
    const jsonl = join(out, 'value_add.jsonl')
    const partial = lines(jsonl)
    expect(partial.length).toBeGreaterThanOrEqual(1)
    expect(partial.length).toBeLessThan(4)
    for (const l of partial) JSON.parse(l)
    const rerun = await runBin(flags(out))
    expect(rerun.code).toBe(0)
    expect(rerun.err).toContain('resumed')
    const all = lines(jsonl)
    expect(all.length).toBe(4)
    expect(all.slice(0, partial.length)).toEqual(partial)
    const keys = all.map((l) => (JSON.parse(l) as { resume_key: string }).resume_key)
    expect(new Set(keys).size).toBe(4)
    expect(existsSync(join(out, 'value_add.md'))).toBe(true)
  }, 300_000)

  it('exits 4 naming the cell when a placebo significantly beats the baseline (checked over resumed records too)', async () => {
    const out = join(tmp.path, 'guard')
    cpSync(join(tmp.path, 'killed'), out, { recursive: true })
    const jsonl = join(out, 'value_add.jsonl')
    const [firstLine, ...rest] = lines(jsonl)
    const r = JSON.parse(firstLine!) as { placebo_a: Record<string, unknown>; config: { domain: string; seed: number } }
    r.placebo_a = { ...r.placebo_a, delta_mean: -0.5, wilcoxon_p: 1e-30, ci: [-0.6, -0.4] }
    writeFileSync(jsonl, [JSON.stringify(r), ...rest].map((l) => `${l}\n`).join(''))
    const res = await runCli(...flags(out))
    expect(res.code).toBe(4)
    expect(res.err).toContain(`${r.config.domain} r=1 attention seed${r.config.seed} placebo_a`)
    expect(res.err).toContain('EXPERIMENTS_PLACEBO_BEATS_BASELINE')
    expect(readFileSync(join(out, 'value_add.md'), 'utf8')).toContain('# Value-add experiment – summary')
  })

  it('rejects a bad flag value as a usage error and shows the library defaults in --help', async () => {
    const bad = await runCli('value-add', 'run', '--seeds', '[41, 42]')
    expect(bad.code).toBe(2)
    const help = await runCli('value-add', 'run', '--help')
    expect(help.out).toContain('--nll-on')
    expect(help.out).toContain('(default: "answer")')
  })

  it('build: --list-configs, exit 2 for a missing folder, exit 3 when nothing is left', async () => {
    const dir = join(tmp.path, 'killed')
    const list = await runCli(
      'value-add',
      'build',
      '--artifacts-dir',
      dir,
      '--domains',
      'legal,medical',
      '--seeds',
      '41,42',
      '--list-configs',
    )
    expect(list.code).toBe(0)
    expect(list.out).toContain(
      `legal rank=1 scheme=attention seed=41 -> ${join(dir, 'rank_r1', 'legal_attention_seed41')}`,
    )
    expect(list.out.trimEnd().endsWith('Discovered 4 configs.')).toBe(true)
    const missing = await runCli('value-add', 'build', '--artifacts-dir', join(tmp.path, 'nope'), '--list-configs')
    expect(missing.code).toBe(2)
    expect(missing.err).toContain('Artifacts dir not found')
    const none = await runCli('value-add', 'build', '--artifacts-dir', dir, '--filter', 'zzz', '--list-configs')
    expect(none.code).toBe(3)
    expect(none.err).toContain('No artifact configs discovered after filtering.')
  })

  it('exits 1 naming the domain and split when a dev set cannot be loaded', async () => {
    const f = flags(join(tmp.path, 'bad-domain'))
    f[f.indexOf('legal,medical')] = 'legal,nosuchdomain'
    const r = await runCli(...f)
    expect(r.code).toBe(1)
    expect(r.err).toContain('nosuchdomain')
    expect(r.err).toContain('validation split')
  })
})
