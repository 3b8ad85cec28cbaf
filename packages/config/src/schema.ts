/**
 * The plora configuration schema: every field of the original's YAML (spec pipelines.md §2.4),
 * strict (unknown keys are errors, so a typo never silently falls back to a default — the
 * original's [INCONSISTENT] silent-defaults behaviour of §2.1) and range-checked.
 */
import { z } from 'zod'

const positiveInt = z.number().int().positive()
const probability = z.number().min(0).max(1)
const domainName = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a lowercase domain name such as "legal"')
const uniqueList = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .min(1)
    .refine((xs) => new Set(xs.map((x) => JSON.stringify(x))).size === xs.length, 'entries must be unique')

/** LoRA target schemes. */
export const TARGET_SCHEMES = ['attention', 'mlp', 'all'] as const
/** Dataset splits. */
export const SPLITS = ['train', 'validation', 'test'] as const

/** Schema of a complete plora config file. */
export const PloraConfigSchema = z.strictObject({
  base_model: z.string().min(1),
  eval_split: z.enum(SPLITS),
  samples: positiveInt,
  latency_budget_ms: z.number().positive(),
  domains: uniqueList(domainName),
  allowed_ranks: uniqueList(positiveInt),
  allowed_targets: z.enum(TARGET_SCHEMES),
  graph: z.strictObject({
    p: z.number().gt(0).max(1),
    ws_k: z.number().int().min(2),
    ws_beta: probability,
    ba_m: positiveInt,
  }),
  value_add: z.strictObject({
    dev_size: positiveInt,
    ranks: uniqueList(positiveInt),
    schemes: uniqueList(z.enum(TARGET_SCHEMES)),
    seeds: uniqueList(z.number().int().nonnegative()),
    placebo_b_rank: positiveInt,
  }),
  train: z.strictObject({
    lr: z.number().positive(),
    dropout: z.number().min(0).lt(1),
    max_len: positiveInt,
    train_split: z.number().gt(0).lt(1),
    seed: z.number().int().nonnegative(),
  }),
  probes: z.strictObject({ target_fp: probability, target_fn: probability }),
  swarm: z.strictObject({ trojan_rate: probability, quorum: positiveInt }),
  gate: z.strictObject({
    tau_trigger: probability,
    tau_clean_delta: z.number().finite(),
    tau_tensor_z: z.number().positive(),
  }),
  alt_train_merge: z.strictObject({ cycles: positiveInt, samples: positiveInt, rank: positiveInt }),
  ablation: z.strictObject({
    ranks: uniqueList(positiveInt),
    schemes: uniqueList(z.enum(TARGET_SCHEMES)),
    samples: positiveInt,
  }),
  // Where each domain's question/answer pairs come from. The entries are validated in full by
  // @plora/datasets (a higher layer) when a command uses them; here only their outline is checked.
  data: z
    .strictObject({
      sources: z.record(domainName, z.looseObject({ type: z.enum(['embedded', 'hf', 'file']) })),
    })
    .optional(),
})

/** A validated plora configuration. Field names keep the YAML spelling (STYLE.md §8). */
export type PloraConfig = z.infer<typeof PloraConfigSchema>
