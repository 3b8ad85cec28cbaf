/**
 * Swarm knowledge metrics (spec swarm.md §9), all in bits.
 *
 * - Coverage p_d = |{a : d ∈ K_a}| / N.
 * - Average binary entropy H_avg = mean_d h(p_d), h(p) = −p log2 p − (1−p) log2(1−p).
 * - I(Agent; Domain): (A, D) uniform over the positive pairs P = {(a, d) : d ∈ K_a}, T = |P|,
 *   I = (1/T) Σ_{(a,d)∈P} log2(T / (k_a·k_d)), k_a counting tracked domains only (REC §9.3).
 * - Rounds to diffuse: the first snapshot index with coverage exactly 1.
 * - Co-occurrence excess and the original's "PID-lite" summary, which is not a partial information
 *   decomposition (§9.5, [D-18]): named `cooccurrenceSummary` here, with the original's keys.
 * - H(number of domains held) — what the original's always-zero `agent_agent_mi` meant ([D-17]).
 */
import { SwarmError, SwarmErrorCode } from './errors.js'

/** One knowledge snapshot: agent id → domains held (the history file format, §8.5). */
export type KnowledgeSnapshot = Readonly<Record<string, readonly string[]>>

/** The sorted union of held domains (the default `domains` of every metric). */
export function knownDomains(k: KnowledgeSnapshot): string[] {
  const s = new Set<string>()
  for (const list of Object.values(k)) for (const d of list) s.add(d)
  return [...s].sort()
}

/** Per-domain coverage (§9.1). */
export function coverage(k: KnowledgeSnapshot, domains?: readonly string[]): Record<string, number> {
  const agents = Object.values(k)
  const n = agents.length
  if (n === 0) throw new SwarmError(SwarmErrorCode.KnowledgeInvalid, 'coverage: the knowledge map is empty (N = 0)')
  const ds = domains ?? knownDomains(k)
  const out: Record<string, number> = {}
  for (const d of ds) {
    let c = 0
    for (const list of agents) if (list.includes(d)) c++
    out[d] = c / n
  }
  return out
}

/** Binary entropy in bits, with h(0) = h(1) = 0. */
export function binaryEntropy(p: number): number {
  if (p <= 0 || p >= 1) return 0
  return -p * Math.log2(p) - (1 - p) * Math.log2(1 - p)
}

/** Mean binary entropy of the coverage values (§9.2); 0 for an empty map. */
export function averageEntropy(k: KnowledgeSnapshot, domains?: readonly string[]): number {
  if (Object.keys(k).length === 0) return 0
  const cov = Object.values(coverage(k, domains))
  if (cov.length === 0) return 0
  let s = 0
  for (const p of cov) s += binaryEntropy(p)
  return s / cov.length
}

/**
 * I(Agent; Domain) in bits from per-agent tracked-domain counts and per-domain holder counts.
 * `visit` walks the positive pairs as (k_a, k_d, multiplicity). Shared by the snapshot and the engine paths.
 */
function miFromPairs(total: number, visit: (f: (ka: number, kd: number, weight: number) => void) => void): number {
  if (total === 0) return 0
  let s = 0
  visit((ka, kd, weight) => {
    s += weight * Math.log2(total / (ka * kd))
  })
  const mi = s / total
  return mi < 0 && mi > -1e-10 ? 0 : mi
}

/** I(Agent; Domain) in bits (§9.3). */
export function mutualInformation(k: KnowledgeSnapshot, domains?: readonly string[]): number {
  const ds = domains ?? knownDomains(k)
  const tracked = new Set(ds)
  const agents = Object.values(k).map((list) => [...new Set(list)].filter((d) => tracked.has(d)))
  const kd = new Map<string, number>()
  let total = 0
  for (const list of agents) {
    total += list.length
    for (const d of list) kd.set(d, (kd.get(d) ?? 0) + 1)
  }
  const n = agents.length
  // Full diffusion is exactly 0, as in the original's short-cut.
  if (ds.length > 0 && agents.every((l) => l.length === ds.length) && ds.every((d) => kd.get(d) === n)) return 0
  return miFromPairs(total, (f) => {
    for (const list of agents) for (const d of list) f(list.length, kd.get(d)!, 1)
  })
}

/**
 * I(Agent; Domain) from knowledge bitmasks (bit d = domain d held) — the engine's O(N·D) path.
 * Equal to {@link mutualInformation} on the same state.
 */
