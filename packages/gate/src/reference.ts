/**
 * The clean reference population (`gate-ref.json`): per (base model, rank, target suffixes, and
 * optionally domain) the distribution of adapter-level weight features and of per-module update
 * norms over clean adapters. Adapters of different domains differ systematically (an arithmetic
 * adapter, trained on long rationales, moves its weights far more than a glossary one), so a
 * per-domain population is much tighter. The manifest `domain` is unsigned, so it may only add a
 * check, never choose a more lenient one (issue 15 point 5): the gate always scores the adapter
 * against the pooled population (`domain: null`) and, when the reference also has a population for
 * the manifest's domain, against that one too; it must pass both. Without a pooled population the
 * weights are "not evaluated" (the policy decides), whatever the domain says. The population rank
 * is the adapter's most common module rank ({@link populationRank}), so mixed ranks keep the
 * reference in use (point 4).
 * Calibration writes it; the gate scores adapters against it:
 *
 *   z_f = (x_f − μ_f) / σ_f                       per feature (weight_norm_outlier, gradient_spike_z_high)
 *   z_m = (ln‖ΔW_m‖_F − μ_m) / σ_m                per module path (tensor_norm_outlier, upward only)
 *   D²  = (x − μ)ᵀ (Σ + λI)⁻¹ (x − μ)             Mahalanobis over the feature vector
 *                                                 (activation_mahalanobis_high), Σ shrunk toward diag
 *
 * σ uses the unbiased sample standard deviation with a floor (1e-6·max(1, |μ|)), so a population of
 * identical adapters does not divide by zero. This replaces the original's file-size "norm"
 * ([D-03b]) and its detector reference files read from the sender's folder ([D-05]).
 */
import { readFile } from 'node:fs/promises'
import { writeJsonAtomic } from '@plora/common'
import { loadManifest } from '@plora/manifest'
import { Matrix, solve } from 'ml-matrix'
import { z } from 'zod'
import {
  type AdapterWeightSummary,
  FEATURE_NAMES,
  type FeatureName,
  populationRank,
  summarizeAdapterWeights,
} from './adapter-weights.js'
import { GateError, GateErrorCode } from './errors.js'
import { type SpectralClassifier, SpectralClassifierSchema, spectralClassifierProblem } from './spectral-classifier.js'

/** Schema tag of `gate-ref.json`. */
export const GATE_REF_SCHEMA = 'plora.gate-ref/v1'

const finite = z.number().finite()
const MomentsSchema = z.object({ mean: finite, std: finite.min(0) }).strict()

const PopulationSchema = z
  .object({
    base_model: z.string().nullable(),
    r: z.number().int().min(1),
    /** Sorted target suffixes (e.g. `["c_attn"]`). */
    targets: z.array(z.string()),
    /** The manifest domain the population describes; null (or absent, older files) = any domain. */
    domain: z.string().nullable().default(null),
    count: z.number().int().min(1),
    features: z.record(z.enum(FEATURE_NAMES), MomentsSchema),
    /** Mean vector and covariance of the features, in FEATURE_NAMES order. */
    mean: z.array(finite),
    cov: z.array(z.array(finite)),
    /** Per module path: moments of ln‖ΔW‖_F. */
    modules: z.record(z.string(), MomentsSchema.extend({ count: z.number().int().min(1) }).strict()),
  })
  .strict()

/** Thresholds calibration may choose; when present they replace the policy's (see `checkAdapter`). */
const ThresholdsSchema = z
  .object({
    tau_norm_z: finite,
    tau_tensor_z: finite,
    tau_mahalanobis: finite,
    tau_spike_z: finite,
    tau_trigger: finite,
    tau_clean_delta: finite,
  })
  .partial()
  .strict()

