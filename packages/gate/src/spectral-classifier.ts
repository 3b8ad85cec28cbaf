/**
 * The calibrated weight-space classifier of the gate (issue 20): L2-regularised logistic
 * regression on standardised spectral features ({@link ./spectral-features.ts}), whose logit is
 * the `spectral_lr` suspicion score; calibration stores it, with its threshold, in `gate-ref.json`.
 *
 * Written here because the workspace has no fitting library (its only numerics dependency is
 * ml-matrix, used for the linear solves). The fit is deterministic: Newton's method (IRLS) on
 *
 *   L(w, b) = Σ_i [ln(1 + e^{η_i}) − y_i η_i] + (λ/2)‖w‖²,   η_i = b + wᵀz_i,
 *
 * with z_i the features standardised by the training rows' means and (population) standard
 * deviations; the intercept b is not penalised. Each Newton step solves (ZᵀWZ + λI')Δ = −∇L
 * (I' = identity without the intercept, plus a 1e-10 ridge there so a perfectly separable set
 * still gives a nonsingular system) and is halved until L does not increase. With λ > 0 the
 * objective is strictly convex, so the optimum is unique and finite even for separable data.
 * Default λ = 1: with ~100 features and tens of adapters the penalty, not the data, has to fix
 * most directions; larger λ shrinks the score toward the intercept.
 *
 * A feature that is constant over the training rows (std below 1e-12·max(1, |mean|)) is stored
 * with std 0 and contributes nothing (its standardised value is 0 for every adapter).
 */
import { Matrix, solve } from 'ml-matrix'
import { z } from 'zod'
import { GateError, GateErrorCode } from './errors.js'
import { SPECTRAL_FEATURE_NAMES } from './spectral-features.js'

/** Default L2 penalty λ of {@link fitLogisticRegression}. */
export const DEFAULT_LR_LAMBDA = 1

const finite = z.number().finite()

/** Schema of a stored classifier (the `spectral_classifier` of `gate-ref.json`). */
export const SpectralClassifierSchema = z
  .object({
    model: z.literal('logistic_l2'),
    feature_names: z.array(z.string()),
    means: z.array(finite),
    stds: z.array(finite.min(0)),
    coefficients: z.array(finite),
    intercept: finite,
    lambda: finite.min(0),
    /** Reject when the logit exceeds this (chosen on clean calibration scores). */
    threshold: finite,
    /** Training rows (calibration half): clean and poisoned counts. */
    training: z.object({ clean: z.number().int().min(1), poisoned: z.number().int().min(1) }).strict(),
  })
  .strict()

/** A stored classifier. */
export type SpectralClassifier = z.output<typeof SpectralClassifierSchema>

/** A fitted logistic regression (what {@link fitLogisticRegression} returns). */
export interface LogisticModel {
  means: number[]
  stds: number[]
  coefficients: number[]
  intercept: number
  lambda: number
  iterations: number
  converged: boolean
}

/** Options of {@link fitLogisticRegression}. */
export interface LogisticFitOptions {
  /** L2 penalty on the standardised coefficients (default {@link DEFAULT_LR_LAMBDA}). */
  lambda: number
  /** Newton iterations at most (default 100). */
  maxIterations: number
  /** Stop when the largest |Newton step| is below this (default 1e-10). */
  tolerance: number
}

function badInput(message: string, details: Record<string, unknown>): never {
  throw new GateError(GateErrorCode.ReferenceInvalid, `logistic regression: ${message}`, details)
}

const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))

/** Standardised value of feature j (0 for a constant feature). */
function standardise(x: readonly number[], means: readonly number[], stds: readonly number[]): number[] {
  return x.map((v, j) => (stds[j]! > 0 ? (v - means[j]!) / stds[j]! : 0))
}

/**
 * Fits the model on rows `x` (equal lengths, finite) with labels `y` (1 = poisoned).
 * @throws GateError `GATE_REFERENCE_INVALID` for ragged or non-finite rows, labels of one class only,
 *   or λ < 0
 */
