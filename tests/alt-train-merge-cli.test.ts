// `plora alt-train-merge` in-process with a tiny config (1 domain, 2 cycles × 2 fresh pairs from
// the config's alt_train_merge section) over a local untrained GPT-2 folder: the config supplies
// cycles, samples and rank, progress goes to stderr per cycle and domain, the convergence table to
// stdout; an existing output needs --replace; bad flags are usage errors.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, useTinyModelProject } from './helpers.js'

const flags = (out: string) => [
  'alt-train-merge',
  '--base-model',
  project.modelDir,
  '--domains',
  'legal',
  '--line-search-size',
  '2',
  '--dev-size',
  '3',
  '--max-length',
  '48',
  '--alphas',
  '0,1',
  '--output',
  out,
]

const project = useTinyModelProject('plora-alt-train-merge-cli-', () => {
  const dry = readFileSync(join(import.meta.dirname, '..', 'config', 'plora.dry.yml'), 'utf8')
  const tiny = dry
    .replace(
      /alt_train_merge:\n {2}cycles: \d+\n {2}samples: \d+\n {2}rank: \d+/,
      'alt_train_merge:\n  cycles: 2\n  samples: 2\n  rank: 1',
    )
    .replace(/max_len: \d+/, 'max_len: 48')
  expect(tiny).toContain('  samples: 2\n  rank: 1')
  return tiny
})

describe('plora alt-train-merge', () => {
  it('runs the config cycles, reports progress on stderr and the table on stdout; no overwrite without --replace', async () => {
    const out = join(project.path, 'atm')
    const r = await runCli(...flags(out))
    expect(r.err).toBe(
      r.err
        .split('\n')
        .filter((l) => l === '' || l.startsWith('[alt-train-merge'))
        .join('\n'),
    )
    expect(r.code).toBe(0)
    expect(r.err).toContain('[alt-train-merge cycle 0/2] base held-out NLL: legal ')
    expect(r.err).toContain('[alt-train-merge cycle 1/2] trained legal in ')
    expect(r.err).toMatch(/\[alt-train-merge cycle 2\/2\] merged at α = [01]/)
    const report = JSON.parse(readFileSync(join(out, 'convergence.json'), 'utf8'))
    expect(report).toMatchObject({ cycles: 2, samples_per_cycle: 2, rank: 1, seed: 42, alphas: [0, 1] })
    expect(report.param_delta_fro).toHaveLength(2)
    expect(report.cycle_records[1].adapters[0].train_block).toEqual([2, 4])
    expect(r.out).toContain(readFileSync(join(out, 'convergence.md'), 'utf8'))
    expect(r.out).toContain('| 0 (base) |')

    const again = await runCli(...flags(out))
    expect(again.code).toBe(1)
    expect(again.err).toContain('[EXPERIMENTS_OUTPUT_EXISTS]')
    expect(again.err).toContain('--replace')
    const replaced = await runCli(...flags(out), '--replace', '--cycles', '1')
    expect(replaced.code).toBe(0)
    expect(JSON.parse(readFileSync(join(out, 'convergence.json'), 'utf8')).param_delta_fro).toHaveLength(1)
  }, 120_000)

  it('rejects bad flags as usage errors and one split for line search and report as bad input', async () => {
    const out = join(project.path, 'bad')
    expect((await runCli(...flags(out), '--alphas', '-1')).code).toBe(2)
    expect((await runCli(...flags(out), '--cycles', '0')).code).toBe(2)
    expect((await runCli(...flags(out), '--eval-split', 'train')).code).toBe(2)
    const same = await runCli(...flags(out), '--line-search-split', 'test', '--eval-split', 'test')
    expect(same.code).toBe(1)
    expect(same.err).toContain('[EXPERIMENTS_INPUT_INVALID]')
  }, 60_000)
})
