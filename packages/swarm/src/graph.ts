/**
 * Graph generators of the swarm (spec swarm.md §3), reproducing the original's adjacency lists
 * exactly for the same seed: every generator draws from CPython's `random.Random(seed)`
 * (`PythonRandom` of `@plora/common`, bit-exact), in the original's order of draws.
 *
 * - Erdős–Rényi with the original's connectivity fix-ups (§3.1): one `random()` per pair (i<j) in
 *   lexicographic order, then the isolated-vertex fix and component chaining. For large n (above
 *   {@link ER_EXACT_MAX_N} in `auto` mode) the O(n²) pair scan is replaced by the geometric-skip
 *   G(n,p) sampler of Batagelj & Brandes, "Efficient generation of large random networks",
 *   Phys. Rev. E 71 (2005) — the same distribution, a different stream, O(n + m) time.
 * - Watts–Strogatz (§3.2) ring lattice plus rewiring with the original's k clamp; n ≥ 3 (REC).
 * - Barabási–Albert (§3.3) with a (m+1)-clique core and linear-scan preferential attachment;
 *   targets are appended in ascending order (REC; the original used CPython set order, which is
 *   ascending for the small ints of the stored goldens), n ≥ 2 (REC).
 *
 * The canonical simulation structure is `number[][]` (list order matters: dropout keeps entries
 * by position, talks are enumerated in list order, offers tie-break on it; §17.2).
 */
import { PythonRandom } from '@plora/common'
import { SwarmError, SwarmErrorCode } from './errors.js'

/** Adjacency lists indexed by node 0..n−1; list order is significant (§3). */
export type Adjacency = number[][]

/** Topology names accepted by {@link buildGraph}. `complete` is K_n (classic rumour spreading). */
export type GraphKind = 'er' | 'ws' | 'ba' | 'complete' | 'line'

/** Above this n, `erdosRenyiGraph(..., {method: 'auto'})` uses the O(n + m) geometric-skip sampler. */
export const ER_EXACT_MAX_N = 5000

function invalid(message: string, details: Record<string, unknown>): never {
  throw new SwarmError(SwarmErrorCode.GraphArgumentInvalid, message, details)
}

function requireInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min)
    invalid(`graph: ${name} must be an integer >= ${min} (found ${v})`, { [name]: v })
}

function requireProb(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) invalid(`graph: ${name} must lie in [0, 1] (found ${v})`, { [name]: v })
}

/** Options of {@link erdosRenyiGraph}. */
export interface ErdosRenyiOptions {
  /** `exact` = the original's pair scan; `skip` = geometric skipping; `auto` = exact up to {@link ER_EXACT_MAX_N}. */
  method: 'exact' | 'skip' | 'auto'
}

/**
 * The original's `erdos_renyi_graph(n, p, seed)` (§3.1): G(n, p) plus the fix-ups that always make
 * it connected. Not G(n, p) itself: the fix-ups bias it towards connectivity.
 *
 * @example
 * erdosRenyiGraph(3, 0.25, 42) // [[2, 1], [0], [0]]
 */
