/**
 * `plora swarm v2` as a library call (spec swarm.md §8): build the graph, the agents' plasmids,
 * the gate verdicts, run the exchange, and write `swarm_v2_report_seed{seed}.json` and
 * `history_seed{seed}.json` with the original's fields plus the new ones (REC §5.3–§5.5, §8.4).
 *
 * Gate verdicts are cached per (receiver policy, artefact digest): every agent of a run shares one
 * policy, and an artefact is identified by the digest of its weights and manifest, so the gate
 * runs once per distinct artefact however large the swarm is.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Logger,
  type ProgressCallback,
  SILENT_LOGGER,
  sha256Hex,
  writeFileAtomic,
  writeJsonAtomic,
} from '@plora/common'
import type { GateContext, GateMetrics, Policy } from '@plora/gate'
import { clopperPearson } from '@plora/metrics'
import { type AdapterSource, drawTrojans, type PreparedAdapters, prepareAdapters } from './adapters.js'
import { ConsensusEngine } from './consensus.js'
import { requireOption } from './errors.js'
import { type Adjacency, buildGraph, type GraphKind, topologyName } from './graph.js'
import { binaryEntropy, mutualInformationFromMasks } from './metrics.js'
import { type Population, type PopulationHalf, readPopulation } from './population.js'
import {
  type ArtefactInfo,
  type ExchangeProtocol,
  type RoundMode,
  type SimulationResult,
  simulateSwarm,
  type Verdict,
} from './simulate.js'
import { fiedler, predictedRoundsSpectral } from './spectral.js'

/** The original's default domain list. */
export const DEFAULT_DOMAINS: readonly string[] = ['arithmetic', 'legal', 'medical']

/** Options of {@link runSwarmV2}; names follow the original's flags (§8.1). */
export interface SwarmV2Options {
  agents: number
  /** Maximum rounds (early stop may end sooner). */
  rounds: number
  graph: GraphKind
  graphP: number
  wsK: number
  wsBeta: number
  baM: number
  seed: number
  maxInflight: number
  mode: RoundMode
  protocol: ExchangeProtocol
  dropoutPeriod: number
  earlyStop: boolean
  /** Domains; agent i is assigned `domains[i % D]`. */
  domains: readonly string[]
  /** Holders per domain at the start (null = every agent holds its domain, as the original). */
  initialHolders: number | null
  trojanRate: number
  /** Gate policy; null = security off. */
  policy: Policy | null
  /** The verifier's trust inputs handed to the gate. */
  gateContext: GateContext
  consensus: boolean
  quorum: number
  estimateSize: boolean
  adapters: AdapterSource
  adaptersDir: string | null
  /** Population folder of `population` (see `population.ts`). */
  populationDir: string | null
  /** Which population members agents draw: the evaluation half (default) or all. */
  populationHalf: PopulationHalf
  /** Rank and base model of dummy/synthetic adapters. */
  rank: number
  syntheticBaseModel: string
  syntheticVariants: number
  /** Output folder (null = write nothing). */
  reportDir: string | null
  /** Extra copy of the history file. */
  historyAlias: string | null
  /** Write `history_seed{seed}.json` (one knowledge snapshot per agent and round: 1.35 GB at 10⁶ agents × 30 rounds). */
  history: boolean
  /** Where adapter folders are written (default: a fresh temp folder, deleted afterwards). */
  workDir: string | null
  /** Compute λ2 and the predicted rounds (skip for huge benchmark graphs if wanted). */
  spectral: boolean
  /** Seed of the synthetic adapters (null = `seed`); a sweep fixes it so artefacts repeat. */
  adapterSeed: number | null
  /** Verdict cache keyed `policy digest|artefact digest`, shared across runs (e.g. a sweep). */
  verdictCache: Map<string, Verdict> | null
  logger: Logger
  onProgress?: ProgressCallback
  /**
   * Called once the graph is built and the artefacts are written, before the simulation: what a
   * swarm of real nodes needs to run the same swarm (`plora swarm sim --mode full`).
   */
  onPrepared?: (p: {
    adjacency: Adjacency | null
    domains: readonly string[]
    ownDomain: Int32Array
    trojan: Uint8Array
    prepared: PreparedAdapters
    workDir: string
  }) => void | Promise<void>
}

