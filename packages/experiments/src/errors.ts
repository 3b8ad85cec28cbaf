/** Errors of `@plora/experiments` (STYLE.md §4). */
import { PloraError } from '@plora/common'

/** Stable codes of {@link ExperimentsError}. */
export const ExperimentsErrorCode = {
  /** An option or input of an experiment is out of range or inconsistent. */
  InputInvalid: 'EXPERIMENTS_INPUT_INVALID',
  /** A population folder holds something that is not what the population plan says. */
  PopulationInvalid: 'EXPERIMENTS_POPULATION_INVALID',
  /** A calibration file is missing or does not match the evaluation. */
  CalibrationInvalid: 'EXPERIMENTS_CALIBRATION_INVALID',
} as const
/** A {@link ExperimentsErrorCode} value. */
export type ExperimentsErrorCode = (typeof ExperimentsErrorCode)[keyof typeof ExperimentsErrorCode]

/** Error thrown by the experiment runners. */
export class ExperimentsError extends PloraError<ExperimentsErrorCode> {
  override name = 'ExperimentsError'
}
