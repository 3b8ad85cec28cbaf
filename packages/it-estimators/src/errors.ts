import { PloraError } from '@plora/common'

/** Error codes raised by `@plora/it-estimators`. */
export const ItErrorCode = {
  /** An argument is out of its domain (bad k, NaN data, unknown option value). */
  ArgumentInvalid: 'IT_ARGUMENT_INVALID',
  /** Paired inputs (X and Y, source and target) do not have the same number of samples. */
  LengthMismatch: 'IT_LENGTH_MISMATCH',
  /** A swarm history file is missing, not JSON, or not in the history format. */
  HistoryInvalid: 'IT_HISTORY_INVALID',
} as const
export type ItErrorCode = (typeof ItErrorCode)[keyof typeof ItErrorCode]

/** The error class of `@plora/it-estimators`. */
export class ItError extends PloraError<ItErrorCode> {
  override name = 'ItError'
}