/** Defaults of {@link SwarmV2Options} (the original's built-in values, §2, §8.1). */
export const DEFAULT_SWARM_V2_OPTIONS: SwarmV2Options = {
  agents: 6,
  rounds: 5,
  graph: 'er',
  graphP: 0.25,
  wsK: 4,
  wsBeta: 0.2,
  baM: 2,
  seed: 42,
  maxInflight: 0,
  mode: 'snapshot',
  protocol: 'edge',
  dropoutPeriod: 0,
  earlyStop: true,
  domains: DEFAULT_DOMAINS,
  initialHolders: null,
  trojanRate: 0.3,
  policy: null,
  gateContext: {},
  consensus: false,
  quorum: 2,
  estimateSize: true,
  adapters: 'dummy',
  adaptersDir: null,
  populationDir: null,
  populationHalf: 'evaluation',
  rank: 4,
  syntheticBaseModel: 'plora/synthetic-base',
  syntheticVariants: 4,
  reportDir: 'results',
  historyAlias: null,
  history: true,
  workDir: null,
  spectral: true,
  adapterSeed: null,
  verdictCache: null,
  logger: SILENT_LOGGER,
}

/** One per-round entry of the report (§8.3 keys first, then the new counters). */
export interface RoundEntry {
  t: number
  coverage: Record<string, number>
  entropy_avg: number
  mutual_information: number
  mi_delta: number
  mi_loss: number
  mi_cum_abs: number
  mi_norm: number
  accepted: Array<[number, number, string]>
  accepted_count: number
  duplicate_offers: number
  offers: number
  rejected_offers: number
  consensus_pending: number
  bytes_on_wire: number
  bytes_offered: number
}

/** The report written to `swarm_v2_report_seed{seed}.json`. */
export interface SwarmV2Report {
  meta: Record<string, unknown>
  initial: { coverage: Record<string, number>; entropy_avg: number; mutual_information: number; mi_norm: number }
  rounds: RoundEntry[]
  final: Record<string, unknown>
}

/** Result of {@link runSwarmV2}. */
export interface SwarmV2Result {
  report: SwarmV2Report
  simulation: SimulationResult
  reportPath: string | null
  historyPath: string | null
  /** Distinct artefacts gated (verdict cache misses). */
  gateEvaluations: number
}

function coverageOf(holders: ArrayLike<number>, n: number, domains: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {}
  domains.forEach((d, i) => {
    out[d] = holders[i]! / n
  })
  return out
}

function entropyOf(cov: Record<string, number>): number {
  const v = Object.values(cov)
  if (v.length === 0) return 0
  return v.reduce((s, p) => s + binaryEntropy(p), 0) / v.length
}

/** History snapshots (agent id → sorted domains, one per round, §8.5) of a simulation. */
export function historySnapshots(sim: SimulationResult): Array<Record<string, string[]>> {
  return sim.rounds.map((r) => {
    const snap: Record<string, string[]> = {}
    for (let a = 0; a < sim.n; a++) {
      const list: string[] = []
      for (let d = 0; d < sim.domains.length; d++) if (r.masks![a]! & (1 << d)) list.push(sim.domains[d]!)
      snap[String(a)] = list.sort()
    }
    return snap
  })
}

/**
 * Serialises history snapshots: a JSON array with one object per round, one line per round
 * (Python's `", "`/`": "` separators), yielded in chunks of agents: a 10⁶-agent history is larger
 * than one string can be.
 */
function* historyChunks(masks: readonly Int32Array[], domains: readonly string[]): Generator<string> {
  const cache = new Map<number, string>()
  const enc = (m: number): string => {
    let s = cache.get(m)
    if (s === undefined) {
      const list: string[] = []
      for (let d = 0; d < domains.length; d++) if (m & (1 << d)) list.push(domains[d]!)
      s = `[${list
        .sort()
        .map((x) => JSON.stringify(x))
        .join(', ')}]`
      cache.set(m, s)
    }
    return s
  }
  const CHUNK = 8192
  yield '['
  for (let t = 0; t < masks.length; t++) {
    const ms = masks[t]!
    yield t === 0 ? '{' : ',\n{'
    for (let a0 = 0; a0 < ms.length; a0 += CHUNK) {
      const rows: string[] = []
      for (let a = a0; a < Math.min(ms.length, a0 + CHUNK); a++) rows.push(`"${a}": ${enc(ms[a]!)}`)
      yield (a0 === 0 ? '' : ', ') + rows.join(', ')
    }
    yield '}'
  }
  yield ']\n'
}

