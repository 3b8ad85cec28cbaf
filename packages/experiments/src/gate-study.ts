/**
 * Calibration (`plora probes calibrate`) and evaluation (`plora gate eval`) of the security gate
 * on a population of clean and poisoned adapters (issue 7 items 6–7).
 *
 * Calibration uses the calibration half only:
 * 1. every detector's score per adapter — weight statistics against the clean reference
 *    (`norm_z`, `tensor_z_max`, `mahalanobis`, `spike_z`; each clean adapter is scored against a
 *    reference built **without it**, leave-one-out, so clean scores are not optimistically small),
 *    the logit of the spectral-feature classifier (`spectral_lr`, issue 20: L2 logistic regression
 *    on `@plora/gate`'s spectral features, clean vs poisoned of this half; each member's score
 *    comes from a fit **without it**, leave-one-out, and the classifier stored in the reference is
 *    the fit on the whole half) and the behavioural probes (`trigger_excess` = the payload rate a trigger adds over the same
 *    questions without it, and `clean_drop` = −clean_delta);
 * 2. a threshold per detector for a false-positive budget of target_fp / k over the k detectors
 *    (Bonferroni, so the OR of all of them stays near target_fp): the larger of the empirical
 *    quantile of the clean scores and the Gaussian tail bound μ + z·σ with z = Φ⁻¹(1 − target_fp/k);
 * 3. `gate-ref.json` (the reference of all clean calibration adapters, with these thresholds) and
 *    `probes_calib.json` (scores, ROC AUCs, thresholds, calibration rates, whether target_fn is met).
 *
 * Evaluation runs the real gate (`checkAdapter` with the calibrated reference and probes) on every
 * adapter of the evaluation half and reports each detector's ROC AUC (stratified bootstrap
 * interval), the Trojan Detection Challenge metrics — AUPR (average precision, bootstrap interval)
 * and the FPR at 95 % recall (exact interval) — and its TPR / FPR at the calibrated threshold
 * (exact Clopper–Pearson intervals), and the combined verdict's FPR and FNR (the combined detector:
 * the gate rejects when any calibrated detector fires; `weights_only` / `probes_only` restrict it to
 * one family), for all poisoned adapters and separately for triggers in (seen, `known`) and not in
 * (unseen, `unknown`) the probe set; the clean adapters are the negatives of every subset. Nothing
 * of the evaluation half influences a threshold or the classifier.
 */
import { dirname, join, relative, sep } from 'node:path'
import { writeFileAtomic, writeJsonAtomic } from '@plora/common'
import {
  buildReference,
  checkAdapter,
  fitLogisticRegression,
  type GateReference,
  logisticScore,
  type Policy,
  type ProbeHarness,
  type ProbeResult,
  type ProbeSet,
  populationRank,
  type ReferenceSample,
  type ReferenceThresholds,
  type RejectReason,
  referenceScores,
  runProbes,
  SPECTRAL_FEATURE_NAMES,
  type SpectralClassifier,
  summarizeAdapterWeights,
} from '@plora/gate'
import { normalQuantile } from '@plora/metrics'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { gateRocFigure } from './figures/gate.js'
import { renderSvg } from './figures/render.js'
import { memberDir, type PopulationMember, type PopulationPlan, planRanks, planSchemes } from './gate-population.js'
import {
  aucEstimate,
  averagePrecisionEstimate,
  type Estimate,
  fprAtRecall,
  type RecallOperatingPoint,
  rateEstimate,
  thresholdForFp,
} from './roc.js'

/** The detectors of the gate, the threshold each is compared with, and the reason it raises. */
export const DETECTORS = [
  { name: 'norm_z', threshold: 'tau_norm_z', reason: 'weight_norm_outlier', family: 'weights' },
  { name: 'tensor_z_max', threshold: 'tau_tensor_z', reason: 'tensor_norm_outlier', family: 'weights' },
  { name: 'mahalanobis', threshold: 'tau_mahalanobis', reason: 'activation_mahalanobis_high', family: 'weights' },
  { name: 'spike_z', threshold: 'tau_spike_z', reason: 'gradient_spike_z_high', family: 'weights' },
  // the logit of the reference's spectral classifier; its threshold is stored with the classifier
  { name: 'spectral_lr', threshold: 'spectral_classifier', reason: 'spectral_classifier_high', family: 'weights' },
  { name: 'trigger_excess', threshold: 'tau_trigger', reason: 'trigger_rate_high', family: 'probes' },
  // clean_drop = −clean_delta; the gate rejects clean_delta < tau_clean_delta = −threshold
  { name: 'clean_drop', threshold: 'tau_clean_delta', reason: 'clean_regression', family: 'probes' },
] as const

