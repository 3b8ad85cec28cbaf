import { type Command, Option } from 'commander'

/**
 * `plora swarm v2|evaluate`, `plora sweep`, `plora calibrate-c`, `plora validate-bounds` and
 * `plora consensus-smoke` (spec swarm.md §8, §12). Flags are kebab-case; the original's spellings
 * (`--graph_p`, `--trojan_rate`, `--history-alias`, …) are accepted as hidden aliases. Config
 * values (graph.p, swarm.trojan_rate, …) are read here, never by the library.
 */

type Flags = Record<string, string | boolean | undefined>

async function flagError(flag: string, expected: string, found: unknown): Promise<never> {
  const { PloraError } = await import('@plora/common')
  throw new PloraError('CLI_FLAG_INVALID', `${flag}: expected ${expected}, found ${JSON.stringify(found)}`, { flag })
}

async function num(flag: string, v: unknown, integer = false): Promise<number> {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)))
    return flagError(flag, integer ? 'an integer' : 'a number', v)
  return n
}

async function list(flag: string, v: unknown, integer = false): Promise<number[]> {
  if (typeof v !== 'string' || v.trim() === '') return flagError(flag, 'a comma-separated list', v)
  return Promise.all(v.split(',').map((s) => num(flag, s.trim(), integer)))
}

async function onOff(flag: string, v: unknown): Promise<boolean> {
  if (v === 'on') return true
  if (v === 'off') return false
  return flagError(flag, 'on or off', v)
}

/** Adds `--kebab-name` with the original's `--snake_name` (or other spelling) as a hidden alias. */
function opt(cmd: Command, name: string, alias: string | null, arg: string, description: string, def?: string): void {
  const o = new Option(`--${name} <${arg}>`, description + (alias ? ` (alias --${alias})` : ''))
  if (def !== undefined) o.default(def)
  cmd.addOption(o)
  if (alias) {
    const key = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    cmd.addOption(new Option(`--${alias} <${arg}>`).hideHelp())
    cmd.on(`option:${alias}`, (v: string) => cmd.setOptionValue(key, v))
  }
}

async function activeConfig() {
  const { loadActiveConfig, readEnv } = await import('@plora/config')
  const env = readEnv()
  return { config: loadActiveConfig(env.configFile ? { file: env.configFile } : {}).config, env }
}

