/**
 * Error codes of `@plora/model` (STYLE.md §4): `MODEL_NOUN_PROBLEM`, stable once released.
 */
import { PloraError } from '@plora/common'

/** Every error code `@plora/model` raises. */
export const ModelErrorCode = {
  BackendUnavailable: 'MODEL_BACKEND_UNAVAILABLE',
  BackendInvalid: 'MODEL_BACKEND_INVALID',
  ConfigInvalid: 'MODEL_CONFIG_INVALID',
  ArchitectureUnsupported: 'MODEL_ARCHITECTURE_UNSUPPORTED',
  WeightsMissing: 'MODEL_WEIGHTS_MISSING',
  WeightsInvalid: 'MODEL_WEIGHTS_INVALID',
  WeightShapeMismatch: 'MODEL_WEIGHT_SHAPE_MISMATCH',
  FolderNotFound: 'MODEL_FOLDER_NOT_FOUND',
  HubOffline: 'MODEL_HUB_OFFLINE',
  HubDownloadFailed: 'MODEL_HUB_DOWNLOAD_FAILED',
  TokenizerInvalid: 'MODEL_TOKENIZER_INVALID',
  InputInvalid: 'MODEL_INPUT_INVALID',
  LoraBranchInvalid: 'MODEL_LORA_BRANCH_INVALID',
} as const
export type ModelErrorCode = (typeof ModelErrorCode)[keyof typeof ModelErrorCode]

/** The error class of `@plora/model`. */
export class ModelError extends PloraError<ModelErrorCode> {
  override name = 'ModelError'
}
