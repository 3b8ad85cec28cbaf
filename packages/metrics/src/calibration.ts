/**
 * Expected Calibration Error (Guo et al. 2017; core.md §13.7): bins of equal width over [0, 1],
 * ECE = Σ_b (n_b/N)·|mean conf_b − acc_b|. Bin b holds edge_b ≤ conf < edge_{b+1}; the last bin
 * is closed so that conf = 1.0 is counted — the original dropped it from every bin while still
 * counting it in N ([D-30]).
 */

import { logSoftmaxInto } from './divergence.js'
import { MetricsError, MetricsErrorCode } from './errors.js'

/** ECE of per-prediction confidences in [0, 1] and correctness flags; 0 for no predictions. */
export function expectedCalibrationError(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  nBins = 15,
): number {
  if (confidences.length !== correct.length) {
    throw new MetricsError(
      MetricsErrorCode.LengthMismatch,
      `expectedCalibrationError: ${confidences.length} confidences but ${correct.length} correctness flags`,
    )
  }
  if (!Number.isInteger(nBins) || nBins < 1) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      `expectedCalibrationError: nBins must be a positive integer, got ${nBins}`,
    )
  }
  const n = confidences.length
  if (n === 0) return 0
  const count = new Float64Array(nBins)
  const confSum = new Float64Array(nBins)
  const accSum = new Float64Array(nBins)
  for (let i = 0; i < n; i++) {
    const c = confidences[i] as number
    if (!(c >= 0 && c <= 1)) {
      throw new MetricsError(
        MetricsErrorCode.ArgumentInvalid,
        `expectedCalibrationError: confidence #${i} is ${c}; expected [0, 1]`,
      )
    }
    const b = Math.min(nBins - 1, Math.floor(c * nBins))
    count[b] = (count[b] as number) + 1
    confSum[b] = (confSum[b] as number) + c
    accSum[b] = (accSum[b] as number) + (correct[i] ? 1 : 0)
  }
  let ece = 0
  for (let b = 0; b < nBins; b++) {
    const nb = count[b] as number
    if (nb > 0) ece += (nb / n) * Math.abs((confSum[b] as number) / nb - (accSum[b] as number) / nb)
  }
  return ece
}

/** Options of {@link eceFromLogits}. */
export interface EceFromLogitsOptions {
  /** Number of bins (15). */
  nBins: number
  /** Label value that marks a position to skip (−100, the Hugging Face convention). */
  ignoreIndex: number
}

/**
 * ECE of next-token predictions: `logits` flat [B,T,V], `labels` flat [B,T]; position t predicts
 * label t+1 (the shift of a causal LM), positions whose label equals `ignoreIndex` are skipped.
 * Returns 0 when no position remains.
 */
export function eceFromLogits(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  shape: readonly [batch: number, time: number, vocab: number],
  options: Partial<EceFromLogitsOptions> = {},
): number {
  const o = { nBins: 15, ignoreIndex: -100, ...options }
  const [B, T, V] = shape
  if (logits.length !== B * T * V || labels.length !== B * T) {
    throw new MetricsError(
      MetricsErrorCode.LengthMismatch,
      `eceFromLogits: shapes must be [B,T,V] and [B,T] with [${B},${T},${V}]; got ${logits.length} logits and ${labels.length} labels`,
      { shape: [B, T, V], logits: logits.length, labels: labels.length },
    )
  }
  const conf: number[] = []
  const ok: boolean[] = []
  const lp = new Float64Array(V)
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      const y = labels[b * T + t + 1] as number
      if (y === o.ignoreIndex) continue
      logSoftmaxInto(logits, (b * T + t) * V, V, lp)
      let arg = 0
      for (let v = 1; v < V; v++) if ((lp[v] as number) > (lp[arg] as number)) arg = v
      conf.push(Math.min(1, Math.exp(lp[arg] as number)))
      ok.push(arg === y)
    }
  }
  return expectedCalibrationError(conf, ok, o.nBins)
}