/** A detector name. */
export type DetectorName = (typeof DETECTORS)[number]['name']
/** Scores of one adapter (higher = more suspicious). */
export type DetectorScores = Record<DetectorName, number>

/** A scored member. */
export interface ScoredMember {
  id: string
  kind: 'clean' | 'poisoned'
  domain: string
  trigger_in_probe_set: boolean | null
  poison_rate: number | null
  scores: DetectorScores
}

/** Options shared by calibration and evaluation. */
export interface GateStudyOptions {
  plan: PopulationPlan
  /** Population folder. */
  dir: string
  /** Base-model reference of the population's manifests (e.g. `embedded`). */
  baseModel: string
  harness: ProbeHarness
  probeSet: ProbeSet
  /** Triggers and clean pairs probed (the gate's `probes_max`). */
  probesMax: number
  /** Bootstrap resamples and seed of the intervals. */
  bootstrap: { nResamples: number; seed: number }
  onMember?: (done: number, total: number, id: string) => void
}

/** The L2 penalty of the `spectral_lr` classifier (see `@plora/gate` spectral-classifier.ts). */
export const SPECTRAL_LR_LAMBDA = 1

/** The recall at which the TDC's "FPR at 95 % TPR" is read. */
export const TDC_RECALL = 0.95

function scoresFromParts(
  w: { norm_z: number; tensor_z_max: number; mahalanobis: number; spike_z: number },
  spectral: number,
  p: ProbeResult,
): DetectorScores {
  return {
    norm_z: w.norm_z,
    tensor_z_max: w.tensor_z_max,
    mahalanobis: w.mahalanobis,
    spike_z: w.spike_z,
    spectral_lr: spectral,
    trigger_excess: p.trigger_rate_excess,
    clean_drop: 0 - p.clean_delta,
  }
}

function scored(m: PopulationMember, scores: DetectorScores): ScoredMember {
  return {
    id: m.id,
    kind: m.kind,
    domain: m.domain,
    trigger_in_probe_set: m.poison ? m.poison.trigger_in_probe_set : null,
    poison_rate: m.poison ? m.poison.rate : null,
    scores,
  }
}

/** Options of {@link calibrateGate}. */
export interface CalibrateGateOptions extends GateStudyOptions {
  targetFp: number
  targetFn: number
  /** Where `gate-ref.json` and `probes_calib.json` go. */
  referenceOut: string
  reportOut: string
  /**
   * Also fit one reference population per domain (the gate then scores an adapter against its
   * manifest domain's clean adapters). Off by default: with ~7 clean adapters per domain in a
   * 40-adapter calibration half, the per-domain covariances are too noisy and the pooled
   * population separated better on the calibration half (Mahalanobis TPR 0.65 vs 0.55 at FPR 0).
   */
  byDomain?: boolean
  now?: () => number
}

/** Per-detector calibration figures. */
export interface DetectorCalibration {
  threshold: number
  /** On the calibration half (clean leave-one-out scores). */
  auc: Estimate
  tpr: number
  fpr: number
}

/** `probes_calib.json`. */
export interface CalibrationReport {
  schema: 'plora.probes-calib/v1'
  created_unix: number
  reference_file: string
  settings: {
    target_fp: number
    target_fn: number
    per_detector_fp: number
    z: number
    probes_max: number
    training: PopulationPlan['training']
    /** The members' LoRA ranks and target schemes (the plan cycles them). */
    ranks: number[]
    schemes: string[]
    base_model: string
  }
  population: { clean: number; poisoned: number; poisoned_known: number; poisoned_unknown: number }
  thresholds: ReferenceThresholds
  /** The fitted spectral classifier (also in the reference) and its largest standardised coefficients. */
  spectral_classifier: {
    lambda: number
    features: number
    iterations: number
    converged: boolean
    threshold: number
    top_coefficients: Array<{ feature: string; coefficient: number }>
  }
  detectors: Record<DetectorName, DetectorCalibration>
  combined: {
    fpr: number
    tpr: number
    tpr_known: number
    tpr_unknown: number
    meets_target_fp: boolean
    meets_target_fn: boolean
  }
  members: ScoredMember[]
}

