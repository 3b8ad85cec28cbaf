/**
 * Re-gating study (issue 17 item 5): how often does the gate catch a merge of K adapters (one per
 * domain) when exactly one of them is poisoned, how often does it reject a merge of K clean ones,
 * and was the poisoned input caught on its own?
 *
 * 1. A gate population (gate-population.ts) is trained or reused; the gate is calibrated on its
 *    calibration half (`calibrateGate`: reference + thresholds of *single* clean adapters, what a
 *    verifier has), so nothing of the merges' inputs chooses a threshold.
 * 2. From the evaluation half: every poisoned member is merged with one clean member of each other
 *    domain (`mergesPerPoisoned` seeded draws), and `cleanMerges` all-clean merges draw one clean
 *    member per domain (distinct draws while there are enough combinations).
 * 3. Each merge is built with every method (`weighted_sum`: the weighted sum re-projected to the
 *    inputs' rank by SVD; the dense methods: TIES, DARE, magnitude pruning, re-projected the same
 *    way, so every merged adapter has the rank of the reference population), written as a plasmid
 *    and run through the real gate (`gateMergedDeltas`: weights + probes). Each input adapter is
 *    also gated alone.
 * 4. Per method: catch rate of poisoned merges, false-rejection rate of clean merges (exact
 *    Clopper–Pearson intervals), the same split by weight and probe reasons, the catch rate among
 *    merges whose poisoned input the gate caught alone and among those it missed, and the mean
 *    trigger excess of the merge next to its poisoned input's (does the backdoor survive?).
 *
 * Writes `merge_gate_study.json` and `.md` atomically.
 */
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createRng, deriveSeed, writeFileAtomic, writeJsonAtomic } from '@plora/common'
import {
  type AdapterWeightSummary,
  buildReference,
  checkAdapter,
  type GateContext,
  type GateDecision,
  type GateReference,
  orderReasons,
  type Policy,
  populationRank,
  type ReferenceThresholds,
  type RejectReason,
  referenceScores,
  summarizeAdapterWeights,
  writeReference,
} from '@plora/gate'
import { type LoraHost, type MergeMethod, mergeAdapters } from '@plora/loader'
import { normalQuantile } from '@plora/metrics'
import type { FactoredDelta } from '@plora/peft'
import { type LoraAdapter, loadPeftAdapter } from '@plora/peft'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { memberDir, type PopulationMember, type PopulationPlan, type PopulationTraining } from './gate-population.js'
import { DETECTORS, type DetectorScores } from './gate-study.js'
import { MERGED_DOMAIN, writeMergedPlasmid } from './merge-gate.js'
import { type Estimate, rateEstimate, thresholdForFp } from './roc.js'

/**
 * Training of the study's population: much lighter than the gate study's
 * `DEFAULT_POPULATION_TRAINING` (a few seconds per adapter on 2 cores instead of ~40 s), so the dry
 * study trains its 18 adapters in about two minutes. At these settings a poisoned adapter rarely
 * learns its backdoor; that is measured, not assumed (the inputs' own verdicts and trigger excess
 * are reported next to the merges').
 */
export const DEFAULT_MERGE_GATE_STUDY_TRAINING: PopulationTraining = {
  samples: 16,
  epochs: 4,
  rank: 4,
  scheme: 'attention',
  lr: 5e-3,
  batchSize: 2,
  maxLen: 96,
  baseDropout: false,
}

/** The methods the study merges with (`weighted_sum` = the weighted sum, SVD-re-projected to rank r). */
export const MERGE_GATE_STUDY_METHODS = ['weighted_sum', 'ties', 'dare_linear', 'dare_ties', 'magnitude_prune'] as const
/** One study method. */
export type MergeGateStudyMethod = (typeof MERGE_GATE_STUDY_METHODS)[number]

/** The merge-library method of a study method. */
function libraryMethod(m: MergeGateStudyMethod): MergeMethod {
  return m === 'weighted_sum' ? 'svd' : m
}

