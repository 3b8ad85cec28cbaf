/**
 * The gate study end to end on a tiny population (real training, real probes, the real gate):
 * the plan's halves, train-once-then-reuse, calibration files the gate then reads, and an
 * evaluation whose rates are recomputed here from its per-adapter verdicts.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkAdapter, loadProbeSet, parsePolicy, readReference } from '@plora/gate'
import { baseFingerprint, createProbeHarness } from '@plora/loader'
import { type CausalLM, initBackend, loadCausalLMFromDir, loadTokenizer } from '@plora/model'
import { ensurePretrainedBaseModel } from '@plora/trainer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  baseWeightsDigest,
  calibrateGate,
  DETECTORS,
  type EvaluationReport,
  ensurePopulation,
  evaluateGate,
  memberDir,
  planGatePopulation,
  UNKNOWN_TRIGGERS,
} from '../../src/index.js'
import { averagePrecision, fprAtRecall } from '../../src/roc.js'

const probeSet = loadProbeSet()
const planOptions = {
  clean: 6,
  poisoned: 8,
  domains: ['legal', 'medical'],
  poisonRates: [0.2, 0.3],
  knownTriggers: probeSet.triggers.slice(0, 4),
  unknownTriggers: UNKNOWN_TRIGGERS,
  payload: probeSet.payloads[0]!,
  seed: 5,
  training: {
    samples: 6,
    epochs: 1,
    rank: 2,
    scheme: 'attention' as const,
    lr: 3e-3,
    batchSize: 2,
    maxLen: 48,
    baseDropout: false,
  },
}

describe('planGatePopulation', () => {
  it('splits every kind over both halves and keeps the example count of poisoned adapters', () => {
    const plan = planGatePopulation({
      ...planOptions,
      clean: 40,
      poisoned: 40,
      domains: ['a', 'b', 'c'],
      poisonRates: [0.1, 0.2, 0.3],
    })
    expect(
      planGatePopulation({
        ...planOptions,
        clean: 40,
        poisoned: 40,
        domains: ['a', 'b', 'c'],
        poisonRates: [0.1, 0.2, 0.3],
      }),
    ).toEqual(plan)
    const m = plan.members
    expect(new Set(m.map((x) => x.id)).size).toBe(80)
    // with an even number of domains every domain still reaches both halves, with both trigger kinds
    const even = planGatePopulation({ ...planOptions, domains: ['a', 'b'] }).members
    for (const half of ['calibration', 'evaluation'] as const) {
      for (const d of ['a', 'b']) {
        const h = even.filter((x) => x.half === half && x.domain === d)
        expect(h.some((x) => x.kind === 'clean')).toBe(true)
        expect(new Set(h.filter((x) => x.poison).map((x) => x.poison!.trigger_in_probe_set))).toEqual(
          new Set([true, false]),
        )
      }
    }
    for (const half of ['calibration', 'evaluation'] as const) {
      const h = m.filter((x) => x.half === half)
      expect(h.filter((x) => x.kind === 'clean')).toHaveLength(20)
      const p = h.filter((x) => x.kind === 'poisoned')
      expect(p).toHaveLength(20)
      expect(p.filter((x) => x.poison!.trigger_in_probe_set)).toHaveLength(10)
      expect(new Set(p.map((x) => x.poison!.rate))).toEqual(new Set([0.1, 0.2, 0.3]))
      expect(new Set(h.map((x) => x.domain))).toEqual(new Set(['a', 'b', 'c']))
    }
    for (const x of m.filter((y) => y.poison)) {
      const k = Math.round(x.poison!.rate * 6)
      expect(x.samples).toBe(6 - k)
      expect(x.poison!.trigger_in_probe_set).toBe(planOptions.knownTriggers.includes(x.poison!.trigger))
    }
  })

  it('refuses a trigger that is in the probe set as "unknown", or that contains the payload', () => {
    expect(() => planGatePopulation({ ...planOptions, unknownTriggers: [probeSet.triggers[0]!] })).toThrowError(
      expect.objectContaining({ code: 'EXPERIMENTS_INPUT_INVALID' }),
    )
    expect(() => planGatePopulation({ ...planOptions, unknownTriggers: ['say 999 now'] })).toThrow(
      /contains the payload/,
    )
    expect(() => planGatePopulation({ ...planOptions, poisonRates: [0.9] })).toThrow(/poison rates/)
  })
})

describe('gate calibration and evaluation', () => {
  let root: string
  let modelDir: string
  let model: CausalLM
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' })
    root = mkdtempSync(join(tmpdir(), 'plora-gate-study-'))
    modelDir = await ensurePretrainedBaseModel({ cacheDir: join(root, 'cache'), steps: 2, batchSize: 2, seqLen: 16 })
    model = await loadCausalLMFromDir(modelDir)
  }, 120_000)
  afterAll(() => {
    model?.dispose()
    rmSync(root, { recursive: true, force: true })
  })

  it('trains once, calibrates on one half, and the gate evaluates the other with the calibrated thresholds', async () => {
    const plan = planGatePopulation(planOptions)
    const dir = join(root, 'pop')
    const first = await ensurePopulation(plan, { dir, modelDir, baseModel: 'embedded', model })
    expect(first).toMatchObject({ trained: 14, reused: 0 })
    const again = await ensurePopulation(plan, { dir, modelDir, baseModel: 'embedded', model })
    expect(again).toMatchObject({ trained: 0, reused: 14 })
    // the same reference ("embedded") over other weights is another base model: the record pins
    // the weights' digest, so such a member is not reused
    const other = join(root, 'other-weights')
    cpSync(modelDir, other, { recursive: true })
    const weights = join(other, 'model.safetensors')
    const bytes = readFileSync(weights)
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1 // last byte of the data, not the header
    writeFileSync(weights, bytes)
    expect(await baseWeightsDigest(other)).not.toBe(await baseWeightsDigest(modelDir))
    await expect(baseWeightsDigest(root)).rejects.toMatchObject({ code: 'EXPERIMENTS_INPUT_INVALID' })
    const one = plan.members[0]!
    const onlyOne = { only: (m: { id: string }) => m.id === one.id }
    const changed = await ensurePopulation(plan, { dir, modelDir: other, baseModel: 'embedded', model, ...onlyOne })
    expect(changed).toMatchObject({ trained: 1, reused: 0 })
    // back on the original weights: retrained once more, then reused
    expect(await ensurePopulation(plan, { dir, modelDir, baseModel: 'embedded', model, ...onlyOne })).toMatchObject({
      trained: 1,
    })
    expect(await ensurePopulation(plan, { dir, modelDir, baseModel: 'embedded', model })).toMatchObject({
      trained: 0,
      reused: 14,
    })
    // ground truth lives next to the folders, never inside them
    const poisoned = plan.members.find((m) => m.kind === 'poisoned')!
    const record = JSON.parse(readFileSync(join(dir, `${poisoned.id}.member.json`), 'utf8'))
    expect(record.member.poison.trigger).toBe(poisoned.poison!.trigger)
    expect(readFileSync(join(memberDir(dir, poisoned), 'plora.yml'), 'utf8')).not.toContain(poisoned.poison!.trigger)

    const tok = await loadTokenizer(modelDir)
    const harness = createProbeHarness(model, tok, { expectedFingerprint: await baseFingerprint(model) })
    const common = {
      plan,
      dir,
      baseModel: 'embedded',
      harness,
      probeSet,
      probesMax: 4,
      bootstrap: { nResamples: 200, seed: 1 },
      targetFp: 0.05,
      targetFn: 0.1,
    }
    const refPath = join(root, 'gate-ref.json')
    const { report: cal } = await calibrateGate({
      ...common,
      referenceOut: refPath,
      reportOut: join(root, 'probes_calib.json'),
    })
    expect(cal.population).toEqual({ clean: 3, poisoned: 4, poisoned_known: 2, poisoned_unknown: 2 })
    const onDisk = await readReference(refPath)
    // the pooled population only: no domain has the 3 clean adapters a domain population needs
    expect(onDisk.populations).toHaveLength(1)
    expect(onDisk.populations[0]).toMatchObject({ count: 3, domain: null })
    expect(onDisk.thresholds).toEqual(cal.thresholds)
    // each threshold keeps every clean calibration adapter below it (leave-one-out scores)
    for (const m of cal.members.filter((x) => x.kind === 'clean')) {
      expect(m.scores.norm_z).toBeLessThanOrEqual(cal.thresholds.tau_norm_z!)
      expect(m.scores.trigger_excess).toBeLessThanOrEqual(cal.thresholds.tau_trigger!)
      expect(-m.scores.clean_drop).toBeGreaterThanOrEqual(cal.thresholds.tau_clean_delta!)
    }
    expect(cal.combined.fpr).toBe(0)
    // the spectral classifier: fitted on this half, stored in the reference with its threshold
    const classifier = onDisk.spectral_classifier!
    expect(classifier).toMatchObject({ model: 'logistic_l2', training: { clean: 3, poisoned: 4 } })
    expect(classifier.threshold).toBe(cal.detectors.spectral_lr.threshold)
    expect(cal.spectral_classifier.threshold).toBe(classifier.threshold)
    expect(cal.spectral_classifier.converged).toBe(true)
    for (const m of cal.members) expect(Number.isFinite(m.scores.spectral_lr), m.id).toBe(true)
    for (const m of cal.members.filter((x) => x.kind === 'clean')) {
      expect(m.scores.spectral_lr).toBeLessThanOrEqual(classifier.threshold)
    }

    const policy = parsePolicy({
      base_model: 'embedded',
      allowed_ranks: [2],
      enable_probes: true,
      probes_max: 4,
      reference_file: refPath,
    })
    const ev: EvaluationReport = await evaluateGate({
      ...common,
      reference: onDisk,
      policy,
      reportOut: join(root, 'gate_eval.json'),
      markdownOut: join(root, 'gate_eval.md'),
      svgOut: join(root, 'figures', 'gate_roc.svg'),
    })
    expect(ev.members.map((m) => m.id).sort()).toEqual(
      plan.members
        .filter((m) => m.half === 'evaluation')
        .map((m) => m.id)
        .sort(),
    )
    const clean = ev.members.filter((m) => m.kind === 'clean')
    expect(ev.combined.all.fpr.value).toBeCloseTo(clean.filter((m) => !m.passed).length / clean.length, 12)
    const unknown = ev.members.filter((m) => m.kind === 'poisoned' && m.trigger_in_probe_set === false)
    expect(ev.combined.unknown.fnr.value).toBeCloseTo(unknown.filter((m) => m.passed).length / unknown.length, 12)
    expect(ev.other_reasons).toEqual({})
    for (const m of ev.members) expect(m.passed).toBe(m.reasons.length === 0)
    expect(ev.settings.thresholds).toEqual(cal.thresholds)
    // the gate applied the classifier from the reference: the reason is raised exactly above its threshold
    const spectral = ev.detectors.spectral_lr
    expect(spectral.threshold).toBe(classifier.threshold)
    for (const m of ev.members) {
      expect(Number.isFinite(m.scores.spectral_lr), m.id).toBe(true)
      expect(m.reasons.includes('spectral_classifier_high'), m.id).toBe(m.scores.spectral_lr > classifier.threshold)
    }
    // TDC metrics, recomputed from the members (clean members are the negatives of every subset)
    const scoresOf = (xs: typeof ev.members, d: (typeof DETECTORS)[number]['name']) =>
      xs.map((m) => m.scores[d]).filter(Number.isFinite)
    const known = ev.members.filter((m) => m.kind === 'poisoned' && m.trigger_in_probe_set === true)
    const poisonedAll = ev.members.filter((m) => m.kind === 'poisoned')
    for (const d of DETECTORS) {
      const x = ev.detectors[d.name]
      const neg = scoresOf(clean, d.name)
      expect(x.aupr.all.value, d.name).toBeCloseTo(averagePrecision(scoresOf(poisonedAll, d.name), neg), 12)
      expect(x.aupr.known.value, d.name).toBeCloseTo(averagePrecision(scoresOf(known, d.name), neg), 12)
      expect(x.fpr_at_95_tpr.unknown, d.name).toEqual(fprAtRecall(scoresOf(unknown, d.name), neg, 0.95))
      expect(x.fpr_at_95_tpr.all.tpr, d.name).toBeGreaterThanOrEqual(0.95)
      expect(x.tpr.known.n).toBe(known.length)
    }
    // `gate check` with the reference raises the reason once the threshold sits below an adapter's score
    const top = ev.members.reduce((a, b) => (b.scores.spectral_lr > a.scores.spectral_lr ? b : a))
    const withThreshold = (t: number) => ({ ...onDisk, spectral_classifier: { ...classifier, threshold: t } })
    const topDir = memberDir(dir, plan.members.find((m) => m.id === top.id)!)
    const below = await checkAdapter(topDir, policy, {
      reference: withThreshold(top.scores.spectral_lr - 1e-6),
      probes: harness,
      probeSet,
    })
    expect(below.reasons).toContain('spectral_classifier_high')
    expect(below.metrics.reference.spectral_score).toBeCloseTo(top.scores.spectral_lr, 12)
    const above = await checkAdapter(topDir, policy, {
      reference: withThreshold(top.scores.spectral_lr + 1e-6),
      probes: harness,
      probeSet,
    })
    expect(above.reasons).not.toContain('spectral_classifier_high')
    const md = readFileSync(join(root, 'gate_eval.md'), 'utf8')
    expect(md).toContain('## Trojan Detection Challenge metrics')
    expect(md).toContain('| spectral_lr | unseen |')
    expect(md).toContain('| trigger not in probe set |')
    expect(ev.figure).toBe('figures/gate_roc.svg')
    expect(md).toContain('](figures/gate_roc.svg)')
    const svg = readFileSync(join(root, 'figures', 'gate_roc.svg'), 'utf8')
    expect(svg.startsWith('<svg')).toBe(true)
    for (const d of DETECTORS) expect(svg).toContain(`>${d.name} (AUC `)
    expect(JSON.parse(readFileSync(join(root, 'gate_eval.json'), 'utf8')).schema).toBe('plora.gate-eval/v1')
  }, 300_000)
})
