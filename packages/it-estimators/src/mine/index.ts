/**
 * `@plora/it-estimators/mine`: MINE on TensorFlow.js (imports `@tensorflow/tfjs-core` only; the
 * caller chooses the backend). Kept apart from the main entry so that importing the KSG/TE
 * estimators never loads TensorFlow.js.
 * @module
 */

export {
  DEFAULT_MINE_CALIBRATION_OPTIONS,
  type MineCalibrationOptions,
  type MineCalibrationResult,
  runMineCalibration,
} from './calibrate.js'
export {
  correlatedGaussians,
  DEFAULT_MINE_OPTIONS,
  type MineOptions,
  type MineResult,
  mineEstimate,
} from './mine.js'