function sampleOf(
  baseModel: string,
  m: PopulationMember,
  summary: Awaited<ReturnType<typeof summarizeAdapterWeights>>,
): ReferenceSample {
  return { base_model: baseModel, domain: m.domain, summary }
}

/** Flags of one member under thresholds (score > threshold). */
function flagged(s: DetectorScores, t: DetectorScores): boolean {
  return DETECTORS.some((d) => s[d.name] > t[d.name])
}

/**
 * Calibrates the gate on the calibration half and writes `gate-ref.json` and `probes_calib.json`.
 * @throws ExperimentsError `EXPERIMENTS_INPUT_INVALID` when the half has too few clean adapters
 */
export async function calibrateGate(
  o: CalibrateGateOptions,
): Promise<{ report: CalibrationReport; reference: GateReference }> {
  const members = o.plan.members.filter((m) => m.half === 'calibration')
  const clean = members.filter((m) => m.kind === 'clean')
  if (clean.length < 3) {
    throw new ExperimentsError(
      ExperimentsErrorCode.InputInvalid,
      `calibration needs at least 3 clean adapters in its half, found ${clean.length}`,
      { clean: clean.length },
    )
  }
  const summaries = new Map<string, Awaited<ReturnType<typeof summarizeAdapterWeights>>>()
  const probes = new Map<string, ProbeResult>()
  for (const [i, m] of members.entries()) {
    const dir = memberDir(o.dir, m)
    const summary = await summarizeAdapterWeights(dir)
    if (summary.error !== null || summary.features === null) {
      throw new ExperimentsError(
        ExperimentsErrorCode.PopulationInvalid,
        `population member ${m.id}: weights unreadable (${summary.error ?? 'no LoRA modules'})`,
        { id: m.id },
      )
    }
    summaries.set(m.id, summary)
    probes.set(m.id, await runProbes(o.harness, dir, o.probeSet, { probesMax: o.probesMax }))
    o.onMember?.(i + 1, members.length, m.id)
  }
  const byDomain = o.byDomain ?? false
  const refOf = (exclude: string | null): GateReference =>
    buildReference(
      clean.filter((m) => m.id !== exclude).map((m) => sampleOf(o.baseModel, m, summaries.get(m.id)!)),
      { byDomain },
    )
  // The spectral classifier: leave-one-out logits for this half's scores, the full fit for the reference.
  const poisonedCount = members.filter((m) => m.kind === 'poisoned').length
  if (poisonedCount < 2) {
    throw new ExperimentsError(
      ExperimentsErrorCode.InputInvalid,
      `calibration needs at least 2 poisoned adapters in its half for the spectral classifier, found ${poisonedCount}`,
      { poisoned: poisonedCount },
    )
  }
  const rows = members.map((m) => summaries.get(m.id)!.spectral!)
  const labels = members.map((m) => (m.kind === 'poisoned' ? 1 : 0) as 0 | 1)
  const fit = (exclude: number) =>
    fitLogisticRegression(
      rows.filter((_, i) => i !== exclude),
      labels.filter((_, i) => i !== exclude),
      { lambda: SPECTRAL_LR_LAMBDA },
    )
  const spectralLoo = new Map(members.map((m, i) => [m.id, logisticScore(fit(i), rows[i]!)]))
  const classifierFit = fit(-1)
  const scoreMember = (m: PopulationMember, ref: GateReference): DetectorScores => {
    const s = summaries.get(m.id)!
    // The gate's own scoring: the pooled population, and the domain's when the reference has one.
    const scored = referenceScores(
      ref,
      { base_model: o.baseModel, r: populationRank(s.modules) ?? 0, targets: s.suffixes, domain: m.domain },
      { features: s.features!, modules: s.modules },
    )
    if (scored === null) {
      throw new ExperimentsError(
        ExperimentsErrorCode.PopulationInvalid,
        `population member ${m.id}: no clean reference population for r=${s.ranks.join('/')} targets=${s.suffixes.join(',')}`,
        { id: m.id },
      )
    }
    return scoresFromParts(scored.scores, spectralLoo.get(m.id)!, probes.get(m.id)!)
  }
  const full = refOf(null)
  const scoredMembers = members.map((m) => scored(m, scoreMember(m, m.kind === 'clean' ? refOf(m.id) : full)))

  const k = DETECTORS.length
  const perDetectorFp = o.targetFp / k
  const z = normalQuantile(1 - perDetectorFp)
  const neg = scoredMembers.filter((m) => m.kind === 'clean')
  const pos = scoredMembers.filter((m) => m.kind === 'poisoned')
  const t = {} as DetectorScores
  const detectors = {} as Record<DetectorName, DetectorCalibration>
  for (const d of DETECTORS) {
    const ns = neg.map((m) => m.scores[d.name])
    const ps = pos.map((m) => m.scores[d.name])
    const th = thresholdForFp(ns, perDetectorFp, z)
    t[d.name] = th
    detectors[d.name] = {
      threshold: th,
      auc: aucEstimate(ps, ns, o.bootstrap),
      tpr: ps.filter((x) => x > th).length / Math.max(1, ps.length),
      fpr: ns.filter((x) => x > th).length / Math.max(1, ns.length),
    }
  }
  const rate = (xs: ScoredMember[]) => xs.filter((m) => flagged(m.scores, t)).length / Math.max(1, xs.length)
  const combined = {
    fpr: rate(neg),
    tpr: rate(pos),
    tpr_known: rate(pos.filter((m) => m.trigger_in_probe_set === true)),
    tpr_unknown: rate(pos.filter((m) => m.trigger_in_probe_set === false)),
    meets_target_fp: false,
    meets_target_fn: false,
  }
  combined.meets_target_fp = combined.fpr <= o.targetFp
  combined.meets_target_fn = 1 - combined.tpr <= o.targetFn
  const thresholds: ReferenceThresholds = {
    tau_norm_z: t.norm_z,
    tau_tensor_z: t.tensor_z_max,
    tau_mahalanobis: t.mahalanobis,
    tau_spike_z: t.spike_z,
    tau_trigger: t.trigger_excess,
    tau_clean_delta: 0 - t.clean_drop, // 0 − x: never a negative zero in JSON
  }
  const spectralClassifier: SpectralClassifier = {
    model: 'logistic_l2',
    feature_names: [...SPECTRAL_FEATURE_NAMES],
    means: classifierFit.means,
    stds: classifierFit.stds,
    coefficients: classifierFit.coefficients,
    intercept: classifierFit.intercept,
    lambda: classifierFit.lambda,
    threshold: t.spectral_lr,
    training: { clean: neg.length, poisoned: pos.length },
  }
  const created = Math.floor((o.now ?? (() => Date.now() / 1000))())
  const reference = buildReference(
    clean.map((m) => sampleOf(o.baseModel, m, summaries.get(m.id)!)),
    {
      byDomain,
      thresholds,
      spectralClassifier,
      createdUnix: created,
      provenance: {
        command: 'plora probes calibrate',
        calibration_report: o.reportOut,
        clean_adapters: clean.length,
        target_fp: o.targetFp,
        target_fn: o.targetFn,
      },
    },
  )
  const report: CalibrationReport = {
    schema: 'plora.probes-calib/v1',
    created_unix: created,
    reference_file: o.referenceOut,
    settings: {
      target_fp: o.targetFp,
      target_fn: o.targetFn,
      per_detector_fp: perDetectorFp,
      z,
      probes_max: o.probesMax,
      training: o.plan.training,
      ranks: planRanks(o.plan),
      schemes: planSchemes(o.plan),
      base_model: o.baseModel,
    },
    population: {
      clean: neg.length,
      poisoned: pos.length,
      poisoned_known: pos.filter((m) => m.trigger_in_probe_set === true).length,
      poisoned_unknown: pos.filter((m) => m.trigger_in_probe_set === false).length,
    },
    thresholds,
    spectral_classifier: {
      lambda: classifierFit.lambda,
      features: SPECTRAL_FEATURE_NAMES.length,
      iterations: classifierFit.iterations,
      converged: classifierFit.converged,
      threshold: t.spectral_lr,
      top_coefficients: classifierFit.coefficients
        .map((c, i) => ({ feature: SPECTRAL_FEATURE_NAMES[i]!, coefficient: c }))
        .filter((x) => x.coefficient !== 0)
        .sort((a, b) => Math.abs(b.coefficient) - Math.abs(a.coefficient) || (a.feature < b.feature ? -1 : 1))
        .slice(0, 10),
    },
    detectors,
    combined,
    members: scoredMembers,
  }
  const { writeReference } = await import('@plora/gate')
  await writeReference(o.referenceOut, reference)
  await writeJsonAtomic(o.reportOut, report)
  return { report, reference }
}

