/**
 * One entry point for mutual information that picks the estimator for the data
 * (swarm.md §11.1 REC): continuous data → KSG, integer-valued data with few distinct values →
 * plug-in with Miller–Madow, other data with exact ties → the Gao et al. mixed KSG.
 */
import { discreteMutualInformation, symbolIds } from './discrete.js'
import { ItError, ItErrorCode } from './errors.js'
import { DEFAULT_KSG_OPTIONS, type KsgOptions, ksgMutualInformation, mixedKsgMutualInformation } from './ksg.js'
import { checkSameRows, type SampleInput, type SampleMatrix, toMatrix } from './matrix.js'

/** The estimators {@link mutualInformation} can use. */
export type MiEstimator = 'ksg1' | 'ksg2' | 'mixed' | 'discrete'

/** Options of {@link mutualInformation}. */
export interface MutualInformationOptions extends KsgOptions {
  /** "auto" (default) or a fixed estimator. */
  estimator: MiEstimator | 'auto'
  /** Miller–Madow correction for the discrete estimator (default true). */
  millerMadow: boolean
}

/** Defaults of {@link mutualInformation}. */
export const DEFAULT_MI_OPTIONS: MutualInformationOptions = Object.freeze({
  ...DEFAULT_KSG_OPTIONS,
  estimator: 'auto',
  millerMadow: true,
})

function isIntegerValued(m: SampleMatrix): boolean {
  for (const v of m.data) if (!Number.isInteger(v)) return false
  return true
}

function hasTies(m: SampleMatrix): boolean {
  return symbolIds(m).count < m.rows
}

/**
 * The estimator "auto" picks: "discrete" when both variables are integer-valued and the joint
 * takes at most N/5 distinct values (so cells hold ≥ 5 samples on average); otherwise "mixed"
 * when either variable has repeated values; otherwise "ksg1".
 */
export function chooseMiEstimator(x: SampleInput, y: SampleInput): MiEstimator {
  const mx = toMatrix(x, 'X')
  const my = toMatrix(y, 'Y')
  checkSameRows(mx, my, 'chooseMiEstimator')
  if (isIntegerValued(mx) && isIntegerValued(my)) {
    const sx = symbolIds(mx)
    const sy = symbolIds(my)
    const joint = new Set<number>()
    for (let i = 0; i < mx.rows; i++) joint.add((sx.ids[i] as number) * sy.count + (sy.ids[i] as number))
    if (joint.size <= mx.rows / 5) return 'discrete'
  }
  return hasTies(mx) || hasTies(my) ? 'mixed' : 'ksg1'
}

/** Result of {@link mutualInformation}. */
export interface MutualInformationResult {
  /** Î(X; Y) in nats. */
  mi: number
  /** The estimator used. */
  estimator: MiEstimator
}

/** Mutual information in nats with the estimator chosen by `options.estimator`. */
export function mutualInformation(
  x: SampleInput,
  y: SampleInput,
  options: Partial<MutualInformationOptions> = {},
): MutualInformationResult {
  const o = { ...DEFAULT_MI_OPTIONS, ...options }
  const estimator = o.estimator === 'auto' ? chooseMiEstimator(x, y) : o.estimator
  switch (estimator) {
    case 'ksg1':
    case 'ksg2':
      return { mi: ksgMutualInformation(x, y, { ...o, algorithm: estimator === 'ksg1' ? 1 : 2 }), estimator }
    case 'mixed':
      return { mi: mixedKsgMutualInformation(x, y, { k: o.k }), estimator }
    case 'discrete':
      return { mi: discreteMutualInformation(x, y, { millerMadow: o.millerMadow }), estimator }
    default:
      throw new ItError(
        ItErrorCode.ArgumentInvalid,
        `mutualInformation: unknown estimator "${String(estimator)}"; expected auto, ksg1, ksg2, mixed or discrete`,
      )
  }
}
