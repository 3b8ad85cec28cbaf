/**
 * Reads a PEFT LoRA adapter the way the loader does — through `@plora/peft`, the one reader of
 * the format (issue 15: the gate must see exactly what the loader injects) — and computes the
 * per-module update statistics ΔW = s·B·A and the adapter-level feature vector that the reference
 * population (`gate-ref.json`) describes. Scaling, `rank_pattern` / `alpha_pattern`, tensor key
 * names, `target_modules` and the sanity bounds on ΔW are `@plora/peft`'s.
 *
 * Cost is bounded before any maths (issue 15 point 7): the safetensors header is parsed and the
 * factor shapes are paired and checked first; modules whose rank exceeds the caller's bound are
 * not decoded and no Gram or eigen-problem is formed. Everything read here is sender-supplied, so
 * nothing throws on bad content: problems are returned as `error` text (with `errorCode`).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  decodePeftWeights,
  type LoraPairShape,
  type ModuleUpdateStats,
  moduleUpdateStats,
  PeftErrorCode,
  type PeftLoraConfig,
  pairLoraTensors,
  parsePeftConfigBytes,
  parsePeftConfigText,
  parsePeftTensorKey,
} from '@plora/peft'
import { parseSafetensorsHeader } from '@plora/safetensors'
import { DEFAULT_MAX_RANK } from './policy.js'
import { spectralFeatures } from './spectral-features.js'

/** The parsed `adapter_config.json` (PEFT LoraConfig names, `@plora/peft`'s schema). */
export type AdapterConfigInfo = PeftLoraConfig

/** One adapted module. */
export interface ModuleSummary {
  /** Module path, e.g. `transformer.h.0.attn.c_attn`. */
  path: string
  /** Last path segment, the name policies compare (`c_attn`, `q_proj`). */
  suffix: string
  r: number
  inFeatures: number
  outFeatures: number
  scale: number
  stats: ModuleUpdateStats
}

/** Names of the adapter-level features, in vector order (see {@link adapterFeatures}). */
export const FEATURE_NAMES = [
  'log_total_frobenius',
  'log_max_spectral',
  'mean_stable_rank',
  'max_top_energy',
  'mean_effective_rank',
] as const
/** One adapter-level feature name. */
export type FeatureName = (typeof FEATURE_NAMES)[number]

/** Everything the gate learns from an adapter's config and weights. */
export interface AdapterWeightSummary {
  config: AdapterConfigInfo | null
  modules: ModuleSummary[]
  /** The rank(s) of the factor pairs (from the header, known even when the maths is skipped). */
  ranks: number[]
  /** Sorted distinct module suffixes of the factor pairs. */
  suffixes: string[]
  /** Tensor names that are not LoRA factors of the default adapter (they make the weights refused). */
  otherTensors: string[]
  /** Adapter-level features (null when there are no evaluated modules). */
  features: Record<FeatureName, number> | null
  /**
   * The spectral feature vector (`SPECTRAL_FEATURE_NAMES` order, see spectral-features.ts) the
   * calibrated classifier scores; null when there are no evaluated modules.
   */
  spectral: number[] | null
  /** Why the weights could not be read (null = read fine). */
  error: string | null
  /** The `@plora/peft` (or `@plora/safetensors`) error code behind `error`, if any. */
  errorCode: string | null
  /** True when the update is non-finite or absurd (`PEFT_UPDATE_INVALID`): always a rejection. */
  updateInvalid: boolean
  /** Why the statistics were not computed although the weights may be fine (e.g. rank above the bound). */
  skipped: string | null
}

/** Parses `adapter_config.json` text with `@plora/peft`'s schema; null on any problem. */
export function parseAdapterConfig(text: string): AdapterConfigInfo | null {
  return readAdapterConfig(text).config
}

/**
 * Parses `adapter_config.json` with `@plora/peft`'s schema, keeping the refusal message. Bytes are
 * decoded as strict UTF-8 exactly as the loader does (`parsePeftConfigBytes`), so the gate never
 * vets a lossily decoded config the loader would refuse.
 */
