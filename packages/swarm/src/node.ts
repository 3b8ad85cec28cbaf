/**
 * `plora node`: one swarm agent as a long-running process (issue 23 item 1). It serves the adapter
 * folders under its root over the project's gRPC services (plora.Plasmid, plora.v2.PlasmidStream
 * and plora.node.v1.SwarmNode, TLS/mTLS), and in every round pulls from each neighbour by the
 * simulator's `edge` rule in snapshot mode (swarm.md §5.2–§5.3): the neighbour's best plasmid in
 * a domain this node lacked at the start of the round (highest offer score, ties to the first in
 * the neighbour's pool order). Together, the two pulls along an edge are the edge talk's push and
 * pull.
 *
 * The phone-call protocols of the simulator run too (`push`, `pull`, `push-pull`): each round a node
 * calls one neighbour (its `contact`, published with its snapshot), pulls from it (pull), and takes
 * the pushes of the neighbours that called it (push). Given the whole graph (`graph`), a node draws
 * every agent's contacts from the simulator's one seeded stream, in the simulator's order, so a swarm
 * of nodes makes exactly the simulator's calls; without it, each node draws from its own seeded
 * stream (a deployment, where no node knows the whole graph).
 *
 * Each offer goes through the simulator's accept pipeline (§4.3) on real bytes: a verified fetch
 * (size, digest, tar entries, manifest, artefact hash) into a quarantine folder outside the served
 * root → the gate (`checkAdapter` with the node's policy; verdicts cached by payload digest) →
 * the quorum rule (at least `quorum` distinct peers offered the same payload) → the duplicate
 * check → an atomic rename into the root. Nothing reaches the root without passing all of them.
 *
 * Rounds are synchronised by the Snapshot call (plora_node.proto): a neighbour is asked for its
 * holdings at the start of round t and answers when it has reached t, so no node pulls from a
 * state its neighbour reached during the round. A neighbour that cannot be reached within the
 * deadline is skipped for the round (and named in the round's record). A node killed and
 * restarted resumes from its root and `state.json`, at the round its neighbours are in.
 */

import { lookup } from 'node:dns/promises'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import {
  appendJsonl,
  deriveSeed,
  isPloraError,
  type Logger,
  PythonRandom,
  SILENT_LOGGER,
  untrustedText,
  writeJsonAtomic,
} from '@plora/common'
import { checkAdapter, type GateContext, type Policy } from '@plora/gate'
import {
  type ClientTlsOptions,
  type ExtraService,
  fetchPlasmid,
  type HeldPlasmid,
  loadPloraServices,
  type OfferServer,
  requestSnapshot,
  type ServerTlsOptions,
  type SnapshotReply,
  type SnapshotRequest,
  startOfferServer,
} from '@plora/grpc'
import { loadManifest, type Manifest } from '@plora/manifest'
import { SwarmError, SwarmErrorCode } from './errors.js'
import { type Adjacency, csrFromPairs, talkPairs } from './graph.js'
import type { ExchangeProtocol } from './simulate.js'

/** Folder under the root with the node's own state (not served: names starting with a dot are not domains). */
export const NODE_STATE_DIR = '.plora-node'
/** Format tag of a node's per-round record. */
export const NODE_ROUND_FORMAT = 'plora-node-round/v1'

/** Where a node finds its peers. */
export type PeerSource =
  | { kind: 'static'; addresses: readonly string[] }
  /** A name resolving to every peer (a Kubernetes headless Service), looked up every round. */
  | { kind: 'dns'; name: string; port: number }
  /** A JSON file holding an array of `host:port`, read every round (`plora swarm sim` writes it). */
  | { kind: 'file'; path: string }

