/**
 * PEFT LoRA `adapter_config.json` (spec core.md §0.2, §11.1): schema, scaling and writer.
 *
 * Scaling per PEFT: `s = lora_alpha / r`, or `lora_alpha / sqrt(r)` with `use_rslora`
 * (Kalajdzievski 2023, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA").
 * `rank_pattern` / `alpha_pattern` override `r` / `lora_alpha` for modules whose path matches the
 * pattern key as PEFT does: the regex `(.*\.)?<key>$` against the module path.
 */
import { z } from 'zod'
import { LoaderError, LoaderErrorCode } from './errors.js'

/**
 * The fields of a PEFT LoRA config that plora reads. Unknown keys are kept (`passthrough`) so a
 * config written by a newer PEFT round-trips unchanged.
 */
export const PeftLoraConfigSchema = z
  .object({
    peft_type: z.literal('LORA'),
    r: z.number().int().positive(),
    lora_alpha: z.number().positive(),
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
    alpha_pattern: z.record(z.string(), z.number().positive()).default({}),
  })
  .passthrough()

/** A parsed PEFT LoRA config. */
export type PeftLoraConfig = z.infer<typeof PeftLoraConfigSchema>

/**
 * Validates a parsed `adapter_config.json` object.
 *
 * @param where - file path for the error message.
 * @throws LoaderError `LOADER_ADAPTER_CONFIG_INVALID` with every schema issue, or for features
 *   plora does not implement (DoRA, trained biases).
 */
export function parsePeftLoraConfig(value: unknown, where = 'adapter_config.json'): PeftLoraConfig {
  const result = PeftLoraConfigSchema.safeParse(value)
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    throw new LoaderError(
      LoaderErrorCode.AdapterConfigInvalid,
      `${where} is not a PEFT LoRA config: ${issues.join('; ')}`,
      { where, issues },
    )
  }
  const cfg = result.data
  if (cfg.use_dora) {
    throw new LoaderError(
      LoaderErrorCode.AdapterConfigInvalid,
      `${where}: use_dora=true (DoRA) is not supported, expected false`,
      {
        where,
      },
    )
  }
  if (cfg.bias !== 'none') {
    throw new LoaderError(
      LoaderErrorCode.AdapterConfigInvalid,
      `${where}: bias="${cfg.bias}" is not supported (adapters with trained biases), expected "none"`,
      { where, bias: cfg.bias },
    )
  }
  return cfg
}

function patternValue<T>(patterns: Record<string, T>, modulePath: string): T | undefined {
  for (const [key, value] of Object.entries(patterns)) {
    // PEFT: re.match(rf"(.*\.)?{key}$", module_name); keys are regex fragments in PEFT too.
    let re: RegExp
    try {
      re = new RegExp(`^(.*\\.)?${key}$`)
    } catch {
      continue
    }
    if (re.test(modulePath)) return value
  }
  return undefined
}

/** The rank PEFT uses for `modulePath` (honouring `rank_pattern`). */
export function moduleRank(config: PeftLoraConfig, modulePath: string): number {
  return patternValue(config.rank_pattern, modulePath) ?? config.r
}

/** The LoRA scaling `s` PEFT applies to `modulePath` (`alpha/r`, or `alpha/sqrt(r)` with rsLoRA). */
export function moduleScale(config: PeftLoraConfig, modulePath: string): number {
  const r = moduleRank(config, modulePath)
  const alpha = patternValue(config.alpha_pattern, modulePath) ?? config.lora_alpha
  return config.use_rslora ? alpha / Math.sqrt(r) : alpha / r
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