/** Schema of `gate-ref.json`. */
export const GateReferenceSchema = z
  .object({
    schema: z.literal(GATE_REF_SCHEMA),
    created_unix: z.number().int().optional(),
    feature_names: z.array(z.enum(FEATURE_NAMES)),
    populations: z.array(PopulationSchema),
    thresholds: ThresholdsSchema.optional(),
    /**
     * The calibrated spectral-feature classifier (`spectral_lr`, issue 20); absent in references
     * written before it, which then apply no classifier.
     */
    spectral_classifier: SpectralClassifierSchema.optional(),
    /** Free-form provenance (who/what calibrated it). */
    provenance: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()

/** A parsed `gate-ref.json`. */
export type GateReference = z.output<typeof GateReferenceSchema>
/** One population of a reference. */
export type ReferencePopulation = z.output<typeof PopulationSchema>
/** Calibrated thresholds stored in a reference. */
export type ReferenceThresholds = z.output<typeof ThresholdsSchema>

/** Population key: base model, rank, the sorted target suffixes, and the domain (null = any). */
export interface PopulationKey {
  base_model: string | null
  r: number
  targets: readonly string[]
  domain?: string | null
}

function keyString(k: PopulationKey): string {
  const d = k.domain ?? null
  return `${k.base_model ?? '(any)'}|r${k.r}|${[...k.targets].sort().join(',')}${d === null ? '' : `|${d}`}`
}

function moments(xs: readonly number[]): { mean: number; std: number } {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / n
  const v = n > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0
  return { mean, std: Math.sqrt(v) }
}

/** A labelled clean sample for {@link buildReference}. */
export interface ReferenceSample {
  base_model: string | null
  /** The adapter's manifest domain (used with `byDomain`). */
  domain?: string | null
  summary: AdapterWeightSummary
}

/**
 * Builds a reference from summaries of clean adapters, one population per (base model, rank,
 * target suffixes) and, with `byDomain`, also one per domain with at least `minDomainCount`
 * samples (default 3). Samples whose weights could not be read are skipped.
 * @throws GateError `GATE_REFERENCE_INVALID` when no sample is usable
 */
export function buildReference(
  samples: readonly ReferenceSample[],
  options: {
    thresholds?: ReferenceThresholds
    provenance?: Record<string, unknown>
    createdUnix?: number
    byDomain?: boolean
    minDomainCount?: number
    spectralClassifier?: SpectralClassifier
  } = {},
): GateReference {
  const groups = new Map<string, { key: PopulationKey; items: AdapterWeightSummary[] }>()
  const add = (key: PopulationKey, summary: AdapterWeightSummary) => {
    const k = keyString(key)
    const g = groups.get(k) ?? { key, items: [] }
    g.items.push(summary)
    groups.set(k, g)
  }
  for (const s of samples) {
    if (s.summary.error !== null || s.summary.features === null) continue
    const key: PopulationKey = {
      base_model: s.base_model,
      r: populationRank(s.summary.modules)!,
      targets: s.summary.suffixes,
    }
    add({ ...key, domain: null }, s.summary)
    if (options.byDomain && typeof s.domain === 'string') add({ ...key, domain: s.domain }, s.summary)
  }
  const minDomain = options.minDomainCount ?? 3
  for (const [k, g] of groups) if ((g.key.domain ?? null) !== null && g.items.length < minDomain) groups.delete(k)
  if (groups.size === 0) {
    throw new GateError(GateErrorCode.ReferenceInvalid, 'reference: no readable clean adapter among the samples', {
      samples: samples.length,
    })
  }
  const populations: ReferencePopulation[] = []
  for (const { key, items } of [...groups.values()].sort((a, b) => (keyString(a.key) < keyString(b.key) ? -1 : 1))) {
    const vecs = items.map((it) => FEATURE_NAMES.map((f) => it.features![f]))
    const d = FEATURE_NAMES.length
    const mean = Array.from({ length: d }, (_, j) => vecs.reduce((a, v) => a + v[j]!, 0) / vecs.length)
    const cov = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d }, (_, j) =>
        vecs.length > 1 ? vecs.reduce((a, v) => a + (v[i]! - mean[i]!) * (v[j]! - mean[j]!), 0) / (vecs.length - 1) : 0,
      ),
    )
    const features = Object.fromEntries(FEATURE_NAMES.map((f, j) => [f, moments(vecs.map((v) => v[j]!))])) as Record<
      FeatureName,
      { mean: number; std: number }
    >
    const perModule = new Map<string, number[]>()
    for (const it of items) {
      for (const m of it.modules) {
        const list = perModule.get(m.path) ?? []
        list.push(Math.log(Math.max(m.stats.frobenius, 1e-30)))
        perModule.set(m.path, list)
      }
    }
    const modules = Object.fromEntries(
      [...perModule.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([p, xs]) => [p, { ...moments(xs), count: xs.length }]),
    )
    populations.push({
      base_model: key.base_model,
      r: key.r,
      targets: [...key.targets],
      domain: key.domain ?? null,
      count: items.length,
      features,
      mean,
      cov,
      modules,
    })
  }
  const ref: GateReference = {
    schema: GATE_REF_SCHEMA,
    feature_names: [...FEATURE_NAMES],
    populations,
  }
  if (options.createdUnix !== undefined) ref.created_unix = options.createdUnix
  if (options.thresholds) ref.thresholds = options.thresholds
  if (options.spectralClassifier) ref.spectral_classifier = options.spectralClassifier
  if (options.provenance) ref.provenance = options.provenance
  return ref
}