/** Options of {@link runSwarmNode}. */
export interface SwarmNodeOptions {
  /** Agent id (the report's agent index). */
  id: number
  /** Adapter store: served, and where accepted plasmids are installed as `<root>/<domain>/`. */
  root: string
  host: string
  /** Port to listen on (0 = any free one; see `readyFile`). */
  port: number
  peers: PeerSource
  /** Rounds to run (0 = until stopped). */
  rounds: number
  /** Shortest round in ms (a long-running swarm sleeps out the rest; 0 = none). */
  roundMinMs: number
  /** How long a Snapshot call waits for a neighbour to reach the round. */
  peerTimeoutMs: number
  /** Deadline of one fetch. */
  fetchTimeoutMs: number
  /** Gate policy; null = security off (fetches are still verified, nothing is gated). */
  policy: Policy | null
  gateContext: GateContext
  /** Distinct peers that must offer the same payload before it is installed (1 = the first offer). */
  quorum: number
  /** Exchange protocol (the simulator's; default `edge`). */
  protocol: ExchangeProtocol
  /** Seed of the phone-call contact draws. */
  seed: number
  /**
   * The whole graph, agent ids as indices (optional): edge offers are then taken in the simulator's
   * canonical talk order and contacts drawn from its single stream, so the swarm makes its exact moves.
   */
  graph: Adjacency | null
  serverTls?: ServerTlsOptions
  clientTls?: ClientTlsOptions
  /** Per-round JSONL (default `<root>/.plora-node/rounds.jsonl`). */
  report: string | null
  /** Written (atomically) once the server listens: `{id, address, pid}`. */
  readyFile: string | null
  logger: Logger
  /** Stops the node: the current round is finished, then the server closes. */
  signal?: AbortSignal
}

/** Defaults of {@link SwarmNodeOptions}. */
export const DEFAULT_SWARM_NODE_OPTIONS = {
  host: '0.0.0.0',
  port: 7070,
  rounds: 0,
  roundMinMs: 0,
  peerTimeoutMs: 15_000,
  fetchTimeoutMs: 60_000,
  policy: null,
  gateContext: {},
  quorum: 1,
  protocol: 'edge',
  seed: 0,
  graph: null,
  report: null,
  readyFile: null,
  logger: SILENT_LOGGER,
} as const satisfies Partial<SwarmNodeOptions>

/** One plasmid a node holds, in pool order. */
interface Holding extends HeldPlasmid {
  /** `artifacts.sha256` of its manifest (the weights' digest). */
  artifact_sha256: string
}

/** What happened to one offer (one neighbour's best plasmid for this node in one round). */
export interface NodeOffer {
  from: number
  domain: string
  plasmid_id: string
  payload_sha256: string
  artifact_sha256: string | null
  /** Manifest `artifacts.size_bytes` (what the simulator counts as bytes on the wire). */
  size_bytes: number | null
  /** Payload bytes transferred for this offer (0 when a cached verdict made the fetch unnecessary). */
  fetched_bytes: number
  outcome: 'accepted' | 'rejected' | 'duplicate' | 'pending' | 'fetch_failed'
  /** Gate reasons of a rejection, or the error code of a failed fetch. */
  reasons: string[]
}

/** One line of a node's report: one round. */
export interface NodeRoundRecord {
  format: typeof NODE_ROUND_FORMAT
  node_id: number
  t: number
  /** Holdings at the start of the round (what neighbours pulled from), domain → artifact sha. */
  held_start: Array<[string, string]>
  /** Holdings after the round, in pool order. */
  held_end: Array<[string, string]>
  /** Neighbours that answered, ascending id. */
  peers: number[]
  /** The agent this node called (phone-call protocols), or −1. */
  contact: number
  /** Peer addresses that did not answer in time (with the error code). */
  unreachable: Array<[string, string]>
  offers: NodeOffer[]
  ms: number
  /** True on the node's last round. */
  last: boolean
}

