/**
 * Discrete transfer entropy (Schreiber 2000, Phys. Rev. Lett. 85, 461) in nats, the original's
 * histogram estimator (swarm.md §11.3):
 *   TE(A→B) = H(B_t | B_past) − H(B_t | B_past, A_past)
 *           = [H(B_t, B_p) − H(B_p)] − [H(B_t, B_p, A_p) − H(B_p, A_p)],
 * with k lags. Rows t = k..n−1: target b_t, lag i (i = 0..k−1) is b[t−1−i], a[t−1−i]. Every
 * column is discretised separately into `bins` equal-width bins over its own [min, max]: the
 * interior edges are numpy's `linspace(min, max, bins+1)[1:-1]` and a value's code is the
 * number of edges ≤ it (`digitize(right=False)`), so a constant column maps to bins − 1.
 * Entropies are plug-in (optional Miller–Madow, REC), and |TE| < 1e-12 is reported as 0 (REC).
 *
 * Significance (REC; the original permuted the *target*, which also destroys its own
 * autocorrelation, swarm.md §12.3): surrogates break the source–target alignment while keeping
 * the target's history intact — "shift" circularly shifts the source-past rows by s ≥ minShift
 * (preserving the source's autocorrelation), "permute" shuffles them. p = (1 + #{TE_s ≥ TE})/(1 + S);
 * effective TE = TE − mean(TE_s) (Marschinski & Kantz 2002).
 */
import { createRng } from '@plora/common'
import { combineIds, entropyOfIds } from './discrete.js'
import { ItError, ItErrorCode } from './errors.js'
import { DENSE_CELL_LIMIT, DenseScratch, denseEntropy } from './fast-count.js'
import { shuffleInPlace, Xoshiro128 } from './shuffle.js'

/** Options of {@link transferEntropy}. */
export interface TransferEntropyOptions {
  /** History length k (1). */
  k: number
  /** Equal-width bins per column (8). */
  bins: number
  /** Miller–Madow correction of the four entropies (false: the original's plug-in). */
  millerMadow: boolean
  /** Report |TE| < 1e-12 as 0 (true). */
  clampTiny: boolean
}

/** Defaults of {@link transferEntropy} (the original's). */
export const DEFAULT_TE_OPTIONS: TransferEntropyOptions = Object.freeze({
  k: 1,
  bins: 8,
  millerMadow: false,
  clampTiny: true,
})

/** Equal-width bin codes 0..bins−1 of one column, numpy `linspace` + `digitize` semantics. */
export function equalWidthCodes(values: ArrayLike<number>, bins: number): Int32Array {
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number
    if (v < min) min = v
    if (v > max) max = v
  }
  const step = (max - min) / bins
  const edges = new Float64Array(Math.max(0, bins - 1))
  // numpy: y = arange(num) * step + start (step == 0 → start), then interior points only
  for (let e = 1; e < bins; e++) edges[e - 1] = step === 0 ? min : e * step + min
  const out = new Int32Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number
    // number of edges ≤ v (edges ascending): binary search for the first edge > v
    let lo = 0
    let hi = edges.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((edges[mid] as number) <= v) lo = mid + 1
      else hi = mid
    }
    out[i] = lo
  }
  return out
}

/** Discretised rows of a (source, target) pair, ready for TE and its surrogates. */
export interface TePrepared {
  /** Target symbol per row. */
  bt: Int32Array
  btCount: number
  /** Target-past tuple symbol per row. */
  bp: Int32Array
  bpCount: number
  /** Source-past tuple symbol per row. */
  ap: Int32Array
  apCount: number
  /** Number of rows (n − k). */
  rows: number
}

function checkTeArgs(o: TransferEntropyOptions, where: string): void {
  if (!Number.isInteger(o.k) || o.k < 1)
    throw new ItError(ItErrorCode.ArgumentInvalid, `${where}: k must be a positive integer, got ${o.k}`)
  if (!Number.isInteger(o.bins) || o.bins < 1)
    throw new ItError(ItErrorCode.ArgumentInvalid, `${where}: bins must be a positive integer, got ${o.bins}`)
}

