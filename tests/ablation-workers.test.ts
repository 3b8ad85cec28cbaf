// `plora ablation --workers 2` (issue 21): the cells run on two worker threads of the built CLI
// (Node 20 cannot start workers from .ts sources), and the run writes what a one-worker run writes:
// the same records in the same order apart from the timing fields, and byte-identical adapters.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectSameAdapters, filesBelow, untimedRecords, useTinyModelProject } from './helpers.js'

const REPO = join(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')
const TIMING = new Set(['train_seconds', 'inject_remove_ms', 'inject_remove_trials_ms'])
const project = useTinyModelProject('plora-ablation-workers-', () =>
  [
    `extends: ${join(REPO, 'config', 'plora.dry.yml')}`,
    'domains: [legal, medical]',
    'value_add: {dev_size: 6, ranks: [1], schemes: [attention], seeds: [41], placebo_b_rank: 1}',
    'train: {lr: 0.003, dropout: 0.1, max_len: 48, train_split: 0.8, seed: 5}',
    'ablation: {ranks: [1, 2], schemes: [attention], samples: 4}',
    '',
  ].join('\n'),
)

function ablation(out: string, ...extra: string[]) {
  const args = [
    'ablation',
    '--base-model',
    project.modelDir,
    '--max-length',
    '48',
    '--latency-trials',
    '3',
    '--out',
    out,
  ]
  const r = spawnSync(process.execPath, [BIN, ...args, ...extra], {
    env: process.env,
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { code: r.status, err: r.stderr, out: r.stdout }
}

function records(out: string): Array<Record<string, unknown>> {
  return untimedRecords(join(out, 'ablation.jsonl'), TIMING)
}

describe('plora ablation --workers', () => {
  it('gives the records and adapters of a one-worker run', () => {
    const one = join(project.path, 'one')
    const two = join(project.path, 'two')
    const r1 = ablation(one, '--workers', '1')
    expect(r1.err).not.toMatch(/Error/)
    expect(r1.code).toBe(0)
    const r2 = ablation(two, '--workers', '2')
    expect(r2.err).not.toMatch(/Error/)
    expect(r2.code).toBe(0)
    expect(r2.err).not.toMatch(/running from TypeScript sources/)
    expect(r1.out).toMatch(/4 new cell\(s\) on 1 worker thread\(s\)/)
    expect(r2.out).toMatch(/4 new cell\(s\) on 2 worker thread\(s\)/)
    // one progress line per finished cell
    expect(r2.err.match(/^\[ablation \d\/4\] .* done in /gm)).toHaveLength(4)
    const a = records(one)
    expect(a.map((x) => (x.config as { domain: string }).domain)).toEqual(['legal', 'legal', 'medical', 'medical'])
    expect(records(two)).toEqual(a)
    const adapters = filesBelow(one).filter((f) => f.startsWith('abl_'))
    expect(adapters.length).toBeGreaterThanOrEqual(8)
    expect(filesBelow(two).filter((f) => f.startsWith('abl_'))).toEqual(adapters)
    // the adapter files byte for byte; the manifest apart from its creation time (and the id made from it)
    expectSameAdapters(one, two, adapters)
    expect(adapters.filter((f) => f.endsWith('.safetensors'))).toHaveLength(4)
  }, 120_000)

  it('a cell failing in a worker fails the run naming it; the finished cells stay recorded; --resume completes', () => {
    const out = join(project.path, 'crash')
    mkdirSync(out)
    // a file where the cell's adapter folder goes: its training fails inside the worker
    writeFileSync(join(out, 'abl_legal_r2_attention'), 'not a folder\n')
    const r = ablation(out, '--workers', '2', '--resume')
    expect(r.code).toBe(1)
    expect(r.err).toContain('EXPERIMENTS_WORKER_FAILED')
    expect(r.err).toContain('cell legal r=2 attention failed in a worker thread')
    const kept = records(out)
    expect(kept.length).toBeGreaterThanOrEqual(1)
    expect(kept.length).toBeLessThan(4)
    for (const x of kept) {
      expect(x.adapter_dir).not.toBe('abl_legal_r2_attention')
      expect(statSync(join(out, String(x.adapter_dir), 'adapter_model.safetensors')).isFile()).toBe(true)
    }
    expect(existsSync(join(out, 'abl_legal_r2_attention'))).toBe(false)
    const again = ablation(out, '--workers', '2', '--resume')
    expect(again.err).not.toMatch(/Error/)
    expect(again.code).toBe(0)
    expect(again.out).toMatch(
      new RegExp(`${4 - kept.length} new cell\\(s\\) on \\d worker thread\\(s\\), ${kept.length} resumed`),
    )
    expect(records(out)).toHaveLength(4)
  }, 120_000)

  it('rejects a bad --workers (usage error) or $PLORA_WORKERS (bad input)', () => {
    expect(ablation(join(project.path, 'bad'), '--workers', '0').code).toBe(2)
    process.env.PLORA_WORKERS = 'two'
    try {
      const r = ablation(join(project.path, 'bad'))
      expect(r.code).toBe(1)
      expect(r.err).toContain('PLORA_WORKERS')
    } finally {
      delete process.env.PLORA_WORKERS
    }
  })
})