export function readAdapterConfig(input: string | Uint8Array): {
  config: AdapterConfigInfo | null
  error: string | null
} {
  try {
    return { config: typeof input === 'string' ? parsePeftConfigText(input) : parsePeftConfigBytes(input), error: null }
  } catch (e) {
    return { config: null, error: (e as Error).message }
  }
}

/**
 * Adapter-level features from the per-module statistics: log of the total update norm
 * √Σ‖ΔW_m‖²_F, log of the largest σ₁, mean stable rank, largest top-direction energy share,
 * mean effective rank. Logs make the norm features scale-free for z-scoring.
 */
export function adapterFeatures(modules: readonly ModuleSummary[]): Record<FeatureName, number> | null {
  if (modules.length === 0) return null
  let fro2 = 0
  let maxSpec = 0
  let sr = 0
  let maxTop = 0
  let er = 0
  for (const m of modules) {
    fro2 += m.stats.frobenius ** 2
    maxSpec = Math.max(maxSpec, m.stats.spectral)
    sr += m.stats.stableRank
    maxTop = Math.max(maxTop, m.stats.topEnergy)
    er += m.stats.effectiveRank
  }
  // log(0) would be -∞; a zero update (B = 0) gets a very small but finite log norm
  const safeLog = (x: number): number => Math.log(Math.max(x, 1e-30))
  return {
    log_total_frobenius: safeLog(Math.sqrt(fro2)),
    log_max_spectral: safeLog(maxSpec),
    mean_stable_rank: sr / modules.length,
    max_top_energy: maxTop,
    mean_effective_rank: er / modules.length,
  }
}

/** A summary without modules: the weights could not (or need not) be analysed; `error` says why. */
export function emptySummary(
  config: AdapterConfigInfo | null,
  error: string,
  errorCode: string | null = null,
): AdapterWeightSummary {
  return {
    config,
    modules: [],
    ranks: [],
    suffixes: [],
    otherTensors: [],
    features: null,
    spectral: null,
    error,
    errorCode,
    updateInvalid: errorCode === PeftErrorCode.UpdateInvalid,
    skipped: null,
  }
}

const suffixOf = (path: string): string => path.slice(path.lastIndexOf('.') + 1)

/** Options of {@link summarizeAdapterBytes}. */
export interface SummarizeOptions {
  /** Largest rank whose statistics are computed; a larger one skips the maths (`skipped`). */
  maxRank: number
  /** Ranks the caller accepts; any other rank skips the maths (the verdict is already a rejection). */
  allowedRanks: readonly number[] | null
  /** Why the config is null (reported as the error), e.g. the refusal message of {@link readAdapterConfig}. */
  configError: string | null
  /**
   * Budget of Σ r³ over the modules (the eigen-problems dominate: ≈ 6e-8 s per unit, so 1e8 ≈ 6 s);
   * a larger adapter is not evaluated, so the cost per adapter stays bounded (issue 15 point 7).
   */
  maxSpectralWork: number
}

/** Default Σ r³ budget of {@link SummarizeOptions} (e.g. 47 modules at r = 128, 6,000 at r = 16). */
export const DEFAULT_MAX_SPECTRAL_WORK = 1e8

/** Default {@link SummarizeOptions}: the gate policy's `max_rank` default and {@link DEFAULT_MAX_SPECTRAL_WORK}. */
export const DEFAULT_SUMMARIZE_OPTIONS: Readonly<SummarizeOptions> = Object.freeze({
  maxRank: DEFAULT_MAX_RANK,
  allowedRanks: null,
  maxSpectralWork: DEFAULT_MAX_SPECTRAL_WORK,
  configError: null,
})

/**
 * Summarises safetensors bytes (already read) with the parsed config, in cost order: header and
 * shapes, then the rank bound, then decoding with `@plora/peft`'s validation, then the factor maths.
 * Never throws for bad content; see `error`.
 */
