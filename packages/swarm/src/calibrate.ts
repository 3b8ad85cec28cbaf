/**
 * `plora calibrate-c` and `plora validate-bounds` (spec swarm.md §10.5, §10.6, §12.1, §12.2).
 *
 * Calibration: for each n, the graph with seed `seed + n`, normalized λ2, a gossip run with dummy
 * plasmids and no gate, t_all = completed rounds until every domain has coverage ≥ 0.9 (the
 * initial state counts as 0 rounds), and Ĉ = t_all·λ2 / ln(max(2, n)/(2/3)). Deviations: WS uses
 * `ws_beta` (the original passed `p` as beta, [D-24]); temporal dropout is an explicit option;
 * the run stops early once diffusion is complete ([D-05]); nothing is left in the CWD ([D-28]).
 *
 * Bounds: for ER graphs, λ2, the predicted rounds (C = 0.7), the random-cut conductance upper
 * bound, the sweep-cut Cheeger bracket with a `within_bounds` check, and the observed rounds to
 * full diffusion from a simulation (REC §12.2: the original validated nothing, [D-27]).
 */
import { writeJsonAtomic } from '@plora/common'
import { virtualDummyArtefacts } from './adapters.js'
import { requireOption } from './errors.js'
import { type Adjacency, buildGraph, erdosRenyiGraph, type GraphKind } from './graph.js'
import { DEFAULT_DOMAINS } from './run.js'
import { type ExchangeProtocol, simulateSwarm } from './simulate.js'
import { cheegerBounds, conductanceEstimate, fiedler, predictedRoundsSpectral } from './spectral.js'

/** Completed rounds until every domain reaches `threshold` coverage, or null (0 = initially). */
export function roundsToThreshold(
  adj: Adjacency,
  rounds: number,
  threshold: number,
  options: GossipRunOptions,
): number | null {
  const n = adj.length
  const domains = options.domains ?? DEFAULT_DOMAINS
  const D = domains.length
  const ownDomain = Int32Array.from({ length: n }, (_, i) => i % D)
  const ownArtefact = ownDomain.slice()
  const reached = (holders: ArrayLike<number>): boolean => {
    for (let d = 0; d < D; d++) if (holders[d]! / n < threshold) return false
    return true
  }
  const init = new Float64Array(D)
  for (let i = 0; i < n; i++) init[i % D]!++
  if (reached(init)) return 0
  const sim = simulateSwarm(
    { adjacency: adj, domains, ownDomain, ownArtefact, artefacts: virtualDummyArtefacts(domains) },
    {
      rounds,
      protocol: options.protocol ?? 'edge',
      dropoutPeriod: options.dropoutPeriod ?? 0,
      earlyStop: true,
      seed: options.seed ?? 0,
      recordHistory: false,
    },
  )
  const t = sim.rounds.findIndex((r) => reached(r.holders))
  return t >= 0 ? t + 1 : null
}

/** Protocol knobs shared by the calibration and bounds runs. */
export interface GossipRunOptions {
  domains?: readonly string[]
  protocol?: ExchangeProtocol
  dropoutPeriod?: number
  seed?: number
}

/** Options of {@link calibrateC}. */
export interface CalibrateCOptions extends GossipRunOptions {
  topology: GraphKind
  ns: readonly number[]
  p: number
  k: number
  wsBeta: number
  m: number
  rounds: number
  seed: number
}

/** One record of `c_calib_{topology}.json` (the original's keys). */
export interface CalibrationRecord {
  topology: string
  n: number
  lambda2: number
  t_all: number | null
  C_hat: number | null
  rounds: number
  params: { p: number; k: number; m: number; ws_beta: number }
}

/** Runs the calibration of C for one topology. */
export function calibrateC(options: CalibrateCOptions): CalibrationRecord[] {
  requireOption(
    options.ns.length > 0 && options.ns.every((n) => Number.isInteger(n) && n >= 3),
    'ns: integers >= 3',
    options.ns,
  )
  const minN = Math.min(...options.ns)
  return options.ns.map((n) => {
    const adj = buildGraph({
      kind: options.topology,
      n,
      p: options.p,
      wsK: options.k,
      wsBeta: options.wsBeta,
      baM: options.m,
      seed: options.seed + n,
    })
    const lambda2 = fiedler(adj, { normalized: true }).lambda2
    const rounds = Math.max(Math.floor(options.rounds * Math.max(1, n / minN)), options.rounds)
    const tAll = roundsToThreshold(adj, rounds, 0.9, { ...options, seed: options.seed + n })
    const cHat = tAll === null || lambda2 <= 0 ? null : (tAll * lambda2) / Math.log(Math.max(2, n) / (2 / 3))
    return {
      topology: options.topology,
      n,
      lambda2,
      t_all: tAll,
      C_hat: cHat,
      rounds,
      params: { p: options.p, k: options.k, m: options.m, ws_beta: options.wsBeta },
    }
  })
}

/** Mean of the non-null Ĉ of a calibration file's records, or null. */
export function meanC(records: readonly { C_hat: number | null }[]): number | null {
  const v = records.map((r) => r.C_hat).filter((x): x is number => typeof x === 'number')
  return v.length > 0 ? v.reduce((s, x) => s + x, 0) / v.length : null
}

/** Options of {@link validateBounds}. */
export interface ValidateBoundsOptions extends GossipRunOptions {
  ns: readonly number[]
  p: number
  seed: number
}

/** One record of `bounds_validation.json`. */
export interface BoundsRecord {
  n: number
  lambda2: number
  t_pred: number
  phi: number
  cheeger: { lower: number; upper: number; phi_sweep: number; phi_sign: number }
  within_bounds: boolean
  t_obs: number | null
}

/** λ2, predictions, conductance, Cheeger bracket and observed diffusion on ER(n, p, seed + n). */
export function validateBounds(options: ValidateBoundsOptions): BoundsRecord[] {
  return options.ns.map((n) => {
    const g = erdosRenyiGraph(n, options.p, options.seed + n)
    const c = cheegerBounds(g)
    const tPred = predictedRoundsSpectral(n, c.lambda2, { normalized: true })
    return {
      n,
      lambda2: c.lambda2,
      t_pred: tPred,
      phi: conductanceEstimate(g, 64),
      cheeger: { lower: c.lower, upper: c.upper, phi_sweep: c.phi_sweep, phi_sign: c.phi_sign },
      within_bounds: c.lower <= c.lambda2 + 1e-12 && c.lambda2 <= c.upper + 1e-12,
      t_obs: roundsToThreshold(g, Math.max(10, 10 * tPred), 1, { ...options, seed: options.seed + n }),
    }
  })
}

/** Writes a JSON array atomically. */
export async function writeRecords(path: string, records: unknown): Promise<void> {
  await writeJsonAtomic(path, records)
}
