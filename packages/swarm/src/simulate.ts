/**
 * The swarm exchange engine (spec swarm.md §4, §5), deterministic and synchronous.
 *
 * Two families of protocols:
 * - `edge`: the original's edge-driven exchange (§5.2). Every undirected edge talks once per
 *   round in canonical order; in a talk both ends offer their best missing domain.
 * - `push` | `pull` | `push-pull`: the random phone-call model (Frieze & Grimmett 1985; Pittel
 *   1987; Karp, Schindelhauer, Shenker & Vöcking 2000). Each agent, in id order, contacts one
 *   uniformly random neighbour per round; push sends the caller's best offer, pull the callee's,
 *   push-pull both. Push on K_n informs everyone in log2 n + ln n + O(1) rounds, push-pull in
 *   log3 n + O(log log n).
 *
 * Round semantics (REC §5.3, normative): `snapshot` computes every offer from the state frozen at
 * the start of the round (the original's `max_inflight = 0`), `sequential` from the live state
 * when the talk starts (`max_inflight = 1`), `max_inflight = k > 1` freezes at the start of each
 * batch of k talks (an approximation of bounded concurrency). Offers are applied in canonical
 * order through the accept pipeline (§4.3): gate verdict → consensus vote → duplicate check →
 * acquisition. `accepted` counts real acquisitions only; a delivery of a domain acquired earlier
 * in the same round is a `duplicate_offer` ([D-01]). Identical inputs give identical outputs.
 *
 * State is packed for speed: knowledge is a bitmask per agent (≤ 30 domains), the held artefact
 * per (agent, domain) an Int32Array, the pool order (own domain first, then acquisitions in
 * order, §4.1) a Uint8Array; one round costs O(m·D) for `edge` and O(n·D) for phone calls.
 */
import { PythonRandom } from '@plora/common'
import type { ConsensusEngine } from './consensus.js'
import { requireOption } from './errors.js'
import { type Adjacency, applyTemporalDropout, type Csr, csrFromPairs, talkPairs } from './graph.js'

/** Exchange protocol. */
export type ExchangeProtocol = 'edge' | 'push' | 'pull' | 'push-pull'

/** Round semantics (§5.3). */
export type RoundMode = 'snapshot' | 'sequential'

/** One distinct artefact (plasmid folder) of the run. */
export interface ArtefactInfo {
  /** Domain index into `domains`. */
  domain: number
  /** Bytes of the weights file (`artifacts.size_bytes`). */
  sizeBytes: number
  /** Offer score (§4.2): val_em, else val_chrf, else −delta_ppl. */
  score: number
  /** Simulator ground truth; never shown to the gate. */
  trojan: boolean
  /** Digest identifying the artefact (weights and manifest): the consensus value and cache key. */
  key: string
  /** Set when the manifest could not be loaded: every offer then counts as `rejected_hash`. */
  invalid?: boolean
}

/** A gate verdict on one (receiver, artefact) pair. */
export interface Verdict {
  passed: boolean
  reasons: readonly string[]
  /** Per detector family: null = it judged the artefact, else why it could not (reports only). */
  judged?: Readonly<Record<string, string | null>>
}

/** Inputs of {@link simulateSwarm}. */
export interface SimulationInput {
  /** The static graph; ignored when `completeN` is set. */
  adjacency: Adjacency | null
  /** Use the implicit complete graph K_n (phone-call protocols only; no O(n²) lists). */
  completeN?: number
  domains: readonly string[]
  /** Own domain index per agent, −1 for none. */
  ownDomain: Int32Array
  /** Own artefact index per agent, −1 for none. */
  ownArtefact: Int32Array
  artefacts: readonly ArtefactInfo[]
  /** Gate verdict for (receiver, artefact); absent = security off. Must be deterministic. */
  verdict?: (receiver: number, artefact: number) => Verdict
  consensus?: ConsensusEngine
}

