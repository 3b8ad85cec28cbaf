/**
 * `plora swarm sim --mode full`: a swarm of real `plora node` processes on 127.0.0.1 (issue 23
 * items 1–2). The same swarm is first simulated in process (`runSwarmV2`, the same protocol, snapshot
 * rounds, no early stop), which writes the artefacts; every node then starts from its agent's own
 * artefact, the nodes run their rounds over gRPC, and their round records are assembled into a
 * swarm v2 report (same fields) with a comparison against the simulator's.
 *
 * Faults for tests and studies: a node killed (SIGKILL) after a round and restarted after a pause,
 * and a partitioned pair (each dials the other through a TCP proxy that refuses connections while
 * the partition holds).
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { type Logger, parseJsonl, SILENT_LOGGER, writeJsonAtomic } from '@plora/common'
import { checkAdapter, type GateContext, type Policy } from '@plora/gate'
import { loadManifest } from '@plora/manifest'
import type { PreparedAdapters } from './adapters.js'
import { SwarmError, SwarmErrorCode } from './errors.js'
import type { Adjacency } from './graph.js'
import { NODE_ROUND_FORMAT, type NodeRoundRecord } from './node.js'
import {
  buildSwarmV2Report,
  DEFAULT_SWARM_V2_OPTIONS,
  runSwarmV2,
  type SwarmV2Options,
  type SwarmV2Report,
} from './run.js'
import {
  closeGateCounters,
  emptyRound,
  type GateCounters,
  newGateCounters,
  type RoundRecord,
  type SimulationResult,
  uniquePairCounters,
} from './simulate.js'

/** A node killed after it finished round `afterRound` and started again `downMs` later. */
export interface KillFault {
  node: number
  afterRound: number
  downMs: number
}

/** Nodes `a` and `b` cannot reach each other while either is in rounds [fromRound, toRound). */
export interface PartitionFault {
  a: number
  b: number
  fromRound: number
  toRound: number
}

/** Options of {@link runLocalSwarm}. */
export interface LocalSwarmOptions {
  /** The swarm (agents, graph, seed, trojan rate, adapters, rounds, policy…) as for `swarm v2`. */
  swarm: Partial<SwarmV2Options>
  /** Run folder: artefacts, one root per node, logs, the simulator's report. */
  runDir: string
  /** Report folder (`swarm_graph_report_{topology}_{seed}.json`). */
  reportDir: string
  /** Starts one `plora node` process with these arguments (the CLI passes its own binary). */
  spawnNode: (args: string[], logFile: string) => ChildProcess
  /** Arguments every node gets (policy flags, TLS files). */
  nodeArgs: string[]
  /** Gate context the installed-folder audit uses (the nodes load their own). */
  gateContext: GateContext
  peerTimeoutMs: number
  kills: KillFault[]
  partitions: PartitionFault[]
  /** Give up after this long (ms). */
  timeoutMs: number
  logger: Logger
}

/** Defaults of {@link LocalSwarmOptions}. */
export const DEFAULT_LOCAL_SWARM_OPTIONS = {
  nodeArgs: [],
  gateContext: {},
  peerTimeoutMs: 10_000,
  kills: [],
  partitions: [],
  timeoutMs: 600_000,
  logger: SILENT_LOGGER,
} as const satisfies Partial<LocalSwarmOptions>

/** What every node's root held at the end, checked again by the verifier's gate. */
export interface InstalledAudit {
  /** Folders installed by fetches (own artefacts excluded). */
  installed: number
  /** Installed folders whose weights are a trojan artefact's. */
  trojans_installed: number
  /** Installed folders the gate rejects now, or whose bytes match no artefact of the run. */
  unverified_installed: number
  problems: string[]
}

/** Result of {@link runLocalSwarm}. */
export interface LocalSwarmResult {
  report: SwarmV2Report
  reportPath: string
  /** The in-process simulation of the same swarm. */
  simulator: SwarmV2Report
  records: NodeRoundRecord[][]
  audit: InstalledAudit
}

function fail(message: string, details: Record<string, unknown> = {}): SwarmError {
  return new SwarmError(SwarmErrorCode.OptionInvalid, `swarm sim --mode full: ${message}`, details)
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A node's round records from the text of its `rounds.jsonl`; a partial last line (a write under way) is left out. */
function parseNodeRecords(text: string, source: string): NodeRoundRecord[] {
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1)
  return parseJsonl<NodeRoundRecord>(complete, source).filter((r) => r.format === NODE_ROUND_FORMAT)
}