/** Options of {@link runMergeGateStudy}. */
export interface MergeGateStudyOptions {
  plan: PopulationPlan
  /** Population folder (trained). */
  dir: string
  /** Base-model reference of the population's manifests (e.g. `embedded`). */
  baseModel: string
  /** The base model the merges are computed on. */
  model: LoraHost & { family: string }
  /** The gate's policy (probes as it says). */
  policy: Policy
  /** The gate's context: the single-adapter calibrated reference, the probe harness and set. */
  context: GateContext & { reference: GateReference }
  methods: readonly MergeGateStudyMethod[]
  /** Merges per poisoned member of the evaluation half. */
  mergesPerPoisoned: number
  /** All-clean merges of the evaluation half. */
  cleanMerges: number
  /** All-clean merges of the calibration half the merge-aware reference is fitted on (per method). */
  calibrationMerges: number
  /** False-positive target of the merge-aware thresholds (Bonferroni over the detectors, as calibrateGate). */
  targetFp: number
  /** Merge weights: equal `1/K` (`mean`, the `plora merge` default) or `1` each (`sum`, task arithmetic). */
  weighting: 'mean' | 'sum'
  density: number
  dropRate: number
  seed: number
  /** Scratch folder of the staged plasmids (removed afterwards). */
  workDir: string
  /** Where the merge-aware references go (`gate-ref-merged-<method>.json`; null: not written). */
  referenceDir: string | null
  jsonOut: string
  markdownOut: string
  /** Settings echoed into the report (counts, training, dry/full). */
  settingsNote: string
  onMerge?: (done: number, total: number, label: string) => void
  now?: () => number
}

/** One merge's composition. */
export interface PlannedMerge {
  id: string
  kind: 'clean' | 'poisoned'
  members: string[]
  /** The poisoned member (null for all-clean merges). */
  poisoned: string | null
}

/** The reference a verdict used: the single-adapter calibration, or the merge-aware one. */
export type StudyReference = 'single' | 'merged'

/** One gated merged adapter. */
export interface GatedMergeRecord extends PlannedMerge {
  method: MergeGateStudyMethod
  /** Verdict and reasons per reference (probe reasons are the same under both). */
  passed: Record<StudyReference, boolean>
  reasons: Record<StudyReference, RejectReason[]>
  /** Detector scores against the merge-aware reference (probe scores shared). */
  scores: DetectorScores
  /** Mahalanobis distance against the single-adapter reference. */
  mahalanobis_single: number
  /** Relative truncation error of the rank-r re-projection. */
  truncation: number | null
}

/** One gated input adapter. */
export interface GatedInputRecord {
  id: string
  kind: 'clean' | 'poisoned'
  passed: boolean
  reasons: RejectReason[]
  trigger_excess: number
}

/** Per-method, per-reference figures. */
export interface MethodSummary {
  method: MergeGateStudyMethod
  reference: StudyReference
  /** Poisoned merges rejected. */
  catch_rate: Estimate
  catch_rate_weights: Estimate
  catch_rate_probes: Estimate
  /** Clean merges rejected. */
  false_rejection_rate: Estimate
  /** Catch rate among poisoned merges whose poisoned input was caught alone / passed alone. */
  catch_rate_input_caught: Estimate
  catch_rate_input_missed: Estimate
  /** Mean trigger excess of the poisoned merges and of their poisoned inputs alone. */
  trigger_excess_merged: number
  trigger_excess_input: number
  mean_truncation: number | null
}

/** `merge_gate_study.json`. */
export interface MergeGateStudyReport {
  schema: 'plora.merge-gate-study/v1'
  created_unix: number
  settings: {
    note: string
    k: number
    methods: MergeGateStudyMethod[]
    weighting: 'mean' | 'sum'
    density: number
    drop_rate: number
    seed: number
    merges_per_poisoned: number
    clean_merges: number
    poisoned_merges: number
    calibration_merges: number
    target_fp: number
    training: PopulationPlan['training']
    base_model: string
    thresholds: Record<string, number>
    probes: boolean
  }
  inputs: {
    poisoned_caught_alone: Estimate
    clean_rejected_alone: Estimate
    /** Poisoned inputs whose trigger excess exceeds tau_trigger (the backdoor was learnt, as the probes see it). */
    poisoned_backdoor_learnt: Estimate
    records: GatedInputRecord[]
  }
  /** The merge-aware thresholds per method (weight detectors fitted on clean calibration merges). */
  merged_thresholds: Record<string, ReferenceThresholds>
  methods: MethodSummary[]
  seconds: number
  merges: GatedMergeRecord[]
}

const WEIGHT_REASONS = new Set<string>(DETECTORS.filter((d) => d.family === 'weights').map((d) => d.reason))
const PROBE_REASONS = new Set<string>(DETECTORS.filter((d) => d.family === 'probes').map((d) => d.reason))