/** Options of {@link simulateSwarm}. */
export interface SimulationOptions {
  /** Maximum number of rounds. */
  rounds: number
  protocol: ExchangeProtocol
  mode: RoundMode
  /** 0 = by `mode`; 1 = sequential; k > 1 = snapshot per batch of k talks. */
  maxInflight: number
  /** Temporal dropout period (0 = off, the default; the original always used 2). */
  dropoutPeriod: number
  /** Stop once every domain is held by every agent. */
  earlyStop: boolean
  /** Seed of the phone-call contact draws. */
  seed: number
  /** Keep one knowledge snapshot per round. */
  recordHistory: boolean
  /** Called after each round (errors propagate, REC §5.1). */
  onRound?: (t: number, round: RoundRecord) => void
}

/** Defaults of {@link SimulationOptions}. */
export const DEFAULT_SIMULATION_OPTIONS: SimulationOptions = {
  rounds: 5,
  protocol: 'edge',
  mode: 'snapshot',
  maxInflight: 0,
  dropoutPeriod: 0,
  earlyStop: true,
  seed: 42,
  recordHistory: true,
}

/** What happened in one round. */
export interface RoundRecord {
  t: number
  /** Acquisitions as flat (sender, receiver, domain) triples, in processing order. */
  events: Int32Array
  offers: number
  duplicates: number
  rejected: number
  consensusPending: number
  bytesOnWire: number
  bytesOffered: number
  /** Knowledge masks after the round (when `recordHistory`). */
  masks: Int32Array | null
  /** Agents holding each domain after the round. */
  holders: number[]
}

/** Per-offer gate counters with the original's names (§8.4) plus the new ones. */
export interface GateCounters {
  rejected_hash_total: number
  rejected_safety_total: number
  accepted_clean_total: number
  accepted_trojan_total: number
  rejected_clean_total: number
  rejected_trojan_total: number
  false_negatives: number
  false_positives: number
  rejection_reasons: Record<string, number>
}

/** Gate outcomes counted once per unique (receiver, artefact) pair (REC §5.4). */
export interface UniquePairCounters {
  pairs: number
  trojan_pairs: number
  clean_pairs: number
  false_negatives: number
  false_positives: number
  /** FN / trojan pairs, null without trojan pairs. */
  fn_rate: number | null
  /** FP / clean pairs, null without clean pairs. */
  fp_rate: number | null
}

/** Output of {@link simulateSwarm}. */
export interface SimulationResult {
  n: number
  domains: readonly string[]
  initialMasks: Int32Array
  finalMasks: Int32Array
  rounds: RoundRecord[]
  /** Rounds actually run. */
  roundsRun: number
  /** True when the run stopped before `rounds` because diffusion was complete. */
  earlyStopped: boolean
  accepted: number
  duplicates: number
  offers: number
  bytesOnWire: number
  bytesOffered: number
  gate: GateCounters
  unique: UniquePairCounters
  /** Held artefact per (agent, domain), −1 for none. */
  held: Int32Array
  /** Offers made of each artefact (every delivery, whatever the gate, consensus or duplicate check did). */
  artefactOffers: Float64Array
}

/** A round with nothing happened yet. */
export function emptyRound(t: number): RoundRecord {
  return {
    t,
    events: new Int32Array(0),
    offers: 0,
    duplicates: 0,
    rejected: 0,
    consensusPending: 0,
    bytesOnWire: 0,
    bytesOffered: 0,
    masks: null,
    holders: [],
  }
}

/** Gate counters at zero. */
export function newGateCounters(): GateCounters {
  return {
    rejected_hash_total: 0,
    rejected_safety_total: 0,
    accepted_clean_total: 0,
    accepted_trojan_total: 0,
    rejected_clean_total: 0,
    rejected_trojan_total: 0,
    false_negatives: 0,
    false_positives: 0,
    rejection_reasons: {},
  }
}

