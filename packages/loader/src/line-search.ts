/**
 * Step-size search for a merged delta (spec core.md §11.3 step 9, fixing `[D-20]`).
 *
 * The objective is evaluated on the *true* model `W0 + α·Δ` (the original measured
 * `W0 + ΔW_last + α·Δ`). Candidates follow the original's backtracking — `α = 1`, then halve while
 * the objective does not increase, at most to 1/32 — and then `α = 0` (the base model itself) is
 * always compared as well, so the returned α never scores worse than the base on the objective.
 * The search is greedy, like the original's; it is not an Armijo rule.
 */
import { type CausalLM, type QaPair, type Tokenizer, tokenNlls } from '@plora/model'
import type { FactoredDelta } from '@plora/peft'
import { LoaderError, LoaderErrorCode } from './errors.js'
import { injectDeltas, type LoraHost } from './inject.js'

/** A function of the scale α to minimise (e.g. mean token NLL of `W0 + α·Δ` on a held-out set). */
export type LineSearchObjective = (alpha: number) => Promise<number>

/** Options of {@link lineSearchScale}. */
export interface LineSearchOptions {
  /** First candidate. Default 1. */
  start: number
  /** Number of halvings after the first candidate. Default 5 (down to 1/32). */
  halvings: number
}

/** Defaults: the original's `1, ½, …, 1/32`. */
export const DEFAULT_LINE_SEARCH_OPTIONS: LineSearchOptions = { start: 1, halvings: 5 }

/** Result of {@link lineSearchScale}. */
export interface LineSearchResult {
  /** The chosen scale (0 = keep the base model). */
  alpha: number
  /** Objective at `alpha`. */
  value: number
  /** Objective of the base model (α = 0). */
  baseValue: number
  /** Every evaluation, in order. */
  evaluations: Array<{ alpha: number; value: number }>
}

/**
 * Chooses α for `W0 + α·Δ` by backtracking, with α = 0 always among the candidates.
 *
 * @throws LoaderError `LOADER_LINE_SEARCH_OBJECTIVE_INVALID` when the objective returns NaN/±∞.
 */
export async function lineSearchScale(
  objective: LineSearchObjective,
  options: Partial<LineSearchOptions> = {},
): Promise<LineSearchResult> {
  const o = { ...DEFAULT_LINE_SEARCH_OPTIONS, ...options }
  const evaluations: Array<{ alpha: number; value: number }> = []
  const evaluate = async (alpha: number): Promise<number> => {
    const value = await objective(alpha)
    if (!Number.isFinite(value)) {
      throw new LoaderError(
        LoaderErrorCode.LineSearchObjectiveInvalid,
        `line-search objective returned ${value} at α = ${alpha}, expected a finite number`,
        {
          alpha,
          value,
        },
      )
    }
    evaluations.push({ alpha, value })
    return value
  }
  const baseValue = await evaluate(0)
  let bestAlpha = o.start
  let best = await evaluate(o.start)
  let alpha = o.start / 2
  for (let i = 0; i < o.halvings; i++) {
    const v = await evaluate(alpha)
    if (v > best) break
    best = v
    bestAlpha = alpha
    alpha /= 2
  }
  // Non-degradation: the base model is a candidate too (ties keep the base, the safer choice).
  if (baseValue <= best) return { alpha: 0, value: baseValue, baseValue, evaluations }
  return { alpha: bestAlpha, value: best, baseValue, evaluations }
}

/**
 * An objective that injects `α·Δ` into the model, runs `evaluate()` on it, and removes the delta
 * again (bit-exact), so every candidate is measured on `W0 + α·Δ`.
 */
export function createDeltaObjective(
  host: LoraHost,
  deltas: ReadonlyMap<string, FactoredDelta>,
  evaluate: () => Promise<number>,
): LineSearchObjective {
  return async (alpha) => {
    if (alpha === 0 || deltas.size === 0) return evaluate()
    const handle = injectDeltas(host, deltas.values(), { coefficient: alpha, label: `line search α=${alpha}` })
    try {
      return await evaluate()
    } finally {
      handle.remove()
    }
  }
}

/**
 * The original's default objective (§11.3 step 8): the mean over pairs of each answer's mean token
 * NLL (`token_nlls`, §13.2), scored on the model as it currently is. Pairs whose answer has no
 * tokens are skipped.
 *
 * @throws LoaderError `LOADER_MERGE_OPTIONS_INVALID` when no pair has answer tokens.
 */
export function createMeanNllEvaluator(
  model: CausalLM,
  tokenizer: Tokenizer,
  pairs: readonly QaPair[],
  options: { batchSize?: number } = {},
): () => Promise<number> {
  return async () => {
    const results = await tokenNlls(
      model,
      tokenizer,
      pairs,
      options.batchSize === undefined ? {} : { batchSize: options.batchSize },
    )
    const means = results.map((r) => r.meanNll).filter((x) => Number.isFinite(x))
    if (means.length === 0) {
      throw new LoaderError(
        LoaderErrorCode.MergeOptionsInvalid,
        `line-search data has no scorable answer among ${pairs.length} pair(s)`,
        {
          pairs: pairs.length,
        },
      )
    }
    return means.reduce((acc, x) => acc + x, 0) / means.length
  }
}