export function erdosRenyiGraph(
  n: number,
  p: number,
  seed: number,
  options: Partial<ErdosRenyiOptions> = {},
): Adjacency {
  requireInt('n', n, 0)
  requireProb('p', p)
  const method = options.method ?? 'auto'
  const rng = new PythonRandom(seed)
  const adj: Adjacency = Array.from({ length: n }, () => [])
  if (method === 'exact' || (method === 'auto' && n <= ER_EXACT_MAX_N)) {
    for (let i = 0; i < n; i++) {
      const row = adj[i]!
      for (let j = i + 1; j < n; j++) {
        if (rng.random() < p) {
          row.push(j)
          adj[j]!.push(i)
        }
      }
    }
  } else if (p > 0) {
    // Batagelj–Brandes: skip over non-edges with geometric jumps. Every list is then sorted, which
    // is exactly the order the pair scan produces (lower neighbours first, ascending).
    if (p >= 1) {
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          adj[i]!.push(j)
          adj[j]!.push(i)
        }
      }
    } else {
      const lp = Math.log(1 - p)
      let v = 1
      let w = -1
      while (v < n) {
        w += 1 + Math.floor(Math.log(1 - rng.random()) / lp)
        while (w >= v && v < n) {
          w -= v
          v++
        }
        if (v < n) {
          adj[v]!.push(w)
          adj[w]!.push(v)
        }
      }
      for (const row of adj) row.sort((a, b) => a - b)
    }
  }
  // Isolated-vertex fix: node i (from 1) joins i−1; node 0 is left to the chaining step.
  for (let i = 1; i < n; i++) {
    if (adj[i]!.length === 0) {
      adj[i]!.push(i - 1)
      adj[i - 1]!.push(i)
    }
  }
  chainComponents(adj)
  return adj
}

/** Joins consecutive component representatives (smallest index of each component) by an edge. */
function chainComponents(adj: Adjacency): void {
  const n = adj.length
  const seen = new Uint8Array(n)
  const reps: number[] = []
  const stack: number[] = []
  for (let s = 0; s < n; s++) {
    if (seen[s]) continue
    reps.push(s)
    seen[s] = 1
    stack.push(s)
    while (stack.length > 0) {
      const u = stack.pop()!
      for (const v of adj[u]!) {
        if (!seen[v]) {
          seen[v] = 1
          stack.push(v)
        }
      }
    }
  }
  for (let c = 1; c < reps.length; c++) {
    const a = reps[c - 1]!
    const b = reps[c]!
    adj[a]!.push(b)
    adj[b]!.push(a)
  }
}

/**
 * The original's `watts_strogatz_graph(n, k, beta, seed)` (§3.2): ring lattice with k/2 neighbours
 * on each side, each lattice edge (i, i+d) rewired with probability beta to a uniformly chosen
 * node that is neither i nor already adjacent to i. The edge count stays n·⌊k/2⌋.
 */
export function wattsStrogatzGraph(n: number, k: number, beta: number, seed: number): Adjacency {
  // REC: the original produced duplicate edges for n = 2 and a self-loop for n = 1.
  requireInt('n', n, 3)
  requireInt('k', k, 0)
  requireProb('beta', beta)
  let kk = k % 2 === 1 ? k + 1 : k
  kk = Math.max(2, Math.min(kk, n - 1))
  const half = Math.floor(kk / 2)
  const rng = new PythonRandom(seed)
  const adj: Adjacency = Array.from({ length: n }, () => [])
  for (let i = 0; i < n; i++) {
    for (let d = 1; d <= half; d++) {
      const j = (i + d) % n
      adj[i]!.push(j)
      adj[j]!.push(i)
    }
  }
  const member = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    for (let d = 1; d <= half; d++) {
      const j = (i + d) % n
      if (!(rng.random() < beta)) continue
      removeFirst(adj[i]!, j)
      removeFirst(adj[j]!, i)
      const row = adj[i]!
      for (const x of row) member[x] = 1
      const candidates: number[] = []
      for (let c = 0; c < n; c++) if (c !== i && !member[c]) candidates.push(c)
      for (const x of row) member[x] = 0
      if (candidates.length === 0) {
        row.push(j)
        adj[j]!.push(i)
        continue
      }
      const picked = candidates[rng.randbelow(candidates.length)]!
      row.push(picked)
      adj[picked]!.push(i)
    }
  }
  return adj
}

function removeFirst(list: number[], value: number): void {
  const at = list.indexOf(value)
  if (at >= 0) list.splice(at, 1)
}

/**
 * The original's `barabasi_albert_graph(n, m, seed)` (§3.3): an (m+1)-clique core, then each new
 * node attaches to m distinct existing nodes drawn with probability ∝ degree (one `random()` per
 * attempt, rejected attempts included). Edge count m(m+1)/2 + (n−m−1)·m.
 */