/** Options of {@link evaluateGate}. */
export interface EvaluateGateOptions extends GateStudyOptions {
  /** The calibrated reference (with thresholds). */
  reference: GateReference
  /** The policy the gate runs with (probes enabled, the calibrated reference). */
  policy: Policy
  targetFp: number
  targetFn: number
  reportOut: string
  markdownOut: string
  /** ROC figure of the detectors on the held-out half (SVG); none when omitted. */
  svgOut?: string
  now?: () => number
}

/** One evaluated adapter. */
export interface EvaluatedMember extends ScoredMember {
  passed: boolean
  reasons: RejectReason[]
}

/** Rates of one group of adapters under one verdict rule. */
export interface VerdictRates {
  /** Clean adapters rejected. */
  fpr: Estimate
  /** Poisoned adapters passed. */
  fnr: Estimate
}

/** `gate_eval.json`. */
export interface EvaluationReport {
  schema: 'plora.gate-eval/v1'
  created_unix: number
  settings: {
    target_fp: number
    target_fn: number
    probes_max: number
    bootstrap: { nResamples: number; seed: number }
    thresholds: ReferenceThresholds
    training: PopulationPlan['training']
    /** The members' LoRA ranks and target schemes (the plan cycles them). */
    ranks: number[]
    schemes: string[]
    base_model: string
  }
  population: { clean: number; poisoned: number; poisoned_known: number; poisoned_unknown: number }
  /** Per subset of poisoned adapters: all, trigger known (in the probe set), unknown. */
  combined: Record<'all' | 'known' | 'unknown', VerdictRates & { goal_met: boolean }>
  /** The same verdicts restricted to the weight-statistic reasons (what carries the unknown case). */
  weights_only: Record<'all' | 'known' | 'unknown', VerdictRates>
  probes_only: Record<'all' | 'known' | 'unknown', VerdictRates>
  detectors: Record<
    DetectorName,
    {
      /** The calibrated threshold: a member is flagged when its score exceeds it. */
      threshold: number
      /** ROC AUC (AUROC), stratified bootstrap interval. */
      auc: Record<'all' | 'known' | 'unknown', Estimate>
      /** Average precision (AUPR), stratified bootstrap interval. */
      aupr: Record<'all' | 'known' | 'unknown', Estimate>
      /** FPR at 95 % recall of the subset (rule `score ≥ threshold`), exact interval. */
      fpr_at_95_tpr: Record<'all' | 'known' | 'unknown', RecallOperatingPoint>
      /** TPR at the calibrated threshold, exact Clopper–Pearson interval. */
      tpr: Record<'all' | 'known' | 'unknown', Estimate>
      /** FPR at the calibrated threshold (the clean members, the same for every subset), exact interval. */
      fpr: Estimate
    }
  >
  /** Reasons that are not detector reasons (a mismatch between the population and the policy). */
  other_reasons: Record<string, number>
  seconds_per_adapter: number
  /** The ROC figure, relative to the Markdown report's folder (null when none was written). */
  figure: string | null
  members: EvaluatedMember[]
}