/**
 * Reads each clean adapter folder (its `adapter_config.json` base model and weights) and builds a
 * reference: what calibration calls to write `gate-ref.json`.
 */
export async function computeReference(
  adapterDirs: readonly string[],
  options: {
    baseModel?: string | null
    thresholds?: ReferenceThresholds
    provenance?: Record<string, unknown>
    createdUnix?: number
    /** Also build one population per manifest domain (`plora.yml` `domain`). */
    byDomain?: boolean
  } = {},
): Promise<GateReference> {
  const samples: ReferenceSample[] = []
  for (const dir of adapterDirs) {
    const summary = await summarizeAdapterWeights(dir)
    const base = options.baseModel !== undefined ? options.baseModel : (summary.config?.base_model_name_or_path ?? null)
    let domain: string | null = null
    if (options.byDomain) {
      try {
        domain = (await loadManifest(dir)).domain
      } catch {
        domain = null // a folder without a valid manifest joins the domain-free population only
      }
    }
    samples.push({ base_model: base, domain, summary })
  }
  const { baseModel: _unused, ...rest } = options
  return buildReference(samples, rest)
}

/** Writes a reference atomically as 2-space JSON. */
export async function writeReference(path: string, ref: GateReference): Promise<void> {
  await writeJsonAtomic(path, GateReferenceSchema.parse(ref))
}

/**
 * Reads and validates `gate-ref.json`.
 * @throws GateError `GATE_REFERENCE_INVALID`
 */
export async function readReference(path: string): Promise<GateReference> {
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(path, 'utf8'))
  } catch (e) {
    throw new GateError(
      GateErrorCode.ReferenceInvalid,
      `reference ${path}: cannot read JSON (${(e as Error).message})`,
      { path },
      { cause: e },
    )
  }
  const parsed = GateReferenceSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new GateError(
      GateErrorCode.ReferenceInvalid,
      `reference ${path}: field "${issue.path.join('.') || '(top level)'}": ${issue.message}`,
      { path, issues: parsed.error.issues.length },
    )
  }
  for (const p of parsed.data.populations) {
    const d = parsed.data.feature_names.length
    if (p.mean.length !== d || p.cov.length !== d || p.cov.some((row) => row.length !== d)) {
      throw new GateError(
        GateErrorCode.ReferenceInvalid,
        `reference ${path}: population ${keyString(p)} has mean/cov not of size ${d}`,
        { path },
      )
    }
  }
  if (parsed.data.feature_names.join() !== FEATURE_NAMES.join()) {
    throw new GateError(
      GateErrorCode.ReferenceInvalid,
      `reference ${path}: feature_names ${JSON.stringify(parsed.data.feature_names)} differ from this gate's ${JSON.stringify(FEATURE_NAMES)} (re-run calibration)`,
      { path },
    )
  }
  const classifier = parsed.data.spectral_classifier
  const problem = classifier === undefined ? null : spectralClassifierProblem(classifier)
  if (problem !== null) {
    throw new GateError(GateErrorCode.ReferenceInvalid, `reference ${path}: spectral_classifier: ${problem}`, { path })
  }
  return parsed.data
}