export function mutualInformationFromMasks(masks: Int32Array, numDomains: number): number {
  const n = masks.length
  const kd = new Float64Array(numDomains)
  const hist = new Float64Array(1 << numDomains)
  for (let a = 0; a < n; a++) hist[masks[a]!]!++
  let total = 0
  for (let m = 0; m < hist.length; m++) {
    const c = hist[m]!
    if (c === 0) continue
    for (let d = 0; d < numDomains; d++) {
      if (m & (1 << d)) {
        kd[d]! += c
        total += c
      }
    }
  }
  const full = (1 << numDomains) - 1
  if (numDomains > 0 && hist[full] === n) return 0
  return miFromPairs(total, (f) => {
    for (let m = 1; m < hist.length; m++) {
      const c = hist[m]!
      if (c === 0) continue
      let ka = 0
      for (let d = 0; d < numDomains; d++) if (m & (1 << d)) ka++
      for (let d = 0; d < numDomains; d++) {
        if (m & (1 << d)) f(ka, kd[d]!, c)
      }
    }
  })
}

/** One I per snapshot (§9.3). */
export function miSeries(history: readonly KnowledgeSnapshot[], domains?: readonly string[]): number[] {
  return history.map((k) => mutualInformation(k, domains))
}

/** `[0, I_1 − I_0, …]` (§9.3). */
export function miDeltas(series: readonly number[]): number[] {
  return series.map((v, i) => (i === 0 ? 0 : v - series[i - 1]!))
}

/**
 * For each domain, the first snapshot index whose coverage is exactly 1, else null (§9.4). The
 * default domains come from `history[0]`.
 */
export function roundsToDiffuse(
  history: readonly KnowledgeSnapshot[],
  domains?: readonly string[],
): Record<string, number | null> {
  if (history.length === 0) throw new SwarmError(SwarmErrorCode.HistoryEmpty, 'roundsToDiffuse: the history is empty')
  const ds = domains ?? knownDomains(history[0]!)
  const out: Record<string, number | null> = {}
  for (const d of ds) {
    out[d] = null
    for (let t = 0; t < history.length; t++) {
      if (coverage(history[t]!, [d])[d] === 1) {
        out[d] = t
        break
      }
    }
  }
  return out
}

/** p12 − p1·p2 for two domains (§9.5); 0 for an empty map. */
export function cooccurrenceExcess(k: KnowledgeSnapshot, d1: string, d2: string): number {
  const agents = Object.values(k)
  const n = agents.length
  if (n === 0) return 0
  let c1 = 0
  let c2 = 0
  let c12 = 0
  for (const l of agents) {
    const a = l.includes(d1)
    const b = l.includes(d2)
    if (a) c1++
    if (b) c2++
    if (a && b) c12++
  }
  return c12 / n - (c1 / n) * (c2 / n)
}

/**
 * The original's `pid_lite_summary` (§9.5) under an honest name: over unordered domain pairs,
 * `synergy_mean` = mean max(0, p12 − p1 p2) and `redundancy_mean` = mean max(0, min(p1,p2) − p12).
 * These are co-occurrence statistics, not a partial information decomposition ([D-18]).
 */
export function cooccurrenceSummary(
  k: KnowledgeSnapshot,
  domains?: readonly string[],
): { synergy_mean: number; redundancy_mean: number } {
  const ds = domains ?? knownDomains(k)
  if (ds.length < 2) return { synergy_mean: 0, redundancy_mean: 0 }
  const cov = coverage(k, ds)
  const n = Object.keys(k).length
  let syn = 0
  let red = 0
  let pairs = 0
  for (let i = 0; i < ds.length; i++) {
    for (let j = i + 1; j < ds.length; j++) {
      const p1 = cov[ds[i]!]!
      const p2 = cov[ds[j]!]!
      let c12 = 0
      for (const l of Object.values(k)) if (l.includes(ds[i]!) && l.includes(ds[j]!)) c12++
      const p12 = c12 / n
      syn += Math.max(0, p12 - p1 * p2)
      red += Math.max(0, Math.min(p1, p2) - p12)
      pairs++
    }
  }
  return { synergy_mean: syn / pairs, redundancy_mean: red / pairs }
}

/**
 * H(number of domains held) in bits — what the original's `agent_agent_mi` intended (it always
 * returned 0, [D-17]); as the count is a function of the agent, this equals I(agent; count).
 */
export function domainCountEntropy(k: KnowledgeSnapshot): number {
  const agents = Object.values(k)
  if (agents.length === 0) return 0
  const counts = new Map<number, number>()
  for (const l of agents) counts.set(new Set(l).size, (counts.get(new Set(l).size) ?? 0) + 1)
  let h = 0
  for (const c of counts.values()) {
    const p = c / agents.length
    h -= p * Math.log2(p)
  }
  return h
}

/** Mean consecutive MI change, (I_last − I_first)/(T − 1); 0 if T < 2 (§9.6). */
export function networkFlowRate(history: readonly KnowledgeSnapshot[]): number {
  if (history.length < 2) return 0
  const s = miSeries(history)
  return (s[s.length - 1]! - s[0]!) / (s.length - 1)
}
