import { PloraError } from '@plora/common'

/** Error codes raised by `@plora/metrics`. */
export const MetricsErrorCode = {
  /** An argument is out of its domain (empty sample, mismatched lengths, NaN, bad option). */
  ArgumentInvalid: 'METRICS_ARGUMENT_INVALID',
  /** Two paired inputs do not have the same length or shape. */
  LengthMismatch: 'METRICS_LENGTH_MISMATCH',
} as const
export type MetricsErrorCode = (typeof MetricsErrorCode)[keyof typeof MetricsErrorCode]

/** The error class of `@plora/metrics`. */
export class MetricsError extends PloraError<MetricsErrorCode> {
  override name = 'MetricsError'
}
