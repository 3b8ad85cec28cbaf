// Sharded grids through the CLI (issue 23 item 3), in process with a tiny config: `value-add run
// --shard i/n` + `value-add merge`, `ablation --shard i/n` + `ablation merge`, and `probes population
// --shard i/n` + `probes population merge`. The merged value-add and ablation folders equal a
// one-machine run's with only the measured timing fields masked (records: latency_ms,
// latency_trials_ms / train_seconds, inject_remove_ms, inject_remove_trials_ms; the Markdown
// columns printed from them; plora.yml's creation time); the merged population is reused whole.
// The library tests (packages/experiments/test/unit/grid-shards.test.ts) cover the refusals in full.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectSameAdapters, filesBelow, runCli, untimedRecords, useTinyModelProject } from './helpers.js'

const REPO = join(import.meta.dirname, '..')
const project = useTinyModelProject('plora-shard-cli-', () =>
  [
    `extends: ${join(REPO, 'config', 'plora.dry.yml')}`,
    'domains: [legal]',
    'value_add: {dev_size: 6, ranks: [1, 2], schemes: [attention], seeds: [41], placebo_b_rank: 1}',
    'train: {lr: 0.003, dropout: 0.1, max_len: 48, train_split: 0.8, seed: 5}',
    'ablation: {ranks: [1, 2], schemes: [attention], samples: 4}',
    '',
  ].join('\n'),
)

const ok = (r: { code: number; err: string }) => {
  expect(r.err).not.toMatch(/Error/)
  expect(r.code, r.err.slice(-2000)).toBe(0)
}

describe('plora value-add run --shard / value-add merge', () => {
  it('merges the shards into a one-machine run (timing fields aside); refuses a missing cell and a bad --shard', async () => {
    const p = (name: string) => join(project.path, name)
    const grid = ['--base-model', project.modelDir, '--samples', '4', '--max-length', '48']
    const run = (out: string, ...extra: string[]) =>
      runCli('value-add', 'run', ...grid, '--latency-budget-ms', '1e9', '--output', out, ...extra)
    ok(await run(p('va_one')))
    for (const i of [1, 2]) {
      const r = await run(p(`va_shard_${i}`), '--shard', `${i}/2`)
      ok(r)
      expect(r.out).toContain(`value-add shard ${i}/2: 1 new cell(s)`)
    }
    const m = await runCli('value-add', 'merge', p('va_shard_2'), p('va_shard_1'), ...grid, '--output', p('va_merged'))
    ok(m)
    expect(m.out).toMatch(/Merged 2 shard folder\(s\) into .* \(2 records in grid order, \d+ adapter files\)/)
    const [one, merged] = [p('va_one'), p('va_merged')]
    const timing = new Set(['latency_ms', 'latency_trials_ms'])
    expect(untimedRecords(join(merged, 'value_add.jsonl'), timing)).toEqual(
      untimedRecords(join(one, 'value_add.jsonl'), timing),
    )
    const md = (dir: string) =>
      readFileSync(join(dir, 'value_add.md'), 'utf8').replace(/\| \d+\.\d \| (⚠)? \|$/gm, '| T | |')
    expect(md(merged)).toBe(md(one))
    for (const f of ['value_add_summary.json', 'nll_cache.json'])
      expect(readFileSync(join(merged, f), 'utf8'), f).toBe(readFileSync(join(one, f), 'utf8'))
    expect(filesBelow(merged)).toEqual(filesBelow(one))
    expectSameAdapters(
      one,
      merged,
      filesBelow(one).filter((f) => f.startsWith('rank_r')),
    )

    const missing = await runCli('value-add', 'merge', p('va_shard_1'), ...grid, '--output', p('va_no'))
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('EXPERIMENTS_SHARD_CELL_MISSING')
    expect(missing.err).toContain('lack 1 of 2 grid cells (first: legal r=2 attention seed41)')
    expect((await run(p('va_no'), '--shard', '3/2')).code).toBe(2)
    expect((await run(p('va_no'), '--shard', '1/0')).code).toBe(2)
  }, 120_000)
})

