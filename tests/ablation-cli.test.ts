// `plora ablation` in process with a tiny config (PLORA_CONFIG): defaults from the config's
// `ablation` section, progress per cell on stderr, the Markdown table on stdout, exit 3 (nothing
// touched) when --out already holds ablation outputs, --replace, and usage errors.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, useTinyModelProject } from './helpers.js'

const REPO = join(import.meta.dirname, '..')
const project = useTinyModelProject('plora-ablation-cli-', () =>
  [
    `extends: ${join(REPO, 'config', 'plora.dry.yml')}`,
    'domains: [legal]',
    'value_add: {dev_size: 6, ranks: [1], schemes: [attention], seeds: [41], placebo_b_rank: 1}',
    'train: {lr: 0.003, dropout: 0.1, max_len: 48, train_split: 0.8, seed: 5}',
    'ablation: {ranks: [1, 2], schemes: [attention, mlp], samples: 4}',
    '',
  ].join('\n'),
)

describe('plora ablation', () => {
  it('runs the config grid, then refuses to overwrite without --replace (exit 3), then replaces', async () => {
    const out = join(project.path, 'results')
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
    const r = await runCli(...args)
    expect(r.err).not.toMatch(/Error/)
    expect(r.code).toBe(0)
    expect(r.err).toMatch(/\[ablation 4\/4\] legal r=2 mlp done in/)
    expect(r.out).toContain('## Domain: legal')
    expect(r.out).toMatch(/Best cell: /)
    const jsonl = join(out, 'ablation.jsonl')
    const text = readFileSync(jsonl, 'utf8')
    const records = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { config: Record<string, unknown> })
    // defaults from the config: ablation.{ranks,schemes,samples}, train.seed, value_add.dev_size
    expect(records.map((x) => [x.config.rank, x.config.scheme])).toEqual([
      [1, 'attention'],
      [1, 'mlp'],
      [2, 'attention'],
      [2, 'mlp'],
    ])
    expect(records[0]!.config).toMatchObject({ samples: 4, seed: 5, dev_size: 6, lr: 0.003, train_max_len: 48 })

    const again = await runCli(...args)
    expect(again.code).toBe(3)
    expect(again.err).toContain('EXPERIMENTS_OUTPUT_EXISTS')
    expect(again.err).toContain('--replace')
    expect(readFileSync(jsonl, 'utf8')).toBe(text)

    const replaced = await runCli(...args, '--ranks', '1', '--schemes', 'mlp', '--replace')
    expect(replaced.code).toBe(0)
    expect(readFileSync(jsonl, 'utf8').trim().split('\n')).toHaveLength(1)
  }, 120_000)

  it('rejects bad flag values as usage errors and --replace with --resume as bad input', async () => {
    expect((await runCli('ablation', '--ranks', '0,4')).code).toBe(2)
    expect((await runCli('ablation', '--schemes', 'attention,ffn')).code).toBe(2)
    expect((await runCli('ablation', '--latency-trials', '2')).code).toBe(2)
    const both = await runCli(
      'ablation',
      '--base-model',
      project.modelDir,
      '--out',
      join(project.path, 'x'),
      '--replace',
      '--resume',
    )
    expect(both.code).toBe(1)
    expect(both.err).toContain('EXPERIMENTS_INPUT_INVALID')
  })
})