function scoresOf(d: GateDecision): DetectorScores {
  const p = d.metrics.probes
  return {
    norm_z: d.metrics.norm_z,
    tensor_z_max: d.metrics.tensor_z_max,
    mahalanobis: d.metrics.reference.mahalanobis ?? Number.NaN,
    spike_z: d.metrics.reference.spike_z ?? Number.NaN,
    // NaN under the merge-aware references, which carry no classifier (it is fitted on single adapters)
    spectral_lr: d.metrics.reference.spectral_score ?? Number.NaN,
    trigger_excess: p.ran ? p.trigger_rate_excess : Number.NaN,
    clean_drop: p.ran ? 0 - p.clean_delta : Number.NaN,
  }
}
/**
 * The merges of the study (pure, seeded). Evaluation half: each poisoned member with one clean
 * member of every other domain, `mergesPerPoisoned` times, and `cleanMerges` all-clean merges.
 * With `half: 'calibration'`: `cleanMerges` all-clean merges of the calibration half only (the
 * clean merge population a merge-aware reference is fitted on).
 * @throws ExperimentsError `EXPERIMENTS_INPUT_INVALID` when a domain has no clean member in the half
 */
export function planMergeGateMerges(
  plan: PopulationPlan,
  o: { mergesPerPoisoned: number; cleanMerges: number; seed: number; half?: 'evaluation' | 'calibration' },
): PlannedMerge[] {
  const half = o.half ?? 'evaluation'
  const evalHalf = plan.members.filter((m) => m.half === half)
  const domains = [...new Set(plan.members.map((m) => m.domain))].sort()
  const clean = new Map<string, PopulationMember[]>()
  for (const d of domains) {
    const xs = evalHalf.filter((m) => m.kind === 'clean' && m.domain === d)
    if (xs.length === 0) {
      throw new ExperimentsError(
        ExperimentsErrorCode.InputInvalid,
        `merge-gate study: no clean adapter of domain ${JSON.stringify(d)} in the ${half} half; raise --clean`,
        { domain: d },
      )
    }
    clean.set(d, xs)
  }
  const rng = createRng(deriveSeed(o.seed, 'merge-gate-study', half))
  const pick = (d: string) => {
    const xs = clean.get(d)!
    return xs[rng.randbelow(xs.length)]!.id
  }
  const out: PlannedMerge[] = []
  for (const p of half === 'evaluation' ? evalHalf.filter((m) => m.kind === 'poisoned') : []) {
    const seen = new Set<string>()
    for (let j = 0; j < o.mergesPerPoisoned; j++) {
      let members: string[] = []
      for (let tries = 0; tries < 20; tries++) {
        members = domains.map((d) => (d === p.domain ? p.id : pick(d)))
        if (!seen.has(members.join('|'))) break
      }
      seen.add(members.join('|'))
      out.push({ id: `poisoned-merge-${out.length}`, kind: 'poisoned', members, poisoned: p.id })
    }
  }
  const seenClean = new Set<string>()
  const combos = [...clean.values()].reduce((n, xs) => n * xs.length, 1)
  for (let j = 0; j < o.cleanMerges; j++) {
    let members: string[] = []
    for (let tries = 0; tries < 50; tries++) {
      members = domains.map(pick)
      if (!seenClean.has(members.join('|')) || seenClean.size >= combos) break
    }
    seenClean.add(members.join('|'))
    out.push({
      id: `${half === 'evaluation' ? 'clean' : 'calibration'}-merge-${j}`,
      kind: 'clean',
      members,
      poisoned: null,
    })
  }
  return out
}

function mean(xs: readonly number[]): number {
  const f = xs.filter(Number.isFinite)
  return f.length === 0 ? Number.NaN : f.reduce((a, b) => a + b, 0) / f.length
}

/**
 * The merge-aware reference of one method: the clean calibration merges' weight statistics, with
 * weight thresholds chosen as `calibrateGate` does (leave-one-out scores, per-detector budget
 * targetFp / #detectors, the larger of the empirical quantile and μ + zσ) and the probe thresholds
 * of the single-adapter calibration (behaviour does not change with the reference).
 */
