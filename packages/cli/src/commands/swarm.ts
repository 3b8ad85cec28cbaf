import { type Command, Option } from 'commander'
import {
  addAlias,
  defaultNote,
  type FlagParser,
  parseCsvEnum,
  parseCsvFloats,
  parseCsvInts,
  parseCsvStrings,
  parseEnum,
  parseIntFlag,
  parseOnOff,
  parsePathFlag,
  parseProbability,
  parseShard,
  resolveLibraryDefaults,
  setLibraryDefaults,
  shownAs,
} from '../flags.js'
import { addPolicyFlags, policyFromCommand } from '../policy-flags.js'
import { DEFAULT_REFERENCE } from './gate.js'
import { DEFAULT_PROBES_CALIB, GATE_STUDY_RESULTS } from './gate-study.js'
import { registerSwarmAssemble, registerSwarmSim } from './node.js'

/**
 * `plora swarm v2|evaluate`, `plora sweep`, `plora calibrate-c`, `plora validate-bounds` and
 * `plora consensus-smoke` (spec swarm.md §8, §12). Flags are kebab-case; the original's spellings
 * (`--graph_p`, `--trojan_rate`, `--history-alias`, …) are accepted as hidden aliases. Config
 * values (graph.p, swarm.trojan_rate, …) are read here, never by the library; library defaults
 * come from `DEFAULT_SWARM_V2_OPTIONS` / `DEFAULT_SWEEP_OPTIONS`.
 */

type Flags = Record<string, unknown>

const GRAPHS = ['er', 'ws', 'ba', 'complete'] as const
const TOPOLOGIES = ['er', 'ws', 'ba'] as const
const PROTOCOLS = ['edge', 'push', 'pull', 'push-pull'] as const
const MODES = ['snapshot', 'sequential'] as const
const ADAPTERS = ['dummy', 'synthetic', 'dir', 'population'] as const
const HALVES = ['evaluation', 'all'] as const

/** The gate population `plora probes calibrate` trains (what `--adapters population` draws from). */
export const DEFAULT_POPULATION_DIR = `${GATE_STUDY_RESULTS}/gate_population`

/** Options whose only effect is the gate's policy (or consensus, which needs it). */
const POLICY_KEYS: ReadonlySet<string> = new Set([
  'policyFile',
  'allowedTargetsFile',
  'allowedTargets',
  'allowedRanks',
  'signatures',
  'trustedPubkeys',
  'tauTrigger',
  'tauNormZ',
  'tauCleanDelta',
  'probesCalib',
  'referenceFile',
  'requireWeightReference',
  'requireStatement',
  'consensus',
  'quorum',
])

const count = parseIntFlag({ min: 1 })
const nonNegative = parseIntFlag({ min: 0 })
const sizes = parseCsvInts({ min: 1 })

