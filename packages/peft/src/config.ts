/**
 * PEFT LoRA `adapter_config.json` (spec core.md §0.2, §11.1): schema, per-module rank and scaling,
 * target selection, and the writer. This is the one place plora interprets the config: the loader
 * injects and the gate measures exactly what these functions say.
 *
 * Scaling per PEFT: `s = lora_alpha / r`, or `lora_alpha / sqrt(r)` with `use_rslora`
 * (Kalajdzievski 2023, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA").
 *
 * `rank_pattern` / `alpha_pattern` keys are regular expressions in PEFT, matched with Python's
 * `re.match` against the module path. PEFT versions differ in the wrapper (0.12: `.*\.{key}$` over
 * the chained keys of both maps; later: `(.*\.)?{key}$` per map) and Python's regex dialect is not
 * JavaScript's, so a config is accepted only where every reading agrees: keys use a small regex
 * subset with the same meaning in both dialects and no nested or repeated unbounded quantifiers
 * (no catastrophic backtracking on sender-chosen paths), each module is matched by at most one key
 * over both maps, and the wrappers agree on whether it matches. Anything else is refused, never
 * guessed (issue 15 point 1). `target_modules` follows PEFT exactly: a string is a regex that must
 * `re.fullmatch` the path, a list matches `path == t` or `path.endswith("." + t)`.
 *
 * Features that change what PEFT would load and that plora does not implement (DoRA, trained
 * biases, `modules_to_save`, layer selection or replication, trainable tokens) are refused.
 */
import { z } from 'zod'
import { PeftError, PeftErrorCode } from './errors.js'

/** Longest accepted `rank_pattern` / `alpha_pattern` key or `target_modules` regex. */
export const MAX_PATTERN_LENGTH = 256
/** Most `rank_pattern` + `alpha_pattern` keys accepted (each is tried on every module). */
export const MAX_PATTERN_KEYS = 1024
/** Longest accepted module path (tensor keys are sender-chosen; bounds the regex work). */
export const MAX_MODULE_PATH_LENGTH = 512

const finitePositive = z.number().finite().positive()

/**
 * The fields of a PEFT LoRA config that plora reads. Unknown keys are kept (`passthrough`) so a
 * config written by a newer PEFT round-trips unchanged.
 */
export const PeftLoraConfigSchema = z
  .object({
    peft_type: z.literal('LORA'),
    r: z.number().int().positive(),
    lora_alpha: finitePositive,
    lora_dropout: z.number().min(0).max(1).default(0),
    target_modules: z.union([z.array(z.string()), z.string(), z.null()]).default(null),
    fan_in_fan_out: z.boolean().default(false),
    use_rslora: z.boolean().default(false),
    use_dora: z.boolean().default(false),
    bias: z.enum(['none', 'all', 'lora_only']).default('none'),
    base_model_name_or_path: z.string().nullable().default(null),
    task_type: z.string().nullable().default(null),
    init_lora_weights: z.union([z.boolean(), z.string()]).default(true),
    modules_to_save: z.array(z.string()).nullable().default(null),
    rank_pattern: z.record(z.string(), z.number().int().positive()).default({}),
    alpha_pattern: z.record(z.string(), finitePositive).default({}),
  })
  .passthrough()

/** A parsed PEFT LoRA config. */
export type PeftLoraConfig = z.infer<typeof PeftLoraConfigSchema>

function configInvalid(where: string, message: string, details: Record<string, unknown> = {}): PeftError {
  return new PeftError(PeftErrorCode.ConfigInvalid, `${where}: ${message}`, { where, ...details })
}

// Keys PEFT reads that select or add parameters plora does not model; any value but these is refused.
const MUST_BE_EMPTY: ReadonlyArray<readonly [string, string]> = [
  ['layers_to_transform', 'layer selection'],
  ['layers_pattern', 'layer selection'],
  ['layer_replication', 'layer replication'],
  ['exclude_modules', 'module exclusion'],
  ['target_parameters', 'parameter targeting'],
  ['trainable_token_indices', 'trainable tokens'],
  ['lora_bias', 'LoRA biases'],
  ['use_qalora', 'QA-LoRA'],
]

function isEmptyValue(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    v === false ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && Object.keys(v).length === 0)
  )
}

// The regex subset with one meaning in Python `re` and JavaScript: literals, `.`, classes of
// literals and ranges, groups, alternation, `* + ?`, anchors, and the escapes `\. \d \w \- \_`.
const SAFE_PATTERN = /^(?:[A-Za-z0-9_\-.*+?|()[\]^$]|\\[.dw_-])*$/