/** The populations an adapter is scored against (see the file header). */
export interface PopulationMatch {
  /** The domain-free population of the key; null = not evaluated. */
  pooled: ReferencePopulation | null
  /** The population of the key's domain, only when the pooled one exists too. */
  domain: ReferencePopulation | null
}

/**
 * The populations for a key: the pooled (domain-free) one with the same base model, rank and
 * sorted targets, plus the one of the key's domain when the reference has it. A domain never
 * replaces the pooled population (it is unsigned); without a pooled one nothing is returned.
 */
export function findPopulations(ref: GateReference, key: PopulationKey): PopulationMatch {
  const pooledKey = keyString({ ...key, domain: null })
  const pooled = ref.populations.find((p) => (p.domain ?? null) === null && keyString(p) === pooledKey) ?? null
  if (pooled === null) return { pooled: null, domain: null }
  const domain = key.domain ?? null
  if (domain === null) return { pooled, domain: null }
  const want = keyString(key)
  return { pooled, domain: ref.populations.find((p) => p.domain === domain && keyString(p) === want) ?? null }
}

/**
 * The most specific population for a key: the one of its domain when the key names a domain and
 * the reference has it, else the pooled one; or null. For calibration and reports only: the gate's
 * decision uses {@link findPopulations}, because the manifest domain is unsigned.
 */
export function findPopulation(ref: GateReference, key: PopulationKey): ReferencePopulation | null {
  const m = findPopulations(ref, key)
  return m.domain ?? m.pooled
}

/** Label of a population for reports: `base|r4|c_attn[|domain] (n=30)`. */
export function populationLabel(pop: ReferencePopulation): string {
  return `${keyString(pop)} (n=${pop.count})`
}

function stdFloor(mean: number, std: number): number {
  return Math.max(std, 1e-6 * Math.max(1, Math.abs(mean)))
}

/** Signed z-score of each feature against a population. */
export function featureZScores(
  pop: ReferencePopulation,
  features: Record<FeatureName, number>,
): Record<FeatureName, number> {
  return Object.fromEntries(
    FEATURE_NAMES.map((f) => {
      const m = pop.features[f]!
      return [f, (features[f] - m.mean) / stdFloor(m.mean, m.std)]
    }),
  ) as Record<FeatureName, number>
}

/** |z| of ln‖ΔW_m‖_F per module path present in the population (others are absent from the result). */
export function moduleZScores(
  pop: ReferencePopulation,
  modules: ReadonlyArray<{ path: string; frobenius: number }>,
): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of modules) {
    const ref = pop.modules[m.path]
    if (!ref) continue
    out.set(m.path, (Math.log(Math.max(m.frobenius, 1e-30)) - ref.mean) / stdFloor(ref.mean, ref.std))
  }
  return out
}

/**
 * Mahalanobis distance of a feature vector from the population. The covariance is shrunk toward its
 * diagonal, Σ* = (1−α)Σ + α·diag(Σ) with α = min(1, d/n), because the spectral-shape features are
 * strongly correlated and a small population makes Σ nearly singular (a shrinkage estimator in
 * the spirit of Ledoit & Wolf 2004), plus a tiny ridge.
 */
export function mahalanobis(pop: ReferencePopulation, features: Record<FeatureName, number>): number {
  const d = FEATURE_NAMES.length
  const x = FEATURE_NAMES.map((f, i) => features[f] - pop.mean[i]!)
  const alpha = Math.min(1, d / Math.max(1, pop.count))
  let trace = 0
  for (let i = 0; i < d; i++) trace += pop.cov[i]![i]!
  const lambda = 1e-9 * (1 + trace / d)
  const sigma = new Matrix(pop.cov.map((row, i) => row.map((v, j) => (i === j ? v + lambda : (1 - alpha) * v))))
  const y = solve(sigma, Matrix.columnVector(x)).to1DArray()
  let q = 0
  for (let i = 0; i < d; i++) q += x[i]! * y[i]!
  return Math.sqrt(Math.max(0, q))
}

