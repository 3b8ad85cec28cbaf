// `plora gate merge-study` end to end through the CLI on a tiny population (8 clean + 2 poisoned
// adapters over 2 domains, 4 pairs, one epoch, rank 2, 2 probes) on a local untrained GPT-2 folder:
// it trains, calibrates, re-gates the merges per method against both references and writes the
// JSON and Markdown reports; rates are recomputed from the per-merge verdicts; an unknown method
// fails before anything is trained. About 40 s on 2 cores: it really trains 10 adapters and probes
// every input and merged adapter (the library's unit test covers the same logic without training).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../packages/gate/test/helpers.js'
import { initBackend, writeEmbeddedBaseModel } from '../packages/model/src/index.js'
import { runCli } from './helpers.js'

let tmp: { path: string; cleanup: () => Promise<void> }
let flags: string[]
const saved = { ...process.env }
const out = (name: string) => join(tmp.path, name)

beforeAll(async () => {
  tmp = await tempDir('plora-merge-gate-study-cli-')
  process.env.PLORA_CACHE_DIR = join(tmp.path, 'cache')
  process.env.PLORA_LOG_LEVEL = 'warn'
  delete process.env.PLORA_BASE_MODEL
  delete process.env.PLORA_CONFIG
  await initBackend({ backend: 'wasm' })
  const modelDir = await writeEmbeddedBaseModel(join(tmp.path, 'base-model'), { seed: 3 })
  flags = [
    'gate',
    'merge-study',
    '--population-dir',
    out('pop'),
    '--calibration-dir',
    out('calib'),
    '--base-model',
    modelDir,
    '--clean',
    '8',
    '--poisoned',
    '4',
    '--domains',
    'legal,medical',
    '--samples',
    '4',
    '--epochs',
    '1',
    '--rank',
    '2',
    '--probes-max',
    '2',
    '--bootstrap',
    '50',
    '--merges-per-poisoned',
    '2',
    '--clean-merges',
    '2',
    '--calibration-merges',
    '4',
    '--out',
    out('study.json'),
    '--md',
    out('study.md'),
  ]
}, 120_000)

afterAll(async () => {
  process.env = saved
  await tmp.cleanup()
})

describe('plora gate merge-study', () => {
  it('refuses an unknown method before training anything', async () => {
    const r = await runCli(...flags, '--methods', 'weighted_sum,bogus')
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/--methods: expected a comma list of weighted_sum/)
    expect(existsSync(out('pop'))).toBe(false)
  })

  it('trains, calibrates and re-gates the merges per method; rates match the verdicts', async () => {
    const r = await runCli(...flags, '--methods', 'weighted_sum,ties')
    expect(r.code, r.err).toBe(0)
    expect(r.out).toContain('# Re-gating merged adapters')
    const report = JSON.parse(readFileSync(out('study.json'), 'utf8'))
    // 2 poisoned evaluation adapters × 2 merges each, 2 clean merges, for 2 methods
    expect(report.settings).toMatchObject({ k: 2, poisoned_merges: 4, clean_merges: 2, calibration_merges: 4 })
    expect(report.merges).toHaveLength(12)
    expect(report.methods).toHaveLength(4)
    for (const s of report.methods) {
      const pois = report.merges.filter(
        (m: { method: string; kind: string }) => m.method === s.method && m.kind === 'poisoned',
      )
      const rejected = pois.filter((m: { passed: Record<string, boolean> }) => !m.passed[s.reference]).length
      expect(s.catch_rate.value).toBe(rejected / pois.length)
    }
    expect(existsSync(out('calib/gate-ref-merged-ties.json'))).toBe(true)
    expect(existsSync(out('calib/.staging'))).toBe(false)
    expect(readFileSync(out('study.md'), 'utf8')).toContain('| ties | merged |')
  }, 300_000)
})
