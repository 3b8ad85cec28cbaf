/**
 * `plora data` end to end against a fake Hugging Face hub on 127.0.0.1 (issue 5, Done-when 4): the
 * command downloads parquet for a dataset into the HF cache, the same command then works with
 * HF_HUB_OFFLINE=1 without a request, and with an empty cache offline the error names the dataset
 * and the cache. Runs the built bin (tests/vitest.config.ts builds it once).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addRepo, type FakeHub, startFakeHub } from '../packages/datasets/test/helpers/fake-hub.js'
import { aquaRatParquet } from '../packages/datasets/test/helpers/parquet-fixtures.js'

const REPO = resolve(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')

// async spawn: the fake hub in this process must keep serving while the child runs
function plora(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PLORA_LOG_LEVEL: 'warn', ...env },
        timeout: 60_000,
      },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

const ROWS = Array.from({ length: 24 }, (_, i) => ({
  question: `A tank fills in ${i + 2} hours. What fraction fills in one hour?`,
  rationale: `In one hour the tank fills 1/${i + 2} of its volume.\nAnswer: A`,
}))

describe('plora data with a fake hub', () => {
  let hub: FakeHub
  let home: string
  let emptyHome: string

  beforeAll(async () => {
    hub = await startFakeHub()
    addRepo(hub, 'deepmind/aqua_rat', { 'raw/train-00000-of-00001.parquet': aquaRatParquet(ROWS) })
    home = await mkdtemp(join(tmpdir(), 'plora-hf-home-'))
    emptyHome = await mkdtemp(join(tmpdir(), 'plora-hf-empty-'))
  })
  afterAll(async () => {
    await hub.close()
    await rm(home, { recursive: true, force: true })
    await rm(emptyHome, { recursive: true, force: true })
  })

  const prepare = ['data', 'prepare', '--hub', '--domains', 'arithmetic', '--splits', 'train']
  const show = ['data', 'show', '--domain', 'arithmetic', '--source', 'hf:deepmind/aqua_rat:raw', '-n', '3', '--json']

  it('downloads into the HF cache, then the same commands work with HF_HUB_OFFLINE=1', async () => {
    const env = { HF_HOME: home, HF_ENDPOINT: hub.endpoint }
    const online = await plora(prepare, env)
    expect(online.code, online.stderr).toBe(0)
    expect(online.stdout).toContain('train/arithmetic: 24 pairs (of 24) from hf:deepmind/aqua_rat:raw, downloaded')
    const requests = hub.requests.length
    expect(requests).toBeGreaterThan(0)

    const offline = await plora(prepare, { ...env, HF_HUB_OFFLINE: '1' })
    expect(offline.code, offline.stderr).toBe(0)
    expect(offline.stdout).toContain('train/arithmetic: 24 pairs (of 24) from hf:deepmind/aqua_rat:raw, from the cache')

    const shown = await plora(show, { ...env, HF_HUB_OFFLINE: '1' })
    expect(shown.code, shown.stderr).toBe(0)
    const pairs = shown.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(pairs).toHaveLength(3)
    for (const p of pairs) expect(ROWS.some((r) => r.question === p.question && r.rationale === p.answer)).toBe(true)
    expect(hub.requests.length).toBe(requests)
  })

  it('fails offline with an empty cache, naming the dataset and the cache', async () => {
    const r = await plora(prepare, { HF_HOME: emptyHome, HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '1' })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('plora data prepare:')
    expect(r.stderr).toContain('"deepmind/aqua_rat"')
    expect(r.stderr).toContain(join(emptyHome, 'hub', 'datasets--deepmind--aqua_rat'))
    expect(r.stderr).toContain('[DATASETS_CACHE_MISS]')
  })

  it('shows embedded examples offline with no hub at all', async () => {
    const r = await plora(['data', 'show', '--domain', 'medical', '--split', 'validation', '-n', '2'], {
      HF_HOME: emptyHome,
      HF_HUB_OFFLINE: '1',
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^medical\/validation from embedded:medical: showing 2 of \d+ pairs/)
    expect(r.stdout).toContain('[2] Q: ')
  })
})
