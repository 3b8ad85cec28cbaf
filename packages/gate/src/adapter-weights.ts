/**
 * Reads a PEFT LoRA adapter folder the way the gate needs it — `adapter_config.json` plus the
 * factor pairs of `adapter_model.safetensors` (key names of spec core.md §0.3) — and computes the
 * per-module update statistics of `lora-stats.ts` and the adapter-level feature vector that the
 * reference population (`gate-ref.json`) describes.
 *
 * The gate deliberately does not import `@plora/loader` (layering, STYLE.md §3): reading two JSON
 * fields and pairing tensor names is all it needs. Scaling follows PEFT: s = lora_alpha / r, or
 * lora_alpha / √r with `use_rslora`; `alpha_pattern` entries apply to modules whose path ends with
 * the pattern key. Everything read here is sender-supplied, so nothing throws on bad content:
 * problems are returned as `error` text and surface as `weights_unreadable`.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readSafetensors, toFloat32Array } from '@plora/safetensors'
import { type ModuleUpdateStats, moduleUpdateStats } from './lora-stats.js'

/** The fields of `adapter_config.json` the gate reads (PEFT LoraConfig names). */
export interface AdapterConfigInfo {
  base_model_name_or_path: string | null
  r: number | null
  lora_alpha: number | null
  use_rslora: boolean
  target_modules: string[] | null
  alpha_pattern: Record<string, number>
  fan_in_fan_out: boolean
}

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
  /** The rank(s) found in the tensors. */
  ranks: number[]
  /** Sorted distinct module suffixes found in the tensors. */
  suffixes: string[]
  /** Tensor names that are neither half of a complete LoRA pair (e.g. `modules_to_save` weights). */
  otherTensors: string[]
  /** Adapter-level features (null when there are no modules). */
  features: Record<FeatureName, number> | null
  /** Why the weights could not be read (null = read fine). */
  error: string | null
}

const LORA_KEY = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.default)?\.weight$/

function asNumber(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null
}

/** Parses the fields the gate needs from `adapter_config.json` text; null on any problem. */
export function parseAdapterConfig(text: string): AdapterConfigInfo | null {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return null
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null
  const o = raw as Record<string, unknown>
  const targets = Array.isArray(o.target_modules)
    ? o.target_modules.filter((t): t is string => typeof t === 'string')
    : typeof o.target_modules === 'string'
      ? [o.target_modules]
      : null
  const alphaPattern: Record<string, number> = {}
  if (o.alpha_pattern && typeof o.alpha_pattern === 'object') {
    for (const [k, v] of Object.entries(o.alpha_pattern as Record<string, unknown>)) {
      const n = asNumber(v)
      if (n !== null) alphaPattern[k] = n
    }
  }
  return {
    base_model_name_or_path: typeof o.base_model_name_or_path === 'string' ? o.base_model_name_or_path : null,
    r: asNumber(o.r),
    lora_alpha: asNumber(o.lora_alpha),
    use_rslora: o.use_rslora === true,
    target_modules: targets,
    alpha_pattern: alphaPattern,
    fan_in_fan_out: o.fan_in_fan_out === true,
  }
}

/** PEFT scaling for a module of rank `r`. */
export function loraScale(config: AdapterConfigInfo | null, modulePath: string, r: number): number {
  let alpha = config?.lora_alpha ?? r // PEFT's default lora_alpha is 8, but without a config we assume s = 1
  for (const [k, v] of Object.entries(config?.alpha_pattern ?? {})) {
    if (modulePath === k || modulePath.endsWith(`.${k}`)) alpha = v
  }
  return config?.use_rslora ? alpha / Math.sqrt(r) : alpha / r
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

function allFinite(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) return false
  return true
}

function emptySummary(config: AdapterConfigInfo | null, error: string): AdapterWeightSummary {
  return { config, modules: [], ranks: [], suffixes: [], otherTensors: [], features: null, error }
}

/**
 * Summarises safetensors bytes (already read) with an optional parsed config.
 * Never throws for bad content; see `error`.
 */
export async function summarizeAdapterBytes(
  bytes: Uint8Array,
  config: AdapterConfigInfo | null,
  source = 'adapter_model.safetensors',
): Promise<AdapterWeightSummary> {
  let contents: Awaited<ReturnType<typeof readSafetensors>>
  try {
    contents = await readSafetensors(bytes)
  } catch (e) {
    return emptySummary(config, `${source}: not a readable safetensors file (${(e as Error).message})`)
  }
  const pairs = new Map<string, { a?: string; b?: string }>()
  const other: string[] = []
  for (const name of contents.tensors.keys()) {
    const m = LORA_KEY.exec(name)
    if (!m) {
      other.push(name)
      continue
    }
    const entry = pairs.get(m[1]!) ?? {}
    if (m[2] === 'A') entry.a = name
    else entry.b = name
    pairs.set(m[1]!, entry)
  }
  const modules: ModuleSummary[] = []
  for (const [path, { a, b }] of [...pairs.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    if (!a || !b) {
      other.push((a ?? b)!)
      continue
    }
    const ta = contents.tensors.get(a)!
    const tb = contents.tensors.get(b)!
    if (ta.shape.length !== 2 || tb.shape.length !== 2 || ta.shape[0] !== tb.shape[1]) {
      return emptySummary(
        config,
        `${source}: LoRA pair ${path} does not chain: A ${JSON.stringify(ta.shape)}, B ${JSON.stringify(tb.shape)} (expected [r,in] and [out,r])`,
      )
    }
    const r = ta.shape[0]!
    if (r < 1) return emptySummary(config, `${source}: LoRA pair ${path} has rank 0`)
    let fa: Float32Array
    let fb: Float32Array
    try {
      fa = toFloat32Array(ta)
      fb = toFloat32Array(tb)
    } catch (e) {
      return emptySummary(config, `${source}: LoRA pair ${path} is not numeric (${(e as Error).message})`)
    }
    if (!allFinite(fa) || !allFinite(fb)) {
      return emptySummary(config, `${source}: LoRA pair ${path} contains NaN or infinite values`)
    }
    const scale = loraScale(config, path, r)
    const stats = moduleUpdateStats(
      { a: fa, b: fb, r, inFeatures: ta.shape[1]!, outFeatures: tb.shape[0]!, scale },
      `${source}:${path}`,
    )
    modules.push({
      path,
      suffix: path.slice(path.lastIndexOf('.') + 1),
      r,
      inFeatures: ta.shape[1]!,
      outFeatures: tb.shape[0]!,
      scale,
      stats,
    })
  }
  if (modules.length === 0)
    return { ...emptySummary(config, `${source}: no LoRA A/B pairs found`), otherTensors: other }
  return {
    config,
    modules,
    ranks: [...new Set(modules.map((m) => m.r))].sort((x, y) => x - y),
    suffixes: [...new Set(modules.map((m) => m.suffix))].sort(),
    otherTensors: other.sort(),
    features: adapterFeatures(modules),
    error: null,
  }
}

/**
 * Reads `adapter_config.json` and the named weights file of an adapter folder and summarises them.
 * Never throws for bad or missing content (it is the sender's); see `error`.
 */
export async function summarizeAdapterWeights(
  adapterDir: string,
  weightsFile = 'adapter_model.safetensors',
): Promise<AdapterWeightSummary> {
  let config: AdapterConfigInfo | null = null
  try {
    config = parseAdapterConfig(await readFile(join(adapterDir, 'adapter_config.json'), 'utf8'))
  } catch {
    config = null
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
  return summarizeAdapterBytes(bytes, config, weightsFile)
}
