import type { Command } from 'commander'
import { addAlias, parseEnum, parseFloatFlag, parseIntFlag, parseOnOff, parsePathFlag } from '../flags.js'
import { addPolicyFlags, policyFromCommand } from '../policy-flags.js'

const nonNegInt = parseIntFlag({ min: 0 })
const PROTOCOLS = ['edge', 'push', 'pull', 'push-pull'] as const
const positiveInt = parseIntFlag({ min: 1 })

interface NodeFlags {
  id?: number
  root: string
  listen: string
  peers?: string[]
  peersDns?: string
  peersFile?: string
  rounds: number
  roundMinMs: number
  peerTimeoutMs: number
  quorum: number
  protocol: 'edge' | 'push' | 'pull' | 'push-pull'
  seed: number
  graphFile?: string
  policy?: string
  trustedKeys?: string
  tlsCert?: string
  tlsKey?: string
  tlsCa?: string
  tlsClientCert?: string
  tlsClientKey?: string
  tlsServerName?: string
  report?: string
  readyFile?: string
}

/** The agent id from a StatefulSet pod name (`plora-node-3` → 3). */
export function ordinalFromHostname(hostname: string | undefined): number | null {
  const m = hostname ? /-(\d+)$/.exec(hostname) : null
  return m ? Number(m[1]) : null
}