/** A running node. */
export interface SwarmNodeHandle {
  readonly id: number
  readonly address: string
  /** Resolves when the last round is done (never with rounds = 0, until stopped). */
  readonly finished: Promise<void>
  /** Stops after the current round and closes the server. */
  stop(): Promise<void>
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function invalid(message: string, details: Record<string, unknown> = {}): SwarmError {
  return new SwarmError(SwarmErrorCode.OptionInvalid, `plora node: ${message}`, details)
}

/** §4.2 offer score of a manifest: val_em, else val_chrf, else −delta_ppl. */
function offerScore(m: Manifest): number {
  return m.metrics.val_em ?? m.metrics.val_chrf ?? -m.metrics.delta_ppl
}

/** `host:port` → parts (IPv6 in brackets). */
export function parseAddress(a: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(a) ?? /^([^:]+):(\d+)$/.exec(a)
  const port = m ? Number(m[2]) : Number.NaN
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid(`peer address ${JSON.stringify(a)} is not host:port (port 1–65535)`, { address: a })
  return { host: m[1]!, port }
}

async function resolvePeers(src: PeerSource): Promise<string[]> {
  if (src.kind === 'static') return [...src.addresses]
  if (src.kind === 'dns') {
    try {
      const all = await lookup(src.name, { all: true })
      return [...new Set(all.map((a) => (a.family === 6 ? `[${a.address}]:${src.port}` : `${a.address}:${src.port}`)))]
    } catch {
      return [] // not resolvable yet (pods starting): no peers this round
    }
  }
  if (!existsSync(src.path)) return []
  const v = JSON.parse(await readFile(src.path, 'utf8')) as unknown
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw invalid(`peers file ${src.path}: expected a JSON array of "host:port" strings`, { path: src.path })
  return v as string[]
}

/** The neighbour's best plasmid for a node that held `have` at the start of the round (§4.2 on pool order). */
function bestOffer(plasmids: readonly HeldPlasmid[], have: ReadonlySet<string>): HeldPlasmid | null {
  let best: HeldPlasmid | null = null
  for (const p of plasmids) {
    if (have.has(p.domain)) continue
    if (best === null || p.score > best.score) best = p
  }
  return best
}

interface PersistedState {
  id: number
  /** Last round completed. */
  round: number
  /** Domains in pool order. */
  order: string[]
}

/**
 * Starts a swarm node: binds the server, then runs its rounds in the background.
 *
 * @throws SwarmError `SWARM_OPTION_INVALID` (bad options, a root that is not a folder, a state file
 *   of another node); `GrpcError` when the port cannot be bound or the TLS material is invalid
 * @example
 * const node = await runSwarmNode({ id: 0, root: 'store', port: 7070, peers: { kind: 'static', addresses: ['10.0.0.2:7070'] }, rounds: 10 })
 * await node.finished
 */
export async function runSwarmNode(
  options: Partial<SwarmNodeOptions> & Pick<SwarmNodeOptions, 'id' | 'root' | 'peers'>,
): Promise<SwarmNodeHandle> {
  const o: SwarmNodeOptions = { ...DEFAULT_SWARM_NODE_OPTIONS, ...options }
  const log = o.logger
  if (!Number.isSafeInteger(o.id) || o.id < 0) throw invalid(`id must be an integer ≥ 0, found ${o.id}`)
  if (!Number.isInteger(o.rounds) || o.rounds < 0) throw invalid(`rounds must be an integer ≥ 0, found ${o.rounds}`)
  if (!Number.isInteger(o.quorum) || o.quorum < 1) throw invalid(`quorum must be an integer ≥ 1, found ${o.quorum}`)
  if (o.peers.kind === 'static') for (const a of o.peers.addresses) parseAddress(a)
  await mkdir(o.root, { recursive: true })
  const stateDir = join(o.root, NODE_STATE_DIR)
  const incoming = join(stateDir, 'incoming')
  await rm(incoming, { recursive: true, force: true }) // a killed node's half-vetted fetches
  await mkdir(incoming, { recursive: true })
  const statePath = join(stateDir, 'state.json')
  const reportPath = o.report ?? join(stateDir, 'rounds.jsonl')
  // A node killed while appending a round leaves a partial last line: cut it, so the next record
  // starts a line of its own (readers drop only a partial *last* line).
  if (existsSync(reportPath)) {
    const text = await readFile(reportPath, 'utf8')
    if (text.length > 0 && !text.endsWith('\n'))
      await truncate(reportPath, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)))
  }

  // Holdings: the folders under the root, in the persisted pool order (own folders first, sorted).
  let persisted: PersistedState | null = null
  if (existsSync(statePath)) {
    persisted = JSON.parse(await readFile(statePath, 'utf8')) as PersistedState
    if (persisted.id !== o.id)
      throw invalid(`${statePath} belongs to node ${persisted.id}, not ${o.id}; give each node its own root`, {
        statePath,
      })
  }
  const dirs = (await readdir(o.root, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort()
  const order = [
    ...(persisted?.order.filter((d) => dirs.includes(d)) ?? []),
    ...dirs.filter((d) => !persisted?.order.includes(d)),
  ]

  let server: OfferServer | null = null
  const held: Holding[] = []
  const describe = async (domain: string): Promise<Holding> => {
    const p = await server!.store.prepare(domain)
    if (!p) throw invalid(`${join(o.root, domain)}: not an adapter folder`, { domain })
    const m = await loadManifest(join(o.root, domain))
    return {
      domain,
      plasmid_id: p.plasmidId,
      score: offerScore(m),
      payload_sha256: p.sha256,
      size: p.size,
      artifact_sha256: m.artifacts.sha256,
    }
  }

  // The node's round and its start-of-round snapshots; Snapshot calls wait on `advance`.
  let current = -1
  let finishedAll = false
  const snapshots = new Map<number, { held: Holding[]; contact: number }>()
  const waiters = new Set<() => void>()
  const advance = () => {
    for (const w of [...waiters]) w()
  }
  const replyFor = (round: number): SnapshotReply => {
    const s = snapshots.get(round)
    return {
      node_id: o.id,
      round: Math.max(0, current),
      found: s !== undefined,
      plasmids: (s?.held ?? []).map(({ artifact_sha256: _a, ...p }) => p),
      finished: finishedAll,
      contact: s?.contact ?? -1,
    }
  }
  const snapshotHandler = (
    call: { request: SnapshotRequest; on(ev: 'cancelled', f: () => void): void },
    cb: (err: null, reply: SnapshotReply) => void,
  ): void => {
    const { round, wait } = call.request
    if (!wait || round <= current || finishedAll) {
      cb(null, replyFor(round))
      return
    }
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      waiters.delete(check)
      cb(null, replyFor(round))
    }
    const check = () => {
      if (round <= current || finishedAll) finish()
    }
    const timer = setTimeout(finish, o.peerTimeoutMs)
    waiters.add(check)
    call.on('cancelled', () => {
      done = true
      clearTimeout(timer)
      waiters.delete(check)
    })
  }

  const { SwarmNode } = loadPloraServices()
  server = await startOfferServer(
    { root: o.root, host: o.host, port: o.port, ...(o.serverTls ? { tls: o.serverTls } : {}), shutdownGraceMs: 2000 },
    {
      logger: log,
      services: [
        {
          service: SwarmNode.service,
          implementation: { Snapshot: snapshotHandler } as unknown as ExtraService['implementation'],
        },
      ],
    },
  )
  for (const d of order) held.push(await describe(d))
  if (o.readyFile) await writeJsonAtomic(o.readyFile, { id: o.id, address: server.address, pid: process.pid })
  log.info(`node ${o.id} listening on ${server.address}, holding ${held.map((h) => h.domain).join(', ') || 'nothing'}`)

  const clientTls: ClientTlsOptions | false = o.clientTls ?? false
  /** Gate verdicts by payload digest, with what the fetch learnt of the artefact. */
  const verdicts = new Map<
    string,
    { passed: boolean; reasons: string[]; artifact_sha256: string | null; size_bytes: number | null }
  >()
  const vouchers = new Map<string, Set<number>>()
  const stopper = new AbortController()
  o.signal?.addEventListener('abort', () => stopper.abort(), { once: true })

  /** What the reachable peers answer at once (their ids and current rounds); self and the unreachable left out. */
  const peekPeers = async (): Promise<SnapshotReply[]> => {
    const replies = await Promise.allSettled(
      (await resolvePeers(o.peers)).map((a) =>
        requestSnapshot({ ...parseAddress(a), round: 0, wait: false, fromId: o.id, timeoutMs: 3000, tls: clientTls }),
      ),
    )
    return replies.flatMap((x) => (x.status === 'fulfilled' && x.value.node_id !== o.id ? [x.value] : []))
  }

  /** The round to start at: one past our own last, or the furthest a neighbour has got (after a restart). */
  const startRound = async (): Promise<number> => {
    if (!persisted) return 0
    return Math.max(persisted.round + 1, ...(await peekPeers()).map((r) => r.round))
  }

  const vet = async (dir: string): Promise<{ passed: boolean; reasons: string[] }> => {
    if (!o.policy) return { passed: true, reasons: [] }
    try {
      const d = await checkAdapter(dir, o.policy, o.gateContext)
      return { passed: d.passed, reasons: [...d.reasons] }
    } catch (e) {
      if (!isPloraError(e)) throw e
      return { passed: false, reasons: [e.code] }
    }
  }

  // Phone-call contacts. With the whole graph: the simulator's stream — one PythonRandom(seed),
  // per round every agent in id order draws a neighbour of its talk-pair row (none when it has
  // none) — replayed up to the round asked for. Without it: our own stream per round.
  const phone = o.protocol !== 'edge'
  const doPush = o.protocol === 'push' || o.protocol === 'push-pull'
  const doPull = o.protocol === 'pull' || o.protocol === 'push-pull'
  const knownPeers = new Set<number>()
  let edgeOrder: Map<number, number> | null = null
  let drawRound: (() => Int32Array) | null = null
  const drawn: Int32Array[] = []
  if (o.graph) {
    const g = o.graph
    if (o.id >= g.length) throw invalid(`id ${o.id} is not an agent of the ${g.length}-agent graph`)
    const pairs = talkPairs(g)
    edgeOrder = new Map()
    for (let k = 0; k < pairs.length; k += 2) {
      if (pairs[k] === o.id) edgeOrder.set(pairs[k + 1]!, edgeOrder.size)
      else if (pairs[k + 1] === o.id) edgeOrder.set(pairs[k]!, edgeOrder.size)
    }
    const csr = csrFromPairs(g.length, pairs)
    const rng = new PythonRandom(o.seed)
    drawRound = () => {
      const c = new Int32Array(g.length).fill(-1)
      for (let u = 0; u < g.length; u++) {
        const lo = csr.offsets[u]!
        const deg = csr.offsets[u + 1]! - lo
        if (deg > 0) c[u] = csr.targets[lo + rng.randbelow(deg)]!
      }
      return c
    }
  }
  const contactOf = async (t: number): Promise<number> => {
    if (drawRound) {
      while (drawn.length <= t) drawn.push(drawRound())
      if (t > 4) drawn[t - 5] = new Int32Array(0) // only our own round is asked for again
      return drawn[t]![o.id]!
    }
    // Learn the peers' ids (they answer at once; the round's snapshots are asked for below).
    if (knownPeers.size === 0) for (const r of await peekPeers()) knownPeers.add(r.node_id)
    const ids = [...knownPeers].sort((x, y) => x - y)
    if (ids.length === 0) return -1
    return ids[new PythonRandom(deriveSeed(o.seed, 'node-contact', o.id, t)).randbelow(ids.length)]!
  }

  const runRound = async (t: number): Promise<NodeRoundRecord> => {
    const t0 = performance.now()
    const start = held.map((h) => ({ ...h }))
    const contact = phone ? await contactOf(t) : -1
    snapshots.set(t, { held: start, contact })
    // Neighbours are at most one round apart (each waits for the others' snapshots): keep a few.
    for (const r of snapshots.keys()) if (r < t - 3) snapshots.delete(r)
    current = t
    advance()
    const have = new Set(start.map((h) => h.domain))
    const addresses = await resolvePeers(o.peers)
    const answers = await Promise.all(
      addresses.map(async (a) => {
        try {
          const r = await requestSnapshot({
            ...parseAddress(a),
            round: t,
            wait: true,
            fromId: o.id,
            timeoutMs: o.peerTimeoutMs + 2000,
            tls: clientTls,
          })
          return { a, r }
        } catch (e) {
          return { a, error: isPloraError(e) ? e.code : String(e) }
        }
      }),
    )
    const unreachable: Array<[string, string]> = []
    const replies: Array<{ a: string; r: SnapshotReply }> = []
    for (const x of answers) {
      if ('r' in x && x.r) {
        if (x.r.node_id === o.id) continue // our own address behind a DNS name
        if (!x.r.found) unreachable.push([x.a, x.r.finished ? 'PEER_FINISHED' : 'PEER_NOT_IN_ROUND'])
        else replies.push({ a: x.a, r: x.r })
      } else unreachable.push([x.a, (x as { error: string }).error])
    }
    replies.sort((x, y) => x.r.node_id - y.r.node_id)
    for (const x of replies) knownPeers.add(x.r.node_id)
    // Whose offers this round, in the simulator's delivery order: edge — every neighbour, in the
    // canonical talk order (ascending id without the graph); phone — our contact (pull) at our own
    // turn and each caller (push) at its turn, by caller id.
    let sources: Array<{ a: string; r: SnapshotReply; key: number }>
    if (!phone) sources = replies.map((x) => ({ ...x, key: edgeOrder?.get(x.r.node_id) ?? x.r.node_id }))
    else {
      sources = []
      const callee = replies.find((x) => x.r.node_id === contact)
      if (doPull && callee) sources.push({ ...callee, key: o.id })
      if (doPush) for (const x of replies) if (x.r.contact === o.id) sources.push({ ...x, key: x.r.node_id })
    }
    sources.sort((x, y) => x.key - y.key)
    const offers: NodeOffer[] = []
    for (const { a, r } of sources) {
      const best = bestOffer(r.plasmids, have)
      if (!best) continue
      const offer: NodeOffer = {
        from: r.node_id,
        domain: best.domain,
        plasmid_id: best.plasmid_id,
        payload_sha256: best.payload_sha256,
        artifact_sha256: null,
        size_bytes: null,
        fetched_bytes: 0,
        outcome: 'rejected',
        reasons: [],
      }
      offers.push(offer)
      const cached = verdicts.get(best.payload_sha256)
      const acquiredThisRound = held.some((h) => h.domain === best.domain)
      const quorumMet = () => (vouchers.get(best.payload_sha256)?.size ?? 0) >= o.quorum
      // Fetched (verified) into quarantine unless a cached verdict already settles the offer.
      let staged: string | null = null
      const stage = join(incoming, `${t}-${r.node_id}`)
      const fetchIt = async (): Promise<boolean> => {
        try {
          const f = await fetchPlasmid({
            ...parseAddress(a),
            domain: best.domain,
            dest: stage,
            protocol: 'stream',
            timeoutMs: o.fetchTimeoutMs,
            tls: clientTls,
          })
          offer.fetched_bytes = f.size
          offer.artifact_sha256 = f.manifest.artifacts.sha256
          offer.size_bytes = f.manifest.artifacts.size_bytes
          if (f.sha256 !== best.payload_sha256) {
            offer.outcome = 'fetch_failed'
            offer.reasons = ['PAYLOAD_NOT_AS_ADVERTISED']
            return false
          }
          staged = f.dir
          return true
        } catch (e) {
          offer.outcome = 'fetch_failed'
          offer.reasons = [isPloraError(e) ? e.code : untrustedText(String(e))]
          return false
        }
      }
      try {
        let verdict = cached
        if (!verdict) {
          if (!(await fetchIt())) continue
          verdict = { ...(await vet(staged!)), artifact_sha256: offer.artifact_sha256, size_bytes: offer.size_bytes }
          verdicts.set(best.payload_sha256, verdict)
        } else {
          offer.artifact_sha256 = verdict.artifact_sha256
          offer.size_bytes = verdict.size_bytes
        }
        if (!verdict.passed) {
          offer.outcome = 'rejected'
          offer.reasons = verdict.reasons
          continue
        }
        const v = vouchers.get(best.payload_sha256) ?? new Set<number>()
        vouchers.set(best.payload_sha256, v)
        v.add(r.node_id)
        if (!quorumMet()) {
          offer.outcome = 'pending'
          continue
        }
        if (acquiredThisRound) {
          offer.outcome = 'duplicate'
          continue
        }
        // Install exactly the bytes that were vetted: a cached verdict is for this payload digest,
        // and the fetch checks the payload against it.
        if (!staged && !(await fetchIt())) continue
        const dest = join(o.root, best.domain)
        await rename(staged!, dest)
        staged = null
        held.push(await describe(best.domain))
        offer.outcome = 'accepted'
      } finally {
        await rm(stage, { recursive: true, force: true })
      }
    }
    const last = o.rounds > 0 && t === o.rounds - 1
    const record: NodeRoundRecord = {
      format: NODE_ROUND_FORMAT,
      node_id: o.id,
      t,
      held_start: start.map((h) => [h.domain, h.artifact_sha256]),
      held_end: held.map((h) => [h.domain, h.artifact_sha256]),
      peers: replies.map((x) => x.r.node_id),
      contact,
      unreachable,
      offers,
      ms: Math.round(performance.now() - t0),
      last,
    }
    await appendJsonl(reportPath, record)
    await writeJsonAtomic(statePath, { id: o.id, round: t, order: held.map((h) => h.domain) } satisfies PersistedState)
    const accepted = offers.filter((x) => x.outcome === 'accepted').map((x) => `${x.domain}←${x.from}`)
    log.info(
      `node ${o.id} round ${t}: ${replies.length} peer(s), ${offers.length} offer(s), accepted ${accepted.join(' ') || 'none'}${unreachable.length ? `, ${unreachable.length} unreachable` : ''}`,
    )
    return record
  }

  const finished = (async () => {
    // A peers file is written once every node listens (`plora swarm sim`): wait for it.
    while (o.peers.kind === 'file' && !existsSync(o.peers.path) && !stopper.signal.aborted) await sleepMs(50)
    let t = await startRound()
    while (!stopper.signal.aborted && (o.rounds === 0 || t < o.rounds)) {
      const t0 = performance.now()
      await runRound(t)
      t++
      const rest = o.roundMinMs - (performance.now() - t0)
      if (rest > 0 && !stopper.signal.aborted)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, rest)
          const wake = () => {
            clearTimeout(timer)
            resolve()
          }
          stopper.signal.addEventListener('abort', wake, { once: true })
        })
    }
    finishedAll = o.rounds > 0 && t >= o.rounds
    advance()
  })()
  // Errors of the round loop surface through `finished` (and `stop`).
  finished.catch(() => undefined)

  return {
    id: o.id,
    address: server.address,
    finished,
    async stop() {
      stopper.abort()
      try {
        await finished
      } finally {
        await server!.close(1000)
      }
    },
  }
}