/** Sorts the rejection reasons and sets FN (trojans accepted) and FP (clean rejected). */
export function closeGateCounters(gate: GateCounters): void {
  gate.rejection_reasons = Object.fromEntries(
    Object.entries(gate.rejection_reasons).sort(([a], [b]) => (a < b ? -1 : 1)),
  )
  gate.false_negatives = gate.accepted_trojan_total
  gate.false_positives = gate.rejected_clean_total
}

/** The per-pair counters with their rates (null without pairs of the kind). */
export function uniquePairCounters(u: {
  pairs: number
  trojan: number
  clean: number
  fn: number
  fp: number
}): UniquePairCounters {
  return {
    pairs: u.pairs,
    trojan_pairs: u.trojan,
    clean_pairs: u.clean,
    false_negatives: u.fn,
    false_positives: u.fp,
    fn_rate: u.trojan > 0 ? u.fn / u.trojan : null,
    fp_rate: u.clean > 0 ? u.fp / u.clean : null,
  }
}

/** Tracks distinct (receiver, artefact) pairs: bitmasks for ≤ 31 artefacts, else a Set. */
class PairSet {
  readonly #masks: Int32Array | null
  readonly #set: Set<number> | null
  readonly #numArtefacts: number
  constructor(n: number, numArtefacts: number) {
    this.#numArtefacts = numArtefacts
    this.#masks = numArtefacts <= 31 ? new Int32Array(n) : null
    this.#set = this.#masks ? null : new Set()
  }
  /** Adds the pair; true when it was new. */
  add(receiver: number, artefact: number): boolean {
    if (this.#masks) {
      const bit = 1 << artefact
      if (this.#masks[receiver]! & bit) return false
      this.#masks[receiver]! |= bit
      return true
    }
    const key = receiver * this.#numArtefacts + artefact
    if (this.#set!.has(key)) return false
    this.#set!.add(key)
    return true
  }
}

/**
 * Runs the exchange for up to `rounds` rounds and returns every counter and per-round record.
 *
 * @example
 * const r = simulateSwarm(input, { rounds: 20, protocol: 'push-pull', seed: 7 })
 * r.roundsRun // rounds until every agent held every domain (with early stop)
 */
export function simulateSwarm(input: SimulationInput, options: Partial<SimulationOptions> = {}): SimulationResult {
  const o: SimulationOptions = { ...DEFAULT_SIMULATION_OPTIONS, ...options }
  const D = input.domains.length
  const n = input.ownDomain.length
  requireOption(D >= 1 && D <= 30, 'domains: between 1 and 30 domains', D)
  requireOption(Number.isInteger(o.rounds) && o.rounds >= 0, 'rounds: an integer >= 0', o.rounds)
  requireOption(Number.isInteger(o.maxInflight) && o.maxInflight >= 0, 'max_inflight: an integer >= 0', o.maxInflight)
  requireOption(input.ownArtefact.length === n, 'ownArtefact: one entry per agent', input.ownArtefact.length)
  const complete = input.completeN !== undefined
  requireOption(
    !complete || o.protocol !== 'edge',
    'the implicit complete graph needs a phone-call protocol',
    o.protocol,
  )
  requireOption(
    complete || (input.adjacency !== null && input.adjacency.length === n),
    'adjacency: one list per agent',
    n,
  )
  if (complete) requireOption(input.completeN === n, 'completeN must equal the number of agents', input.completeN)

  const arts = input.artefacts
  const artDomain = Int32Array.from(arts, (a) => a.domain)
  const artScore = Float64Array.from(arts, (a) => a.score)
  const artSize = Float64Array.from(arts, (a) => a.sizeBytes)
  const artTrojan = Uint8Array.from(arts, (a) => (a.trojan ? 1 : 0))
  const artOffers = new Float64Array(arts.length)

  // Live state.
  const mask = new Int32Array(n)
  const held = new Int32Array(n * D).fill(-1)
  const order = new Uint8Array(n * D)
  const orderLen = new Uint8Array(n)
  const holders = new Float64Array(D)
  for (let a = 0; a < n; a++) {
    const d = input.ownDomain[a]!
    const art = input.ownArtefact[a]!
    if (d < 0 || art < 0) continue
    requireOption(artDomain[art] === d, `agent ${a}: its own artefact must belong to its own domain`, art)
    mask[a] = 1 << d
    held[a * D + d] = art
    order[a * D] = d
    orderLen[a] = 1
    holders[d]!++
  }
  const initialMasks = mask.slice()

  // Frozen view for snapshot semantics; `dirty` lists agents changed since the last freeze.
  const batch = o.maxInflight === 1 || (o.maxInflight === 0 && o.mode === 'sequential') ? 1 : o.maxInflight
  const sequential = batch === 1
  const fMask = sequential ? mask : mask.slice()
  const fLen = sequential ? orderLen : orderLen.slice()
  const dirty: number[] = []
  const isDirty = new Uint8Array(sequential ? 0 : n)
  const freeze = (): void => {
    for (const a of dirty) {
      fMask[a] = mask[a]!
      fLen[a] = orderLen[a]!
      isDirty[a] = 0
    }
    dirty.length = 0
  }

  const gate = newGateCounters()
  const uniq = { pairs: 0, trojan: 0, clean: 0, fn: 0, fp: 0 }
  const seenPairs = input.verdict ? new PairSet(n, arts.length) : null
  const reasons = new Map<string, number>()

  let round: RoundRecord
  let events: number[] = []
  let accepted = 0
  let duplicates = 0
  let offers = 0
  let bytesOnWire = 0
  let bytesOffered = 0

  /** §4.2: the best missing domain of `u` for a peer whose knowledge is `peerMask` (−1 if none). */
  const bestOffer = (u: number, peerMask: number): number => {
    const base = u * D
    const len = fLen[u]!
    let best = -1
    let bestScore = Number.NEGATIVE_INFINITY
    for (let i = 0; i < len; i++) {
      const d = order[base + i]!
      if (peerMask & (1 << d)) continue
      const s = artScore[held[base + d]!]!
      // Strictly greater: the first candidate in pool order wins ties.
      if (best < 0 || s > bestScore) {
        best = d
        bestScore = s
      }
    }
    return best
  }

  const bump = (reason: string): void => {
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
  }

  /** §4.3 accept pipeline for sender u → receiver v, domain d (the sender's held artefact). */
  const deliver = (u: number, v: number, d: number): void => {
    const art = held[u * D + d]!
    offers++
    artOffers[art]!++
    round.offers++
    bytesOffered += artSize[art]!
    round.bytesOffered += artSize[art]!
    if (arts[art]!.invalid) {
      gate.rejected_hash_total++
      round.rejected++
      return
    }
    if (input.verdict) {
      const verdict = input.verdict(v, art)
      const trojan = artTrojan[art] === 1
      if (seenPairs!.add(v, art)) {
        uniq.pairs++
        if (trojan) uniq.trojan++
        else uniq.clean++
        if (trojan && verdict.passed) uniq.fn++
        if (!trojan && !verdict.passed) uniq.fp++
      }
      if (!verdict.passed) {
        gate.rejected_safety_total++
        if (trojan) gate.rejected_trojan_total++
        else gate.rejected_clean_total++
        for (const r of verdict.reasons) bump(r)
        round.rejected++
        return
      }
    }
    if (input.consensus) {
      const slot = input.domains[d]!
      const key = arts[art]!.key
      input.consensus.propose(slot, key)
      const c = input.consensus.vote({ agent_id: v, slot, sha256: key })
      if (c !== key) {
        bump('consensus_pending')
        round.consensusPending++
        return
      }
    }
    if (mask[v]! & (1 << d)) {
      duplicates++
      round.duplicates++
      return
    }
    mask[v]! |= 1 << d
    held[v * D + d] = art
    order[v * D + orderLen[v]!] = d
    orderLen[v]!++
    holders[d]!++
    if (!sequential && !isDirty[v]) {
      isDirty[v] = 1
      dirty.push(v)
    }
    accepted++
    if (artTrojan[art]) gate.accepted_trojan_total++
    else gate.accepted_clean_total++
    bytesOnWire += artSize[art]!
    round.bytesOnWire += artSize[art]!
    events.push(u, v, d)
  }

  // Topology views: the static graph, and the dropout view when dropout is on (§3.5).
  const staticPairs = complete ? null : talkPairs(input.adjacency!)
  const dropPairs =
    !complete && o.dropoutPeriod > 0 ? talkPairs(applyTemporalDropout(input.adjacency!, 1, o.dropoutPeriod)) : null
  const phone = o.protocol !== 'edge'
  const staticCsr: Csr | null = phone && staticPairs ? csrFromPairs(n, staticPairs) : null
  const dropCsr: Csr | null = phone && dropPairs ? csrFromPairs(n, dropPairs) : null
  const rng = new PythonRandom(o.seed)
  const doPush = o.protocol === 'push' || o.protocol === 'push-pull'
  const doPull = o.protocol === 'pull' || o.protocol === 'push-pull'

  const full = (): boolean => {
    for (let d = 0; d < D; d++) if (holders[d] !== n) return false
    return true
  }

  const records: RoundRecord[] = []
  let earlyStopped = false
  let t = 0
  for (; t < o.rounds; t++) {
    if (o.earlyStop && full()) {
      earlyStopped = true
      break
    }
    round = emptyRound(t)
    events = []
    const dropped = o.dropoutPeriod > 0 && t % o.dropoutPeriod !== 0
    freeze()
    let talks = 0
    const tick = (): void => {
      talks++
      if (!sequential && talks % batch === 0) freeze()
    }
    if (!phone) {
      const pairs = dropped ? dropPairs! : staticPairs!
      for (let k = 0; k < pairs.length; k += 2) {
        const u = pairs[k]!
        const v = pairs[k + 1]!
        const duv = bestOffer(u, fMask[v]!)
        const dvu = bestOffer(v, fMask[u]!)
        if (duv >= 0) deliver(u, v, duv)
        if (dvu >= 0) deliver(v, u, dvu)
        tick()
      }
    } else {
      const g = dropped ? dropCsr : staticCsr
      for (let u = 0; u < n; u++) {
        let v: number
        if (g === null) {
          const r = rng.randbelow(n - 1)
          v = r >= u ? r + 1 : r
        } else {
          const lo = g.offsets[u]!
          const deg = g.offsets[u + 1]! - lo
          if (deg === 0) continue
          v = g.targets[lo + rng.randbelow(deg)]!
        }
        const duv = doPush ? bestOffer(u, fMask[v]!) : -1
        const dvu = doPull ? bestOffer(v, fMask[u]!) : -1
        if (duv >= 0) deliver(u, v, duv)
        if (dvu >= 0) deliver(v, u, dvu)
        tick()
      }
    }
    round.events = Int32Array.from(events)
    round.holders = Array.from(holders)
    if (o.recordHistory) round.masks = mask.slice()
    records.push(round)
    o.onRound?.(t, round)
  }
  for (const [r, c] of reasons) gate.rejection_reasons[r] = c
  closeGateCounters(gate)
  return {
    n,
    domains: input.domains,
    initialMasks,
    finalMasks: mask,
    rounds: records,
    roundsRun: records.length,
    earlyStopped,
    accepted,
    duplicates,
    offers,
    bytesOnWire,
    bytesOffered,
    gate,
    unique: uniquePairCounters(uniq),
    held,
    artefactOffers: artOffers,
  }
}

/** Sorted domain names per agent from a mask (the history format, §8.5). */
export function maskToDomains(m: number, domains: readonly string[]): string[] {
  const out: string[] = []
  for (let d = 0; d < domains.length; d++) if (m & (1 << d)) out.push(domains[d]!)
  return out.sort()
}