describe('plora ablation --shard / ablation merge', () => {
  it('merges the shards into a one-machine run (timing fields aside), adjusted p-values over the whole grid', async () => {
    const p = (name: string) => join(project.path, name)
    const grid = ['--base-model', project.modelDir, '--max-length', '48', '--latency-trials', '3']
    ok(await runCli('ablation', ...grid, '--out', p('abl_one')))
    for (const i of [1, 2]) ok(await runCli('ablation', ...grid, '--shard', `${i}/2`, '--out', p(`abl_shard_${i}`)))
    const m = await runCli('ablation', 'merge', p('abl_shard_2'), p('abl_shard_1'), ...grid, '--out', p('abl_merged'))
    ok(m)
    expect(m.out).toMatch(/Merged 2 shard folder\(s\) into .* \(2 records in grid order\)/)
    const timing = new Set(['train_seconds', 'inject_remove_ms', 'inject_remove_trials_ms'])
    const a = untimedRecords(join(p('abl_one'), 'ablation.jsonl'), timing)
    expect(a.map((r) => r.tests_corrected)).toEqual([2, 2])
    expect(untimedRecords(join(p('abl_merged'), 'ablation.jsonl'), timing)).toEqual(a)
    const md = (dir: string) =>
      readFileSync(join(dir, 'ablation.md'), 'utf8').replace(/\| \d+\.\d \| \d+\.\d\d \|$/gm, '| T | T |')
    expect(md(p('abl_merged'))).toBe(md(p('abl_one')))
    expect(filesBelow(p('abl_merged'))).toEqual(filesBelow(p('abl_one')))
    expectSameAdapters(
      p('abl_one'),
      p('abl_merged'),
      filesBelow(p('abl_one')).filter((f) => f.startsWith('abl_')),
    )
    // the merge never writes over ablation outputs
    const again = await runCli(
      'ablation',
      'merge',
      p('abl_shard_1'),
      p('abl_shard_2'),
      ...grid,
      '--out',
      p('abl_merged'),
    )
    expect(again.code).toBe(3)
    expect(again.err).toContain('EXPERIMENTS_OUTPUT_EXISTS')
  }, 90_000)
})

describe('plora probes population --shard / probes population merge', () => {
  it('trains each shard its members; the merged folder is reused without training', async () => {
    const p = (name: string) => join(project.path, name)
    const flags = [
      '--base-model',
      project.modelDir,
      '--clean',
      '2',
      '--poisoned',
      '2',
      '--domains',
      'legal',
      '--samples',
      '4',
      '--epochs',
      '1',
      '--ranks',
      '1',
      '--schemes',
      'attention',
      '--probes-max',
      '2',
    ]
    const pop = (...extra: string[]) => runCli('probes', 'population', ...flags, ...extra)
    for (const i of [1, 2]) {
      const r = await pop('--shard', `${i}/2`, '--population-dir', p(`pop_shard_${i}`))
      ok(r)
      expect(r.out).toContain(`(shard ${i}/2): 2 trained, 0 reused of 4 members`)
    }
    const merged = p('pop_merged')
    const m = await runCli(
      'probes',
      'population',
      'merge',
      p('pop_shard_1'),
      p('pop_shard_2'),
      ...flags,
      '--population-dir',
      merged,
    )
    ok(m)
    expect(m.out).toContain('Merged 2 shard folder(s) into')
    expect(readdirSync(merged).filter((f) => f.endsWith('.member.json'))).toHaveLength(4)
    const reuse = await pop('--population-dir', merged)
    ok(reuse)
    expect(reuse.out).toContain(': 0 trained, 4 reused of 4 members')
    const missing = await runCli(
      'probes',
      'population',
      'merge',
      p('pop_shard_2'),
      ...flags,
      '--population-dir',
      p('pop_no'),
    )
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('EXPERIMENTS_SHARD_CELL_MISSING')
    expect((await pop('--shard', '0/2', '--population-dir', p('pop_no'))).code).toBe(2)
  }, 90_000)
})