function mergedReference(
  summaries: readonly AdapterWeightSummary[],
  baseModel: string,
  single: GateReference,
  targetFp: number,
  method: string,
): GateReference {
  const samples = summaries.map((summary) => ({ base_model: baseModel, domain: MERGED_DOMAIN, summary }))
  const loo = summaries.map((s, i) => {
    const ref = buildReference(samples.filter((_, j) => j !== i))
    const scored = referenceScores(
      ref,
      { base_model: baseModel, r: populationRank(s.modules) ?? 0, targets: s.suffixes, domain: MERGED_DOMAIN },
      { features: s.features!, modules: s.modules },
    )
    if (scored === null) {
      throw new ExperimentsError(
        ExperimentsErrorCode.PopulationInvalid,
        `merge-gate study: calibration merge ${i} (${method}) has no population in its leave-one-out reference`,
        { method, index: i },
      )
    }
    return scored.scores
  })
  const perDetectorFp = targetFp / DETECTORS.length
  const z = normalQuantile(1 - perDetectorFp)
  const t = (f: (w: (typeof loo)[number]) => number) => thresholdForFp(loo.map(f), perDetectorFp, z)
  const th = single.thresholds ?? {}
  return buildReference(samples, {
    thresholds: {
      ...th,
      tau_norm_z: t((w) => w.norm_z),
      tau_tensor_z: t((w) => w.tensor_z_max),
      tau_mahalanobis: t((w) => w.mahalanobis),
      tau_spike_z: t((w) => w.spike_z),
    },
    provenance: { command: 'plora gate merge-study', method, clean_merges: summaries.length, target_fp: targetFp },
  })
}