/**
 * Runs one swarm v2 simulation and writes its report and history.
 *
 * @example
 * const { report } = await runSwarmV2({ agents: 6, rounds: 5, seed: 42, reportDir: 'results' })
 * report.final.coverage // { arithmetic: …, legal: …, medical: … }
 */
export async function runSwarmV2(options: Partial<SwarmV2Options> = {}): Promise<SwarmV2Result> {
  const o: SwarmV2Options = { ...DEFAULT_SWARM_V2_OPTIONS, ...options }
  requireOption(Number.isInteger(o.agents) && o.agents >= 1, 'agents: an integer >= 1', o.agents)
  requireOption(Number.isInteger(o.rounds) && o.rounds >= 0, 'rounds: an integer >= 0', o.rounds)
  requireOption(o.trojanRate >= 0 && o.trojanRate <= 1, 'trojan_rate: a number in [0, 1]', o.trojanRate)
  requireOption(
    o.domains.length >= 1 && new Set(o.domains).size === o.domains.length,
    'domains: distinct names',
    o.domains,
  )
  requireOption(
    o.initialHolders === null || (Number.isInteger(o.initialHolders) && o.initialHolders >= 1),
    'initial_holders: an integer >= 1',
    o.initialHolders,
  )
  requireOption(o.adapters !== 'dir' || o.adaptersDir !== null, 'adapters dir needs --adapters_dir', o.adaptersDir)
  requireOption(
    o.adapters !== 'population' || o.populationDir !== null,
    'adapters population needs a population folder',
    o.populationDir,
  )
  if (o.consensus && !o.policy) o.logger.warn('--consensus on has no effect without --security on (as in the original)')
  const n = o.agents
  const domains = [...o.domains].sort()
  const D = domains.length
  const progress = o.onProgress
  // Agent i's domain is domains_given[i % D] (the original's assignment), mapped to sorted indices.
  const ownDomain = new Int32Array(n)
  const perDomainCount = new Int32Array(D)
  for (let i = 0; i < n; i++) {
    const d = domains.indexOf(o.domains[i % D]!)
    const keep = o.initialHolders === null || perDomainCount[d]! < o.initialHolders
    ownDomain[i] = keep ? d : -1
    if (keep) perDomainCount[d]!++
  }
  const trojan = drawTrojans(n, o.trojanRate, o.seed)
  for (let i = 0; i < n; i++) if (ownDomain[i]! < 0) trojan[i] = 0

  // K_n under a phone-call protocol stays implicit (no O(n²) lists): classic rumour spreading.
  const implicitComplete = o.graph === 'complete' && o.protocol !== 'edge'
  const adj = implicitComplete
    ? null
    : buildGraph({ kind: o.graph, n, p: o.graphP, wsK: o.wsK, wsBeta: o.wsBeta, baM: o.baM, seed: o.seed })
  // The population is read (and every record validated) before any folder is made.
  const population = o.adapters === 'population' ? await readPopulation(o.populationDir!, o.populationHalf) : null
  const workDir = o.workDir ?? (await mkdtemp(join(tmpdir(), 'plora-swarm-v2-')))
  try {
    const prepared = await prepareAdapters({
      source: o.adapters,
      rootDir: workDir,
      domains,
      ownDomain,
      trojan,
      adaptersDir: o.adaptersDir,
      rank: o.rank,
      baseModel: o.syntheticBaseModel,
      variants: o.syntheticVariants,
      population,
      seed: o.adapterSeed ?? o.seed,
    })
    await o.onPrepared?.({ adjacency: adj, domains, ownDomain, trojan, prepared, workDir })
    if (o.adapters === 'dir') {
      o.logger.info(`[sim_v2] Loaded ${prepared.realDomains.length}/${D} real adapters from ${o.adaptersDir}`)
    }
    if (population) {
      const drawn = prepared.members.filter((m) => m !== null)
      o.logger.info(
        `[sim_v2] population ${population.dir}: ${drawn.length} distinct adapters drawn (${drawn.filter((m) => m.kind === 'clean').length} clean, ${drawn.filter((m) => m.kind === 'poisoned').length} poisoned) from ${population.eligible.length} eligible members (${population.half === 'all' ? 'both halves' : 'evaluation half'})`,
      )
    }
    // Verdict cache per (policy, artefact digest).
    let gateEvaluations = 0
    let detectors: DetectorCoverage | null = null
    let verdictOf: ((receiver: number, artefact: number) => Verdict) | undefined
    const table: Verdict[] = []
    if (o.policy) {
      const { checkAdapter } = await import('@plora/gate')
      const policyKey = sha256Hex(JSON.stringify(o.policy))
      const cache = o.verdictCache ?? new Map<string, Verdict>()
      const total = prepared.artefacts.length
      progress?.({ status: 'start', task: 'gate', total })
      for (let a = 0; a < total; a++) {
        const key = `${policyKey}|${prepared.artefacts[a]!.key}`
        let v = cache.get(key)
        if (!v) {
          const decision = await checkAdapter(prepared.dirs[a]!, o.policy, o.gateContext)
          gateEvaluations++
          v = { passed: decision.passed, reasons: decision.reasons, judged: detectorJudgement(decision.metrics) }
          cache.set(key, v)
        }
        table.push(v)
        progress?.({ status: 'progress', task: 'gate', done: a + 1, total })
      }
      progress?.({ status: 'done', task: 'gate' })
      verdictOf = (_receiver, artefact) => table[artefact]!
      detectors = detectorCoverage(table, prepared.artefacts)
      for (const line of detectorCoverageLines(detectors)) {
        if (line.startsWith('!')) o.logger.warn(`[sim_v2] ${line.slice(1)}`)
        else o.logger.info(`[sim_v2] ${line}`)
      }
    }
    const engine =
      o.policy && o.consensus ? new ConsensusEngine(Math.max(1, o.quorum), { requireProposal: true }) : undefined
    progress?.({ status: 'start', task: 'swarm v2', total: o.rounds })
    const sim = simulateSwarm(
      {
        adjacency: adj,
        ...(implicitComplete ? { completeN: n } : {}),
        domains,
        ownDomain,
        ownArtefact: prepared.ownArtefact,
        artefacts: prepared.artefacts,
        ...(verdictOf ? { verdict: verdictOf } : {}),
        ...(engine ? { consensus: engine } : {}),
      },
      {
        rounds: o.rounds,
        protocol: o.protocol,
        mode: o.mode,
        maxInflight: o.maxInflight,
        dropoutPeriod: o.dropoutPeriod,
        earlyStop: o.earlyStop,
        seed: o.seed,
        recordHistory: true,
        onRound: (t) => progress?.({ status: 'progress', task: 'swarm v2', done: t + 1, total: o.rounds }),
      },
    )
    progress?.({ status: 'done', task: 'swarm v2', info: { rounds: sim.roundsRun } })
    // Normalized λ2 of K_n is n/(n−1) (0 for n = 1).
    const lambda2 = !o.spectral
      ? null
      : adj === null
        ? n > 1
          ? n / (n - 1)
          : 0
        : fiedler(adj, { normalized: true }).lambda2
    const report = buildSwarmV2Report(o, sim, domains, lambda2, trojan, gateEvaluations, engine, detectors)
    if (o.policy) {
      const gate = report.final.gate as Record<string, unknown>
      const g = gateErrorReport(table, prepared, sim, domains)
      gate.error_rates = g.error_rates
      gate.artefacts = g.artefacts
    }
    if (population) report.meta.population = populationMeta(population, prepared)
    let reportPath: string | null = null
    let historyPath: string | null = null
    if (o.reportDir !== null) {
      reportPath = join(o.reportDir, `swarm_v2_report_seed${o.seed}.json`)
      historyPath = o.history ? join(o.reportDir, `history_seed${o.seed}.json`) : null
      const masks = sim.rounds.map((r) => r.masks!)
      await writeJsonAtomic(reportPath, report)
      if (population && o.policy) {
        await writeFileAtomic(join(o.reportDir, `swarm_v2_report_seed${o.seed}.md`), gateReportMarkdown(report))
      }
      if (historyPath) await writeFileAtomic(historyPath, historyChunks(masks, domains))
      if (o.history && o.historyAlias) await writeFileAtomic(o.historyAlias, historyChunks(masks, domains))
    }
    return { report, simulation: sim, reportPath, historyPath, gateEvaluations }
  } finally {
    // REC [D-28]: the run folder is removed unless the caller owns it.
    if (o.workDir === null) await rm(workDir, { recursive: true, force: true })
  }
}