/** `plora node` (issue 23 item 1). */
export function registerNode(program: Command): void {
  const node = program
    .command('node')
    .description(
      'run one swarm agent: serve the adapters under --root over gRPC, pull from peers round by round (edge rule, snapshot rounds), gate every fetch, install what passes',
    )
    .requiredOption('--root <dir>', 'adapter store: served, and where accepted plasmids are installed', parsePathFlag)
    .option(
      '--id <n>',
      'agent id (default: the ordinal at the end of $HOSTNAME, as a StatefulSet names pods)',
      nonNegInt,
    )
    .option('--listen <host:port>', 'address to listen on (port 0 = any free one)', '0.0.0.0:7070')
    .option('--peers <csv>', 'peer addresses host:port, comma-separated', (v: string) =>
      v.split(',').filter((x) => x.length > 0),
    )
    .option('--peers-dns <name:port>', 'a DNS name resolving to every peer (a headless Service), looked up every round')
    .option(
      '--peers-file <path>',
      'JSON array of peer addresses, read every round (plora swarm sim writes it)',
      parsePathFlag,
    )
    .option('--rounds <n>', 'rounds to run (0 = until stopped)', nonNegInt, 0)
    .option('--round-min-ms <ms>', 'shortest round: a long-running swarm sleeps out the rest', nonNegInt, 0)
    .option('--peer-timeout-ms <ms>', 'how long to wait for a peer to reach the round', positiveInt, 15_000)
    .option('--quorum <n>', 'distinct peers that must offer the same payload before it is installed', positiveInt, 1)
    .option(
      '--protocol <p>',
      "edge (pull every neighbour's best) | push | pull | push-pull (call one neighbour a round)",
      parseEnum(PROTOCOLS),
      'edge',
    )
    .option('--seed <n>', 'seed of the phone-call contact draws', nonNegInt, 0)
    .option(
      '--graph-file <path>',
      "the whole graph (JSON adjacency lists, agent ids as indices): the simulator's talk order and contact draws, exactly",
      parsePathFlag,
    )
    .option(
      '--policy <path>',
      'gate policy (JSON, as plora gate dump-policy prints); without it fetches are verified but not gated',
    )
    .option(
      '--trusted-keys <dir>',
      "signers' public keys (*.pem): signatures are required and checked against them",
      parsePathFlag,
    )
    .option(
      '--tls-cert <path>',
      'certificate chain (PEM) served, and presented to peers unless --tls-client-cert',
      parsePathFlag,
    )
    .option('--tls-key <path>', 'private key of --tls-cert', parsePathFlag)
    .option(
      '--tls-ca <path>',
      'CA of the swarm: peers must present certificates it issued (mTLS), and servers too',
      parsePathFlag,
    )
    .option('--tls-client-cert <path>', 'client certificate presented to peers (default --tls-cert)', parsePathFlag)
    .option('--tls-client-key <path>', 'private key of --tls-client-cert', parsePathFlag)
    .option('--tls-server-name <name>', 'name to check peer certificates against (when peers are dialled by IP)')
    .option('--report <path>', 'per-round JSONL (default <root>/.plora-node/rounds.jsonl)', parsePathFlag)
    .option('--ready-file <path>', 'JSON {id, address, pid} written once the server listens', parsePathFlag)
    .addHelpText(
      'after',
      '\nStops after --rounds, or on SIGTERM / SIGINT once the current round is done. Exit status: 0 done or\n' +
        'stopped; 1 bad input (root, policy, TLS material, a port that cannot be bound).',
    )
  node.action(async (f: NodeFlags) => {
    const { runSwarmNode, parseAddress } = await import('@plora/swarm')
    const { createLogger } = await import('@plora/common')
    const { readEnv } = await import('@plora/config')
    const { loadPolicyFile, loadGateContext } = await import('@plora/gate')
    const { readPemFile } = await import('@plora/grpc')
    const { readdir } = await import('node:fs/promises')
    const { join, resolve } = await import('node:path')
    const logger = createLogger({ level: readEnv().logLevel })
    const id = f.id ?? ordinalFromHostname(process.env.HOSTNAME)
    if (id === null) node.error('error: --id is required unless $HOSTNAME ends in -<ordinal> (a StatefulSet pod)')
    const sources = [f.peers, f.peersDns, f.peersFile].filter((x) => x !== undefined).length
    if (sources !== 1) node.error('error: give exactly one of --peers, --peers-dns and --peers-file')
    let peers: import('@plora/swarm').PeerSource
    if (f.peersDns !== undefined) {
      const a = parseAddress(f.peersDns)
      peers = { kind: 'dns', name: a.host, port: a.port }
    } else if (f.peersFile !== undefined) peers = { kind: 'file', path: f.peersFile }
    else peers = { kind: 'static', addresses: f.peers! }
    const listen = /^(.*):(\d+)$/.exec(f.listen)
    if (!listen) node.error(`error: --listen ${f.listen}: expected host:port`)
    let policy = f.policy ? loadPolicyFile(f.policy) : null
    if (f.trustedKeys) {
      const keys = (await readdir(f.trustedKeys)).filter((x) => x.endsWith('.pem')).sort()
      if (keys.length === 0) node.error(`error: --trusted-keys ${f.trustedKeys}: no *.pem public keys in it`)
      const { parsePolicy } = await import('@plora/gate')
      policy = parsePolicy({
        ...(policy ?? {}),
        signatures_enabled: true,
        trusted_public_keys: keys.map((k) => resolve(join(f.trustedKeys!, k))),
      })
    }
    const gateContext: import('@plora/gate').GateContext = policy ? await loadGateContext(policy, { logger }) : {}
    // Behavioural probes run on the node's own copy of the base model (the policy's base_model).
    let disposeProbes = (): void => {}
    if (policy?.enable_probes) {
      const { openProbeHarness } = await import('./gate.js')
      const probes = await openProbeHarness(policy.base_model ?? undefined)
      gateContext.probes = probes.harness
      disposeProbes = probes.dispose
    }
    let graph: number[][] | null = null
    if (f.graphFile) {
      const { readFile } = await import('node:fs/promises')
      const g = JSON.parse(await readFile(f.graphFile, 'utf8')) as unknown
      const ok =
        Array.isArray(g) &&
        g.every((row) => Array.isArray(row) && row.every((j) => Number.isInteger(j) && j >= 0 && j < g.length))
      if (!ok) node.error(`error: --graph-file ${f.graphFile}: expected a JSON array of adjacency lists of agent ids`)
      graph = g as number[][]
    }
    const pem = (p: string | undefined, what: string) => (p ? readPemFile(p, what) : Promise.resolve(undefined))
    const [cert, key, ca, clientCert, clientKey] = await Promise.all([
      pem(f.tlsCert, 'TLS certificate (--tls-cert)'),
      pem(f.tlsKey, 'TLS key (--tls-key)'),
      pem(f.tlsCa, 'CA (--tls-ca)'),
      pem(f.tlsClientCert, 'client certificate (--tls-client-cert)'),
      pem(f.tlsClientKey, 'client key (--tls-client-key)'),
    ])
    const tlsOn = cert !== undefined || key !== undefined
    if (!tlsOn && (ca || clientCert || clientKey))
      node.error('error: --tls-ca and --tls-client-* need --tls-cert and --tls-key')
    const serverTls = tlsOn ? { certPem: cert, keyPem: key, ...(ca ? { clientCaPem: ca } : {}) } : undefined
    const clientTls = tlsOn
      ? {
          ...(ca ? { rootCertPem: ca } : {}),
          clientCertPem: clientCert ?? cert,
          clientKeyPem: clientKey ?? key,
          ...(f.tlsServerName ? { serverName: f.tlsServerName } : {}),
        }
      : undefined
    const stop = new AbortController()
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort())
    {
      const handle = await runSwarmNode({
        id: id!,
        root: f.root,
        host: listen![1]!.replace(/^\[|\]$/g, ''),
        port: Number(listen![2]),
        peers,
        rounds: f.rounds,
        roundMinMs: f.roundMinMs,
        peerTimeoutMs: f.peerTimeoutMs,
        quorum: f.quorum,
        protocol: f.protocol,
        seed: f.seed,
        graph,
        policy,
        gateContext,
        ...(serverTls ? { serverTls: serverTls as import('@plora/grpc').ServerTlsOptions } : {}),
        ...(clientTls ? { clientTls: clientTls as import('@plora/grpc').ClientTlsOptions } : {}),
        report: f.report ?? null,
        readyFile: f.readyFile ?? null,
        logger,
        signal: stop.signal,
      })
      process.stderr.write(`plora node ${id}: listening on ${handle.address}\n`)
      // After the last round the node keeps serving (late peers still ask for its snapshots) until stopped.
      await Promise.race([
        handle.finished,
        new Promise((r) => stop.signal.addEventListener('abort', r, { once: true })),
      ])
      if (!stop.signal.aborted) {
        process.stderr.write(`plora node ${id}: last round done; serving until stopped (SIGTERM)\n`)
        await new Promise((r) => stop.signal.addEventListener('abort', r, { once: true }))
      }
      await handle.stop()
      disposeProbes()
    }
  })
}