/**
 * Checks a sender-supplied regex key against the safe subset and compiles it.
 * @throws PeftError `PEFT_CONFIG_INVALID`
 */
function checkPattern(key: string, field: string, where: string): void {
  const refuse = (why: string) =>
    configInvalid(where, `${field} key ${JSON.stringify(key)} is refused: ${why}`, { field, key })
  if (key.length === 0 || key.length > MAX_PATTERN_LENGTH) throw refuse(`length must be 1..${MAX_PATTERN_LENGTH}`)
  if (
    !SAFE_PATTERN.test(key) ||
    key.includes('(?') ||
    key.includes('[]') ||
    key.includes('[^]') ||
    key === '__proto__'
  ) {
    throw refuse(
      'only letters, digits, "_-.", character classes, groups, "|", "*+?", anchors and the escapes \\. \\d \\w are accepted (Python and JavaScript regex dialects agree on these)',
    )
  }
  // Unbounded quantifiers: at most two, never on a group (nested/overlapping repetition backtracks
  // exponentially on a sender-chosen module path).
  const stripped = key.replace(/\\./g, 'x')
  if (/\)[*+?]/.test(stripped)) throw refuse('a quantifier on a group is not accepted')
  if ((stripped.match(/[*+]/g) ?? []).length > 2) throw refuse('more than two unbounded quantifiers')
  try {
    new RegExp(key)
  } catch (e) {
    throw refuse(`not a regular expression (${(e as Error).message})`)
  }
}

/**
 * Validates a parsed `adapter_config.json` object.
 *
 * @param where - file path for the error message.
 * @throws PeftError `PEFT_CONFIG_INVALID` with every schema issue, or for features plora does not
 *   implement (DoRA, trained biases, modules_to_save, layer selection) and unsafe pattern keys.
 */
export function parsePeftLoraConfig(value: unknown, where = 'adapter_config.json'): PeftLoraConfig {
  const result = PeftLoraConfigSchema.safeParse(value)
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    throw new PeftError(PeftErrorCode.ConfigInvalid, `${where} is not a PEFT LoRA config: ${issues.join('; ')}`, {
      where,
      issues,
    })
  }
  const cfg = result.data
  if (cfg.use_dora) throw configInvalid(where, 'use_dora=true (DoRA) is not supported, expected false')
  if (cfg.bias !== 'none') {
    throw configInvalid(where, `bias="${cfg.bias}" is not supported (adapters with trained biases), expected "none"`, {
      bias: cfg.bias,
    })
  }
  if (cfg.modules_to_save !== null && cfg.modules_to_save.length > 0) {
    throw configInvalid(
      where,
      `modules_to_save=${JSON.stringify(cfg.modules_to_save)} is not supported (full module copies), expected null`,
    )
  }
  const raw = value as Record<string, unknown>
  for (const [field, what] of MUST_BE_EMPTY) {
    if (!isEmptyValue(raw[field])) {
      throw configInvalid(where, `${field}=${JSON.stringify(raw[field])} (${what}) is not supported, expected null`, {
        field,
      })
    }
  }
  const keyCount = Object.keys(cfg.rank_pattern).length + Object.keys(cfg.alpha_pattern).length
  if (keyCount > MAX_PATTERN_KEYS) {
    throw configInvalid(where, `${keyCount} rank_pattern/alpha_pattern keys exceed ${MAX_PATTERN_KEYS}`, { keyCount })
  }
  for (const field of ['rank_pattern', 'alpha_pattern'] as const) {
    const rawField = raw[field]
    if (rawField !== null && typeof rawField === 'object' && Object.hasOwn(rawField, '__proto__')) {
      throw configInvalid(where, `${field} key "__proto__" is refused`, { field })
    }
    for (const key of Object.keys(cfg[field])) checkPattern(key, field, where)
  }
  if (typeof cfg.target_modules === 'string') checkPattern(cfg.target_modules, 'target_modules', where)
  return cfg
}

function reMatch(pattern: string, path: string): boolean {
  // Python's re.match anchors at the start only; `$` in the pattern anchors the end.
  return new RegExp(`^(?:${pattern})`).test(path)
}

/** The pattern key of `patterns` that PEFT applies to `modulePath`, checked across PEFT versions. */
function matchingKeys(patterns: Record<string, unknown>, modulePath: string): string[] {
  const hits: string[] = []
  for (const key of Object.keys(patterns)) {
    // PEFT 0.12 falls back to looking the full path up as a literal key when no regex matches.
    const old = reMatch(`.*\\.${key}$`, modulePath) || key === modulePath // PEFT 0.12
    const cur = reMatch(`(.*\\.)?${key}$`, modulePath) // PEFT ≥ 0.13
    if (old !== cur) {
      throw new PeftError(
        PeftErrorCode.ConfigInvalid,
        `pattern key ${JSON.stringify(key)} matches module ${modulePath} in one PEFT version and not in another (refused as ambiguous)`,
        { key, modulePath },
      )
    }
    if (cur) hits.push(key)
  }
  return hits
}