/**
 * The swarm v2 report (meta, initial, rounds, final) of a simulation result — also of a swarm of
 * real nodes whose round records were assembled into one (`plora swarm sim --mode full`).
 */
export function buildSwarmV2Report(
  o: SwarmV2Options,
  sim: SimulationResult,
  domains: string[],
  lambda2: number | null,
  trojan: Uint8Array,
  gateEvaluations: number,
  engine: ConsensusEngine | undefined,
  detectors: DetectorCoverage | null,
): SwarmV2Report {
  const n = sim.n
  const D = domains.length
  const norm = Math.log2(Math.max(2, n * D))
  const initialHolders = new Float64Array(D)
  for (const m of sim.initialMasks) for (let d = 0; d < D; d++) if (m & (1 << d)) initialHolders[d]!++
  const initCov = coverageOf(initialHolders, n, domains)
  const initMi = mutualInformationFromMasks(sim.initialMasks, D)
  const rounds: RoundEntry[] = []
  let prev = 0
  let cum = 0
  for (const r of sim.rounds) {
    const cov = coverageOf(r.holders, n, domains)
    const mi = mutualInformationFromMasks(r.masks!, D)
    // mi_delta is 0 at t = 0 (the original's convention; the initial snapshot is reported apart).
    const delta = r.t === 0 ? 0 : mi - prev
    cum += Math.abs(delta)
    prev = mi
    const accepted: Array<[number, number, string]> = []
    for (let k = 0; k < r.events.length; k += 3)
      accepted.push([r.events[k]!, r.events[k + 1]!, domains[r.events[k + 2]!]!])
    rounds.push({
      t: r.t,
      coverage: cov,
      entropy_avg: entropyOf(cov),
      mutual_information: mi,
      mi_delta: delta,
      mi_loss: Math.max(0, -delta),
      mi_cum_abs: cum,
      mi_norm: mi / norm,
      accepted,
      accepted_count: accepted.length,
      duplicate_offers: r.duplicates,
      offers: r.offers,
      rejected_offers: r.rejected,
      consensus_pending: r.consensusPending,
      bytes_on_wire: o.estimateSize ? r.bytesOnWire : 0,
      bytes_offered: o.estimateSize ? r.bytesOffered : 0,
    })
  }
  const finalHolders = new Float64Array(D)
  for (const m of sim.finalMasks) for (let d = 0; d < D; d++) if (m & (1 << d)) finalHolders[d]!++
  const rtd: Record<string, number | null> = {}
  domains.forEach((d) => {
    const t = rounds.findIndex((r) => r.coverage[d] === 1)
    rtd[d] = t >= 0 ? t : null
  })
  const incompleteDomains = domains.filter((d) => rtd[d] === null)
  const bytesOnWire = o.estimateSize ? sim.bytesOnWire : 0
  const bytesOffered = o.estimateSize ? sim.bytesOffered : 0
  const final: Record<string, unknown> = {
    coverage: coverageOf(finalHolders, n, domains),
    bytes_on_wire: bytesOnWire,
    accepted_offers: sim.accepted,
    gate: {
      ...sim.gate,
      unique_pairs: sim.unique,
      detector: o.policy ? 'plora-gate' : 'none',
      gate_evaluations: gateEvaluations,
      ...(detectors ? { detectors } : {}),
    },
    bytes_per_offer: bytesOnWire > 0 && sim.accepted > 0 ? bytesOnWire / sim.accepted : 0,
    bytes_offered: bytesOffered,
    offers: sim.offers,
    bytes_per_offered: bytesOffered > 0 && sim.offers > 0 ? bytesOffered / sim.offers : 0,
    duplicate_offers: sim.duplicates,
  }
  if (engine) final.consensus = { committed: engine.committedSlots(), equivocations: engine.equivocations }
  final.rounds_to_diffuse = rtd
  // REC §8.4: a domain that never diffused makes the run incomplete, not silently ignored ([D-12]).
  final.observed_t_all =
    incompleteDomains.length === 0 && domains.length > 0 ? Math.max(...domains.map((d) => rtd[d]!)) : null
  final.incomplete = incompleteDomains.length > 0
  final.incomplete_domains = incompleteDomains
  final.predicted_t_all = lambda2 === null ? null : predictedRoundsSpectral(n, lambda2, { normalized: true })
  final.rounds_run = sim.roundsRun
  final.early_stopped = sim.earlyStopped
  const trojans: number[] = []
  for (let i = 0; i < n; i++) if (trojan[i]) trojans.push(i)
  return {
    meta: {
      topology: topologyName(o.graph),
      N: n,
      domains,
      seed: o.seed,
      p: o.graphP,
      lambda2,
      lambda2_laplacian: 'normalized',
      graph_params: { ws_k: o.wsK, ws_beta: o.wsBeta, ba_m: o.baM },
      temporal_dropout_period: o.dropoutPeriod,
      protocol: o.protocol,
      mode: o.maxInflight === 1 ? 'sequential' : o.maxInflight > 1 ? `snapshot-batch-${o.maxInflight}` : o.mode,
      max_inflight: o.maxInflight,
      rounds_max: o.rounds,
      early_stop: o.earlyStop,
      initial_holders: o.initialHolders,
      adapters: o.adapters,
      security: o.policy !== null,
      consensus: Boolean(o.policy && o.consensus),
      quorum: o.quorum,
      trojan_rate: o.trojanRate,
      trojans,
      estimate_size: o.estimateSize,
      t_index: 'rounds[t] is the state after t+1 completed rounds; "initial" is the state before round 0',
    },
    initial: { coverage: initCov, entropy_avg: entropyOf(initCov), mutual_information: initMi, mi_norm: initMi / norm },
    rounds,
    final,
  }
}

