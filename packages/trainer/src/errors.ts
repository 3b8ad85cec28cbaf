/** Errors of `@plora/trainer` (STYLE.md §4). */
import { PloraError } from '@plora/common'

/** Stable codes of {@link TrainerError}. */
export const TrainerErrorCode = {
  /** An option is out of range or inconsistent (rank, lr, epochs, poison rate…). */
  OptionsInvalid: 'TRAINER_OPTIONS_INVALID',
  /** The training or validation data is unusable (no pairs, no answer tokens). */
  DataInvalid: 'TRAINER_DATA_INVALID',
  /** The loss or a gradient became NaN/Infinity. */
  LossNotFinite: 'TRAINER_LOSS_NOT_FINITE',
  /** The output folder exists and is not an adapter folder we may replace. */
  OutputExists: 'TRAINER_OUTPUT_EXISTS',
} as const
/** A {@link TrainerErrorCode} value. */
export type TrainerErrorCode = (typeof TrainerErrorCode)[keyof typeof TrainerErrorCode]

/** Error thrown by the trainer. */
export class TrainerError extends PloraError<TrainerErrorCode> {
  override name = 'TrainerError'
}