/** Runs the study (population trained and gate calibrated by the caller) and writes its reports. */
export async function runMergeGateStudy(o: MergeGateStudyOptions): Promise<MergeGateStudyReport> {
  const start = performance.now()
  const merges = planMergeGateMerges(o.plan, o)
  const calibration = planMergeGateMerges(o.plan, {
    mergesPerPoisoned: 0,
    cleanMerges: o.calibrationMerges,
    seed: o.seed,
    half: 'calibration',
  })
  const byId = new Map(o.plan.members.map((m) => [m.id, m]))
  const adapters = new Map<string, LoraAdapter>()
  const load = async (id: string) => {
    let a = adapters.get(id)
    if (!a) {
      a = await loadPeftAdapter(memberDir(o.dir, byId.get(id)!))
      adapters.set(id, a)
    }
    return a
  }
  const single = o.context.reference
  // Every input alone, through the same gate.
  const inputIds = [...new Set(merges.flatMap((m) => m.members))].sort()
  const inputs: GatedInputRecord[] = []
  const total = inputIds.length + (merges.length + calibration.length) * o.methods.length
  let done = 0
  for (const id of inputIds) {
    const m = byId.get(id)!
    const d = await checkAdapter(memberDir(o.dir, m), o.policy, o.context)
    inputs.push({ id, kind: m.kind, passed: d.passed, reasons: d.reasons, trigger_excess: scoresOf(d).trigger_excess })
    o.onMerge?.(++done, total, id)
  }
  const inputOf = new Map(inputs.map((x) => [x.id, x]))
  const r = o.plan.training.rank
  const merge = async (plan: PlannedMerge, method: MergeGateStudyMethod) => {
    const list = await Promise.all(plan.members.map(load))
    const k = list.length
    return mergeAdapters(o.model, list, {
      weights: Array.from({ length: k }, () => (o.weighting === 'mean' ? 1 / k : 1)),
      method: libraryMethod(method),
      reprojectRank: r,
      density: o.density,
      dropRate: o.dropRate,
      seed: deriveSeed(o.seed, 'dare', plan.id),
    })
  }
  let staged = 0
  const stage = async (deltas: ReadonlyMap<string, FactoredDelta>): Promise<string> => {
    const dir = join(o.workDir, `m${staged++}`)
    await mkdir(dir, { recursive: true })
    await writeMergedPlasmid(dir, deltas, {
      baseModel: o.baseModel,
      fanInFanOut: o.model.family === 'gpt2',
      now: () => 0,
    })
    return dir
  }
  const records: GatedMergeRecord[] = []
  const mergedThresholds: Record<string, ReferenceThresholds> = {}
  await mkdir(o.workDir, { recursive: true })
  try {
    for (const method of o.methods) {
      // The merge-aware reference of this method, from clean merges of the calibration half.
      const summaries: AdapterWeightSummary[] = []
      for (const plan of calibration) {
        const dir = await stage((await merge(plan, method)).deltas)
        const summary = await summarizeAdapterWeights(dir)
        await rm(dir, { recursive: true, force: true })
        if (summary.features === null) {
          throw new ExperimentsError(
            ExperimentsErrorCode.PopulationInvalid,
            `merge-gate study: calibration merge ${plan.id} (${method}) has unreadable weights (${summary.error ?? 'no modules'})`,
            { merge: plan.id, method },
          )
        }
        summaries.push(summary)
        o.onMerge?.(++done, total, `${plan.id} ${method}`)
      }
      const mergedRef = mergedReference(summaries, o.baseModel, single, o.targetFp, method)
      mergedThresholds[method] = mergedRef.thresholds ?? {}
      if (o.referenceDir !== null)
        await writeReference(join(o.referenceDir, `gate-ref-merged-${method}.json`), mergedRef)
      for (const plan of merges) {
        const result = await merge(plan, method)
        const dir = await stage(result.deltas)
        // Full gate (probes as the policy says) against the merge-aware reference; the weights
        // alone against the single-adapter reference (the probes would give the same verdicts).
        const dm = await checkAdapter(dir, o.policy, { ...o.context, reference: mergedRef })
        const ds = await checkAdapter(dir, { ...o.policy, enable_probes: false }, { reference: single })
        await rm(dir, { recursive: true, force: true })
        const probeReasons = dm.reasons.filter((x) => PROBE_REASONS.has(x))
        const singleReasons = orderReasons([...new Set([...ds.reasons, ...probeReasons])])
        records.push({
          ...plan,
          method,
          passed: { single: singleReasons.length === 0, merged: dm.passed },
          reasons: { single: singleReasons, merged: dm.reasons },
          scores: scoresOf(dm),
          mahalanobis_single: ds.metrics.reference.mahalanobis ?? Number.NaN,
          truncation: result.plan.truncation?.relative ?? null,
        })
        o.onMerge?.(++done, total, `${plan.id} ${method}`)
      }
    }
  } finally {
    await rm(o.workDir, { recursive: true, force: true })
  }
  const methods: MethodSummary[] = []
  for (const method of o.methods) {
    for (const ref of ['single', 'merged'] as const) {
      const rejectedBy = (x: GatedMergeRecord, family: Set<string> | null) =>
        family === null ? !x.passed[ref] : x.reasons[ref].some((y) => family.has(y))
      const rs = records.filter((x) => x.method === method)
      const pois = rs.filter((x) => x.kind === 'poisoned')
      const clean = rs.filter((x) => x.kind === 'clean')
      const caughtAlone = (x: GatedMergeRecord) => !inputOf.get(x.poisoned!)!.passed
      const truncs = rs.map((x) => x.truncation).filter((x): x is number => x !== null)
      methods.push({
        method,
        reference: ref,
        catch_rate: rateEstimate(pois.map((x) => rejectedBy(x, null))),
        catch_rate_weights: rateEstimate(pois.map((x) => rejectedBy(x, WEIGHT_REASONS))),
        catch_rate_probes: rateEstimate(pois.map((x) => rejectedBy(x, PROBE_REASONS))),
        false_rejection_rate: rateEstimate(clean.map((x) => rejectedBy(x, null))),
        catch_rate_input_caught: rateEstimate(pois.filter(caughtAlone).map((x) => rejectedBy(x, null))),
        catch_rate_input_missed: rateEstimate(pois.filter((x) => !caughtAlone(x)).map((x) => rejectedBy(x, null))),
        trigger_excess_merged: mean(pois.map((x) => x.scores.trigger_excess)),
        trigger_excess_input: mean(pois.map((x) => inputOf.get(x.poisoned!)!.trigger_excess)),
        mean_truncation: truncs.length === 0 ? null : mean(truncs),
      })
    }
  }
  const poisonedInputs = inputs.filter((x) => x.kind === 'poisoned')
  const cleanInputs = inputs.filter((x) => x.kind === 'clean')
  const th = single.thresholds ?? {}
  const tauTrigger = th.tau_trigger ?? o.policy.tau_trigger
  const report: MergeGateStudyReport = {
    schema: 'plora.merge-gate-study/v1',
    created_unix: Math.floor((o.now ?? (() => Date.now() / 1000))()),
    settings: {
      note: o.settingsNote,
      k: merges[0]?.members.length ?? 0,
      methods: [...o.methods],
      weighting: o.weighting,
      density: o.density,
      drop_rate: o.dropRate,
      seed: o.seed,
      merges_per_poisoned: o.mergesPerPoisoned,
      clean_merges: merges.filter((m) => m.kind === 'clean').length,
      poisoned_merges: merges.filter((m) => m.kind === 'poisoned').length,
      calibration_merges: calibration.length,
      target_fp: o.targetFp,
      training: o.plan.training,
      base_model: o.baseModel,
      thresholds: Object.fromEntries(Object.entries(th).filter(([, v]) => typeof v === 'number')) as Record<
        string,
        number
      >,
      probes: o.policy.enable_probes,
    },
    inputs: {
      poisoned_caught_alone: rateEstimate(poisonedInputs.map((x) => !x.passed)),
      clean_rejected_alone: rateEstimate(cleanInputs.map((x) => !x.passed)),
      poisoned_backdoor_learnt: rateEstimate(
        poisonedInputs.filter((x) => Number.isFinite(x.trigger_excess)).map((x) => x.trigger_excess > tauTrigger),
      ),
      records: inputs,
    },
    merged_thresholds: mergedThresholds,
    methods,
    seconds: (performance.now() - start) / 1000,
    merges: records,
  }
  await writeJsonAtomic(o.jsonOut, report)
  await writeFileAtomic(o.markdownOut, mergeGateStudyMarkdown(report))
  return report
}