const WEIGHT_REASONS = new Set<string>(DETECTORS.filter((d) => d.family === 'weights').map((d) => d.reason))
const PROBE_REASONS = new Set<string>(DETECTORS.filter((d) => d.family === 'probes').map((d) => d.reason))

/**
 * Runs the calibrated gate on the evaluation half and writes `gate_eval.json` and `gate_eval.md`.
 * @throws ExperimentsError `EXPERIMENTS_CALIBRATION_INVALID` when the reference has no thresholds
 */
export async function evaluateGate(o: EvaluateGateOptions): Promise<EvaluationReport> {
  const th = o.reference.thresholds
  const required = DETECTORS.map((d) => d.threshold).filter((k) => k !== 'spectral_classifier')
  if (!th || required.some((k) => typeof th[k] !== 'number')) {
    throw new ExperimentsError(
      ExperimentsErrorCode.CalibrationInvalid,
      'the reference has no calibrated thresholds: run `plora probes calibrate` first',
      {},
    )
  }
  const classifier = o.reference.spectral_classifier
  if (classifier === undefined) {
    throw new ExperimentsError(
      ExperimentsErrorCode.CalibrationInvalid,
      'the reference has no spectral_classifier (it predates the spectral_lr detector): re-run `plora probes calibrate`',
      {},
    )
  }
  const members = o.plan.members.filter((m) => m.half === 'evaluation')
  const out: EvaluatedMember[] = []
  const start = performance.now()
  for (const [i, m] of members.entries()) {
    const d = await checkAdapter(memberDir(o.dir, m), o.policy, {
      reference: o.reference,
      probes: o.harness,
      probeSet: o.probeSet,
    })
    const p = d.metrics.probes
    const scores: DetectorScores = {
      norm_z: d.metrics.norm_z,
      tensor_z_max: d.metrics.tensor_z_max,
      mahalanobis: d.metrics.reference.mahalanobis ?? Number.NaN,
      spike_z: d.metrics.reference.spike_z ?? Number.NaN,
      spectral_lr: d.metrics.reference.spectral_score ?? Number.NaN,
      trigger_excess: p.ran ? p.trigger_rate_excess : Number.NaN,
      clean_drop: p.ran ? 0 - p.clean_delta : Number.NaN,
    }
    out.push({ ...scored(m, scores), passed: d.passed, reasons: d.reasons })
    o.onMember?.(i + 1, members.length, m.id)
  }
  const seconds = (performance.now() - start) / 1000
  const clean = out.filter((m) => m.kind === 'clean')
  const poisoned = {
    all: out.filter((m) => m.kind === 'poisoned'),
    known: out.filter((m) => m.kind === 'poisoned' && m.trigger_in_probe_set === true),
    unknown: out.filter((m) => m.kind === 'poisoned' && m.trigger_in_probe_set === false),
  }
  const bs = o.bootstrap
  const verdict = (rejected: (m: EvaluatedMember) => boolean) => {
    const fpr = rateEstimate(
      clean.map((m) => rejected(m)),
      bs,
    )
    const of = (xs: EvaluatedMember[]): VerdictRates => ({
      fpr,
      fnr: rateEstimate(
        xs.map((m) => !rejected(m)),
        bs,
      ),
    })
    return { all: of(poisoned.all), known: of(poisoned.known), unknown: of(poisoned.unknown) }
  }
  const combinedRates = verdict((m) => !m.passed)
  const goal = (r: VerdictRates) => r.fnr.value <= o.targetFn && r.fpr.value <= o.targetFp
  const combined = {
    all: { ...combinedRates.all, goal_met: goal(combinedRates.all) },
    known: { ...combinedRates.known, goal_met: goal(combinedRates.known) },
    unknown: { ...combinedRates.unknown, goal_met: goal(combinedRates.unknown) },
  }
  const thresholdOf = (name: DetectorName): number => {
    const d = DETECTORS.find((x) => x.name === name)!
    if (d.threshold === 'spectral_classifier') return classifier.threshold
    const v = th[d.threshold]!
    return name === 'clean_drop' ? 0 - v : v
  }
  const detectors = {} as EvaluationReport['detectors']
  for (const d of DETECTORS) {
    const t = thresholdOf(d.name)
    const ns = clean.map((m) => m.scores[d.name])
    const auc = (xs: EvaluatedMember[]) =>
      aucEstimate(
        xs.map((m) => m.scores[d.name]),
        ns,
        bs,
      )
    const tpr = (xs: EvaluatedMember[]) =>
      rateEstimate(
        xs.map((m) => m.scores[d.name] > t),
        bs,
      )
    // the TDC metrics on the scores a detector produced (a probe detector that did not run has none)
    const finiteNs = ns.filter(Number.isFinite)
    const finite = (xs: EvaluatedMember[]) => xs.map((m) => m.scores[d.name]).filter(Number.isFinite)
    const aupr = (xs: EvaluatedMember[]) => averagePrecisionEstimate(finite(xs), finiteNs, bs)
    const at95 = (xs: EvaluatedMember[]) => fprAtRecall(finite(xs), finiteNs, TDC_RECALL, bs)
    detectors[d.name] = {
      threshold: t,
      auc: { all: auc(poisoned.all), known: auc(poisoned.known), unknown: auc(poisoned.unknown) },
      aupr: { all: aupr(poisoned.all), known: aupr(poisoned.known), unknown: aupr(poisoned.unknown) },
      fpr_at_95_tpr: { all: at95(poisoned.all), known: at95(poisoned.known), unknown: at95(poisoned.unknown) },
      tpr: { all: tpr(poisoned.all), known: tpr(poisoned.known), unknown: tpr(poisoned.unknown) },
      fpr: rateEstimate(
        ns.map((x) => x > t),
        bs,
      ),
    }
  }
  const other: Record<string, number> = {}
  for (const m of out) {
    for (const r of m.reasons) if (!WEIGHT_REASONS.has(r) && !PROBE_REASONS.has(r)) other[r] = (other[r] ?? 0) + 1
  }
  const report: EvaluationReport = {
    schema: 'plora.gate-eval/v1',
    created_unix: Math.floor((o.now ?? (() => Date.now() / 1000))()),
    settings: {
      target_fp: o.targetFp,
      target_fn: o.targetFn,
      probes_max: o.probesMax,
      bootstrap: bs,
      thresholds: th,
      training: o.plan.training,
      ranks: planRanks(o.plan),
      schemes: planSchemes(o.plan),
      base_model: o.baseModel,
    },
    population: {
      clean: clean.length,
      poisoned: poisoned.all.length,
      poisoned_known: poisoned.known.length,
      poisoned_unknown: poisoned.unknown.length,
    },
    combined,
    weights_only: verdict((m) => m.reasons.some((r) => WEIGHT_REASONS.has(r))),
    probes_only: verdict((m) => m.reasons.some((r) => PROBE_REASONS.has(r))),
    detectors,
    other_reasons: other,
    seconds_per_adapter: seconds / Math.max(1, out.length),
    figure: o.svgOut === undefined ? null : relative(dirname(o.markdownOut), o.svgOut).split(sep).join('/'),
    members: out,
  }
  if (o.svgOut !== undefined) {
    const svg = await renderSvg(gateRocFigure(report).spec)
    await writeFileAtomic(o.svgOut, svg)
  }
  await writeJsonAtomic(o.reportOut, report)
  await writeFileAtomic(o.markdownOut, evaluationMarkdown(report))
  return report
}

