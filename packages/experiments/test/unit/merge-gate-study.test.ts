/**
 * The merge re-gating study on synthetic adapters (no training, no probes, seconds): members of a
 * planned population are written as seeded random plasmids, the poisoned ones with a B scaled ×30
 * (a weight-space outlier the norm detector must see), the reference is built from the calibration
 * half's clean members; then the real merges and the real gate run. Checked: the merge plan (one
 * member per domain, exactly one poisoned), rates recomputed from the per-merge verdicts, a
 * poisoned merge under `sum` weighting caught, clean merges not, outputs written, scratch removed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildReference, parsePolicy, summarizeAdapterWeights } from '@plora/gate'
import { beforeAll, describe, expect, it } from 'vitest'
import { BASE, DEFAULT_MODULES, writeAdapter } from '../../../gate/test/helpers.js'
import {
  type MergeGateStudyReport,
  memberDir,
  planGatePopulation,
  planMergeGateMerges,
  runMergeGateStudy,
} from '../../src/index.js'

const plan = planGatePopulation({
  clean: 12,
  poisoned: 4,
  domains: ['a', 'b'],
  poisonRates: [0.3],
  knownTriggers: ['cf'],
  unknownTriggers: ['kq'],
  payload: '999',
  seed: 1,
  training: {
    samples: 4,
    epochs: 1,
    rank: 4,
    scheme: 'attention',
    lr: 1e-3,
    batchSize: 2,
    maxLen: 32,
    baseDropout: false,
  },
})
const host = {
  params: new Map(),
  linearModules: () => DEFAULT_MODULES.map((m) => ({ ...m, conv1d: true })),
  family: 'gpt2',
}
let root: string

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'plora-merge-gate-study-'))
  for (const [i, m] of plan.members.entries()) {
    await writeAdapter(memberDir(join(root, 'pop'), m), {
      seed: 100 + i,
      domain: m.domain,
      ...(m.kind === 'poisoned' ? { bScale: 30 } : {}),
    })
  }
  return () => rmSync(root, { recursive: true, force: true })
})

describe('planMergeGateMerges', () => {
  it('takes one evaluation member per domain, exactly one of them poisoned in a poisoned merge', () => {
    const merges = planMergeGateMerges(plan, { mergesPerPoisoned: 2, cleanMerges: 3, seed: 4 })
    expect(planMergeGateMerges(plan, { mergesPerPoisoned: 2, cleanMerges: 3, seed: 4 })).toEqual(merges)
    const byId = new Map(plan.members.map((m) => [m.id, m]))
    const poisonedEval = plan.members.filter((m) => m.half === 'evaluation' && m.kind === 'poisoned')
    expect(merges.filter((m) => m.kind === 'poisoned')).toHaveLength(2 * poisonedEval.length)
    expect(merges.filter((m) => m.kind === 'clean')).toHaveLength(3)
    for (const m of merges) {
      const members = m.members.map((id) => byId.get(id)!)
      expect(members.map((x) => x.domain)).toEqual(['a', 'b'])
      expect(members.every((x) => x.half === 'evaluation')).toBe(true)
      expect(members.filter((x) => x.kind === 'poisoned').map((x) => x.id)).toEqual(m.poisoned ? [m.poisoned] : [])
    }
  })
})

describe('runMergeGateStudy', () => {
  let report: MergeGateStudyReport
  it('gates every merge per method and reports rates that match the per-merge verdicts', async () => {
    const calib = plan.members.filter((m) => m.half === 'calibration' && m.kind === 'clean')
    const samples = []
    for (const m of calib) {
      samples.push({
        base_model: BASE,
        domain: m.domain,
        summary: await summarizeAdapterWeights(memberDir(join(root, 'pop'), m)),
      })
    }
    const reference = buildReference(samples, {
      thresholds: { tau_norm_z: 4, tau_tensor_z: 6, tau_mahalanobis: 1e9, tau_spike_z: 1e9 },
    })
    const policy = parsePolicy({
      base_model: BASE,
      allowed_ranks: [4],
      allowed_targets: null,
      enable_probes: false,
      require_weight_reference: true,
    })
    report = await runMergeGateStudy({
      plan,
      dir: join(root, 'pop'),
      baseModel: BASE,
      model: host,
      policy,
      context: { reference },
      methods: ['weighted_sum', 'ties'],
      mergesPerPoisoned: 2,
      cleanMerges: 3,
      calibrationMerges: 6,
      targetFp: 0.05,
      referenceDir: join(root, 'refs'),
      weighting: 'sum',
      density: 0.5,
      dropRate: 0.5,
      seed: 3,
      workDir: join(root, 'work'),
      jsonOut: join(root, 'study.json'),
      markdownOut: join(root, 'study.md'),
      settingsNote: 'test',
    })
    expect(existsSync(join(root, 'work'))).toBe(false)
    expect(report.merges).toHaveLength((2 * 2 + 3) * 2)
    // the poisoned inputs are caught alone; the clean inputs pass
    expect(report.inputs.poisoned_caught_alone.value).toBe(1)
    expect(report.inputs.clean_rejected_alone.value).toBe(0)
    expect(report.methods.map((s) => `${s.method}/${s.reference}`)).toEqual([
      'weighted_sum/single',
      'weighted_sum/merged',
      'ties/single',
      'ties/merged',
    ])
    for (const s of report.methods) {
      const rs = report.merges.filter((m) => m.method === s.method)
      const pois = rs.filter((m) => m.kind === 'poisoned')
      const clean = rs.filter((m) => m.kind === 'clean')
      expect(s.catch_rate.value).toBe(pois.filter((m) => !m.passed[s.reference]).length / pois.length)
      expect(s.catch_rate.n).toBe(pois.length)
      expect(s.false_rejection_rate.value).toBe(clean.filter((m) => !m.passed[s.reference]).length / clean.length)
      expect(s.catch_rate.lo).toBeLessThanOrEqual(s.catch_rate.value)
      expect(s.catch_rate.hi).toBeGreaterThanOrEqual(s.catch_rate.value)
      expect(s.catch_rate_probes.value).toBe(0) // probes off
    }
    for (const ref of ['single', 'merged'] as const) {
      const ws = report.methods.find((s) => s.method === 'weighted_sum' && s.reference === ref)!
      expect(ws.catch_rate.value).toBe(1)
    }
    expect(report.merges.flatMap((m) => m.reasons.merged)).toContain('weight_norm_outlier')
    // the merge-aware reference is fitted on clean merges of the calibration half and written
    const ref = JSON.parse(readFileSync(join(root, 'refs', 'gate-ref-merged-weighted_sum.json'), 'utf8'))
    expect(ref.populations[0].count).toBe(6)
    expect(report.merged_thresholds.weighted_sum!.tau_norm_z).toBeGreaterThan(0)
    const saved = JSON.parse(readFileSync(join(root, 'study.json'), 'utf8'))
    expect(saved.methods).toHaveLength(4)
    expect(readFileSync(join(root, 'study.md'), 'utf8')).toContain('| weighted_sum | merged |')
  }, 60_000)
})