interface SimFlags {
  topology: 'line' | 'mesh' | 'er' | 'ws' | 'ba'
  agents: number
  mode: 'sim' | 'full'
  maxRounds: number
  seed: number
  resultsDir: string
  runDir?: string
  security: boolean
  trojanRate: number
  graphP?: number
  tls?: boolean
  tlsCert?: string
  tlsKey?: string
  tlsCa?: string
  peerTimeoutMs: number
  protocol: 'edge' | 'push' | 'pull' | 'push-pull'
  kill?: string[]
  partition?: string[]
}

/** `plora swarm sim` (the original's `swarm.sim_entry`; `make swarm-sim`). */
export function registerSwarmSim(swarm: Command): void {
  const GRAPH_OF = { line: 'line', mesh: 'complete', er: 'er', ws: 'ws', ba: 'ba' } as const
  const sim = addPolicyFlags(
    swarm
      .command('sim')
      .description(
        'the v1 engine: --mode sim simulates in process; --mode full starts one plora node process per agent on 127.0.0.1 and compares their diffusion with the simulator',
      )
      .requiredOption(
        '--topology <kind>',
        'line | mesh (the original) | er | ws | ba',
        parseEnum(['line', 'mesh', 'er', 'ws', 'ba'] as const),
      )
      .option('--agents <n>', 'number of agents (nodes)', positiveInt, 5)
      .option(
        '--mode <mode>',
        'sim (in process) | full (real node processes over gRPC)',
        parseEnum(['sim', 'full'] as const),
        'sim',
      )
      .option('--max-rounds <n>', 'rounds (every round runs; no early stop)', positiveInt, 10)
      .option('--protocol <p>', 'edge | push | pull | push-pull, as in plora swarm v2', parseEnum(PROTOCOLS), 'edge')
      .option('--seed <n>', 'graph, trojan and adapter seed', nonNegInt, 42)
      .option('--results-dir <dir>', 'report folder', parsePathFlag, 'results')
      .option(
        '--run-dir <dir>',
        'folder of the node roots, logs and artefacts (default <results-dir>/swarm_full_run)',
        parsePathFlag,
      )
      .option('--security <on|off>', 'gate every fetch (synthetic adapters; ×40-norm trojans)', parseOnOff, true)
      .option('--trojan-rate <r>', 'fraction of agents holding a trojan adapter', parseFloatFlag({ min: 0, max: 1 }), 0)
      .option('--graph-p <p>', 'ER edge probability', parseFloatFlag({ min: 0, max: 1 }))
      .option('--tls', 'mTLS between the nodes (development CA and certificates in the run folder unless --tls-cert)')
      .option(
        '--tls-cert <pem>',
        "every node's certificate (serverAuth and clientAuth, valid for 127.0.0.1); implies --tls",
        parsePathFlag,
      )
      .option('--tls-key <pem>', 'its private key', parsePathFlag)
      .option('--tls-ca <pem>', 'the CA that issued it (mTLS)', parsePathFlag)
      .option('--peer-timeout-ms <ms>', 'how long a node waits for a peer to reach the round', positiveInt, 10_000)
      .option(
        '--kill <node:round:ms...>',
        'kill node (SIGKILL) after it finished round, restart it ms later (full mode)',
      )
      .option('--partition <a:b:from:to...>', 'nodes a and b cannot reach each other in rounds [from, to) (full mode)'),
    { baseModel: true },
  )
  for (const [alias, long] of [
    ['max_rounds', '--max-rounds'],
    ['results_dir', '--results-dir'],
    ['trojan_rate', '--trojan-rate'],
    ['tls_cert', '--tls-cert'],
    ['tls_key', '--tls-key'],
  ] as const)
    addAlias(sim, alias, sim.options.find((x) => x.long === long)!)
  sim.action(async (f: SimFlags, cmd: Command) => {
    const { runSwarmV2, runLocalSwarm } = await import('@plora/swarm')
    const { createLogger, writeJsonAtomic } = await import('@plora/common')
    const { readEnv } = await import('@plora/config')
    const { loadGateContext } = await import('@plora/gate')
    const { spawn } = await import('node:child_process')
    const { openSync } = await import('node:fs')
    const { join, resolve } = await import('node:path')
    const { fileURLToPath } = await import('node:url')
    const logger = createLogger({ level: readEnv().logLevel })
    const rounds = f.maxRounds
    const resultsDir = f.resultsDir
    const policy = f.security
      ? await policyFromCommand(cmd, { requireWeightReference: false, allowedRanks: [4] })
      : null
    const graph = GRAPH_OF[f.topology]
    const swarm = {
      agents: f.agents,
      rounds,
      graph,
      ...(f.graphP !== undefined ? { graphP: f.graphP } : {}),
      seed: f.seed,
      protocol: f.protocol,
      trojanRate: f.trojanRate,
      adapters: 'synthetic' as const,
      rank: 4,
      syntheticBaseModel: policy?.base_model ?? 'plora/synthetic-base',
      policy,
      logger,
    }
    if (f.mode === 'sim') {
      const r = await runSwarmV2({
        ...swarm,
        earlyStop: false,
        // Only the v1-named report below: not a second copy as swarm_v2_report_seed{seed}.json.
        reportDir: null,
        spectral: graph !== 'line' || f.agents > 1,
      })
      const path = join(resultsDir, `swarm_graph_report_${r.report.meta.topology}_${f.seed}.json`)
      await writeJsonAtomic(path, { ...r.report, meta: { ...r.report.meta, mode: 'sim' } })
      process.stdout.write(`swarm sim (in process): ${f.agents} agents, ${rounds} rounds → ${path}\n`)
      return
    }
    const runDir = f.runDir ?? join(resultsDir, 'swarm_full_run')
    const nodeArgs: string[] = []
    if (policy) {
      const policyPath = resolve(runDir, '..', `swarm_full_policy_${f.seed}.json`)
      await writeJsonAtomic(policyPath, policy)
      nodeArgs.push('--policy', policyPath)
    }
    if (f.tlsCert !== undefined || f.tlsKey !== undefined || f.tlsCa !== undefined) {
      if (f.tlsCert === undefined || f.tlsKey === undefined || f.tlsCa === undefined)
        cmd.error('error: --tls-cert, --tls-key and --tls-ca go together')
      nodeArgs.push('--tls-cert', resolve(f.tlsCert!), '--tls-key', resolve(f.tlsKey!), '--tls-ca', resolve(f.tlsCa!))
    } else if (f.tls) {
      const { writeDevCertificates } = await import('@plora/grpc')
      const certDir = resolve(runDir, '..', 'swarm_full_certs')
      const p = await writeDevCertificates(certDir, { hosts: ['localhost', '127.0.0.1'] })
      // One pair per node, both server and client of its peers (the deployment's setup).
      nodeArgs.push('--tls-cert', p.nodeCert, '--tls-key', p.nodeKey, '--tls-ca', p.caCert)
    }
    const bin = fileURLToPath(new URL('../../bin/plora.js', import.meta.url))
    const parseFault = (s: string, parts: number, what: string) => {
      const xs = s.split(':').map(Number)
      if (xs.length !== parts || !xs.every((x) => Number.isInteger(x) && x >= 0))
        cmd.error(`error: ${what} ${s}: expected ${parts} integers ≥ 0 separated by ":"`)
      return xs
    }
    const result = await runLocalSwarm({
      swarm,
      runDir,
      reportDir: resultsDir,
      nodeArgs,
      gateContext: policy ? await loadGateContext(policy, { logger }) : {},
      peerTimeoutMs: f.peerTimeoutMs,
      kills: (f.kill ?? []).map((s) => {
        const [node, afterRound, downMs] = parseFault(s, 3, '--kill')
        return { node: node!, afterRound: afterRound!, downMs: downMs! }
      }),
      partitions: (f.partition ?? []).map((s) => {
        const [a, b, fromRound, toRound] = parseFault(s, 4, '--partition')
        return { a: a!, b: b!, fromRound: fromRound!, toRound: toRound! }
      }),
      logger,
      spawnNode: (args, logFile) => {
        const out = openSync(logFile, 'a')
        return spawn(process.execPath, [bin, ...args], { stdio: ['ignore', out, out], env: process.env })
      },
    })
    const c = result.report.final.comparison as { identical: boolean; max_abs_coverage_diff: number }
    const g = result.report.final.gate as { rejected_safety_total: number; false_negatives: number }
    process.stdout.write(
      `swarm sim (full): ${f.agents} node processes, ${rounds} rounds in ${((result.report.meta.wall_ms as number) / 1000).toFixed(1)} s; ` +
        `coverage ${JSON.stringify(result.report.final.coverage)}; gate rejected ${g.rejected_safety_total} offer(s), FN ${g.false_negatives}; ` +
        `installed ${result.audit.installed}, unverified ${result.audit.unverified_installed}; ` +
        `${c.identical ? 'identical to the simulator' : `differs from the simulator (max |Δcoverage| ${c.max_abs_coverage_diff.toFixed(3)})`} → ${result.reportPath}\n`,
    )
  })
}

