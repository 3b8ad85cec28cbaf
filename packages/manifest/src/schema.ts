/**
 * The `plora.yml` manifest, schema version 0 (spec core.md §1.1–§1.3), as a strict zod schema.
 *
 * Decisions (spec "TS" notes): unknown keys are rejected at every level (fixes `[D-01]`, where a
 * misspelt option let every extra key through); NaN and ±Infinity are rejected (`[D-23]`); a
 * number is accepted for a float field and an integral number for an int field (YAML emitters
 * differ on `4` vs `4.0`), but strings are not coerced to numbers (`r: "4"` is an error), so a
 * file means one thing; `artifacts.filename` must be a plain file name inside the adapter folder
 * (fixes `[D-21]`); `sha256` is lowercase hex only. The ΔPPL rule (§1.2): unless both
 * perplexities are ~0 (placeholder manifests), `|delta_ppl − (after − before)| ≤ 1e-6`.
 */
import { z } from 'zod'

/** Tolerance of the ΔPPL consistency rule. */
export const DELTA_PPL_TOLERANCE = 1e-6
/** Below this, both perplexities count as placeholders and ΔPPL is unconstrained. */
export const PLACEHOLDER_PPL = 1e-9
/** The manifest file name inside an adapter folder. */
export const MANIFEST_FILENAME = 'plora.yml'
/** Values of `signer.algo`. */
export const SIGNER_ALGOS = ['RSA-PSS-SHA256', 'ED25519-SHA256', 'none', ''] as const

// z.number() already refuses NaN and ±Infinity in zod 4; `int()` also bounds to safe integers.
const float = () => z.number()
const int = () => z.number().int()

/** True for a plain file name: no separators, not `.`/`..`, no NUL, not empty. */
export function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name) && !/^[A-Za-z]:/.test(name)
}

/** `lora` block. */
export const LoraConfigSchema = z.strictObject({
  r: int().min(1),
  alpha: int().min(1),
  dropout: float().min(0).max(1),
  target_modules: z.array(z.string()),
})
/** `artifacts` block. */
export const ArtifactsInfoSchema = z.strictObject({
  filename: z.string().refine(isPlainFileName, {
    message: 'expected a plain file name inside the adapter folder (no "/", "\\", "..")',
  }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, { message: 'expected 64 lowercase hex characters' }),
  size_bytes: int().min(1),
})
/** `train_meta` block. */
export const TrainMetaSchema = z.strictObject({
  seed: int(),
  epochs: int(),
  dataset_id: z.string(),
  sample_count: int(),
  timestamp_unix: int(),
})
/** `metrics` block. */
export const MetricsInfoSchema = z.strictObject({
  val_ppl_before: float(),
  val_ppl_after: float(),
  delta_ppl: float(),
  val_em: float().nullable().optional(),
  val_chrf: float().nullable().optional(),
})
/** `safety` block (British `licence`). */
export const SafetyInfoSchema = z.strictObject({
  licence: z.string(),
  poisoning_score: float().min(0),
})
/** `signer` block. */
export const SignerInfoSchema = z.strictObject({
  algo: z.enum(SIGNER_ALGOS, { message: `expected one of ${SIGNER_ALGOS.map((a) => JSON.stringify(a)).join(', ')}` }),
  pubkey_fingerprint: z.string(),
  signature_b64: z.string(),
})
/** `compatibility` block. */
export const CompatibilityInfoSchema = z.strictObject({
  peft_min: z.string(),
  transformers: z.string(),
})

/** The whole manifest, in the original's field order (which the YAML dump keeps). */
export const ManifestSchema = z
  .strictObject({
    schema_version: z.literal(0),
    plasmid_id: z.string(),
    domain: z.string(),
    base_model: z.string(),
    peft_format: z.string().regex(/^(lora|ia3|adalora)$/, { message: 'expected lora, ia3 or adalora' }),
    lora: LoraConfigSchema,
    artifacts: ArtifactsInfoSchema,
    train_meta: TrainMetaSchema,
    metrics: MetricsInfoSchema,
    safety: SafetyInfoSchema,
    signer: SignerInfoSchema,
    compatibility: CompatibilityInfoSchema,
  })
  .superRefine((m, ctx) => {
    const { val_ppl_before: b, val_ppl_after: a, delta_ppl: d } = m.metrics
    if (Math.abs(b) < PLACEHOLDER_PPL && Math.abs(a) < PLACEHOLDER_PPL) return
    if (!(Math.abs(d - (a - b)) <= DELTA_PPL_TOLERANCE)) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'delta_ppl'],
        message: `expected val_ppl_after − val_ppl_before = ${a - b} (±${DELTA_PPL_TOLERANCE})`,
        input: d,
      })
    }
  })

/** A validated manifest (snake_case: it mirrors the file). */
export type Manifest = z.infer<typeof ManifestSchema>
/** Sub-blocks, as the original exports them. */
export type LoraConfig = z.infer<typeof LoraConfigSchema>
export type ArtifactsInfo = z.infer<typeof ArtifactsInfoSchema>
export type TrainMeta = z.infer<typeof TrainMetaSchema>
export type MetricsInfo = z.infer<typeof MetricsInfoSchema>
export type SafetyInfo = z.infer<typeof SafetyInfoSchema>
export type SignerInfo = z.infer<typeof SignerInfoSchema>
export type CompatibilityInfo = z.infer<typeof CompatibilityInfoSchema>