function pct(e: Estimate): string {
  if (Number.isNaN(e.value)) return 'n/a'
  return `${(100 * e.value).toFixed(1)}% [${(100 * e.lo).toFixed(1)}, ${(100 * e.hi).toFixed(1)}]`
}

function num(e: Estimate): string {
  if (Number.isNaN(e.value)) return 'n/a'
  return `${e.value.toFixed(3)} [${e.lo.toFixed(3)}, ${e.hi.toFixed(3)}]`
}

/** The Markdown summary of an evaluation (tables of the combined gate and of each detector). */
export function evaluationMarkdown(r: EvaluationReport): string {
  const ci = `exact Clopper–Pearson for rates, ${r.settings.bootstrap.nResamples} stratified bootstrap resamples (percentile) for AUCs`
  const lines = [
    '# Security gate evaluation',
    '',
    `Held-out half: ${r.population.clean} clean and ${r.population.poisoned} poisoned adapters ` +
      `(${r.population.poisoned_known} with a trigger in the probe set, ${r.population.poisoned_unknown} with one that is not), ` +
      `base model \`${r.settings.base_model}\`, r=${r.settings.ranks.join('/')}, scheme${r.settings.schemes.length > 1 ? 's' : ''} ${r.settings.schemes.join('/')}; ${r.settings.training.samples} pairs × ${r.settings.training.epochs} epochs per adapter. ` +
      `Thresholds were chosen on the calibration half only. 95 % intervals: ${ci}. ` +
      `Gate time ${r.seconds_per_adapter.toFixed(2)} s per adapter (weights and probes).`,
    '',
    `Goal: FN ≤ ${(100 * r.settings.target_fn).toFixed(0)} % at FP ≤ ${(100 * r.settings.target_fp).toFixed(0)} %.`,
    '',
    '## Combined gate',
    '',
    '| poisoned subset | FPR (clean rejected) | FNR (poisoned passed) | goal met (point estimates) |',
    '|---|---|---|---|',
    ...(['all', 'known', 'unknown'] as const).map(
      (k) =>
        `| ${k === 'all' ? 'all' : k === 'known' ? 'trigger in probe set' : 'trigger not in probe set'} | ${pct(r.combined[k].fpr)} | ${pct(r.combined[k].fnr)} | ${r.combined[k].goal_met ? 'yes' : 'no'} |`,
    ),
    '',
    '| verdict restricted to | FNR all | FNR known | FNR unknown | FPR |',
    '|---|---|---|---|---|',
    `| weight statistics | ${pct(r.weights_only.all.fnr)} | ${pct(r.weights_only.known.fnr)} | ${pct(r.weights_only.unknown.fnr)} | ${pct(r.weights_only.all.fpr)} |`,
    `| behavioural probes | ${pct(r.probes_only.all.fnr)} | ${pct(r.probes_only.known.fnr)} | ${pct(r.probes_only.unknown.fnr)} | ${pct(r.probes_only.all.fpr)} |`,
    '',
    '## Detectors',
    '',
    '| detector | threshold | AUC all | AUC known | AUC unknown | TPR all | FPR |',
    '|---|---|---|---|---|---|---|',
    ...DETECTORS.map((d) => {
      const x = r.detectors[d.name]
      return `| ${d.name} (${d.reason}) | ${x.threshold.toFixed(3)} | ${num(x.auc.all)} | ${num(x.auc.known)} | ${num(x.auc.unknown)} | ${pct(x.tpr.all)} | ${pct(x.fpr)} |`
    }),
    '',
    '## Trojan Detection Challenge metrics',
    '',
    'Per subset of poisoned adapters (all; seen = trigger in the probe set; unseen = not), against the same clean ' +
      'adapters: AUROC and AUPR (average precision) with bootstrap intervals; FPR at 95 % TPR (threshold = the ' +
      'score that reaches 95 % of the subset) and TPR at the calibrated threshold with exact intervals.',
    '',
    '| detector | subset | AUROC | AUPR | FPR @ 95 % TPR | TPR at threshold | FPR at threshold |',
    '|---|---|---|---|---|---|---|',
    ...DETECTORS.flatMap((d) => {
      const x = r.detectors[d.name]
      return (['all', 'known', 'unknown'] as const).map(
        (k) =>
          `| ${d.name} | ${k === 'all' ? 'all' : k === 'known' ? 'seen' : 'unseen'} | ${num(x.auc[k])} | ${num(x.aupr[k])} | ${pct(x.fpr_at_95_tpr[k].fpr)} | ${pct(x.tpr[k])} | ${pct(x.fpr)} |`,
      )
    }),
    '',
  ]
  if (r.figure !== null) lines.push(`![ROC curves of the detectors on the held-out half](${r.figure})`, '')
  const others = Object.entries(r.other_reasons)
  if (others.length > 0) {
    lines.push(
      `Other reasons raised (population/policy mismatch): ${others.map(([k, v]) => `${k} ×${v}`).join(', ')}.`,
      '',
    )
  }
  return `${lines.join('\n')}\n`
}

/** Default output paths under a results folder. */
export function gateStudyPaths(resultsDir: string): {
  population: string
  reference: string
  calibration: string
  evaluation: string
  evaluationMd: string
  evaluationSvg: string
} {
  return {
    population: join(resultsDir, 'gate_population'),
    reference: join(resultsDir, 'gate-ref.json'),
    calibration: join(resultsDir, 'probes_calib.json'),
    evaluation: join(resultsDir, 'gate_eval.json'),
    evaluationMd: join(resultsDir, 'gate_eval.md'),
    evaluationSvg: join(resultsDir, 'gate_roc.svg'),
  }
}