export function barabasiAlbertGraph(n: number, m: number, seed: number): Adjacency {
  // REC: the original crashed for n = 1.
  requireInt('n', n, 2)
  requireInt('m', m, 0)
  const mm = Math.max(1, Math.min(m, n - 1))
  const rng = new PythonRandom(seed)
  const adj: Adjacency = Array.from({ length: n }, () => [])
  for (let i = 0; i <= mm; i++) {
    for (let j = i + 1; j <= mm; j++) {
      adj[i]!.push(j)
      adj[j]!.push(i)
    }
  }
  const degree = new Float64Array(n)
  let total = 0
  for (let i = 0; i <= mm; i++) {
    degree[i] = mm
    total += mm
  }
  const pick = (): number => {
    const x = rng.random() * total
    let cum = 0
    for (let i = 0; i < n; i++) {
      cum += degree[i]!
      if (x <= cum) return i
    }
    return n - 1
  }
  for (let v = mm + 1; v < n; v++) {
    const targets = new Set<number>()
    while (targets.size < mm) {
      const t = pick()
      if (t !== v) targets.add(t)
    }
    const sorted = [...targets].sort((a, b) => a - b)
    for (const t of sorted) {
      adj[v]!.push(t)
      adj[t]!.push(v)
    }
    degree[v] = mm
    total += mm
    for (const t of sorted) {
      degree[t]! += 1
      total += 1
    }
  }
  return adj
}

/** K_n with ascending lists (the classic rumour-spreading topology). Quadratic memory: use for small n. */
export function completeGraph(n: number): Adjacency {
  requireInt('n', n, 1)
  return Array.from({ length: n }, (_, i) => {
    const row: number[] = []
    for (let j = 0; j < n; j++) if (j !== i) row.push(j)
    return row
  })
}

/** The path 0 – 1 – … – (n−1), the v1 engine's `line` topology (swarm.md §13.3). */
export function lineGraph(n: number): Adjacency {
  requireInt('n', n, 1)
  return Array.from({ length: n }, (_, i) => [i - 1, i + 1].filter((j) => j >= 0 && j < n))
}

/**
 * The original's `apply_temporal_dropout(adj, t, period)` (§3.5): at rounds t with t mod period ≠ 0
 * every node keeps only the entries at even positions of its own list. The result is asymmetric in
 * general; the protocols treat it as the set of undirected talk pairs (see `talkPairs`).
 */
export function applyTemporalDropout(adj: Adjacency, t: number, period: number): Adjacency {
  if (period <= 0 || t % period === 0) return adj
  return adj.map((row) => row.filter((_, i) => i % 2 === 0))
}

/** `weighted_from_unweighted(adj, weight)` (§3.4): `(neighbour, weight)` pairs in list order. */
export function weightedFromUnweighted(adj: Adjacency, weight = 1.0): Array<Array<[number, number]>> {
  return adj.map((row) => row.map((v): [number, number] => [v, weight]))
}

/** Compressed sparse rows of an adjacency (list order kept). */
export interface Csr {
  n: number
  /** Row i spans `targets[offsets[i] .. offsets[i+1])`. */
  offsets: Int32Array
  targets: Int32Array
}

/** Packs adjacency lists into {@link Csr}. */
export function toCsr(adj: Adjacency): Csr {
  const n = adj.length
  const offsets = new Int32Array(n + 1)
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + adj[i]!.length
  const targets = new Int32Array(offsets[n]!)
  for (let i = 0; i < n; i++) targets.set(adj[i]!, offsets[i]!)
  return { n, offsets, targets }
}

/**
 * The undirected talk pairs of one round in the original's canonical order (§5.2): for u
 * ascending and each v in `adj[u]` in list order, schedule (u, v) unless (v, u) or (u, v) was
 * scheduled already. Returned flat: `[u0, v0, u1, v1, …]`.
 */