/** The gate's detector families whose coverage a swarm report states (issue 19 point 5). */
export const DETECTOR_FAMILIES = ['weight_reference', 'module_z', 'probes', 'signatures'] as const
export type DetectorFamily = (typeof DETECTOR_FAMILIES)[number]

/** Per detector family: null = it judged the artefact, else why it could not. */
export type DetectorJudgement = Record<DetectorFamily, string | null>

/** What one gate decision says about which detectors could judge the artefact. */
export function detectorJudgement(m: GateMetrics): DetectorJudgement {
  return {
    weight_reference:
      m.reference.mahalanobis !== null ? null : (m.reference.note ?? m.weights.error ?? 'no reference population'),
    module_z:
      m.modules.length > 0 ? null : (m.weights.error ?? m.weights.skipped ?? 'no LoRA modules read from the weights'),
    probes: m.probes.ran ? null : m.probes.note,
    signatures: m.signatures !== null ? null : 'signatures not required by the policy (not checked)',
  }
}

/** Per detector family over the distinct artefacts gated: how many it judged, split clean/trojan, and why not. */
export type DetectorCoverage = Record<
  DetectorFamily,
  { judged: number; not_judged: number; trojans_judged: number; trojans_total: number; why_not: string[] }
>

/** Coverage of every detector family over the gated artefacts (`table[a]` is artefact `a`'s verdict). */
export function detectorCoverage(table: readonly Verdict[], artefacts: readonly ArtefactInfo[]): DetectorCoverage {
  const out = {} as DetectorCoverage
  for (const f of DETECTOR_FAMILIES) {
    const why = new Set<string>()
    let judged = 0
    let trojansJudged = 0
    let trojans = 0
    table.forEach((v, a) => {
      const j = v.judged?.[f]
      const isTrojan = artefacts[a]?.trojan === true
      if (isTrojan) trojans++
      if (j === null) {
        judged++
        if (isTrojan) trojansJudged++
      } else why.add(j ?? 'not gated')
    })
    out[f] = {
      judged,
      not_judged: table.length - judged,
      trojans_judged: trojansJudged,
      trojans_total: trojans,
      why_not: [...why],
    }
  }
  return out
}