function lagTupleIds(
  series: ArrayLike<number>,
  n: number,
  k: number,
  bins: number,
): { ids: Int32Array; count: number } {
  const rows = n - k
  let acc: { ids: Int32Array; count: number } | null = null
  for (let i = 0; i < k; i++) {
    // lag i+1: series[k−1−i .. n−2−i]
    const col = new Float64Array(rows)
    for (let t = 0; t < rows; t++) col[t] = series[k - 1 - i + t] as number
    const codes = equalWidthCodes(col, bins)
    acc = acc === null ? { ids: codes, count: bins } : combineIds(acc.ids, codes, bins)
  }
  return acc as { ids: Int32Array; count: number }
}

/** Discretises a (source, target) pair; null when n ≤ k (TE is then 0). */
export function prepareTransferEntropy(
  source: ArrayLike<number>,
  target: ArrayLike<number>,
  options: Partial<TransferEntropyOptions> = {},
): TePrepared | null {
  const o = { ...DEFAULT_TE_OPTIONS, ...options }
  checkTeArgs(o, 'transferEntropy')
  for (const [name, s] of [
    ['source', source],
    ['target', target],
  ] as const) {
    for (let i = 0; i < s.length; i++) {
      if (!Number.isFinite(s[i]))
        throw new ItError(
          ItErrorCode.ArgumentInvalid,
          `transferEntropy: ${name}[${i}] is ${s[i]}; expected a finite number`,
        )
    }
  }
  const n = Math.min(source.length, target.length)
  if (n <= o.k) return null
  const rows = n - o.k
  const btCol = new Float64Array(rows)
  for (let t = 0; t < rows; t++) btCol[t] = target[o.k + t] as number
  const bt = equalWidthCodes(btCol, o.bins)
  const bp = lagTupleIds(target, n, o.k, o.bins)
  const ap = lagTupleIds(source, n, o.k, o.bins)
  return { bt, btCount: o.bins, bp: bp.ids, bpCount: bp.count, ap: ap.ids, apCount: ap.count, rows }
}

function h(ids: Int32Array, count: number, mm: boolean): number {
  const e = entropyOfIds(ids, count)
  return mm ? e.h + (e.occupied - 1) / (2 * ids.length) : e.h
}

/**
 * TE from prepared rows; `ap` may be a surrogate (shifted/permuted) source-past column and
 * `rowIndex` an optional row resampling (bootstrap).
 */
export function transferEntropyFromPrepared(
  p: TePrepared,
  options: Partial<TransferEntropyOptions> = {},
  ap: Int32Array = p.ap,
  rowIndex?: ArrayLike<number>,
): number {
  const mm = options.millerMadow ?? DEFAULT_TE_OPTIONS.millerMadow
  let bt = p.bt
  let bp = p.bp
  if (rowIndex) {
    const m = rowIndex.length
    const bt2 = new Int32Array(m)
    const bp2 = new Int32Array(m)
    const ap2 = new Int32Array(m)
    for (let i = 0; i < m; i++) {
      const r = rowIndex[i] as number
      bt2[i] = bt[r] as number
      bp2[i] = bp[r] as number
      ap2[i] = ap[r] as number
    }
    bt = bt2
    bp = bp2
    ap = ap2
  }
  const btbp = combineIds(bt, bp, p.bpCount)
  const bpap = combineIds(bp, ap, p.apCount)
  const all = combineIds(btbp.ids, ap, p.apCount)
  const te =
    h(btbp.ids, btbp.count, mm) - h(bp, p.bpCount, mm) - h(all.ids, all.count, mm) + h(bpap.ids, bpap.count, mm)
  return (options.clampTiny ?? true) && Math.abs(te) < 1e-12 ? 0 : te
}

/**
 * Transfer entropy TE(source → target) in nats with the original's discrete estimator.
 *
 * @example
 * ```ts
 * transferEntropy(a, b, { k: 1, bins: 4 }) // TE(a → b)
 * ```
 */
export function transferEntropy(
  source: ArrayLike<number>,
  target: ArrayLike<number>,
  options: Partial<TransferEntropyOptions> = {},
): number {
  const p = prepareTransferEntropy(source, target, options)
  return p === null ? 0 : transferEntropyFromPrepared(p, options)
}

