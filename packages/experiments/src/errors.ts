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
  /** A domain's evaluation (or training) split could not be loaded or is empty (value-add: exit 1). */
  DatasetFailed: 'EXPERIMENTS_DATASET_FAILED',
  /** The base model's weights changed during a value-add run (the original's contamination bug). */
  BaseContaminated: 'EXPERIMENTS_BASE_CONTAMINATED',
  /** A placebo lowered the NLL significantly after multiple-testing correction (value-add: exit 4). */
  PlaceboBeatsBaseline: 'EXPERIMENTS_PLACEBO_BEATS_BASELINE',
  /** Inject+remove latency exceeded the budget without --ignore-latency-guard (value-add: exit 5). */
  LatencyGuardExceeded: 'EXPERIMENTS_LATENCY_GUARD_EXCEEDED',
  /** The builder's artefacts folder does not exist (value-add build: exit 2). */
  ArtifactsMissing: 'EXPERIMENTS_ARTIFACTS_MISSING',
  /** The builder found no artefact configuration after filtering (value-add build: exit 3). */
  NoConfigs: 'EXPERIMENTS_NO_CONFIGS',
  /** An experiment's output folder already holds its outputs and neither replace nor resume was asked for. */
  OutputExists: 'EXPERIMENTS_OUTPUT_EXISTS',
  /** A grid cell failed (or its worker thread died) on the worker pool; the message names the cell. */
  WorkerFailed: 'EXPERIMENTS_WORKER_FAILED',
  /** A shard merge found a grid cell (or a file a record names) in none of the shard folders. */
  ShardCellMissing: 'EXPERIMENTS_SHARD_CELL_MISSING',
  /** A shard merge found a record of another grid or other settings. */
  ShardRecordForeign: 'EXPERIMENTS_SHARD_RECORD_FOREIGN',
  /** A shard merge found one cell in two shards with different results. */
  ShardConflict: 'EXPERIMENTS_SHARD_CONFLICT',
  /** A pipeline step's command exited non-zero or its check failed. */
  StepFailed: 'EXPERIMENTS_PIPELINE_STEP_FAILED',
  /** A pipeline step needs a `plora` command that this build does not have. */
  StepUnavailable: 'EXPERIMENTS_PIPELINE_STEP_UNAVAILABLE',
  /** A pipeline state file exists but is not one this version wrote. */
  StateInvalid: 'EXPERIMENTS_PIPELINE_STATE_INVALID',
} as const
/** A {@link ExperimentsErrorCode} value. */
export type ExperimentsErrorCode = (typeof ExperimentsErrorCode)[keyof typeof ExperimentsErrorCode]

/** Error thrown by the experiment runners. */
export class ExperimentsError extends PloraError<ExperimentsErrorCode> {
  override name = 'ExperimentsError'
}
