import { PloraError } from '@plora/common'

/**
 * Error codes raised by `@plora/loader` (STYLE.md §4: `PACKAGE_NOUN_PROBLEM`, stable once released).
 * Reading, checking and writing adapter folders, target schemes and placebos moved to
 * `@plora/peft`, which raises `PEFT_*` codes for them; the matching `LOADER_*` codes below
 * (scheme, targets, adapter config/folder/tensors, placebo) are kept so the names stay reserved,
 * but are no longer raised.
 */
export const LoaderErrorCode = {
  /** A target scheme name other than `attention`, `mlp` or `all`. */
  SchemeInvalid: 'LOADER_SCHEME_INVALID',
  /** A scheme or target list selected no linear module of the model. */
  TargetsEmpty: 'LOADER_TARGETS_EMPTY',
  /** `adapter_config.json` is missing, not JSON, or fails the PEFT LoRA schema. */
  AdapterConfigInvalid: 'LOADER_ADAPTER_CONFIG_INVALID',
  /** The adapter folder or its `adapter_model.safetensors` is missing. */
  AdapterNotFound: 'LOADER_ADAPTER_NOT_FOUND',
  /** The adapter tensors are unreadable, unpaired, or have shapes that disagree with each other. */
  AdapterTensorsInvalid: 'LOADER_ADAPTER_TENSORS_INVALID',
  /** An adapter targets a module the model does not have, or with other dimensions. */
  AdapterModelMismatch: 'LOADER_ADAPTER_MODEL_MISMATCH',
  /** A handle was removed twice, or belongs to another model. */
  InjectionStateInvalid: 'LOADER_INJECTION_STATE_INVALID',
  /** The model carries active adapters (or changed weights) where a pristine base was required. */
  BaseNotPristine: 'LOADER_BASE_NOT_PRISTINE',
  /** Bad merge arguments: unknown strategy, weight count, caps, rank, output mode. */
  MergeOptionsInvalid: 'LOADER_MERGE_OPTIONS_INVALID',
  /** The adapters given to a merge disagree (different shapes for one module, mixed layouts). */
  MergeInputsIncompatible: 'LOADER_MERGE_INPUTS_INCOMPATIBLE',
  /** A line-search objective returned a non-finite value. */
  LineSearchObjectiveInvalid: 'LOADER_LINE_SEARCH_OBJECTIVE_INVALID',
  /** Bad placebo arguments (rank, reference adapter). */
  PlaceboOptionsInvalid: 'LOADER_PLACEBO_OPTIONS_INVALID',
} as const
export type LoaderErrorCode = (typeof LoaderErrorCode)[keyof typeof LoaderErrorCode]

/** The error class of `@plora/loader`. */
export class LoaderError extends PloraError<LoaderErrorCode> {
  override name = 'LoaderError'
}