/** One line per detector family; lines starting with `!` are warnings (a family judged nothing, or no trojan). */
export function detectorCoverageLines(c: DetectorCoverage): string[] {
  return DETECTOR_FAMILIES.map((f) => {
    const x = c[f]
    const total = x.judged + x.not_judged
    const head = `gate detector ${f}: judged ${x.judged}/${total} artefacts (${x.trojans_judged}/${x.trojans_total} trojans)`
    if (x.not_judged === 0) return head
    const line = `${head}; could not judge ${x.not_judged}: ${x.why_not.join('; ')}`
    return x.judged === 0 || x.trojans_judged < x.trojans_total ? `!${line}` : line
  })
}

/** A count with its exact 95 % interval, as reported. */
export interface RateWithInterval {
  count: number
  n: number
  /** count / n; null when n = 0. */
  rate: number | null
  /** Exact (Clopper–Pearson) 95 % interval; null when n = 0. */
  ci95: [number, number] | null
}

function rateOf(count: number, n: number): RateWithInterval {
  if (n === 0) return { count, n, rate: null, ci95: null }
  const c = clopperPearson(count, n, 0.95)
  return { count, n, rate: c.rate, ci95: [c.lo, c.hi] }
}

/** One distinct artefact of a gated run: ground truth, verdict and how often it was offered. */
export interface GatedArtefact {
  artefact: number
  /** Population member id (`population` source), else null. */
  member: string | null
  domain: string
  /** Ground truth (the simulator's record; the gate never sees it). */
  poisoned: boolean
  /** Poisoned population members: whether the trigger is in the gate's probe set; else null. */
  trigger_in_probe_set: boolean | null
  /** Population half of the member, else null. */
  half: 'calibration' | 'evaluation' | null
  passed: boolean
  reasons: readonly string[]
  /** Offers of it that reached the gate. */
  offers: number
  /** Agents holding it at the start. */
  initial_holders: number
}