/** What PEFT applies to one module: its rank, `lora_alpha` and scaling, and the pattern key used. */
export interface ModuleLoraParams {
  rank: number
  alpha: number
  scale: number
  /** The `rank_pattern` / `alpha_pattern` key that matched, or null. */
  patternKey: string | null
}

/**
 * Rank, alpha and scaling PEFT uses for `modulePath`.
 *
 * @throws PeftError `PEFT_CONFIG_INVALID` when two different pattern keys (over both maps) match
 *   the module, or a key matches in one PEFT version and not another.
 */
export function moduleLoraParams(config: PeftLoraConfig, modulePath: string): ModuleLoraParams {
  if (modulePath.length > MAX_MODULE_PATH_LENGTH) {
    throw new PeftError(
      PeftErrorCode.ConfigInvalid,
      `module path of ${modulePath.length} characters exceeds ${MAX_MODULE_PATH_LENGTH}`,
      { length: modulePath.length },
    )
  }
  const keys = new Set([
    ...matchingKeys(config.rank_pattern, modulePath),
    ...matchingKeys(config.alpha_pattern, modulePath),
  ])
  if (keys.size > 1) {
    throw new PeftError(
      PeftErrorCode.ConfigInvalid,
      `module ${modulePath} is matched by several pattern keys (${[...keys].map((k) => JSON.stringify(k)).join(', ')}); PEFT versions disagree on which applies, so the config is refused`,
      { modulePath, keys: [...keys] },
    )
  }
  const key = keys.size === 1 ? [...keys][0]! : null
  const rank = key !== null && Object.hasOwn(config.rank_pattern, key) ? config.rank_pattern[key]! : config.r
  const alpha =
    key !== null && Object.hasOwn(config.alpha_pattern, key) ? config.alpha_pattern[key]! : config.lora_alpha
  const scale = config.use_rslora ? alpha / Math.sqrt(rank) : alpha / rank
  return { rank, alpha, scale, patternKey: key }
}

/** The rank PEFT uses for `modulePath` (honouring `rank_pattern`). */
export function moduleRank(config: PeftLoraConfig, modulePath: string): number {
  return moduleLoraParams(config, modulePath).rank
}

/** The LoRA scaling `s` PEFT applies to `modulePath` (`alpha/r`, or `alpha/sqrt(r)` with rsLoRA). */
export function moduleScale(config: PeftLoraConfig, modulePath: string): number {
  return moduleLoraParams(config, modulePath).scale
}

/**
 * Whether PEFT's `target_modules` selects `modulePath`: a string must `re.fullmatch` the path, a
 * list entry `t` matches `path == t` or `path.endswith("." + t)`; null (PEFT's per-architecture
 * default) selects every module the tensors name.
 */
export function isTargetModule(config: Pick<PeftLoraConfig, 'target_modules'>, modulePath: string): boolean {
  const t = config.target_modules
  if (t === null) return true
  if (typeof t === 'string') return new RegExp(`^(?:${t})$`).test(modulePath)
  return t.some((name) => modulePath === name || modulePath.endsWith(`.${name}`))
}

/** Inputs of {@link buildPeftLoraConfig}. */
export interface BuildPeftLoraConfigOptions {
  r: number
  loraAlpha: number
  targetModules: readonly string[]
  fanInFanOut: boolean
  baseModelNameOrPath: string | null
  loraDropout?: number
  useRslora?: boolean
}

/**
 * A complete PEFT 0.12 LoRA config, with every field PEFT's `save_pretrained` writes, so that
 * `PeftModel.from_pretrained` loads the folder without warnings.
 */
export function buildPeftLoraConfig(o: BuildPeftLoraConfigOptions): PeftLoraConfig {
  return parsePeftLoraConfig({
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: o.baseModelNameOrPath,
    bias: 'none',
    fan_in_fan_out: o.fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: o.loraAlpha,
    lora_dropout: o.loraDropout ?? 0,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: o.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...o.targetModules],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: o.useRslora ?? false,
  })
}

/** `adapter_config.json` text as PEFT writes it: keys sorted, 2-space indent. */
export function serializePeftLoraConfig(config: PeftLoraConfig): string {
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return `${JSON.stringify(sorted, null, 2)}\n`
}