export function talkPairs(adj: Adjacency): Int32Array {
  const n = adj.length
  // Sorted copies answer "is u in adj[v]?" by binary search: O(m log d), no hash set of pairs.
  const sorted = adj.map((row) => Int32Array.from(row).sort())
  const has = (v: number, u: number): boolean => {
    const row = sorted[v]!
    let lo = 0
    let hi = row.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const x = row[mid]!
      if (x === u) return true
      if (x < u) lo = mid + 1
      else hi = mid - 1
    }
    return false
  }
  let total = 0
  for (const row of adj) total += row.length
  const out = new Int32Array(2 * total)
  let len = 0
  const seenAt = new Int32Array(n).fill(-1)
  for (let u = 0; u < n; u++) {
    for (const v of adj[u]!) {
      if (v === u || seenAt[v] === u) continue
      seenAt[v] = u
      // (v, u) with v < u was scheduled at v iff u ∈ adj[v].
      if (v < u && has(v, u)) continue
      out[len++] = u
      out[len++] = v
    }
  }
  return out.slice(0, len)
}

/** Symmetric CSR of a flat pair list (both directions, pair order kept per row). */
export function csrFromPairs(n: number, pairs: Int32Array): Csr {
  const offsets = new Int32Array(n + 1)
  for (let k = 0; k < pairs.length; k++) offsets[pairs[k]! + 1]!++
  for (let i = 0; i < n; i++) offsets[i + 1]! += offsets[i]!
  const fill = offsets.slice(0, n)
  const targets = new Int32Array(offsets[n]!)
  for (let k = 0; k < pairs.length; k += 2) {
    const u = pairs[k]!
    const v = pairs[k + 1]!
    targets[fill[u]!++] = v
    targets[fill[v]!++] = u
  }
  return { n, offsets, targets }
}

/** Number of undirected edges (adjacency entries / 2, for symmetric lists). */
export function edgeCount(adj: Adjacency): number {
  let s = 0
  for (const row of adj) s += row.length
  return s / 2
}

/** True when every node is reachable from node 0 (BFS); an empty graph counts as connected. */
export function isConnected(adj: Adjacency): boolean {
  const n = adj.length
  if (n === 0) return true
  const seen = new Uint8Array(n)
  const queue = [0]
  seen[0] = 1
  let count = 1
  for (let h = 0; h < queue.length; h++) {
    for (const v of adj[queue[h]!]!) {
      if (!seen[v]) {
        seen[v] = 1
        count++
        queue.push(v)
      }
    }
  }
  return count === n
}

/** Parameters of {@link buildGraph}. */
export interface GraphParams {
  kind: GraphKind
  n: number
  /** ER edge probability. */
  p: number
  wsK: number
  wsBeta: number
  baM: number
  seed: number
}

/** The `topology` name the original writes into report `meta` (§8.2). */
export function topologyName(kind: GraphKind): string {
  return { er: 'erdos_renyi', ws: 'watts_strogatz', ba: 'barabasi_albert', complete: 'complete', line: 'line' }[kind]
}

/** Builds the graph of `params.kind` with the original's generators. */
export function buildGraph(params: GraphParams): Adjacency {
  switch (params.kind) {
    case 'er':
      return erdosRenyiGraph(params.n, params.p, params.seed)
    case 'ws':
      return wattsStrogatzGraph(params.n, params.wsK, params.wsBeta, params.seed)
    case 'ba':
      return barabasiAlbertGraph(params.n, params.baM, params.seed)
    case 'complete':
      return completeGraph(params.n)
    case 'line':
      return lineGraph(params.n)
    default:
      return invalid(
        `graph: unknown topology ${String((params as { kind: unknown }).kind)} (expected er|ws|ba|complete|line)`,
        {
          kind: (params as { kind: unknown }).kind,
        },
      )
  }
}