/** FN/FP of one counting unit (distinct artefacts or offers). */
export interface ErrorCounts {
  /** Poisoned items accepted by the gate / poisoned items. */
  false_negatives: RateWithInterval
  /** Clean items rejected by the gate / clean items. */
  false_positives: RateWithInterval
  /** FN split by whether the poisoned member's trigger is in the gate's probe set (seen) or not (unseen). */
  fn_trigger_in_probe_set: RateWithInterval
  fn_trigger_not_in_probe_set: RateWithInterval
  /** Poisoned items whose trigger split is unknown (not population members). */
  fn_trigger_unknown: RateWithInterval
}

/** `final.gate.error_rates` of a gated run. */
export interface GateErrorRates {
  interval: string
  distinct: { clean: number; poisoned: number }
  per_artefact: ErrorCounts
  per_offer: ErrorCounts
  /** Distinct artefacts rejected with each reason (an artefact counts once per reason). */
  rejection_reasons_per_artefact: Record<string, number>
  note: string
}

/**
 * False negatives (poisoned accepted) and false positives (clean rejected) per distinct artefact
 * and per offer, with exact 95 % intervals, from the per-artefact verdicts and the ground truth.
 */
export function gateErrorReport(
  table: readonly Verdict[],
  prepared: Pick<PreparedAdapters, 'artefacts' | 'members' | 'ownArtefact'>,
  sim: Pick<SimulationResult, 'artefactOffers'>,
  domains: readonly string[],
): { error_rates: GateErrorRates; artefacts: GatedArtefact[] } {
  const holders = new Float64Array(prepared.artefacts.length)
  for (const a of prepared.ownArtefact) if (a >= 0) holders[a]!++
  const artefacts: GatedArtefact[] = table.map((v, a) => {
    const info = prepared.artefacts[a]!
    const m = prepared.members[a] ?? null
    return {
      artefact: a,
      member: m?.id ?? null,
      domain: domains[info.domain]!,
      poisoned: info.trojan,
      trigger_in_probe_set: m?.poison ? m.poison.trigger_in_probe_set : null,
      half: m?.half ?? null,
      passed: v.passed,
      reasons: v.reasons,
      offers: sim.artefactOffers[a] ?? 0,
      initial_holders: holders[a]!,
    }
  })
  const counts = (weight: (x: GatedArtefact) => number): ErrorCounts => {
    const sum = (f: (x: GatedArtefact) => boolean) => artefacts.filter(f).reduce((s, x) => s + weight(x), 0)
    const split = (t: boolean | null) =>
      rateOf(
        sum((x) => x.poisoned && x.passed && x.trigger_in_probe_set === t),
        sum((x) => x.poisoned && x.trigger_in_probe_set === t),
      )
    return {
      false_negatives: rateOf(
        sum((x) => x.poisoned && x.passed),
        sum((x) => x.poisoned),
      ),
      false_positives: rateOf(
        sum((x) => !x.poisoned && !x.passed),
        sum((x) => !x.poisoned),
      ),
      fn_trigger_in_probe_set: split(true),
      fn_trigger_not_in_probe_set: split(false),
      fn_trigger_unknown: split(null),
    }
  }
  const reasons: Record<string, number> = {}
  for (const x of artefacts) for (const r of new Set(x.reasons)) reasons[r] = (reasons[r] ?? 0) + 1
  return {
    artefacts,
    error_rates: {
      interval: 'exact Clopper–Pearson 95 %',
      distinct: {
        clean: artefacts.filter((x) => !x.poisoned).length,
        poisoned: artefacts.filter((x) => x.poisoned).length,
      },
      per_artefact: counts(() => 1),
      per_offer: counts((x) => x.offers),
      rejection_reasons_per_artefact: Object.fromEntries(Object.entries(reasons).sort(([a], [b]) => (a < b ? -1 : 1))),
      note: "per_artefact counts each distinct artefact once; per_offer counts every offer that reached the gate. The gate judges an artefact once (cached verdict), so offers of one artefact are not independent trials and the per-offer interval understates the uncertainty: read the per-artefact interval. final.gate.false_negatives / false_positives (the original's counters) count trojans acquired after the consensus and duplicate checks, and rejected clean offers.",
    },
  }
}

