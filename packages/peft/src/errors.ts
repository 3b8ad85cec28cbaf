import { PloraError } from '@plora/common'

/** Error codes raised by `@plora/peft` (STYLE.md §4: `PACKAGE_NOUN_PROBLEM`, stable once released). */
export const PeftErrorCode = {
  /** `adapter_config.json` is missing fields, not JSON, fails the PEFT LoRA schema, or asks for a feature plora refuses (DoRA, biases, modules_to_save, layer selection, unsafe or ambiguous patterns). */
  ConfigInvalid: 'PEFT_CONFIG_INVALID',
  /** The adapter folder, its `adapter_config.json` or its `adapter_model.safetensors` is missing. */
  AdapterNotFound: 'PEFT_ADAPTER_NOT_FOUND',
  /** The folder holds a second weights file (another `*.safetensors`, `*.bin`, `*.pt`, …) or the weights are not a regular file. */
  FolderInvalid: 'PEFT_FOLDER_INVALID',
  /** Unreadable weights, a tensor key that is not a LoRA factor of the default adapter, unpaired or non-2-D factors, ranks that disagree with the config, modules outside `target_modules`. */
  TensorsInvalid: 'PEFT_TENSORS_INVALID',
  /** A factor holds NaN/Inf, the scaling is non-finite or beyond `MAX_LORA_SCALE`, or ‖ΔW‖_F overflows or exceeds `MAX_UPDATE_FROBENIUS`. */
  UpdateInvalid: 'PEFT_UPDATE_INVALID',
  /** The factors of a module do not chain (A [r, in], B [out, r]) or the scale is not finite. */
  FactorsInvalid: 'PEFT_FACTORS_INVALID',
  /** Bad placebo arguments (seed, empty reference adapter). */
  PlaceboOptionsInvalid: 'PEFT_PLACEBO_OPTIONS_INVALID',
  /** A target scheme name other than `attention`, `mlp` or `all`. */
  SchemeInvalid: 'PEFT_SCHEME_INVALID',
  /** A scheme or target list selected no linear module of the model. */
  TargetsEmpty: 'PEFT_TARGETS_EMPTY',
  /** An adapter targets a module the model does not have, or with other dimensions. */
  AdapterModelMismatch: 'PEFT_ADAPTER_MODEL_MISMATCH',
  /** Deltas given to `adapterFromDeltas` are empty. */
  DeltasEmpty: 'PEFT_DELTAS_EMPTY',
} as const
export type PeftErrorCode = (typeof PeftErrorCode)[keyof typeof PeftErrorCode]

/** The error class of `@plora/peft`. */
export class PeftError extends PloraError<PeftErrorCode> {
  override name = 'PeftError'
}