/** `plora swarm assemble`: the swarm v2 report of node round records collected from a deployment. */
export function registerSwarmAssemble(swarm: Command): void {
  swarm
    .command('assemble')
    .description(
      'the swarm v2 report (rounds, coverage, entropy, MI, gate counts) of plora node round records collected from a deployment (one rounds.jsonl per node)',
    )
    .argument('<records...>', "the nodes' rounds.jsonl files (agents 0…n−1, one file each)")
    .requiredOption('--out <path>', 'report written (JSON)', parsePathFlag)
    .option(
      '--poisoned <path>',
      'JSON list of poisoned weights digests (artifacts.sha256): the ground truth of FN/FP',
      parsePathFlag,
    )
    .option('--protocol <p>', 'the protocol the nodes ran (meta only)', parseEnum(PROTOCOLS), 'edge')
    .action(async (files: string[], f: { out: string; poisoned?: string; protocol: (typeof PROTOCOLS)[number] }) => {
      const { assembleNodeReport, readNodeRecords, SwarmError, SwarmErrorCode } = await import('@plora/swarm')
      const { writeJsonAtomic } = await import('@plora/common')
      const { readFile } = await import('node:fs/promises')
      let poisoned = new Set<string>()
      if (f.poisoned) {
        const v = JSON.parse(await readFile(f.poisoned, 'utf8')) as unknown
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x)))
          throw new SwarmError(
            SwarmErrorCode.ReportInvalid,
            `${f.poisoned}: expected a JSON list of SHA-256 hex digests (the poisoned adapters' artifacts.sha256)`,
            { path: f.poisoned },
          )
        poisoned = new Set(v as string[])
      }
      const { existsSync } = await import('node:fs')
      for (const p of files)
        if (!existsSync(p))
          throw new SwarmError(SwarmErrorCode.ReportInvalid, `${p} does not exist; expected a node's rounds.jsonl`, {
            path: p,
          })
      const report = assembleNodeReport({
        records: await Promise.all(files.map((p) => readNodeRecords(p))),
        poisoned,
        protocol: f.protocol,
      })
      await writeJsonAtomic(f.out, report)
      const rtd = report.final.rounds_to_diffuse as Record<string, number | null>
      process.stdout.write(
        `swarm assemble: ${report.meta.N} nodes, ${report.final.rounds_run} rounds; coverage ${JSON.stringify(report.final.coverage)}; rounds to diffuse ${JSON.stringify(rtd)} → ${f.out}\n`,
      )
    })
}
