/**
 * Divergences between the categorical distributions given by two sets of logits, reducing the
 * last (vocabulary) axis only (core.md §13.5):
 *   KL(P‖Q) = Σ_v p_v (log p_v − log q_v), with log p = log_softmax(p_logits);
 *   JS(P,Q) = ½ Σ p (log p − log m) + ½ Σ q (log q − log m), m = (p + q)/2, log m = log(max(m, 1e-12)).
 * JS is symmetric, ≥ 0 and ≤ ln 2. Worked example: [2,1,0] vs [0,1,2] → KL ≈ 1.150421 both
 * ways, JS ≈ 0.247588. Inputs are flat row-major arrays of R rows × V logits.
 */
import { MetricsError, MetricsErrorCode } from './errors.js'

function rowsOf(p: ArrayLike<number>, q: ArrayLike<number>, vocabSize: number, where: string): number {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new MetricsError(
      MetricsErrorCode.ArgumentInvalid,
      `${where}: vocabSize must be a positive integer, got ${vocabSize}`,
    )
  }
  if (p.length !== q.length || p.length % vocabSize !== 0) {
    throw new MetricsError(
      MetricsErrorCode.LengthMismatch,
      `${where}: logits of length ${p.length} and ${q.length}; expected equal lengths, a multiple of vocabSize ${vocabSize}`,
      { p: p.length, q: q.length, vocabSize },
    )
  }
  return p.length / vocabSize
}

/** log_softmax of `x[off..off+v)` written to `out`. */
export function logSoftmaxInto(x: ArrayLike<number>, off: number, v: number, out: Float64Array): void {
  let max = Number.NEGATIVE_INFINITY
  for (let i = 0; i < v; i++) max = Math.max(max, x[off + i] as number)
  let s = 0
  for (let i = 0; i < v; i++) s += Math.exp((x[off + i] as number) - max)
  const lse = max + Math.log(s)
  for (let i = 0; i < v; i++) out[i] = (x[off + i] as number) - lse
}

/** Per-row KL(P‖Q) of logits `p`, `q` (flat, rows of `vocabSize`); a single row when `vocabSize` is omitted. */
export function klDivergenceLogits(p: ArrayLike<number>, q: ArrayLike<number>, vocabSize = p.length): Float64Array {
  const rows = rowsOf(p, q, vocabSize, 'klDivergenceLogits')
  const lp = new Float64Array(vocabSize)
  const lq = new Float64Array(vocabSize)
  const out = new Float64Array(rows)
  for (let r = 0; r < rows; r++) {
    logSoftmaxInto(p, r * vocabSize, vocabSize, lp)
    logSoftmaxInto(q, r * vocabSize, vocabSize, lq)
    let kl = 0
    for (let i = 0; i < vocabSize; i++) kl += Math.exp(lp[i] as number) * ((lp[i] as number) - (lq[i] as number))
    out[r] = kl
  }
  return out
}

/** Per-row Jensen–Shannon divergence (nats) of logits `p`, `q`. */
export function jsDivergenceLogits(p: ArrayLike<number>, q: ArrayLike<number>, vocabSize = p.length): Float64Array {
  const rows = rowsOf(p, q, vocabSize, 'jsDivergenceLogits')
  const lp = new Float64Array(vocabSize)
  const lq = new Float64Array(vocabSize)
  const out = new Float64Array(rows)
  for (let r = 0; r < rows; r++) {
    logSoftmaxInto(p, r * vocabSize, vocabSize, lp)
    logSoftmaxInto(q, r * vocabSize, vocabSize, lq)
    let js = 0
    for (let i = 0; i < vocabSize; i++) {
      const pi = Math.exp(lp[i] as number)
      const qi = Math.exp(lq[i] as number)
      const lm = Math.log(Math.max((pi + qi) / 2, 1e-12))
      js += 0.5 * pi * ((lp[i] as number) - lm) + 0.5 * qi * ((lq[i] as number) - lm)
    }
    out[r] = js
  }
  return out
}
