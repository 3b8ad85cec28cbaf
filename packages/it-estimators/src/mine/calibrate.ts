/**
 * `plora mine-calib` (swarm.md §12.8 with its REC): MINE on correlated Gaussians of known MI.
 * X, E ~ N(0, I_dims), Y = ρX + √(1−ρ²)E; the truth is −(dims/2)·ln(1 − ρ²) (1.0217 nats for
 * ρ = 0.8 in 2-D). Writes {rho, dims, n, mi, mi_true, abs_error, ...} — the original omitted the truth.
 */
import { writeJsonAtomic } from '@plora/common'
import { getBackend } from '@tensorflow/tfjs-core'
import { correlatedGaussians, DEFAULT_MINE_OPTIONS, type MineOptions, mineEstimate } from './mine.js'

/** Options of {@link runMineCalibration}. */
export interface MineCalibrationOptions extends Partial<MineOptions> {
  /** Correlation per dimension (0.8). */
  rho?: number
  /** Samples (2000). */
  n?: number
  /** Dimensions of X and Y (2). */
  dims?: number
  /** Where to write the JSON report; nothing is written when omitted. */
  out?: string
}

/** The calibration report (file format, snake_case). */
export interface MineCalibrationResult {
  rho: number
  dims: number
  n: number
  mi: number
  mi_true: number
  abs_error: number
  mi_train: number
  variant: string
  epochs: number
  batch_size: number
  seed: number
  n_train: number
  n_eval: number
  backend: string
}

/** Defaults of {@link runMineCalibration} (the original's: ρ = 0.8, n = 2000, 2-D, 200 epochs). */
export const DEFAULT_MINE_CALIBRATION_OPTIONS = Object.freeze({
  ...DEFAULT_MINE_OPTIONS,
  epochs: 200,
  rho: 0.8,
  n: 2000,
  dims: 2,
})

/** Runs one calibration (the original: ρ = 0.8, n = 2000, epochs 200, batch 256) and optionally writes it. */
export async function runMineCalibration(options: MineCalibrationOptions = {}): Promise<MineCalibrationResult> {
  const d = DEFAULT_MINE_CALIBRATION_OPTIONS
  const { rho = d.rho, n = d.n, dims = d.dims, out, ...mineOptions } = options
  const o = { ...DEFAULT_MINE_OPTIONS, epochs: d.epochs, ...mineOptions }
  const { x, y, miTrue } = correlatedGaussians(rho, n, dims, o.seed)
  const r = await mineEstimate(x, y, o)
  const result: MineCalibrationResult = {
    rho,
    dims,
    n,
    mi: r.mi,
    mi_true: miTrue,
    abs_error: Math.abs(r.mi - miTrue),
    mi_train: r.miTrain,
    variant: r.variant,
    epochs: r.epochs,
    batch_size: o.batchSize,
    seed: o.seed,
    n_train: r.nTrain,
    n_eval: r.nEval,
    backend: getBackend(),
  }
  if (out) await writeJsonAtomic(out, result)
  return result
}