/** Options of {@link transferEntropyTest}. */
export interface TransferEntropyTestOptions extends TransferEntropyOptions {
  /** Number of surrogates S (199; the smallest attainable p is 1/(S+1)). */
  nSurrogates: number
  /** "shift" (circular shifts of the source past) or "permute" (shuffles of the source past). */
  nullMethod: 'shift' | 'permute'
  /** Smallest circular shift (default max(k + 1, ⌈rows/20⌉)). */
  minShift?: number
  /** Seed of the surrogate stream (0). */
  seed: number
}

/** Defaults of {@link transferEntropyTest}. */
export const DEFAULT_TE_TEST_OPTIONS: TransferEntropyTestOptions = Object.freeze({
  ...DEFAULT_TE_OPTIONS,
  nSurrogates: 199,
  nullMethod: 'shift',
  seed: 0,
})

/** Result of {@link transferEntropyTest}. */
export interface TransferEntropyTestResult {
  /** Observed TE (nats). */
  te: number
  /** Surrogate p-value (1 + #{TE_s ≥ TE})/(1 + S). */
  pValue: number
  /** Mean and standard deviation of the surrogate TEs. */
  nullMean: number
  nullSd: number
  /** TE − nullMean. */
  effectiveTe: number
  /** Surrogates actually drawn (shift nulls are capped by the number of distinct shifts). */
  nSurrogates: number
  nullMethod: 'shift' | 'permute'
}

/** Surrogate source-past columns (copies), drawn from `seed`; see {@link forEachTeSurrogate}. */
export function teSurrogates(
  p: TePrepared,
  nSurrogates: number,
  method: 'shift' | 'permute',
  seed: number,
  minShift?: number,
): Int32Array[] {
  const out: Int32Array[] = []
  forEachTeSurrogate(p, nSurrogates, method, seed, minShift, (ap) => out.push(Int32Array.from(ap)))
  return out
}

/** TE(source → target) with a surrogate significance test and the effective TE. */
export function transferEntropyTest(
  source: ArrayLike<number>,
  target: ArrayLike<number>,
  options: Partial<TransferEntropyTestOptions> = {},
): TransferEntropyTestResult {
  const o = { ...DEFAULT_TE_TEST_OPTIONS, ...options }
  if (!Number.isInteger(o.nSurrogates) || o.nSurrogates < 1) {
    throw new ItError(
      ItErrorCode.ArgumentInvalid,
      `transferEntropyTest: nSurrogates must be a positive integer, got ${o.nSurrogates}`,
    )
  }
  const p = prepareTransferEntropy(source, target, o)
  if (p === null)
    return { te: 0, pValue: 1, nullMean: 0, nullSd: 0, effectiveTe: 0, nSurrogates: 0, nullMethod: o.nullMethod }
  const evaluate = createTeEvaluator(p, o)
  const te = evaluate()
  let ge = 0
  let sum = 0
  let sum2 = 0
  const minShift = o.minShift ?? Math.max(o.k + 1, Math.ceil(p.rows / 20))
  const S = forEachTeSurrogate(p, o.nSurrogates, o.nullMethod, o.seed, minShift, (col) => {
    const v = evaluate(col)
    // a surrogate equal to the observed value up to rounding counts as "at least as large"
    if (v >= te - 1e-12) ge++
    sum += v
    sum2 += v * v
  })
  const nullMean = S > 0 ? sum / S : 0
  const nullSd = S > 1 ? Math.sqrt(Math.max(0, (sum2 - S * nullMean * nullMean) / (S - 1))) : 0
  return {
    te,
    pValue: (1 + ge) / (1 + S),
    nullMean,
    nullSd,
    effectiveTe: te - nullMean,
    nSurrogates: S,
    nullMethod: o.nullMethod,
  }
}

/** A fast TE evaluator over prepared rows: `(ap?, rowIndex?) → TE`, for surrogate and bootstrap loops. */
export type TeEvaluator = (ap?: Int32Array, rowIndex?: ArrayLike<number>) => number

/**
 * Builds a {@link TeEvaluator} for `p`: the same estimator as {@link transferEntropyFromPrepared}
 * (equal up to rounding, ~1e-15), computed over dense counters with no allocation per call.
 * Alphabets too large for dense counting fall back to {@link transferEntropyFromPrepared}.
 */