/** One node's round records (its `rounds.jsonl`; none when absent), a partial last line dropped. */
export async function readNodeRecords(path: string): Promise<NodeRoundRecord[]> {
  if (!existsSync(path)) return []
  return parseNodeRecords(await readFile(path, 'utf8'), path)
}

/** The last round a node recorded (−1 before its first), read synchronously (a partition proxy asks at every connection). */
function lastRecordedRound(path: string): number {
  if (!existsSync(path)) return -1
  return parseNodeRecords(readFileSync(path, 'utf8'), path).at(-1)?.t ?? -1
}

/** A TCP forwarder to `target` that refuses (resets) every connection while `blocked()` holds. */
async function startProxy(target: string, blocked: () => boolean): Promise<{ server: Server; address: string }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
  const sockets = new Set<Socket>()
  const server = createServer((c) => {
    if (blocked()) {
      c.destroy()
      return
    }
    const up = connect(port, host)
    sockets.add(c).add(up)
    const drop = () => {
      c.destroy()
      up.destroy()
      sockets.delete(c)
      sockets.delete(up)
    }
    c.on('error', drop).on('close', drop)
    up.on('error', drop).on('close', drop)
    c.pipe(up).pipe(c)
  })
  // An open connection is cut too when the partition starts.
  const timer = setInterval(() => {
    if (blocked()) for (const s of sockets) s.destroy()
  }, 50)
  server.on('close', () => clearInterval(timer))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const a = server.address() as { port: number }
  return { server, address: `127.0.0.1:${a.port}` }
}

/**
 * Runs the swarm as processes and reports it like `swarm v2`.
 *
 * @throws SwarmError `SWARM_OPTION_INVALID` (a fault naming a missing node, a node that never
 *   became ready, a node process that failed, the timeout)
 */
