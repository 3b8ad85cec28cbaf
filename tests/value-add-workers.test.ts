// `plora value-add run --workers 2` (issue 21): the cells run on two worker threads of the built
// CLI, and the run writes what a one-worker run writes: the same records in the same order apart
// from the latency fields, the same NLL cache, and byte-identical adapters — with two cells per
// domain sharing one placebo-B folder (placebo_b_rank 1 beside rank 2), which the pool never runs
// at the same time.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectSameAdapters, filesBelow, untimedRecords, useTinyModelProject } from './helpers.js'

const REPO = join(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')
const TIMING = new Set(['latency_ms', 'latency_trials_ms'])
const project = useTinyModelProject('plora-value-add-workers-', () =>
  [
    `extends: ${join(REPO, 'config', 'plora.dry.yml')}`,
    'domains: [legal, medical]',
    'value_add: {dev_size: 6, ranks: [1, 2], schemes: [attention], seeds: [41], placebo_b_rank: 1}',
    'train: {lr: 0.003, dropout: 0.1, max_len: 48, train_split: 0.8, seed: 5}',
    '',
  ].join('\n'),
)

function valueAdd(out: string, ...extra: string[]) {
  const args = [
    'value-add',
    'run',
    '--base-model',
    project.modelDir,
    '--samples',
    '4',
    '--max-length',
    '48',
    '--latency-budget-ms',
    '1e9',
    '--output',
    out,
  ]
  const r = spawnSync(process.execPath, [BIN, ...args, ...extra], {
    env: process.env,
    encoding: 'utf8',
    timeout: 90_000,
  })
  return { code: r.status, err: r.stderr, out: r.stdout }
}

function records(out: string): Array<Record<string, unknown>> {
  return untimedRecords(join(out, 'value_add.jsonl'), TIMING)
}

const label = (r: Record<string, unknown>) => {
  const c = r.config as { domain: string; rank: number }
  return `${c.domain} r=${c.rank}`
}

describe('plora value-add run --workers', () => {
  it('gives the records, NLL cache and adapters of a one-worker run', () => {
    const one = join(project.path, 'one')
    const two = join(project.path, 'two')
    const r1 = valueAdd(one, '--workers', '1')
    expect(r1.err).not.toMatch(/Error/)
    expect(r1.code).toBe(0)
    const r2 = valueAdd(two, '--workers', '2')
    expect(r2.err).not.toMatch(/Error/)
    expect(r2.code).toBe(0)
    expect(r2.err).not.toMatch(/running from TypeScript sources/)
    expect(r1.out).toMatch(/4 new cell\(s\) on 1 worker thread\(s\)/)
    expect(r2.out).toMatch(/4 new cell\(s\) on 2 worker thread\(s\)/)
    expect(r2.err.match(/^\[value-add \d\/4\] .* done in /gm)).toHaveLength(4)
    const a = records(one)
    expect(a.map(label)).toEqual(['legal r=1', 'legal r=2', 'medical r=1', 'medical r=2'])
    expect(records(two)).toEqual(a)
    // both ranks of a domain share the rank-1 placebo B
    expect(a[0]!.adapters).toMatchObject({ placebo_b: { dir: 'rank_r1/legal_attention_seed41_placebo_shuffle' } })
    expect((a[1]!.adapters as { placebo_b: { dir: string } }).placebo_b.dir).toBe(
      'rank_r1/legal_attention_seed41_placebo_shuffle',
    )
    expect(JSON.parse(readFileSync(join(two, 'nll_cache.json'), 'utf8'))).toEqual(
      JSON.parse(readFileSync(join(one, 'nll_cache.json'), 'utf8')),
    )
    const adapters = filesBelow(one).filter((f) => f.startsWith('rank_r'))
    expect(adapters.filter((f) => f.endsWith('.safetensors'))).toHaveLength(4 + 4 + 2) // trained, placebo A, placebo B
    expect(filesBelow(two).filter((f) => f.startsWith('rank_r'))).toEqual(adapters)
    expectSameAdapters(one, two, adapters)
  }, 180_000)

  it('a cell failing in a worker fails the run naming it; the finished cells stay recorded; a rerun completes', () => {
    const out = join(project.path, 'crash')
    mkdirSync(join(out, 'rank_r2'), { recursive: true })
    // a file where the cell's adapter folder goes: its training fails inside the worker
    writeFileSync(join(out, 'rank_r2', 'medical_attention_seed41'), 'not a folder\n')
    const r = valueAdd(out, '--workers', '2')
    expect(r.code, r.err).toBe(1)
    expect(r.err).toContain('EXPERIMENTS_WORKER_FAILED')
    expect(r.err).toContain('cell medical r=2 attention seed41 failed in a worker thread')
    const kept = records(out)
    expect(kept.length).toBeGreaterThanOrEqual(1)
    expect(kept.length).toBeLessThan(4)
    expect(kept.map(label)).not.toContain('medical r=2')
    rmSync(join(out, 'rank_r2', 'medical_attention_seed41'))
    const again = valueAdd(out, '--workers', '2')
    expect(again.err).not.toMatch(/Error/)
    expect(again.code, again.err).toBe(0)
    expect(again.out).toMatch(
      new RegExp(`${4 - kept.length} new cell\\(s\\) on \\d worker thread\\(s\\), ${kept.length} resumed`),
    )
    // resumed records first (in their file's order), then the new ones in cell order
    expect(records(out).map(label)).toEqual([
      ...kept.map(label),
      ...['legal r=1', 'legal r=2', 'medical r=1', 'medical r=2'].filter((l) => !kept.map(label).includes(l)),
    ])
    expect(existsSync(join(out, 'value_add.md'))).toBe(true)
  }, 180_000)

  it('rejects a bad --workers (usage error)', () => {
    expect(valueAdd(join(project.path, 'bad'), '--workers', '0').code).toBe(2)
  })
})