/** Adds `--kebab-name` (parsed by `parse`) with the original's `--snake_name` as a hidden alias. */
function opt(
  cmd: Command,
  name: string,
  alias: string | null,
  arg: string,
  description: string,
  parse: FlagParser<unknown> | null,
  def?: unknown,
): Option {
  const o = new Option(`--${name} <${arg}>`, description + (alias ? ` (alias --${alias})` : ''))
  if (parse) o.argParser(parse)
  if (def !== undefined) o.default(def)
  cmd.addOption(o)
  if (alias) addAlias(cmd, alias, o)
  return o
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
  opt(cmd, 'agents', null, 'n', 'number of agents', count)
  opt(cmd, 'rounds', null, 'n', 'maximum gossip rounds (early stop may end sooner)', count)
  opt(cmd, 'graph', null, 'kind', 'topology: er | ws | ba | complete', parseEnum(GRAPHS))
  opt(cmd, 'graph-p', 'graph_p', 'p', 'ER edge probability (default: config graph.p)', parseProbability)
  opt(cmd, 'ws-k', 'ws_k', 'k', 'Watts–Strogatz k (default: config graph.ws_k)', count)
  opt(
    cmd,
    'ws-beta',
    'ws_beta',
    'beta',
    'Watts–Strogatz rewiring probability (default: config graph.ws_beta)',
    parseProbability,
  )
  opt(cmd, 'ba-m', 'ba_m', 'm', 'Barabási–Albert m (default: config graph.ba_m)', count)
  opt(cmd, 'seed', null, 'n', 'graph, trojan and contact seed', nonNegative)
  opt(
    cmd,
    'max-inflight',
    'max_inflight',
    'k',
    '0 = by --mode; 1 = sequential; k > 1 = snapshot per batch of k talks',
    nonNegative,
  )
  opt(cmd, 'mode', null, 'mode', 'round semantics: snapshot | sequential', parseEnum(MODES))
  opt(
    cmd,
    'protocol',
    null,
    'p',
    'edge (the original exchange) | push | pull | push-pull (phone-call model)',
    parseEnum(PROTOCOLS),
  )
  const dropout = opt(
    cmd,
    'dropout-period',
    'dropout_period',
    'k',
    'temporal dropout period (0 = off; the original used 2)',
    nonNegative,
  )
  addAlias(cmd, 'temporal_dropout_period', dropout)
  opt(cmd, 'early-stop', 'early_stop', 'on|off', 'stop once every domain is everywhere', parseOnOff)
  opt(cmd, 'domains', null, 'list', 'comma-separated domains', parseCsvStrings)
  opt(
    cmd,
    'initial-holders',
    'initial_holders',
    'n',
    'agents per domain holding it at the start (default: every agent its own)',
    count,
  )
  opt(cmd, 'report-dir', 'report_dir', 'dir', 'output folder', parsePathFlag)
  opt(cmd, 'history-alias', 'history_alias', 'path', 'extra copy of the history JSON', parsePathFlag)
  opt(
    cmd,
    'history',
    null,
    'on|off',
    'write history_seed{seed}.json (one snapshot per agent and round; ~1.3 GB at 10⁶ agents × 30 rounds)',
    parseOnOff,
  ).default(true, 'on')
  opt(cmd, 'security', null, 'on|off', 'gate every offer with @plora/gate', parseOnOff).default(false, 'off')
  opt(cmd, 'consensus', null, 'on|off', 'per-domain quorum consensus (needs --security on)', parseOnOff)
  opt(cmd, 'quorum', null, 'n', 'consensus quorum (default: config swarm.quorum)', count)
  opt(
    cmd,
    'trojan-rate',
    'trojan_rate',
    'r',
    'fraction of trojan agents in [0,1] (default: config swarm.trojan_rate)',
    parseProbability,
  )
  addPolicyFlags(cmd, { probesCalib: DEFAULT_PROBES_CALIB, baseModel: true, referenceFile: DEFAULT_REFERENCE })
  opt(cmd, 'estimate-size', 'estimate_size', 'on|off', 'count bytes offered and acquired', parseOnOff)
  opt(
    cmd,
    'adapters',
    null,
    'source',
    'dummy | synthetic (seeded LoRA safetensors, a ×40-norm trojan: a smoke) | dir (with --adapters-dir) | population (trained clean and poisoned adapters of --population-dir, gated by the calibrated gate with probes)',
    parseEnum(ADAPTERS),
  )
  opt(
    cmd,
    'population-dir',
    'population_dir',
    'dir',
    'gate population (plora probes calibrate --population-dir) for --adapters population',
    parsePathFlag,
    DEFAULT_POPULATION_DIR,
  )
  opt(
    cmd,
    'population-half',
    'population_half',
    'half',
    'population members agents draw: evaluation (never seen by the calibration) | all',
    parseEnum(HALVES),
    'evaluation',
  )
  opt(
    cmd,
    'adapters-dir',
    'adapters_dir',
    'dir',
    'real adapters at <dir>/<domain>/ (implies --adapters dir)',
    parsePathFlag,
  )
  opt(cmd, 'synthetic-variants', 'synthetic_variants', 'n', 'distinct synthetic adapters per domain', count)
  cmd.option('--print-config', 'print the effective options and exit', false)
  setLibraryDefaults(cmd, async () => {
    const { DEFAULT_SWARM_V2_OPTIONS: d } = await import('@plora/swarm')
    return {
      agents: d.agents,
      rounds: d.rounds,
      graph: d.graph,
      seed: d.seed,
      maxInflight: d.maxInflight,
      mode: d.mode,
      protocol: d.protocol,
      dropoutPeriod: d.dropoutPeriod,
      earlyStop: shownAs(d.earlyStop, d.earlyStop ? 'on' : 'off'),
      domains: [...d.domains],
      consensus: shownAs(d.consensus, d.consensus ? 'on' : 'off'),
      estimateSize: shownAs(d.estimateSize, d.estimateSize ? 'on' : 'off'),
      adapters: d.adapters,
      syntheticVariants: d.syntheticVariants,
      reportDir: d.reportDir,
    }
  })
  cmd.action(async (f: Flags) => {
    const { runSwarmV2, DEFAULT_SWARM_V2_OPTIONS: d } = await import('@plora/swarm')
    const { createLogger } = await import('@plora/common')
    const { createProgressReporter } = await import('../progress-bar.js')
    const { config, env } = await activeConfig()
    const adaptersDir = typeof f.adaptersDir === 'string' ? f.adaptersDir : null
    const adapters = adaptersDir ? 'dir' : (f.adapters as (typeof ADAPTERS)[number])
    const logger = createLogger({ level: env.logLevel })
    const population = adapters === 'population'
    if (f.history === false && typeof f.historyAlias === 'string')
      cmd.error(`error: --history-alias ${f.historyAlias} needs the history, but --history is off`)
    let security = f.security === true
    if (population && !security) {
      // The population is there to measure the calibrated gate: on unless --security off is given.
      if (cmd.getOptionValueSource('security') === 'cli') {
        logger.warn('--adapters population with --security off: no gate runs, so the report has no FN/FP counts')
      } else security = true
    }
    let policy = null
    let gateContext: import('@plora/gate').GateContext = {}
    let dispose = (): void => {}
    if (population && security) {
      const g = await calibratedPopulationGate(cmd, f, logger)
      policy = g.policy
      gateContext = g.context
      dispose = g.dispose
    } else if (!security) {
      // Flags that only act through the gate: say so instead of dropping them silently (swarm.md §6.1 REC).
      const unused = cmd.options
        .filter(
          (o) =>
            !o.hidden && POLICY_KEYS.has(o.attributeName()) && cmd.getOptionValueSource(o.attributeName()) === 'cli',
        )
        .map((o) => o.long)
      if (unused.length > 0) logger.warn(`--security off: ${unused.join(', ')} ignored (no gate runs)`)
    } else {
      const { loadGateContext } = await import('@plora/gate')
      // The simulated swarm's synthetic adapters have no clean reference population (as in the
      // sweep): without a policy file, the within-adapter module z is the weight detector, unless
      // --require-weight-reference on asks for the strict default.
      const noReference = f.policyFile === undefined && cmd.getOptionValueSource('requireWeightReference') === undefined
      policy = await policyFromCommand(cmd, {
        ...(f.consensus === true ? { consensus: true } : {}),
        ...(noReference ? { requireWeightReference: false } : {}),
      })
      gateContext = await loadGateContext(policy, { logger })
      if (adapters === 'dummy') {
        logger.warn(
          '--security on with dummy adapters: their ASCII payloads are not LoRA weights, so the gate rejects every offer (use --adapters synthetic)',
        )
      }
    }
    const options = {
      agents: f.agents as number,
      rounds: f.rounds as number,
      graph: f.graph as (typeof GRAPHS)[number],
      graphP: (f.graphP as number | undefined) ?? config.graph.p,
      wsK: (f.wsK as number | undefined) ?? config.graph.ws_k,
      wsBeta: (f.wsBeta as number | undefined) ?? config.graph.ws_beta,
      baM: (f.baM as number | undefined) ?? config.graph.ba_m,
      seed: f.seed as number,
      maxInflight: f.maxInflight as number,
      mode: f.mode as (typeof MODES)[number],
      protocol: f.protocol as (typeof PROTOCOLS)[number],
      dropoutPeriod: f.dropoutPeriod as number,
      earlyStop: f.earlyStop as boolean,
      domains: f.domains as string[],
      initialHolders: (f.initialHolders as number | undefined) ?? null,
      trojanRate: (f.trojanRate as number | undefined) ?? config.swarm.trojan_rate,
      policy,
      gateContext,
      consensus: f.consensus as boolean,
      quorum: (f.quorum as number | undefined) ?? config.swarm.quorum,
      estimateSize: f.estimateSize as boolean,
      adapters,
      adaptersDir,
      populationDir: population ? (f.populationDir as string) : null,
      populationHalf: f.populationHalf as (typeof HALVES)[number],
      rank: policy?.allowed_ranks?.[0] ?? d.rank,
      syntheticBaseModel: policy?.base_model ?? d.syntheticBaseModel,
      syntheticVariants: f.syntheticVariants as number,
      reportDir: f.reportDir as string,
      historyAlias: typeof f.historyAlias === 'string' ? f.historyAlias : null,
      history: f.history !== false,
      logger,
      onProgress: createProgressReporter(),
    }
    if (f.printConfig) {
      dispose()
      const { gateContext: _g, logger: _l, onProgress: _p, ...shown } = options
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`)
      return
    }
    let r: Awaited<ReturnType<typeof runSwarmV2>>
    try {
      r = await runSwarmV2(options)
    } finally {
      dispose()
    }
    process.stdout.write(
      `Saved v2 report to ${r.reportPath}\n${r.historyPath ? `Saved history to ${r.historyPath}` : 'No history (--history off)'}\n`,
    )
    const rates = (r.report.final.gate as { error_rates?: import('@plora/swarm').GateErrorRates }).error_rates
    if (population && rates) {
      const f = (x: import('@plora/swarm').RateWithInterval) =>
        x.ci95 === null
          ? `${x.count}/${x.n}`
          : `${x.count}/${x.n} [${(100 * x.ci95[0]).toFixed(1)}–${(100 * x.ci95[1]).toFixed(1)} %]`
      const a = rates.per_artefact
      process.stdout.write(
        `Gate on ${rates.distinct.clean} clean + ${rates.distinct.poisoned} poisoned adapters: FN ${f(a.false_negatives)} (trigger in probe set ${f(a.fn_trigger_in_probe_set)}, not ${f(a.fn_trigger_not_in_probe_set)}), FP ${f(a.false_positives)} per adapter; per offer FN ${f(rates.per_offer.false_negatives)}, FP ${f(rates.per_offer.false_positives)}\n`,
      )
    }
    if (options.historyAlias) process.stdout.write(`Aliased history to ${options.historyAlias}\n`)
  })
}

/**
 * The calibrated gate of `--adapters population`: the reference and thresholds `plora probes
 * calibrate` wrote (`--reference-file`, default results/gate-ref.json; `--probes-calib` thresholds
 * and probe count), behavioural probes on the base model (loaded once here: the swarm package
 * never loads a model, it gets the probe harness through the gate context), and, unless a policy
 * file or flag says otherwise, the population's own rank and target scheme (as `plora gate eval`).
 * The population is read first, so a bad folder fails before the model loads.
 */
async function calibratedPopulationGate(
  cmd: Command,
  f: Flags,
  logger: import('@plora/common').Logger,
): Promise<{ policy: import('@plora/gate').Policy; context: import('@plora/gate').GateContext; dispose: () => void }> {
  const { existsSync, readFileSync } = await import('node:fs')
  const { resolve } = await import('node:path')
  const { readPopulation, SwarmError } = await import('@plora/swarm')
  const { loadGateContext } = await import('@plora/gate')
  const pop = await readPopulation(f.populationDir as string, f.populationHalf as (typeof HALVES)[number])
  const { loadModelRuntime } = await import('../runtime.js')
  const rt = await loadModelRuntime(f.baseModel as string | undefined)
  const given = (k: string) => cmd.getOptionValueSource(k) === 'cli'
  const noFile = f.policyFile === undefined
  const ranks = [...new Set(pop.eligible.map((m) => m.rank))].sort((a, b) => a - b)
  const schemes = [...new Set(pop.eligible.map((m) => m.scheme))]
  let policy = await policyFromCommand(cmd, {
    probes: true,
    ...(f.consensus === true ? { consensus: true } : {}),
    ...(noFile ? { baseModel: rt.baseModel, allowedRanks: ranks } : {}),
    ...(noFile && !given('allowedTargets') && !given('allowedTargetsFile')
      ? { allowedTargets: schemes.length === 1 ? schemes[0]! : 'all' }
      : {}),
  })
  if (policy.reference_file === null) {
    if (!existsSync(DEFAULT_REFERENCE)) {
      throw new SwarmError(
        'SWARM_GATE_UNAVAILABLE',
        `--adapters population gates with the calibrated reference: ${DEFAULT_REFERENCE} not found (expected the file \`plora probes calibrate\` writes; run it first or pass --reference-file)`,
        { path: DEFAULT_REFERENCE },
      )
    }
    policy = { ...policy, reference_file: resolve(DEFAULT_REFERENCE) }
  }
  // The calibration's probe count, unless a policy file sets one.
  const calib = f.probesCalib as string | undefined
  if (noFile && calib !== undefined && existsSync(calib)) {
    const probesMax = (JSON.parse(readFileSync(calib, 'utf8')) as { settings?: { probes_max?: unknown } }).settings
      ?.probes_max
    if (typeof probesMax === 'number' && Number.isInteger(probesMax) && probesMax > 0) {
      policy = { ...policy, probes_max: probesMax }
    }
  }
  const context = await loadGateContext(policy, { logger })
  if (!context.reference?.thresholds) {
    throw new SwarmError(
      'SWARM_GATE_UNAVAILABLE',
      `--adapters population: the reference ${policy.reference_file} has no calibrated thresholds (expected the gate-ref.json \`plora probes calibrate\` writes, found a reference without "thresholds")`,
      { path: policy.reference_file },
    )
  }
  const { loadCausalLMFromDir, loadTokenizer } = await import('@plora/model')
  const { baseFingerprint, createProbeHarness } = await import('@plora/loader')
  const model = await loadCausalLMFromDir(rt.modelDir)
  const tok = await loadTokenizer(rt.modelDir)
  context.probes = createProbeHarness(model, tok, { expectedFingerprint: await baseFingerprint(model) })
  logger.info(
    `swarm v2: calibrated gate ${policy.reference_file} with ${policy.probes_max} probes on ${rt.baseModel}; population ${pop.dir}: ${pop.eligible.length}/${pop.all.length} members eligible (${pop.half})`,
  )
  return { policy, context, dispose: () => model.dispose() }
}

/** Registers the swarm command groups. */
export function register(program: Command): void {
  const swarm = program.command('swarm').description('swarm v2 simulation and its evaluation')
  registerV2(swarm)
  registerSwarmSim(swarm)
  registerSwarmAssemble(swarm)

  const evaluate = swarm
    .command('evaluate')
    .description('summarise swarm reports (the original evaluate_v2) into one JSON')
  opt(
    evaluate,
    'reports',
    null,
    'dir',
    'folder with swarm_v2_report_*.json / swarm_graph_report_*.json',
    parsePathFlag,
    'results',
  )
  opt(evaluate, 'out', null, 'path', 'summary file', parsePathFlag, 'results/summary_v2.json')
  evaluate.action(async (f: Flags) => {
    const { writeEvaluation } = await import('@plora/swarm')
    const s = await writeEvaluation(f.reports as string, f.out as string)
    process.stdout.write(`Wrote ${s.length} summaries to ${f.out}\n`)
  })

  const sweep = program
    .command('sweep')
    .description('the thesis sweep over ER/WS/BA → JSONL (worker threads, resumable)')
  opt(sweep, 'topos', null, 'list', 'topologies', parseCsvEnum(TOPOLOGIES))
  opt(sweep, 'ns', null, 'list', 'agent counts', sizes)
  opt(sweep, 'seeds', null, 'list', 'seeds (default: config value_add.seeds)', parseCsvInts({ min: 0 }))
  opt(sweep, 'p', null, 'p', 'ER edge probability (default: config graph.p)', parseProbability)
  opt(sweep, 'ws-k', 'ws_k', 'k', 'Watts–Strogatz k', count)
  opt(sweep, 'ws-beta', 'ws_beta', 'beta', 'Watts–Strogatz beta (used, unlike the original)', parseProbability)
  opt(sweep, 'ba-m', 'ba_m', 'm', 'Barabási–Albert m', count)
  opt(sweep, 'rounds', null, 'n', 'maximum rounds per run', count)
  opt(sweep, 'trojan-rates', 'trojan_rates', 'list', 'trojan rates', parseCsvFloats({ min: 0, max: 1 }))
  opt(sweep, 'tau-trigger', 'tau_trigger', 'list', 'tau_trigger grid', parseCsvFloats())
  opt(sweep, 'tau-norm-z', 'tau_norm_z', 'list', 'tau_norm_z grid', parseCsvFloats())
  opt(sweep, 'tau-clean-delta', 'tau_clean_delta', 'list', 'tau_clean_delta grid', parseCsvFloats())
  opt(sweep, 'out', null, 'path', 'output JSONL', parsePathFlag)
  opt(sweep, 'calib-dir', 'calib_dir', 'dir', 'folder of c_calib_{er,ws,ba}.json', parsePathFlag)
  opt(sweep, 'protocol', null, 'p', 'edge | push | pull | push-pull', parseEnum(PROTOCOLS))
  opt(sweep, 'dropout-period', 'dropout_period', 'k', 'temporal dropout period (0 = off)', nonNegative)
  opt(sweep, 'workers', null, 'n', 'worker threads', count)
  opt(sweep, 'resume', null, 'on|off', 'skip grid points already in --out (off: start over)', parseOnOff)
  sweep.option(
    '--shard <i/n>',
    "run only shard i of n (grid point g goes to shard g mod n + 1); join the shards' --out files with `plora sweep merge`",
    parseShard,
  )
  setLibraryDefaults(sweep, async () => {
    const { DEFAULT_SWEEP_OPTIONS: d } = await import('@plora/swarm')
    return {
      topos: [...d.topos],
      ns: [...d.ns],
      wsK: d.wsK,
      wsBeta: d.wsBeta,
      baM: d.baM,
      rounds: d.rounds,
      trojanRates: [...d.trojanRates],
      tauTrigger: [...d.tauTrigger],
      tauNormZ: [...d.tauNormZ],
      tauCleanDelta: [...d.tauCleanDelta],
      out: d.out,
      calibDir: d.calibDir,
      protocol: d.protocol,
      dropoutPeriod: d.dropoutPeriod,
      workers: defaultNote('one per core'),
      resume: shownAs(d.resume, d.resume ? 'on' : 'off'),
    }
  })
  /** The grid the sweep flags describe (shared by a run and `sweep merge`). */
  const gridOf = async (f: Flags) => {
    const { config } = await activeConfig()
    return {
      topos: f.topos as Array<(typeof TOPOLOGIES)[number]>,
      ns: f.ns as number[],
      seeds: (f.seeds as number[] | undefined) ?? config.value_add.seeds,
      p: (f.p as number | undefined) ?? config.graph.p,
      wsK: f.wsK as number,
      wsBeta: f.wsBeta as number,
      baM: f.baM as number,
      rounds: f.rounds as number,
      trojanRates: f.trojanRates as number[],
      tauTrigger: f.tauTrigger as number[],
      tauNormZ: f.tauNormZ as number[],
      tauCleanDelta: f.tauCleanDelta as number[],
      out: f.out as string,
    }
  }
  sweep
    .command('merge')
    .description(
      "join the --out files of a sharded sweep (--shard i/n) into --out, in grid order: a one-machine run's bytes (give the shards' grid flags)",
    )
    .argument('<shards...>', 'the JSONL files the shards wrote')
    .action(async (shards: string[], _o: unknown, cmd: Command) => {
      const parent = cmd.parent!
      await resolveLibraryDefaults(parent)
      const { mergeSweepShards } = await import('@plora/swarm')
      const r = await mergeSweepShards({ ...(await gridOf(parent.opts() as Flags)), inputs: shards })
      process.stdout.write(`Merged ${r.inputs} shard file(s) into ${r.out} (${r.lines} lines, grid order)\n`)
    })
  sweep.action(async (f: Flags) => {
    const { runSweep } = await import('@plora/swarm')
    const { createProgressReporter } = await import('../progress-bar.js')
    const r = await runSweep({
      ...(await gridOf(f)),
      calibDir: f.calibDir as string,
      protocol: f.protocol as (typeof PROTOCOLS)[number],
      dropoutPeriod: f.dropoutPeriod as number,
      ...(f.workers !== undefined ? { workers: f.workers as number } : {}),
      resume: f.resume as boolean,
      ...(f.shard !== undefined ? { shard: f.shard as { index: number; count: number } } : {}),
      onProgress: createProgressReporter(),
    })
    process.stdout.write(`Wrote ${r.written} lines to ${r.out} (${r.skipped} already there; ${r.total} in the grid)\n`)
  })

  const calib = program
    .command('calibrate-c')
    .description('calibrate the spectral constant C for one topology → c_calib_{topology}.json')
  calib.requiredOption('--topology <t>', 'er | ws | ba', parseEnum(TOPOLOGIES))
  calib.requiredOption('--ns <list>', 'comma-separated sizes', parseCsvInts({ min: 3 }))
  opt(calib, 'p', null, 'p', 'ER edge probability (default: config graph.p)', parseProbability)
  opt(calib, 'k', null, 'k', 'WS k (default: config graph.ws_k)', count)
  opt(
    calib,
    'ws-beta',
    'ws_beta',
    'beta',
    'WS beta (default: config graph.ws_beta; the original used --p)',
    parseProbability,
  )
  opt(calib, 'm', null, 'm', 'BA m (default: config graph.ba_m)', count)
  opt(calib, 'rounds', null, 'n', 'base rounds (scaled by n / min(ns))', count, 20)
  opt(calib, 'seed', null, 'n', 'base seed (graph seed = seed + n)', nonNegative, 42)
  opt(calib, 'dropout-period', 'dropout_period', 'k', 'temporal dropout period (0 = off)', nonNegative, 0)
  calib.requiredOption('--out <path>', 'output JSON', parsePathFlag)
  calib.action(async (f: Flags) => {
    const { calibrateC, writeRecords } = await import('@plora/swarm')
    const { config } = await activeConfig()
    const recs = calibrateC({
      topology: f.topology as (typeof TOPOLOGIES)[number],
      ns: f.ns as number[],
      p: (f.p as number | undefined) ?? config.graph.p,
      k: (f.k as number | undefined) ?? config.graph.ws_k,
      wsBeta: (f.wsBeta as number | undefined) ?? config.graph.ws_beta,
      m: (f.m as number | undefined) ?? config.graph.ba_m,
      rounds: f.rounds as number,
      seed: f.seed as number,
      dropoutPeriod: f.dropoutPeriod as number,
    })
    await writeRecords(f.out as string, recs)
    process.stdout.write(`Wrote ${recs.length} calibration records to ${f.out}\n`)
  })

  const bounds = program
    .command('validate-bounds')
    .description('λ2, Cheeger bracket, conductance and observed diffusion on ER graphs')
  opt(bounds, 'ns', null, 'list', 'sizes', sizes, [20, 40, 80, 160]).default([20, 40, 80, 160], '20,40,80,160')
  opt(bounds, 'p', null, 'p', 'ER edge probability (default: config graph.p)', parseProbability)
  opt(bounds, 'seed', null, 'n', 'base seed (graph seed = seed + n)', nonNegative, 42)
  opt(bounds, 'out', null, 'path', 'output JSON', parsePathFlag, 'results/bounds_validation.json')
  bounds.option('--plot', 'accepted for compatibility; plots are made by `plora figures`', false)
  bounds.action(async (f: Flags) => {
    const { validateBounds, writeRecords } = await import('@plora/swarm')
    const { config } = await activeConfig()
    const recs = validateBounds({
      ns: f.ns as number[],
      p: (f.p as number | undefined) ?? config.graph.p,
      seed: f.seed as number,
    })
    await writeRecords(f.out as string, recs)
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