export async function summarizeAdapterBytes(
  bytes: Uint8Array,
  config: AdapterConfigInfo | null,
  source = ADAPTER_WEIGHTS_FILE,
  options: Partial<SummarizeOptions> = {},
): Promise<AdapterWeightSummary> {
  const o = { ...DEFAULT_SUMMARIZE_OPTIONS, ...options }
  if (config === null) {
    return emptySummary(
      null,
      o.configError ?? `${ADAPTER_CONFIG_FILE} is missing or not a valid PEFT LoRA config`,
      PeftErrorCode.ConfigInvalid,
    )
  }
  let shapes: LoraPairShape[]
  let other: string[] = []
  try {
    const header = parseSafetensorsHeader(bytes, source)
    other = header.tensors
      .map((t) => t.name)
      .filter((n) => parsePeftTensorKey(n) === null)
      .sort()
    shapes = pairLoraTensors(config, new Map(header.tensors.map((t) => [t.name, t])), source)
  } catch (e) {
    const code = (e as { code?: string }).code ?? null
    return { ...emptySummary(config, (e as Error).message, code), otherTensors: other }
  }
  const ranks = [...new Set(shapes.map((p) => p.rank))].sort((x, y) => x - y)
  const suffixes = [...new Set(shapes.map((p) => suffixOf(p.path)))].sort()
  const base = { ...emptySummary(config, ''), error: null, ranks, suffixes }
  const tooLarge = ranks.filter((r) => r > o.maxRank || (o.allowedRanks !== null && !o.allowedRanks.includes(r)))
  if (tooLarge.length > 0) {
    return {
      ...base,
      skipped: `rank ${tooLarge.join('/')} exceeds max_rank ${o.maxRank} or is not allowed by the policy: statistics not computed`,
    }
  }
  const work = shapes.reduce((acc, p) => acc + p.rank ** 3, 0)
  if (work > o.maxSpectralWork) {
    return {
      ...base,
      skipped: `spectral work Σr³ = ${work} of ${shapes.length} modules exceeds the budget ${o.maxSpectralWork}: statistics not computed`,
    }
  }
  let decoded: ReturnType<typeof decodePeftWeights>
  try {
    decoded = decodePeftWeights(config, bytes, source)
  } catch (e) {
    const code = (e as { code?: string }).code ?? null
    return { ...emptySummary(config, (e as Error).message, code), ranks, suffixes }
  }
  const modules: ModuleSummary[] = []
  for (const m of decoded.values()) {
    const stats = moduleUpdateStats(
      { a: m.a, b: m.b, r: m.rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: m.scale },
      `${source}:${m.path}`,
    )
    modules.push({
      path: m.path,
      suffix: suffixOf(m.path),
      r: m.rank,
      inFeatures: m.inFeatures,
      outFeatures: m.outFeatures,
      scale: m.scale,
      stats,
    })
  }
  const spectral = modules.length > 0 ? spectralFeatures(decoded.values()).values : null
  return { ...base, modules, features: adapterFeatures(modules), spectral }
}

/**
 * Reads `adapter_config.json` and `adapter_model.safetensors` of an adapter folder and summarises
 * them. Never throws for bad or missing content (it is the sender's); see `error`.
 */
export async function summarizeAdapterWeights(
  adapterDir: string,
  weightsFile = ADAPTER_WEIGHTS_FILE,
  options: Partial<SummarizeOptions> = {},
): Promise<AdapterWeightSummary> {
  let config: AdapterConfigInfo | null = null
  let configError: string | null = null
  try {
    ;({ config, error: configError } = readAdapterConfig(await readFile(join(adapterDir, ADAPTER_CONFIG_FILE))))
  } catch (e) {
    configError = `${ADAPTER_CONFIG_FILE}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`
  }
  let bytes: Uint8Array
  try {
    bytes = await readFile(join(adapterDir, weightsFile))
  } catch (e) {
    return emptySummary(
      config,
      `${weightsFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    )
  }
  return summarizeAdapterBytes(bytes, config, weightsFile, { configError, ...options })
}

/**
 * The rank that keys an adapter's reference population: the most common module rank (ties →
 * the larger), so a `rank_pattern` that gives some modules another rank does not switch the
 * reference off (issue 15 point 4); the rank policy still checks every rank.
 */
export function populationRank(modules: ReadonlyArray<{ r: number }>): number | null {
  if (modules.length === 0) return null
  const counts = new Map<number, number>()
  for (const m of modules) counts.set(m.r, (counts.get(m.r) ?? 0) + 1)
  let best = -1
  let bestCount = 0
  for (const [r, c] of counts) if (c > bestCount || (c === bestCount && r > best)) [best, bestCount] = [r, c]
  return best
}