export async function runLocalSwarm(
  options: Partial<LocalSwarmOptions> & Pick<LocalSwarmOptions, 'swarm' | 'runDir' | 'reportDir' | 'spawnNode'>,
): Promise<LocalSwarmResult> {
  const o: LocalSwarmOptions = { ...DEFAULT_LOCAL_SWARM_OPTIONS, ...options }
  const log = o.logger
  const swarmOptions: SwarmV2Options = {
    ...DEFAULT_SWARM_V2_OPTIONS,
    ...o.swarm,
    mode: 'snapshot',
    maxInflight: 0,
    dropoutPeriod: 0,
    earlyStop: false,
    consensus: false,
    workDir: join(o.runDir, 'artefacts'),
    reportDir: join(o.runDir, 'simulator'),
    historyAlias: null,
  }
  const n = swarmOptions.agents
  const R = swarmOptions.rounds
  for (const k of o.kills)
    if (!(k.node >= 0 && k.node < n && k.afterRound >= 0 && k.afterRound < R - 1))
      throw fail(`kill ${JSON.stringify(k)}: node must be < ${n} and afterRound < ${R - 1}`)
  for (const p of o.partitions)
    if (!(p.a >= 0 && p.a < n && p.b >= 0 && p.b < n && p.a !== p.b && p.fromRound < p.toRound))
      throw fail(`partition ${JSON.stringify(p)}: two different nodes < ${n} and fromRound < toRound`)
  await rm(o.runDir, { recursive: true, force: true })
  await mkdir(o.runDir, { recursive: true })

  let captured: {
    adjacency: Adjacency | null
    domains: readonly string[]
    ownDomain: Int32Array
    trojan: Uint8Array
    prepared: PreparedAdapters
  } | null = null
  log.info(`[swarm sim full] simulating the same swarm in process (edge protocol, snapshot rounds)`)
  const sim = await runSwarmV2({
    ...swarmOptions,
    onPrepared: (p) => {
      captured = p
    },
  })
  const { adjacency, domains, ownDomain, trojan, prepared } = captured!
  if (!adjacency) throw fail('the implicit complete graph has no edge lists; use --graph complete with fewer agents')
  // Artefact identity on the wire: the weights' digest (manifest artifacts.sha256).
  const artefactOf = new Map<string, number>()
  for (let a = 0; a < prepared.dirs.length; a++) {
    const m = await loadManifest(prepared.dirs[a]!)
    artefactOf.set(m.artifacts.sha256, a)
  }

  // One root per node holding its own artefact as <root>/<domain>/.
  const nodeDir = (i: number) => join(o.runDir, 'nodes', `node_${i}`)
  for (let i = 0; i < n; i++) {
    const root = join(nodeDir(i), 'root')
    await mkdir(root, { recursive: true })
    const art = prepared.ownArtefact[i]!
    if (art >= 0) await cp(prepared.dirs[art]!, join(root, domains[ownDomain[i]!]!), { recursive: true })
  }

  const progress = new Int32Array(n).fill(-1) // last round recorded per node
  const procs: Array<ChildProcess | null> = new Array(n).fill(null)
  const ports = new Array<number>(n).fill(0)
  const exits: string[] = []
  const restarts = new Int32Array(n)
  // The whole graph for every node: the simulator's talk order and contact draws, exactly.
  const graphFile = join(o.runDir, 'graph.json')
  await writeJsonAtomic(graphFile, adjacency)
  const start = (i: number) => {
    const d = nodeDir(i)
    const args = [
      'node',
      '--id',
      String(i),
      '--root',
      join(d, 'root'),
      '--listen',
      `127.0.0.1:${ports[i]}`,
      '--peers-file',
      join(d, 'peers.json'),
      '--rounds',
      String(R),
      '--report',
      join(d, 'rounds.jsonl'),
      '--ready-file',
      join(d, 'ready.json'),
      '--peer-timeout-ms',
      String(o.peerTimeoutMs),
      '--protocol',
      swarmOptions.protocol,
      '--seed',
      String(swarmOptions.seed),
      '--graph-file',
      graphFile,
      ...o.nodeArgs,
    ]
    const p = o.spawnNode(args, join(d, 'node.log'))
    procs[i] = p
    p.on('exit', (code, sig) => {
      if (procs[i] === p) {
        procs[i] = null
        if (code !== 0 && sig !== 'SIGTERM' && sig !== 'SIGKILL') exits.push(`node ${i} exited with ${code ?? sig}`)
      }
    })
  }
  const readyOf = async (i: number, since: number) => {
    const f = join(nodeDir(i), 'ready.json')
    const deadline = Date.now() + 60_000
    for (;;) {
      if (existsSync(f)) {
        const r = JSON.parse(await readFile(f, 'utf8')) as { address: string; pid: number }
        if (r.pid !== since) return r
      }
      if (exits.length) throw fail(exits.join('; '))
      if (Date.now() > deadline)
        throw fail(`node ${i} did not start listening within 60 s (see ${nodeDir(i)}/node.log)`)
      await sleep(50)
    }
  }

  const proxies: Server[] = []
  const t0 = Date.now()
  try {
    log.info(`[swarm sim full] starting ${n} node processes`)
    for (let i = 0; i < n; i++) start(i)
    const addresses: string[] = []
    for (let i = 0; i < n; i++) {
      const r = await readyOf(i, -1)
      addresses[i] = r.address
      ports[i] = Number(r.address.slice(r.address.lastIndexOf(':') + 1))
    }
    // Peers: the graph's neighbours; a partitioned pair dials each other through a proxy.
    const via = new Map<string, string>()
    for (const p of o.partitions) {
      // Read from the pair's own records at every connection (not the watcher's polled view, which
      // lags on a loaded machine): a node in round t has recorded t − 1.
      const blocked = () => {
        const r =
          Math.max(
            lastRecordedRound(join(nodeDir(p.a), 'rounds.jsonl')),
            lastRecordedRound(join(nodeDir(p.b), 'rounds.jsonl')),
          ) + 1
        return r >= p.fromRound && r < p.toRound
      }
      for (const [x, y] of [
        [p.a, p.b],
        [p.b, p.a],
      ] as const) {
        const proxy = await startProxy(addresses[y]!, blocked)
        proxies.push(proxy.server)
        via.set(`${x}>${y}`, proxy.address)
      }
    }
    for (let i = 0; i < n; i++) {
      const peers = adjacency[i]!.map((j) => via.get(`${i}>${j}`) ?? addresses[j]!)
      await writeJsonAtomic(join(nodeDir(i), 'peers.json'), peers)
    }

    // Watch the rounds; apply the kills; stop when every node has run its last round.
    const killed = new Set<number>()
    for (;;) {
      for (let i = 0; i < n; i++) {
        const recs = await readNodeRecords(join(nodeDir(i), 'rounds.jsonl'))
        progress[i] = recs.length ? recs[recs.length - 1]!.t : -1
      }
      for (const k of o.kills) {
        if (killed.has(k.node) || progress[k.node]! < k.afterRound) continue
        killed.add(k.node)
        const p = procs[k.node]
        const pid = p?.pid ?? -1
        log.info(
          `[swarm sim full] killing node ${k.node} (SIGKILL) after round ${progress[k.node]}; restart in ${k.downMs} ms`,
        )
        procs[k.node] = null
        p?.kill('SIGKILL')
        setTimeout(() => {
          restarts[k.node]!++
          start(k.node)
          readyOf(k.node, pid).catch(() => undefined)
        }, k.downMs)
      }
      if (exits.length) throw fail(exits.join('; '))
      if (progress.every((t) => t >= R - 1) && killed.size === o.kills.length && procs.every((p) => p !== null)) break
      if (Date.now() - t0 > o.timeoutMs)
        throw fail(`not done after ${o.timeoutMs} ms (rounds reached: ${[...progress].join(',')})`)
      await sleep(100)
    }
  } finally {
    for (const p of procs) p?.kill('SIGTERM')
    for (const s of proxies) s.close()
    await Promise.all(
      procs.map(
        (p) =>
          p &&
          p.exitCode === null &&
          new Promise<void>((r) => {
            const timer = setTimeout(() => {
              p.kill('SIGKILL')
              r()
            }, 5000)
            p.once('exit', () => {
              clearTimeout(timer)
              r()
            })
          }),
      ),
    )
  }
  const wallMs = Date.now() - t0

  const records: NodeRoundRecord[][] = []
  for (let i = 0; i < n; i++) records.push(await readNodeRecords(join(nodeDir(i), 'rounds.jsonl')))
  const assembled = assembleSimulation({ n, domains, ownDomain, trojan, prepared, artefactOf, records, rounds: R })
  const lambda2 = (sim.report.meta.lambda2 as number | null) ?? null
  const report = buildSwarmV2Report(
    swarmOptions,
    assembled,
    [...domains],
    lambda2,
    trojan,
    artefactOf.size,
    undefined,
    null,
  )
  const audit = await auditInstalled(
    n,
    nodeDir,
    prepared,
    artefactOf,
    ownDomain,
    domains,
    swarmOptions.policy,
    o.gateContext,
  )
  report.meta.mode = 'full'
  report.meta.engine = `${n} plora node processes on 127.0.0.1 over gRPC${o.nodeArgs.includes('--tls-cert') ? ' (mTLS)' : ''}`
  report.meta.wall_ms = wallMs
  report.meta.faults = { kills: o.kills, partitions: o.partitions }
  report.final.nodes = records.map((recs, i) => ({
    id: i,
    rounds_recorded: recs.length,
    restarts: restarts[i],
    unreachable: recs.reduce((s, r) => s + r.unreachable.length, 0),
    fetched_bytes: recs.reduce((s, r) => s + r.offers.reduce((t, x) => t + x.fetched_bytes, 0), 0),
    round_ms_median: median(recs.map((r) => r.ms)),
  }))
  report.final.installed_audit = audit
  report.final.comparison = compareWithSimulator(report, sim.report, assembled, sim.simulation)
  const topology = report.meta.topology as string
  const reportPath = join(o.reportDir, `swarm_graph_report_${topology}_${swarmOptions.seed}.json`)
  await writeJsonAtomic(reportPath, report)
  return { report, reportPath, simulator: sim.report, records, audit }
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** The nodes' round records as one {@link SimulationResult} (a node without a record for a round kept its holdings). */
export function assembleSimulation(x: {
  n: number
  domains: readonly string[]
  ownDomain: Int32Array
  trojan: Uint8Array
  prepared: Pick<PreparedAdapters, 'artefacts' | 'ownArtefact'>
  artefactOf: ReadonlyMap<string, number>
  records: readonly NodeRoundRecord[][]
  rounds: number
}): SimulationResult {
  const { n, domains } = x
  const D = domains.length
  const dIndex = new Map(domains.map((d, i) => [d, i]))
  const arts = x.prepared.artefacts
  const maskOf = (held: ReadonlyArray<[string, string]>) => held.reduce((m, [d]) => m | (1 << dIndex.get(d)!), 0)
  const initialMasks = new Int32Array(n)
  const held = new Int32Array(n * D).fill(-1)
  for (let i = 0; i < n; i++) {
    const d = x.ownDomain[i]!
    if (d < 0 || x.prepared.ownArtefact[i]! < 0) continue
    initialMasks[i] = 1 << d
    held[i * D + d] = x.prepared.ownArtefact[i]!
  }
  const gate = newGateCounters()
  const pairs = new Set<string>()
  const uniq = { pairs: 0, trojan: 0, clean: 0, fn: 0, fp: 0 }
  const artefactOffers = new Float64Array(arts.length)
  const byRound = x.records.map((recs) => new Map(recs.map((r) => [r.t, r])))
  const masks = initialMasks.slice()
  const rounds: RoundRecord[] = []
  let accepted = 0
  let duplicates = 0
  let offers = 0
  let bytesOnWire = 0
  let bytesOffered = 0
  for (let t = 0; t < x.rounds; t++) {
    const round = emptyRound(t)
    const events: number[] = []
    for (let i = 0; i < n; i++) {
      const r = byRound[i]!.get(t)
      if (!r) continue
      masks[i] = maskOf(r.held_end)
      for (const [d, sha] of r.held_end) {
        const a = x.artefactOf.get(sha)
        if (a !== undefined) held[i * D + dIndex.get(d)!] = a
      }
      for (const off of r.offers) {
        offers++
        round.offers++
        const a = off.artifact_sha256 === null ? undefined : x.artefactOf.get(off.artifact_sha256)
        const size = off.size_bytes ?? 0
        bytesOffered += size
        round.bytesOffered += size
        if (a !== undefined) artefactOffers[a]!++
        if (off.outcome === 'fetch_failed') {
          gate.rejected_hash_total++
          round.rejected++
          continue
        }
        const isTrojan = a !== undefined && arts[a]!.trojan
        const key = `${i}|${off.artifact_sha256}`
        const passed = off.outcome !== 'rejected'
        if (!pairs.has(key)) {
          pairs.add(key)
          uniq.pairs++
          if (isTrojan) uniq.trojan++
          else uniq.clean++
          if (isTrojan && passed) uniq.fn++
          if (!isTrojan && !passed) uniq.fp++
        }
        if (off.outcome === 'rejected') {
          gate.rejected_safety_total++
          if (isTrojan) gate.rejected_trojan_total++
          else gate.rejected_clean_total++
          for (const reason of off.reasons) gate.rejection_reasons[reason] = (gate.rejection_reasons[reason] ?? 0) + 1
          round.rejected++
        } else if (off.outcome === 'pending') round.consensusPending++
        else if (off.outcome === 'duplicate') {
          duplicates++
          round.duplicates++
        } else {
          accepted++
          if (isTrojan) gate.accepted_trojan_total++
          else gate.accepted_clean_total++
          bytesOnWire += size
          round.bytesOnWire += size
          events.push(off.from, i, dIndex.get(off.domain)!)
        }
      }
    }
    round.events = Int32Array.from(events)
    round.masks = masks.slice()
    const holders = new Array<number>(D).fill(0)
    for (const m of masks) for (let d = 0; d < D; d++) if (m & (1 << d)) holders[d]!++
    round.holders = holders
    rounds.push(round)
  }
  closeGateCounters(gate)
  return {
    n,
    domains,
    initialMasks,
    finalMasks: masks,
    rounds,
    roundsRun: rounds.length,
    earlyStopped: false,
    accepted,
    duplicates,
    offers,
    bytesOnWire,
    bytesOffered,
    gate,
    unique: uniquePairCounters(uniq),
    held,
    artefactOffers,
  }
}

/** The measured diffusion beside the simulator's: per-round coverage, knowledge and acquisitions. */
function compareWithSimulator(
  full: SwarmV2Report,
  simReport: SwarmV2Report,
  measured: SimulationResult,
  simulated: SimulationResult,
): Record<string, unknown> {
  const domains = Object.keys(full.final.coverage as Record<string, number>)
  let maxCoverageDiff = 0
  const perRound = full.rounds.map((r, t) => {
    const s = simReport.rounds[t]
    const diff = s ? Math.max(...domains.map((d) => Math.abs(r.coverage[d]! - s.coverage[d]!))) : null
    if (diff !== null) maxCoverageDiff = Math.max(maxCoverageDiff, diff)
    return { t, measured: r.coverage, simulated: s?.coverage ?? null, max_abs_diff: diff }
  })
  let firstDifferentRound: number | null = null
  const sortedEvents = (e: Int32Array) => {
    const out: string[] = []
    for (let k = 0; k < e.length; k += 3) out.push(`${e[k]}>${e[k + 1]}:${e[k + 2]}`)
    return out.sort().join(',')
  }
  for (let t = 0; t < Math.max(measured.rounds.length, simulated.rounds.length); t++) {
    const a = measured.rounds[t]
    const b = simulated.rounds[t]
    const same =
      a &&
      b &&
      a.masks &&
      b.masks &&
      a.masks.every((m, i) => m === b.masks![i]) &&
      sortedEvents(a.events) === sortedEvents(b.events)
    if (!same) {
      firstDifferentRound = t
      break
    }
  }
  const g = (x: GateCounters) => ({
    rejected_safety_total: x.rejected_safety_total,
    accepted_clean_total: x.accepted_clean_total,
    accepted_trojan_total: x.accepted_trojan_total,
    rejected_trojan_total: x.rejected_trojan_total,
    rejected_clean_total: x.rejected_clean_total,
  })
  return {
    simulator: `runSwarmV2, ${full.meta.protocol} protocol, snapshot rounds, same graph, seed and artefacts`,
    identical: firstDifferentRound === null && JSON.stringify(g(measured.gate)) === JSON.stringify(g(simulated.gate)),
    first_different_round: firstDifferentRound,
    max_abs_coverage_diff: maxCoverageDiff,
    rounds_to_diffuse: { measured: full.final.rounds_to_diffuse, simulated: simReport.final.rounds_to_diffuse },
    gate: { measured: g(measured.gate), simulated: g(simulated.gate) },
    coverage_per_round: perRound,
  }
}

async function auditInstalled(
  n: number,
  nodeDir: (i: number) => string,
  prepared: PreparedAdapters,
  artefactOf: ReadonlyMap<string, number>,
  ownDomain: Int32Array,
  domains: readonly string[],
  policy: Policy | null,
  gateContext: GateContext,
): Promise<InstalledAudit> {
  const audit: InstalledAudit = { installed: 0, trojans_installed: 0, unverified_installed: 0, problems: [] }
  for (let i = 0; i < n; i++) {
    const root = join(nodeDir(i), 'root')
    for (const e of await readdir(root, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue
      if (ownDomain[i]! >= 0 && domains[ownDomain[i]!] === e.name) continue
      audit.installed++
      const dir = join(root, e.name)
      const m = await loadManifest(dir).catch(() => null)
      const a = m ? artefactOf.get(m.artifacts.sha256) : undefined
      if (a === undefined) {
        audit.unverified_installed++
        audit.problems.push(`node ${i}: ${e.name} matches no artefact of the run`)
        continue
      }
      if (prepared.artefacts[a]!.trojan) audit.trojans_installed++
      if (policy) {
        const d = await checkAdapter(dir, policy, gateContext)
        if (!d.passed) {
          audit.unverified_installed++
          audit.problems.push(`node ${i}: ${e.name} fails the gate now (${d.reasons.join(', ')})`)
        }
      }
    }
  }
  return audit
}

/** Options of {@link assembleNodeReport}. */
export interface AssembleNodeReportOptions {
  /** One array of round records per node (a node's `rounds.jsonl`), any order. */
  records: readonly NodeRoundRecord[][]
  /** Weights digests (`artifacts.sha256`) known to be poisoned: the ground truth of FN/FP, when there is one. */
  poisoned: ReadonlySet<string>
  /** The protocol the nodes ran (meta only). */
  protocol: SwarmV2Options['protocol']
}

/**
 * The swarm v2 report of round records collected from a deployment (`plora swarm assemble`): the
 * nodes must be agents 0…n−1; the domains, each node's own plasmid (its first record's first holding)
 * and the artefacts (by weights digest) are read from the records. Without ground truth every
 * artefact counts as clean (the FN/FP fields then say nothing). No graph is known: λ2 and the
 * predicted rounds are null.
 *
 * @throws SwarmError `SWARM_REPORT_INVALID` (no records, an agent missing, a record of another format)
 */
export function assembleNodeReport(options: AssembleNodeReportOptions): SwarmV2Report {
  const invalid = (m: string) => new SwarmError(SwarmErrorCode.ReportInvalid, `swarm assemble: ${m}`, {})
  const byId = new Map<number, NodeRoundRecord[]>()
  for (const recs of options.records) {
    if (recs.length === 0) continue
    for (const r of recs) if (r.format !== NODE_ROUND_FORMAT) throw invalid(`a record of format ${String(r.format)}`)
    const id = recs[0]!.node_id
    if (recs.some((r) => r.node_id !== id))
      throw invalid(`one file holds the records of several nodes (${id} and others)`)
    if (byId.has(id)) throw invalid(`node ${id} appears in two files`)
    byId.set(
      id,
      [...recs].sort((a, b) => a.t - b.t),
    )
  }
  const n = byId.size
  if (n === 0) throw invalid('no round records')
  for (let i = 0; i < n; i++)
    if (!byId.has(i)) throw invalid(`agent ${i} has no records (nodes must be agents 0…${n - 1})`)
  const all = [...byId.values()].flat()
  const domains = [...new Set(all.flatMap((r) => [...r.held_start, ...r.held_end].map(([d]) => d)))].sort()
  if (domains.length > 30) throw invalid(`${domains.length} domains; at most 30`)
  const dIndex = new Map(domains.map((d, i) => [d, i]))
  const artefacts: PreparedAdapters['artefacts'] = []
  const artefactOf = new Map<string, number>()
  const note = (domain: string, sha: string, size: number | null) => {
    if (artefactOf.has(sha)) return
    artefactOf.set(sha, artefacts.length)
    artefacts.push({
      domain: dIndex.get(domain)!,
      sizeBytes: size ?? 0,
      score: 0,
      trojan: options.poisoned.has(sha),
      key: sha,
    })
  }
  for (const r of all) {
    for (const o of r.offers) if (o.artifact_sha256) note(o.domain, o.artifact_sha256, o.size_bytes)
    for (const [d, sha] of [...r.held_start, ...r.held_end]) note(d, sha, null)
  }
  const ownDomain = new Int32Array(n).fill(-1)
  const ownArtefact = new Int32Array(n).fill(-1)
  const trojan = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const first = byId.get(i)![0]!.held_start[0]
    if (!first) continue
    ownDomain[i] = dIndex.get(first[0])!
    ownArtefact[i] = artefactOf.get(first[1])!
    trojan[i] = options.poisoned.has(first[1]) ? 1 : 0
  }
  const rounds = Math.max(...all.map((r) => r.t)) + 1
  const sim = assembleSimulation({
    n,
    domains,
    ownDomain,
    trojan,
    prepared: { artefacts, ownArtefact },
    artefactOf,
    records: [...Array(n).keys()].map((i) => byId.get(i)!),
    rounds,
  })
  const o: SwarmV2Options = {
    ...DEFAULT_SWARM_V2_OPTIONS,
    agents: n,
    rounds,
    protocol: options.protocol,
    earlyStop: false,
    domains,
    trojanRate: 0,
    policy: null,
    spectral: false,
  }
  const report = buildSwarmV2Report(o, sim, domains, null, trojan, artefacts.length, undefined, null)
  const gated = all.some((r) => r.offers.some((x) => x.outcome === 'rejected'))
  report.meta = {
    ...report.meta,
    topology: 'deployment',
    p: null,
    graph_params: null,
    adapters: 'nodes',
    security: gated ? true : null,
    trojan_rate: null,
    mode: 'assembled',
    ground_truth:
      options.poisoned.size > 0
        ? `${options.poisoned.size} poisoned weights digest(s) given`
        : 'none (every artefact counted clean)',
    artefacts: artefacts.length,
  }
  report.final.nodes = [...Array(n).keys()].map((i) => {
    const recs = byId.get(i)!
    return {
      id: i,
      rounds_recorded: recs.length,
      unreachable: recs.reduce((s, r) => s + r.unreachable.length, 0),
      fetched_bytes: recs.reduce((s, r) => s + r.offers.reduce((t, x) => t + x.fetched_bytes, 0), 0),
      round_ms_median: median(recs.map((r) => r.ms)),
    }
  })
  return report
}