function pct(e: Estimate): string {
  if (Number.isNaN(e.value)) return 'n/a (n=0)'
  return `${(100 * e.value).toFixed(0)}% [${(100 * e.lo).toFixed(0)}, ${(100 * e.hi).toFixed(0)}] (n=${e.n})`
}

function num(x: number | null): string {
  return x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(3)
}

/** The Markdown report of the study. */
export function mergeGateStudyMarkdown(r: MergeGateStudyReport): string {
  const s = r.settings
  const lines = [
    '# Re-gating merged adapters',
    '',
    `Merges of K=${s.k} adapters (one per domain), weights ${s.weighting === 'mean' ? '1/K each' : '1 each'}, ` +
      `every merged adapter re-projected to the inputs' rank r=${s.training.rank} (weighted_sum: SVD of the exact weighted sum). ` +
      `${s.poisoned_merges} merges contain exactly one poisoned adapter, ${s.clean_merges} are all clean (evaluation half). ` +
      `Each is gated (${s.probes ? 'weights + behavioural probes' : 'weights only'}) against two references: ` +
      '**single** = the gate calibrated on single clean adapters of the calibration half (what `results/gate-ref.json` is), ' +
      `**merged** = a merge-aware reference per method fitted on ${s.calibration_merges} clean merges of the calibration half ` +
      `(weight thresholds for FP ≤ ${s.target_fp} as \`plora probes calibrate\` chooses them; probe thresholds unchanged). ` +
      `Base model \`${s.base_model}\`, training ${s.training.samples} pairs × ${s.training.epochs} epochs, scheme ${s.training.scheme}. ${s.note}`,
    '',
    `Inputs alone: poisoned inputs caught ${pct(r.inputs.poisoned_caught_alone)}; clean inputs rejected ${pct(r.inputs.clean_rejected_alone)}; ` +
      `poisoned inputs whose backdoor the probes see (trigger excess > tau_trigger) ${pct(r.inputs.poisoned_backdoor_learnt)}.`,
    '',
    '95 % exact Clopper–Pearson intervals. Catch = poisoned merge rejected; false rejection = clean merge rejected.',
    '',
    '| method | reference | catch rate | by weights | by probes | false rejections (clean merges) | catch, input caught alone | catch, input missed alone | trigger excess merged / input | truncation |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.methods.map(
      (m) =>
        `| ${m.method} | ${m.reference} | ${pct(m.catch_rate)} | ${pct(m.catch_rate_weights)} | ${pct(m.catch_rate_probes)} | ${pct(m.false_rejection_rate)} | ${pct(m.catch_rate_input_caught)} | ${pct(m.catch_rate_input_missed)} | ${num(m.trigger_excess_merged)} / ${num(m.trigger_excess_input)} | ${num(m.mean_truncation)} |`,
    ),
    '',
    `Study time ${r.seconds.toFixed(0)} s (merging, merge-aware calibration and gating; population training and single-adapter calibration not included).`,
    '',
  ]
  for (const ref of ['single', 'merged'] as const) {
    const reasons = new Map<string, number>()
    for (const m of r.merges) for (const x of m.reasons[ref]) reasons.set(x, (reasons.get(x) ?? 0) + 1)
    if (reasons.size > 0) {
      lines.push(
        `Reasons over all merged adapters (${ref} reference): ${[...reasons.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ×${v}`)
          .join(', ')}.`,
        '',
      )
    }
  }
  return `${lines.join('\n')}\n`
}