export function fitLogisticRegression(
  x: readonly (readonly number[])[],
  y: readonly (0 | 1)[],
  options: Partial<LogisticFitOptions> = {},
): LogisticModel {
  const lambda = options.lambda ?? DEFAULT_LR_LAMBDA
  const maxIterations = options.maxIterations ?? 100
  const tolerance = options.tolerance ?? 1e-10
  const n = x.length
  if (n !== y.length) badInput(`${n} rows but ${y.length} labels`, { rows: n, labels: y.length })
  const d = x[0]?.length ?? 0
  if (n === 0 || d === 0) badInput(`expected rows with at least one feature; found ${n} rows of ${d}`, { rows: n })
  x.forEach((row, i) => {
    if (row.length !== d) badInput(`row ${i} has ${row.length} features, expected ${d}`, { row: i })
    row.forEach((v, j) => {
      if (!Number.isFinite(v)) badInput(`row ${i} feature ${j} is ${v}, expected a finite number`, { row: i, j })
    })
  })
  const pos = y.filter((v) => v === 1).length
  if (pos === 0 || pos === n) badInput(`expected both classes; found ${pos} positive of ${n}`, { positive: pos, n })
  if (!(lambda >= 0 && Number.isFinite(lambda))) badInput(`λ must be finite and ≥ 0; found ${lambda}`, { lambda })

  const means = Array.from({ length: d }, (_, j) => x.reduce((a, r) => a + r[j]!, 0) / n)
  const stds = means.map((m, j) => {
    const s = Math.sqrt(x.reduce((a, r) => a + (r[j]! - m) ** 2, 0) / n)
    return s > 1e-12 * Math.max(1, Math.abs(m)) ? s : 0
  })
  const zs = x.map((r) => [1, ...standardise(r, means, stds)])
  const p = d + 1
  let w = new Array<number>(p).fill(0)
  const objective = (v: readonly number[]): number => {
    let l = 0
    for (let i = 0; i < n; i++) {
      let eta = 0
      for (let j = 0; j < p; j++) eta += zs[i]![j]! * v[j]!
      l += softplus(eta) - y[i]! * eta
    }
    for (let j = 1; j < p; j++) l += 0.5 * lambda * v[j]! ** 2
    return l
  }
  let current = objective(w)
  let iterations = 0
  let converged = false
  for (; iterations < maxIterations && !converged; iterations++) {
    const grad = new Array<number>(p).fill(0)
    const h = Matrix.zeros(p, p)
    for (let i = 0; i < n; i++) {
      const zi = zs[i]!
      let eta = 0
      for (let j = 0; j < p; j++) eta += zi[j]! * w[j]!
      const mu = sigmoid(eta)
      const wt = mu * (1 - mu)
      for (let j = 0; j < p; j++) {
        grad[j]! += (mu - y[i]!) * zi[j]!
        if (zi[j] === 0) continue
        for (let k = j; k < p; k++) h.set(j, k, h.get(j, k) + wt * zi[j]! * zi[k]!)
      }
    }
    for (let j = 0; j < p; j++) {
      if (j > 0) grad[j]! += lambda * w[j]!
      h.set(j, j, h.get(j, j) + (j > 0 ? lambda : 0) + 1e-10)
      for (let k = 0; k < j; k++) h.set(j, k, h.get(k, j))
    }
    const step = solve(h, Matrix.columnVector(grad.map((g) => -g))).to1DArray()
    let t = 1
    let next = w.map((v, j) => v + step[j]!)
    let value = objective(next)
    while (value > current && t > 1e-12) {
      t /= 2
      next = w.map((v, j) => v + t * step[j]!)
      value = objective(next)
    }
    const moved = Math.max(...step.map((s) => Math.abs(t * s)))
    w = next
    current = value
    if (moved < tolerance) converged = true
  }
  return { means, stds, coefficients: w.slice(1), intercept: w[0]!, lambda, iterations, converged }
}

/** The logit b + wᵀz of one feature vector (the suspicion score). */
export function logisticScore(
  model: Pick<LogisticModel, 'means' | 'stds' | 'coefficients' | 'intercept'>,
  x: readonly number[],
): number {
  if (x.length !== model.coefficients.length) {
    throw new GateError(
      GateErrorCode.ReferenceInvalid,
      `logistic regression: the feature vector has ${x.length} values, the model ${model.coefficients.length}`,
      { features: x.length, model: model.coefficients.length },
    )
  }
  const zx = standardise(x, model.means, model.stds)
  let eta = model.intercept
  for (let j = 0; j < zx.length; j++) eta += model.coefficients[j]! * zx[j]!
  return eta
}

/**
 * Checks a parsed classifier against this gate's feature vector (names and array lengths).
 * @returns a message saying what is wrong, or null
 */
export function spectralClassifierProblem(c: SpectralClassifier): string | null {
  const d = c.feature_names.length
  if (c.means.length !== d || c.stds.length !== d || c.coefficients.length !== d) {
    return `means/stds/coefficients have ${c.means.length}/${c.stds.length}/${c.coefficients.length} values for ${d} feature names`
  }
  if (c.feature_names.join() !== SPECTRAL_FEATURE_NAMES.join()) {
    return `feature_names differ from this gate's ${SPECTRAL_FEATURE_NAMES.length} spectral features (re-run calibration)`
  }
  return null
}