export function createTeEvaluator(p: TePrepared, options: Partial<TransferEntropyOptions> = {}): TeEvaluator {
  const mm = options.millerMadow ?? DEFAULT_TE_OPTIONS.millerMadow
  const clamp = options.clampTiny ?? DEFAULT_TE_OPTIONS.clampTiny
  const n = p.rows
  const cellsAll = p.btCount * p.bpCount * p.apCount
  if (cellsAll > DENSE_CELL_LIMIT) return (ap = p.ap, rowIndex) => transferEntropyFromPrepared(p, options, ap, rowIndex)
  const { bt, bp } = p
  // Per-row key bases: cell(bt, bp) and the (·, ap) cells are base·apCount + ap.
  const btbpKey = new Int32Array(n)
  const bpBase = new Int32Array(n)
  const allBase = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    btbpKey[i] = (bt[i] as number) * p.bpCount + (bp[i] as number)
    bpBase[i] = (bp[i] as number) * p.apCount
    allBase[i] = (btbpKey[i] as number) * p.apCount
  }
  const sBtBp = new DenseScratch(p.btCount * p.bpCount, n)
  const sBp = new DenseScratch(p.bpCount, n)
  const sBpAp = new DenseScratch(p.bpCount * p.apCount, n)
  const sAll = new DenseScratch(cellsAll, n)
  const hBtBpFull = denseEntropy(btbpKey, n, sBtBp, mm)
  const hBpFull = denseEntropy(Int32Array.from(bp), n, sBp, mm)
  const k1 = new Int32Array(n)
  const k2 = new Int32Array(n)
  const k3 = new Int32Array(n)
  const k4 = new Int32Array(n)
  return (ap = p.ap, rowIndex) => {
    let hBtBp = hBtBpFull
    let hBp = hBpFull
    const m = rowIndex ? rowIndex.length : n
    if (rowIndex) {
      for (let i = 0; i < m; i++) {
        const r = rowIndex[i] as number
        k1[i] = btbpKey[r] as number
        k2[i] = bp[r] as number
        k3[i] = (bpBase[r] as number) + (ap[r] as number)
        k4[i] = (allBase[r] as number) + (ap[r] as number)
      }
      hBtBp = denseEntropy(k1, m, sBtBp, mm)
      hBp = denseEntropy(k2, m, sBp, mm)
    } else {
      for (let i = 0; i < n; i++) {
        const a = ap[i] as number
        k3[i] = (bpBase[i] as number) + a
        k4[i] = (allBase[i] as number) + a
      }
    }
    const te = hBtBp - hBp - denseEntropy(k4, m, sAll, mm) + denseEntropy(k3, m, sBpAp, mm)
    return clamp && Math.abs(te) < 1e-12 ? 0 : te
  }
}

/**
 * Calls `visit` with each surrogate source-past column in turn (one reused buffer): circular
 * shifts s ≥ minShift ("shift", capped at the number of distinct shifts) or Fisher–Yates
 * shuffles ("permute"), all drawn from `seed`. Returns the number of surrogates visited.
 */
export function forEachTeSurrogate(
  p: TePrepared,
  nSurrogates: number,
  method: 'shift' | 'permute',
  seed: number,
  minShift: number | undefined,
  visit: (ap: Int32Array) => void,
): number {
  const rng = createRng(seed)
  const rows = p.rows
  const buf = new Int32Array(rows)
  if (method === 'shift') {
    const lo = Math.max(1, minShift ?? Math.max(2, Math.ceil(rows / 20)))
    const shifts: number[] = []
    for (let s = lo; s <= rows - lo; s++) shifts.push(s)
    const chosen = shifts.length <= nSurrogates ? shifts : rng.sample(shifts, nSurrogates)
    for (const s of chosen) {
      for (let t = 0; t < rows; t++) buf[t] = p.ap[(t + s) % rows] as number
      visit(buf)
    }
    return chosen.length
  }
  // Successive in-place shuffles: each result is a uniform permutation of the source past.
  const fast = new Xoshiro128(seed)
  buf.set(p.ap)
  for (let s = 0; s < nSurrogates; s++) {
    shuffleInPlace(buf, fast)
    visit(buf)
  }
  return nSurrogates
}
