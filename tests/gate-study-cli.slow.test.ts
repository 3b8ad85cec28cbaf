// `plora probes calibrate` and `plora gate eval` end to end through the CLI, on a tiny population
// (3 + 3 clean, 2 + 2 poisoned adapters, 4 pairs, one epoch) over a local untrained GPT-2 folder:
// calibration trains the population once and writes the reference and report the gate reads;
// a second run reuses every adapter; evaluation runs the gate on the other half and writes JSON,
// Markdown and the ROC figure; evaluation without a calibration fails before training anything.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../packages/gate/test/helpers.js'
import { initBackend, writeEmbeddedBaseModel } from '../packages/model/src/index.js'
import { runCli } from './helpers.js'

let tmp: { path: string; cleanup: () => Promise<void> }
let flags: string[]
const saved = { ...process.env }

beforeAll(async () => {
  tmp = await tempDir('plora-gate-study-cli-')
  process.env.PLORA_CACHE_DIR = join(tmp.path, 'cache')
  delete process.env.PLORA_BASE_MODEL
  delete process.env.PLORA_CONFIG
  await initBackend({ backend: 'wasm' })
  const modelDir = await writeEmbeddedBaseModel(join(tmp.path, 'base-model'), { seed: 3 })
  flags = [
    '--population-dir',
    join(tmp.path, 'pop'),
    '--base-model',
    modelDir,
    '--clean',
    '6',
    '--poisoned',
    '4',
    '--domains',
    'legal,medical,arithmetic',
    '--samples',
    '4',
    '--epochs',
    '1',
    '--rank',
    '2',
    '--scheme',
    'attention',
    '--probes-max',
    '2',
    '--bootstrap',
    '100',
  ]
}, 120_000)

afterAll(async () => {
  process.env = saved
  await tmp.cleanup()
})

describe('plora probes calibrate / plora gate eval', () => {
  const out = (name: string) => join(tmp.path, name)

  it('refuses to evaluate without a calibration, before training anything', async () => {
    const r = await runCli('gate', 'eval', ...flags, '--reference-file', out('missing-ref.json'))
    expect(r.code).not.toBe(0)
    expect(r.err).toMatch(/GATE_REFERENCE_INVALID|missing-ref\.json/)
    expect(existsSync(out('pop'))).toBe(false)
  })

  it('calibrates on one half (training once), then evaluates the other half with those thresholds', async () => {
    const cal = ['probes', 'calibrate', ...flags, '--out', out('calib.json'), '--reference-out', out('ref.json')]
    const first = await runCli(...cal)
    expect(first.code, first.err).toBe(0)
    expect(first.out).toContain('Calibrated on 3 clean and 2 poisoned adapters (calibration half)')
    expect(first.err).toContain('10 trained, 0 reused')
    const report = JSON.parse(readFileSync(out('calib.json'), 'utf8'))
    expect(report.population).toEqual({ clean: 3, poisoned: 2, poisoned_known: 1, poisoned_unknown: 1 })
    const ref = JSON.parse(readFileSync(out('ref.json'), 'utf8'))
    expect(ref.thresholds).toEqual(report.thresholds)
    // the spectral classifier (issue 20) is calibrated and stored with its threshold
    expect(ref.spectral_classifier.threshold).toBe(report.detectors.spectral_lr.threshold)
    expect(ref.spectral_classifier.coefficients).toHaveLength(ref.spectral_classifier.feature_names.length)
    expect(first.out).toMatch(/spectral_lr\s+threshold/)
    // ground truth stays beside the adapter folders
    const pop = readdirSync(out('pop'))
    expect(pop.filter((f) => f.endsWith('.member.json'))).toHaveLength(10)

    const again = await runCli(...cal)
    expect(again.code, again.err).toBe(0)
    expect(again.err).toContain('0 trained, 10 reused')
    expect(JSON.parse(readFileSync(out('calib.json'), 'utf8')).thresholds).toEqual(report.thresholds)

    const ev = await runCli(
      'gate',
      'eval',
      ...flags,
      '--reference-file',
      out('ref.json'),
      '--out',
      out('eval.json'),
      '--md',
      out('eval.md'),
      '--svg',
      out('roc.svg'),
    )
    expect(ev.code, ev.err).toBe(0)
    const evaluation = JSON.parse(readFileSync(out('eval.json'), 'utf8'))
    expect(evaluation.settings.thresholds).toEqual(report.thresholds)
    expect(evaluation.members.map((m: { id: string }) => m.id).sort()).not.toEqual(
      report.members.map((m: { id: string }) => m.id).sort(),
    )
    expect(evaluation.members).toHaveLength(5)
    const spectral = evaluation.detectors.spectral_lr
    expect(spectral.threshold).toBe(ref.spectral_classifier.threshold)
    for (const k of ['all', 'known', 'unknown']) {
      expect(spectral.aupr[k].value).toBeGreaterThan(0)
      expect(spectral.aupr[k].value).toBeLessThanOrEqual(1)
      expect(spectral.fpr_at_95_tpr[k].fpr.n).toBe(3)
    }
    expect(readFileSync(out('eval.md'), 'utf8')).toContain('| spectral_lr | seen |')
    expect(readFileSync(out('eval.md'), 'utf8')).toContain('](roc.svg)')
    expect(readFileSync(out('roc.svg'), 'utf8')).toContain('(AUC ')
    expect(ev.out).toContain('# Security gate evaluation')
  }, 300_000)
})
