/**
 * Perplexity from negative log-likelihoods (core.md §13.1): ppl = exp(Σ_j L_j·w_j / Σ_j w_j),
 * where L_j is example j's mean NLL (nats) over its w_j scored positions. The original weighted
 * by the token count T_j although the mean runs over T_j − 1 positions ([D-27]); callers pass
 * the number of scored positions. Without weights every entry counts once (per-token NLLs).
 */
import { MetricsError, MetricsErrorCode } from './errors.js'

/** exp of the (weighted) mean NLL; throws on empty input or a zero total weight. */
export function perplexity(nlls: ArrayLike<number>, weights?: ArrayLike<number>): number {
  if (weights !== undefined && weights.length !== nlls.length) {
    throw new MetricsError(
      MetricsErrorCode.LengthMismatch,
      `perplexity: ${nlls.length} NLLs but ${weights.length} weights; expected equal lengths`,
    )
  }
  let num = 0
  let den = 0
  for (let i = 0; i < nlls.length; i++) {
    const w = weights === undefined ? 1 : (weights[i] as number)
    const l = nlls[i] as number
    if (!(w >= 0) || Number.isNaN(l)) {
      throw new MetricsError(
        MetricsErrorCode.ArgumentInvalid,
        `perplexity: entry #${i} has NLL ${l} and weight ${w}; expected a number and a weight ≥ 0`,
      )
    }
    if (w > 0) {
      num += l * w
      den += w
    }
  }
  if (den === 0) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      'perplexity: no scored positions; expected at least one NLL with a positive weight',
    )
  }
  return Math.exp(num / den)
}