function registerV2(swarm: Command): void {
  const cmd = swarm
    .command('v2')
    .description(
      'run the swarm v2 gossip simulation and write swarm_v2_report_seed{seed}.json + history_seed{seed}.json',
    )
  opt(cmd, 'agents', null, 'n', 'number of agents', '6')
  opt(cmd, 'rounds', null, 'n', 'maximum gossip rounds (early stop may end sooner)', '5')
  opt(cmd, 'graph', null, 'kind', 'topology: er | ws | ba | complete', 'er')
  opt(cmd, 'graph-p', 'graph_p', 'p', 'ER edge probability (default: config graph.p)')
  opt(cmd, 'ws-k', 'ws_k', 'k', 'Watts–Strogatz k (default: config graph.ws_k)')
  opt(cmd, 'ws-beta', 'ws_beta', 'beta', 'Watts–Strogatz rewiring probability (default: config graph.ws_beta)')
  opt(cmd, 'ba-m', 'ba_m', 'm', 'Barabási–Albert m (default: config graph.ba_m)')
  opt(cmd, 'seed', null, 'n', 'graph, trojan and contact seed', '42')
  opt(
    cmd,
    'max-inflight',
    'max_inflight',
    'k',
    '0 = by --mode; 1 = sequential; k > 1 = snapshot per batch of k talks',
    '0',
  )
  opt(cmd, 'mode', null, 'mode', 'round semantics: snapshot | sequential', 'snapshot')
  opt(cmd, 'protocol', null, 'p', 'edge (the original exchange) | push | pull | push-pull (phone-call model)', 'edge')
  opt(cmd, 'dropout-period', 'dropout_period', 'k', 'temporal dropout period (0 = off; the original used 2)', '0')
  cmd.addOption(new Option('--temporal_dropout_period <k>').hideHelp())
  cmd.on('option:temporal_dropout_period', (v: string) => cmd.setOptionValue('dropoutPeriod', v))
  opt(cmd, 'early-stop', 'early_stop', 'on|off', 'stop once every domain is everywhere', 'on')
  opt(cmd, 'domains', null, 'list', 'comma-separated domains (default: arithmetic,legal,medical)')
  opt(
    cmd,
    'initial-holders',
    'initial_holders',
    'n',
    'agents per domain holding it at the start (default: every agent its own)',
  )
  opt(cmd, 'report-dir', 'report_dir', 'dir', 'output folder', 'results')
  opt(cmd, 'history-alias', 'history_alias', 'path', 'extra copy of the history JSON')
  opt(cmd, 'security', null, 'on|off', 'gate every offer with @plora/gate', 'off')
  opt(cmd, 'consensus', null, 'on|off', 'per-domain quorum consensus (needs --security on)', 'off')
  opt(cmd, 'quorum', null, 'n', 'consensus quorum (default: config swarm.quorum)')
  opt(cmd, 'allowed-targets', 'allowed_targets', 'scheme', 'attention | mlp | all')
  opt(cmd, 'allowed-targets-file', 'allowed_targets_file', 'path', 'one allowed suffix per line')
  opt(cmd, 'allowed-ranks', 'allowed_ranks', 'list', 'comma-separated ranks (default: config allowed_ranks)')
  opt(
    cmd,
    'trojan-rate',
    'trojan_rate',
    'r',
    'fraction of trojan agents in [0,1] (default: config swarm.trojan_rate = 0.3)',
  )
  opt(cmd, 'signatures', null, 'on|off', 'require signatures in the policy', 'off')
  opt(cmd, 'trusted-pubkeys', 'trusted_pubkeys', 'paths', 'comma-separated PEM paths', '')
  opt(cmd, 'policy-file', 'policy_file', 'path', 'JSON policy')
  opt(
    cmd,
    'probes-calib',
    'probes_calib',
    'path',
    'probe calibration (taus applied unless overridden)',
    'results/probes_calib.json',
  )
  opt(cmd, 'tau-trigger', 'tau_trigger', 'x', 'override policy tau_trigger')
  opt(cmd, 'tau-norm-z', 'tau_norm_z', 'x', 'override policy tau_norm_z')
  opt(cmd, 'tau-clean-delta', 'tau_clean_delta', 'x', 'override policy tau_clean_delta')
  opt(cmd, 'estimate-size', 'estimate_size', 'on|off', 'count bytes offered and acquired', 'on')
  opt(
    cmd,
    'adapters',
    null,
    'source',
    'dummy | synthetic (seeded LoRA safetensors) | dir (with --adapters-dir)',
    'dummy',
  )
  opt(cmd, 'adapters-dir', 'adapters_dir', 'dir', 'real adapters at <dir>/<domain>/ (implies --adapters dir)')
  opt(cmd, 'synthetic-variants', 'synthetic_variants', 'n', 'distinct synthetic adapters per domain', '4')
  cmd.option('--print-config', 'print the effective options and exit', false)
  cmd.action(async (f: Flags) => {
    const { existsSync, readFileSync } = await import('node:fs')
    const { runSwarmV2, DEFAULT_DOMAINS } = await import('@plora/swarm')
    const { createLogger } = await import('@plora/common')
    const { createProgressReporter } = await import('../progress-bar.js')
    const { config, env } = await activeConfig()
    const graph = String(f.graph)
    if (!['er', 'ws', 'ba', 'complete'].includes(graph)) await flagError('--graph', 'er, ws, ba or complete', graph)
    const protocol = String(f.protocol)
    if (!['edge', 'push', 'pull', 'push-pull'].includes(protocol))
      await flagError('--protocol', 'edge, push, pull or push-pull', protocol)
    const mode = String(f.mode)
    if (!['snapshot', 'sequential'].includes(mode)) await flagError('--mode', 'snapshot or sequential', mode)
    const adaptersDir = typeof f.adaptersDir === 'string' ? f.adaptersDir : null
    const adapters = adaptersDir ? 'dir' : String(f.adapters)
    if (!['dummy', 'synthetic', 'dir'].includes(adapters))
      await flagError('--adapters', 'dummy, synthetic or dir', adapters)
    const security = await onOff('--security', f.security)
    const logger = createLogger({ level: env.logLevel })
    let policy = null
    let gateContext = {}
    if (security) {
      const { resolvePolicy, expandTargets, loadGateContext } = await import('@plora/gate')
      const overrides: Record<string, unknown> = { signatures_enabled: await onOff('--signatures', f.signatures) }
      if (typeof f.allowedTargets === 'string' && ['attention', 'mlp', 'all'].includes(f.allowedTargets)) {
        overrides.allowed_targets = expandTargets(f.allowedTargets)
      }
      if (typeof f.allowedRanks === 'string')
        overrides.allowed_ranks = await list('--allowed-ranks', f.allowedRanks, true)
      const keys = String(f.trustedPubkeys ?? '')
        .split(',')
        .filter(Boolean)
      if (keys.length > 0) overrides.trusted_public_keys = keys
      if (await onOff('--consensus', f.consensus)) overrides.consensus_enabled = true
      // REC §6.1: probe calibration applies whenever no explicit override is given.
      const calib =
        typeof f.probesCalib === 'string' && existsSync(f.probesCalib)
          ? JSON.parse(readFileSync(f.probesCalib, 'utf8'))
          : {}
      for (const [k, flag] of [
        ['tau_trigger', 'tauTrigger'],
        ['tau_norm_z', 'tauNormZ'],
        ['tau_clean_delta', 'tauCleanDelta'],
      ] as const) {
        if (f[flag] !== undefined) overrides[k] = await num(`--${k}`, f[flag])
        else if (typeof calib[k] === 'number') overrides[k] = calib[k]
      }
      policy = resolvePolicy({
        config: {
          base_model: env.baseModel ?? config.base_model,
          allowed_ranks: config.allowed_ranks,
          allowed_targets: config.allowed_targets,
          gate: config.gate,
        },
        ...(typeof f.policyFile === 'string' && existsSync(f.policyFile) ? { policyFile: f.policyFile } : {}),
        ...(typeof f.allowedTargetsFile === 'string' && existsSync(f.allowedTargetsFile)
          ? { allowedTargetsFile: f.allowedTargetsFile }
          : {}),
        overrides,
      })
      gateContext = await loadGateContext(policy, { logger })
      if (adapters === 'dummy') {
        logger.warn(
          '--security on with dummy adapters: their ASCII payloads are not LoRA weights, so the gate rejects every offer (use --adapters synthetic)',
        )
      }
    }
    const options = {
      agents: await num('--agents', f.agents, true),
      rounds: await num('--rounds', f.rounds, true),
      graph: graph as 'er',
      graphP: f.graphP !== undefined ? await num('--graph-p', f.graphP) : config.graph.p,
      wsK: f.wsK !== undefined ? await num('--ws-k', f.wsK, true) : config.graph.ws_k,
      wsBeta: f.wsBeta !== undefined ? await num('--ws-beta', f.wsBeta) : config.graph.ws_beta,
      baM: f.baM !== undefined ? await num('--ba-m', f.baM, true) : config.graph.ba_m,
      seed: await num('--seed', f.seed, true),
      maxInflight: await num('--max-inflight', f.maxInflight, true),
      mode: mode as 'snapshot',
      protocol: protocol as 'edge',
      dropoutPeriod: await num('--dropout-period', f.dropoutPeriod, true),
      earlyStop: await onOff('--early-stop', f.earlyStop),
      domains: typeof f.domains === 'string' ? f.domains.split(',').map((s) => s.trim()) : [...DEFAULT_DOMAINS],
      initialHolders: f.initialHolders !== undefined ? await num('--initial-holders', f.initialHolders, true) : null,
      trojanRate: f.trojanRate !== undefined ? await num('--trojan-rate', f.trojanRate) : config.swarm.trojan_rate,
      policy,
      gateContext,
      consensus: await onOff('--consensus', f.consensus),
      quorum: f.quorum !== undefined ? await num('--quorum', f.quorum, true) : config.swarm.quorum,
      estimateSize: await onOff('--estimate-size', f.estimateSize),
      adapters: adapters as 'dummy',
      adaptersDir,
      rank: policy?.allowed_ranks?.[0] ?? 4,
      syntheticBaseModel: policy?.base_model ?? 'plora/synthetic-base',
      syntheticVariants: await num('--synthetic-variants', f.syntheticVariants, true),
      reportDir: String(f.reportDir),
      historyAlias: typeof f.historyAlias === 'string' ? f.historyAlias : null,
      logger,
      onProgress: createProgressReporter(),
    }
    if (f.printConfig) {
      const { gateContext: _g, logger: _l, onProgress: _p, ...shown } = options
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`)
      return
    }
    const r = await runSwarmV2(options)
    process.stdout.write(`Saved v2 report to ${r.reportPath}\nSaved history to ${r.historyPath}\n`)
    if (options.historyAlias) process.stdout.write(`Aliased history to ${options.historyAlias}\n`)
  })
}

/** Registers the swarm command groups. */
export function register(program: Command): void {
  const swarm = program.command('swarm').description('swarm v2 simulation and its evaluation')
  registerV2(swarm)

  const evaluate = swarm
    .command('evaluate')
    .description('summarise swarm reports (the original evaluate_v2) into one JSON')
  opt(evaluate, 'reports', null, 'dir', 'folder with swarm_v2_report_*.json / swarm_graph_report_*.json', 'results')
  opt(evaluate, 'out', null, 'path', 'summary file', 'results/summary_v2.json')
  evaluate.action(async (f: Flags) => {
    const { writeEvaluation } = await import('@plora/swarm')
    const s = await writeEvaluation(String(f.reports), String(f.out))
    process.stdout.write(`Wrote ${s.length} summaries to ${f.out}\n`)
  })

  const sweep = program
    .command('sweep')
    .description('the thesis sweep over ER/WS/BA → JSONL (worker threads, resumable)')
  opt(sweep, 'topos', null, 'list', 'topologies', 'er,ws,ba')
  opt(sweep, 'ns', null, 'list', 'agent counts', '20,40')
  opt(sweep, 'seeds', null, 'list', 'seeds (default: config value_add.seeds)')
  opt(sweep, 'p', null, 'p', 'ER edge probability (default: config graph.p)')
  opt(sweep, 'ws-k', 'ws_k', 'k', 'Watts–Strogatz k', '4')
  opt(sweep, 'ws-beta', 'ws_beta', 'beta', 'Watts–Strogatz beta (used, unlike the original)', '0.2')
  opt(sweep, 'ba-m', 'ba_m', 'm', 'Barabási–Albert m', '2')
  opt(sweep, 'rounds', null, 'n', 'maximum rounds per run', '10')
  opt(sweep, 'trojan-rates', 'trojan_rates', 'list', 'trojan rates', '0.0,0.3')
  opt(sweep, 'tau-trigger', 'tau_trigger', 'list', 'tau_trigger grid', '0.2')
  opt(sweep, 'tau-norm-z', 'tau_norm_z', 'list', 'tau_norm_z grid', '3.0')
  opt(sweep, 'tau-clean-delta', 'tau_clean_delta', 'list', 'tau_clean_delta grid', '-0.05')
  opt(sweep, 'out', null, 'path', 'output JSONL', 'results/thesis_sweep.jsonl')
  opt(sweep, 'calib-dir', 'calib_dir', 'dir', 'folder of c_calib_{er,ws,ba}.json', 'results')
  opt(sweep, 'protocol', null, 'p', 'edge | push | pull | push-pull', 'edge')
  opt(sweep, 'dropout-period', 'dropout_period', 'k', 'temporal dropout period (0 = off)', '0')
  opt(sweep, 'workers', null, 'n', 'worker threads (default: one per core)')
  opt(sweep, 'resume', null, 'on|off', 'skip grid points already in --out (off: start over)', 'on')
  sweep.action(async (f: Flags) => {
    const { runSweep } = await import('@plora/swarm')
    const { createProgressReporter } = await import('../progress-bar.js')
    const { config } = await activeConfig()
    const topos = String(f.topos)
      .split(',')
      .map((s) => s.trim())
    for (const t of topos) if (!['er', 'ws', 'ba'].includes(t)) await flagError('--topos', 'er, ws and/or ba', t)
    const r = await runSweep({
      topos: topos as Array<'er'>,
      ns: await list('--ns', f.ns, true),
      seeds: f.seeds !== undefined ? await list('--seeds', f.seeds, true) : config.value_add.seeds,
      p: f.p !== undefined ? await num('--p', f.p) : config.graph.p,
      wsK: await num('--ws-k', f.wsK, true),
      wsBeta: await num('--ws-beta', f.wsBeta),
      baM: await num('--ba-m', f.baM, true),
      rounds: await num('--rounds', f.rounds, true),
      trojanRates: await list('--trojan-rates', f.trojanRates),
      tauTrigger: await list('--tau-trigger', f.tauTrigger),
      tauNormZ: await list('--tau-norm-z', f.tauNormZ),
      tauCleanDelta: await list('--tau-clean-delta', f.tauCleanDelta),
      out: String(f.out),
      calibDir: String(f.calibDir),
      protocol: String(f.protocol) as 'edge',
      dropoutPeriod: await num('--dropout-period', f.dropoutPeriod, true),
      ...(f.workers !== undefined ? { workers: await num('--workers', f.workers, true) } : {}),
      resume: await onOff('--resume', f.resume),
      onProgress: createProgressReporter(),
    })
    process.stdout.write(`Wrote ${r.written} lines to ${r.out} (${r.skipped} already there; ${r.total} in the grid)\n`)
  })

  const calib = program
    .command('calibrate-c')
    .description('calibrate the spectral constant C for one topology → c_calib_{topology}.json')
  calib.requiredOption('--topology <t>', 'er | ws | ba')
  calib.requiredOption('--ns <list>', 'comma-separated sizes')
  opt(calib, 'p', null, 'p', 'ER edge probability (default: config graph.p)')
  opt(calib, 'k', null, 'k', 'WS k (default: config graph.ws_k)')
  opt(calib, 'ws-beta', 'ws_beta', 'beta', 'WS beta (default: config graph.ws_beta; the original used --p)')
  opt(calib, 'm', null, 'm', 'BA m (default: config graph.ba_m)')
  opt(calib, 'rounds', null, 'n', 'base rounds (scaled by n / min(ns))', '20')
  opt(calib, 'seed', null, 'n', 'base seed (graph seed = seed + n)', '42')
  opt(calib, 'dropout-period', 'dropout_period', 'k', 'temporal dropout period (0 = off)', '0')
  calib.requiredOption('--out <path>', 'output JSON')
  calib.action(async (f: Flags) => {
    const { calibrateC, writeRecords } = await import('@plora/swarm')
    const { config } = await activeConfig()
    const topology = String(f.topology)
    if (!['er', 'ws', 'ba'].includes(topology)) await flagError('--topology', 'er, ws or ba', topology)
    const recs = calibrateC({
      topology: topology as 'er',
      ns: await list('--ns', f.ns, true),
      p: f.p !== undefined ? await num('--p', f.p) : config.graph.p,
      k: f.k !== undefined ? await num('--k', f.k, true) : config.graph.ws_k,
      wsBeta: f.wsBeta !== undefined ? await num('--ws-beta', f.wsBeta) : config.graph.ws_beta,
      m: f.m !== undefined ? await num('--m', f.m, true) : config.graph.ba_m,
      rounds: await num('--rounds', f.rounds, true),
      seed: await num('--seed', f.seed, true),
      dropoutPeriod: await num('--dropout-period', f.dropoutPeriod, true),
    })
    await writeRecords(String(f.out), recs)
    process.stdout.write(`Wrote ${recs.length} calibration records to ${f.out}\n`)
  })

  const bounds = program
    .command('validate-bounds')
    .description('λ2, Cheeger bracket, conductance and observed diffusion on ER graphs')
  opt(bounds, 'ns', null, 'list', 'sizes', '20,40,80,160')
  opt(bounds, 'p', null, 'p', 'ER edge probability (default: config graph.p)')
  opt(bounds, 'seed', null, 'n', 'base seed (graph seed = seed + n)', '42')
  opt(bounds, 'out', null, 'path', 'output JSON', 'results/bounds_validation.json')
  bounds.option('--plot', 'accepted for compatibility; plots are made by `plora figures`', false)
  bounds.action(async (f: Flags) => {
    const { validateBounds, writeRecords } = await import('@plora/swarm')
    const { config } = await activeConfig()
    const recs = validateBounds({
      ns: await list('--ns', f.ns, true),
      p: f.p !== undefined ? await num('--p', f.p) : config.graph.p,
      seed: await num('--seed', f.seed, true),
    })
    await writeRecords(String(f.out), recs)
    const bad = recs.filter((r) => !r.within_bounds).length
    process.stdout.write(
      `Wrote ${recs.length} bounds records to ${f.out} (${recs.length - bad} within their Cheeger bracket)\n`,
    )
  })

  program
    .command('consensus-smoke')
    .description('a 2-quorum consensus engine commits "A" on slot 1 after two votes, and keeps it')
    .action(async () => {
      const { ConsensusEngine, SwarmError } = await import('@plora/swarm')
      const c = new ConsensusEngine(2)
      const first = c.vote({ agent_id: 0, slot: 1, sha256: 'A' })
      const second = c.vote({ agent_id: 1, slot: 1, sha256: 'A' })
      c.vote({ agent_id: 2, slot: 1, sha256: 'B' })
      if (first !== null || second !== 'A' || c.committed(1) !== 'A') {
        throw new SwarmError(
          'SWARM_CONSENSUS_INVALID',
          `consensus smoke failed: votes gave ${first}, ${second}; committed ${c.committed(1)}`,
        )
      }
      process.stdout.write('Consensus smoke OK\n')
    })
}