function populationMeta(pop: Population, prepared: PreparedAdapters): Record<string, unknown> {
  const drawn = prepared.members.filter((m) => m !== null)
  const kinds = (xs: readonly { kind: string }[]) => ({
    clean: xs.filter((m) => m.kind === 'clean').length,
    poisoned: xs.filter((m) => m.kind === 'poisoned').length,
  })
  return {
    dir: pop.dir,
    half: pop.half,
    members: kinds(pop.all),
    eligible: kinds(pop.eligible),
    drawn: kinds(drawn),
    drawn_from_calibration_half: drawn.filter((m) => m.half === 'calibration').length,
    draw: 'per agent in id order: pool[randbelow(|pool|)] of Random(deriveSeed(seed, "population-draw")), pool = eligible members of its domain and kind (poisoned for a trojan agent), sorted by id',
  }
}

function pct(r: RateWithInterval): string {
  if (r.rate === null || r.ci95 === null) return `${r.count}/${r.n} (–)`
  const f = (x: number) => `${(100 * x).toFixed(1)} %`
  return `${r.count}/${r.n} = ${f(r.rate)} [${f(r.ci95[0])}, ${f(r.ci95[1])}]`
}

/** The gate section of a gated population run as Markdown. */
export function gateReportMarkdown(report: SwarmV2Report): string {
  const gate = report.final.gate as { error_rates: GateErrorRates; artefacts: GatedArtefact[] }
  const e = gate.error_rates
  const pop = report.meta.population as { dir: string; half: string } | undefined
  const row = (name: string, a: RateWithInterval, b: RateWithInterval) => `| ${name} | ${pct(a)} | ${pct(b)} |`
  const lines = [
    `# Swarm v2 with the calibrated gate (seed ${String(report.meta.seed)})`,
    '',
    `${String(report.meta.N)} agents, ${String(report.meta.topology)}, trojan rate ${String(report.meta.trojan_rate)}; adapters: ${String(report.meta.adapters)}${pop ? ` from ${pop.dir} (${pop.half === 'all' ? 'both halves' : 'evaluation half: members the calibration never saw'})` : ''}.`,
    `Distinct artefacts: ${e.distinct.clean} clean, ${e.distinct.poisoned} poisoned. Intervals: ${e.interval}.`,
    '',
    '| | per distinct artefact | per offer |',
    '|---|---|---|',
    row('false negatives (poisoned accepted)', e.per_artefact.false_negatives, e.per_offer.false_negatives),
    row('false positives (clean rejected)', e.per_artefact.false_positives, e.per_offer.false_positives),
    row('FN, trigger in the probe set', e.per_artefact.fn_trigger_in_probe_set, e.per_offer.fn_trigger_in_probe_set),
    row(
      'FN, trigger not in the probe set',
      e.per_artefact.fn_trigger_not_in_probe_set,
      e.per_offer.fn_trigger_not_in_probe_set,
    ),
    '',
    `Rejection reasons (distinct artefacts): ${
      Object.entries(e.rejection_reasons_per_artefact)
        .map(([r, c]) => `${r} ${c}`)
        .join(', ') || 'none'
    }.`,
    '',
    '| artefact | domain | poisoned | trigger in probe set | passed | reasons | offers |',
    '|---|---|---|---|---|---|---|',
    ...gate.artefacts.map(
      (x) =>
        `| ${x.member ?? x.artefact} | ${x.domain} | ${x.poisoned ? 'yes' : 'no'} | ${x.trigger_in_probe_set === null ? '–' : x.trigger_in_probe_set ? 'yes' : 'no'} | ${x.passed ? 'yes' : 'no'} | ${x.reasons.join(', ') || '–'} | ${x.offers} |`,
    ),
    '',
    e.note,
    '',
  ]
  return lines.join('\n')
}