/** Features whose upward z-score is the adapter's `norm_z` (`weight_norm_outlier`). */
export const NORM_FEATURES: readonly FeatureName[] = ['log_total_frobenius', 'log_max_spectral']

/** The weight-statistic scores of one adapter against a clean population (higher = more unusual). */
export interface WeightScores {
  /** max z over {@link NORM_FEATURES}, upward only in effect (`weight_norm_outlier`). */
  norm_z: number
  /** Largest module z of ln‖ΔW‖_F, floored at 0 (`tensor_norm_outlier`). */
  tensor_z_max: number
  /** Mahalanobis distance of the feature vector (`activation_mahalanobis_high`). */
  mahalanobis: number
  /** z of the largest top-direction energy share (`gradient_spike_z_high`). */
  spike_z: number
  feature_z: Record<FeatureName, number>
  /** Per module path: z of ln‖ΔW‖_F (modules absent from the population are 0). */
  module_z: Map<string, number>
}

/**
 * Scores an adapter's weight summary against a population: what `checkAdapter` compares with its
 * thresholds, and what calibration computes for every adapter of its populations.
 */
export function weightScores(
  pop: ReferencePopulation,
  summary: Pick<AdapterWeightSummary, 'features' | 'modules'> & { features: Record<FeatureName, number> },
): WeightScores {
  const fz = featureZScores(pop, summary.features)
  const mz = moduleZScores(
    pop,
    summary.modules.map((m) => ({ path: m.path, frobenius: m.stats.frobenius })),
  )
  const module_z = new Map(summary.modules.map((m) => [m.path, mz.get(m.path) ?? 0]))
  return {
    norm_z: Math.max(...NORM_FEATURES.map((f) => fz[f])),
    tensor_z_max: Math.max(0, ...module_z.values()),
    mahalanobis: mahalanobis(pop, summary.features),
    spike_z: fz.max_top_energy,
    feature_z: fz,
    module_z,
  }
}

/** {@link referenceScores}: the combined scores and the populations behind them. */
export interface ReferenceScoresResult {
  scores: WeightScores
  /** The pooled population, then the domain one when used. */
  populations: ReferencePopulation[]
}

/**
 * Scores an adapter the way the gate decides (issue 15 point 5): against the pooled population
 * and, when the reference has one for the key's domain, against that too, keeping the larger
 * (more unusual) score of each detector, so a domain label can only add scrutiny. `feature_z` is
 * that of the population with the larger Mahalanobis distance. Null when there is no pooled
 * population (the weights are then not evaluated).
 */
export function referenceScores(
  ref: GateReference,
  key: PopulationKey,
  summary: Pick<AdapterWeightSummary, 'features' | 'modules'> & { features: Record<FeatureName, number> },
): ReferenceScoresResult | null {
  const match = findPopulations(ref, key)
  if (match.pooled === null) return null
  const populations = [match.pooled, ...(match.domain !== null ? [match.domain] : [])]
  const all = populations.map((p) => weightScores(p, summary))
  const worst = (f: (w: WeightScores) => number): number => Math.max(...all.map(f))
  const lead = all.reduce((a, b) => (b.mahalanobis > a.mahalanobis ? b : a))
  const module_z = new Map(
    summary.modules.map((m) => [m.path, Math.max(...all.map((w) => w.module_z.get(m.path) ?? 0))]),
  )
  return {
    populations,
    scores: {
      norm_z: worst((w) => w.norm_z),
      tensor_z_max: Math.max(0, ...module_z.values()),
      mahalanobis: worst((w) => w.mahalanobis),
      spike_z: worst((w) => w.spike_z),
      feature_z: lead.feature_z,
      module_z,
    },
  }
}
