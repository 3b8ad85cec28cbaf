/**
 * The two research pipelines, `dry-run-lite` and `full-experiment` (spec pipelines.md §3.3): the
 * 19-step table, the resumable runner and its state file, status and reset.
 *
 * Defects of the original fixed here: a failing step stops the run with a non-zero exit (the
 * original's `tee` returned 0); the state is not a bare step counter but, per completed step, a
 * hash of the config fields it reads, of the files it reads and of its commands, so a changed
 * config or input re-runs the steps it invalidates and every step that depends on them; the
 * pipeline's config is passed to every step explicitly (`PLORA_CONFIG`) instead of rewriting the
 * user's `config/plora.override.yml` on every resume; step 15 counts the value-add records; step 17
 * runs a signed offer/fetch, waits for the server to listen instead of sleeping, and fails when the
 * fetch fails.
 *
 * Steps run as child processes of the `plora` CLI (one process per command: each is a separate
 * TensorFlow.js session, and a crash in one cannot corrupt the runner's state).
 */
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, type WriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { canonicalJson, sha256FileHex, sha256Hex, writeJsonAtomic } from '@plora/common'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'

/** The two pipelines. */
export const PIPELINE_NAMES = ['dry', 'full'] as const
export type PipelineName = (typeof PIPELINE_NAMES)[number]
/** Steps of each pipeline. */
export const TOTAL_STEPS = 19
/** Version of the state file layout. */
export const PIPELINE_STATE_VERSION = 1

/** Names, files and messages of one pipeline. */
export interface PipelineInfo {
  name: PipelineName
  /** Make target that runs it (named in the resume hint). */
  target: 'dry-run-lite' | 'full-experiment'
  /** Shipped config preset (`config/plora.<preset>.yml`). */
  preset: PipelineName
  /** State file, relative to the project folder. */
  stateFile: string
  /** Printed by `status` without a state file. */
  noneMessage: string
  /** Printed by `status` when all 19 steps are done. */
  completeMessage: string
  /** Printed by `reset`. */
  resetMessage: string
  /** Printed after step 19. */
  finishedMessage: string
}

export const PIPELINES: Readonly<Record<PipelineName, PipelineInfo>> = {
  dry: {
    name: 'dry',
    target: 'dry-run-lite',
    preset: 'dry',
    stateFile: 'results/.dryrun_state.json',
    noneMessage: 'No dry-run in progress (will start from step 1)',
    completeMessage: 'Dry-run complete!',
    resetMessage: 'Dry-run state cleared. Next run will start from step 1.',
    finishedMessage: '✅ Dry-run lite complete! See results/ and out.',
  },
  full: {
    name: 'full',
    target: 'full-experiment',
    preset: 'full',
    stateFile: 'results/.experiment_state.json',
    noneMessage: 'No experiment in progress (will start from step 1)',
    completeMessage: 'Experiment complete!',
    resetMessage: 'Experiment state cleared. Next run will start from step 1.',
    finishedMessage: '✅ Full experiment complete! See results/ and out.',
  },
}

/** The config fields the step table reads (a `PloraConfig` satisfies it). */
export interface PipelineConfig {
  domains: readonly string[]
  samples: number
  allowed_ranks: readonly number[]
  graph: { p: number }
  swarm: { trojan_rate: number; quorum: number }
  value_add: { ranks: readonly number[]; schemes: readonly string[]; seeds: readonly number[] }
  alt_train_merge: { cycles: number; samples: number; rank: number }
  /** The ablation grid, in configs that have one (else value_add's ranks and schemes). */
  ablation?: { ranks?: readonly number[]; schemes?: readonly string[] }
}

/**
 * Sizes of the steps that the config does not set (the original's Makefile hard-codes them).
 * `dry` shrinks the probe population to 8 + 8 of one rank and scheme (the study's 100 + 100 over
 * ranks 4/8 and schemes all/attention take ≈ 35 min on 2 cores); `full` trains the study's.
 */
export interface PipelineProfile {
  /** Step 1: the test command (run in the plora checkout); null skips the tests (a no-op step). */
  testCommand: readonly string[] | null
  /** Step 3: sizes and base rounds of `calibrate-c`. */
  calibNs: readonly number[]
  calibRounds: number
  /** Step 4: sizes of `validate-bounds`. */
  boundsNs: readonly number[]
  /** Step 5: probe-calibration population and its training. */
  probes: {
    clean: number
    poisoned: number
    epochs?: number
    samples?: number
    probesMax?: number
    /** One rank and scheme for a population too small to split over the study's four groups. */
    ranks?: readonly number[]
    schemes?: readonly string[]
  }
  /** Step 8: swarm v2 smoke size. */
  swarmSmoke: { agents: number; rounds: number }
  /** Step 12: thesis sweep grid; `seeds: 'config'` = the config's value_add.seeds. */
  sweep: { ns: readonly number[]; rounds: number; seeds: readonly number[] | 'config'; trojanRates: readonly number[] }
  /** Step 16: consensus smoke. */
  consensus: { agents: number; rounds: number; seed: number }
  /** Step 19: net-it resamples. */
  netIt: { boot: number; perm: number }
}

const SPEC_SIZES = {
  testCommand: ['make', 'test-fast'],
  calibNs: [20, 40, 80, 160],
  calibRounds: 20,
  boundsNs: [20, 40, 80, 160],
  netIt: { boot: 200, perm: 64 },
} as const

/** Default profiles (the spec's table; dry additionally shrinks step 5's population). */
export const PIPELINE_PROFILES: Readonly<Record<PipelineName, PipelineProfile>> = {
  dry: {
    ...SPEC_SIZES,
    probes: { clean: 8, poisoned: 8, epochs: 4, samples: 24, ranks: [8], schemes: ['all'] },
    swarmSmoke: { agents: 6, rounds: 5 },
    sweep: { ns: [20, 40, 80, 160], rounds: 6, seeds: 'config', trojanRates: [0, 0.3] },
    consensus: { agents: 4, rounds: 2, seed: 9 },
  },
  full: {
    ...SPEC_SIZES,
    probes: { clean: 100, poisoned: 100 },
    swarmSmoke: { agents: 6, rounds: 5 },
    sweep: { ns: [20, 40, 80, 160], rounds: 6, seeds: [41, 42, 43], trojanRates: [0, 0.3] },
    consensus: { agents: 6, rounds: 3, seed: 11 },
  },
}

/** One command of a step: `plora …` (the CLI), or any program; `cwd: 'repo'` runs it in the plora checkout. */
export interface StepCommand {
  argv: readonly string[]
  cwd?: 'project' | 'repo'
}

/** What a step's custom action gets. */
export interface StepContext {
  cwd: string
  config: PipelineConfig
  profile: PipelineProfile
  /** Runs one command (output into the log); rejects with {@link ExperimentsError} when it exits non-zero. */
  run(command: StepCommand): Promise<void>
  /** Starts a long-running command; `ready` resolves with the first output line matching `readyLine`. */
  start(command: StepCommand, readyLine: RegExp): { ready: Promise<RegExpMatchArray>; stop(): Promise<void> }
  /** Writes a line to the console and the log. */
  say(line: string): void
}

/** One row of the step table. */
export interface PipelineStep {
  k: number
  /** Printed as `[k/19] desc`. */
  desc: string
  /** The equivalent Make target (documentation; the runner calls the CLI directly). */
  make: string
  /** Config fields the step reads; their values enter its hash. */
  config: readonly string[]
  /** Files and folders it reads (relative to the project folder); their contents enter its hash. */
  inputs: readonly string[]
  /** Artefacts it writes; a missing one re-runs the step. */
  outputs: readonly string[]
  /** Steps whose artefacts it reads: when one of them re-runs, this one re-runs too. */
  deps: readonly number[]
  /** The commands, run in order (also part of the hash). */
  commands: readonly StepCommand[]
  /** A `plora` subcommand the step needs; missing → the step fails with "not available". */
  requires?: string
  /**
   * Arguments appended to the last command when the step re-runs because its config fields or
   * commands changed (not after a failure or a kill): the command's own resume would otherwise
   * keep records of the old settings (value-add `--no-resume`, sweep `--resume off`).
   */
  fresh?: readonly string[]
  /** Like {@link fresh}, for a command whose resume flag must be swapped rather than extended. */
  freshArgv?: (argv: readonly string[]) => string[]
  /** Replaces running `commands` one by one. */
  action?: (ctx: StepContext) => Promise<void>
}

const csv = (xs: readonly (string | number)[]): string => xs.join(',')
const plora = (...argv: (string | number)[]): StepCommand => ({ argv: ['plora', ...argv.map(String)] })

/** Domain fetched by step 17: `legal` as in the original, else the first configured domain. */
export function grpcDemoDomain(config: PipelineConfig): string {
  return config.domains.includes('legal') ? 'legal' : (config.domains[0] ?? 'legal')
}

/** Seeds of step 12's sweep. */
export function sweepSeeds(config: PipelineConfig, profile: PipelineProfile): readonly number[] {
  return profile.sweep.seeds === 'config' ? config.value_add.seeds : profile.sweep.seeds
}

/** Expected `value_add.jsonl` records: one per domain × rank × scheme × seed cell. */
export function valueAddCells(config: PipelineConfig): number {
  const v = config.value_add
  return config.domains.length * v.ranks.length * v.schemes.length * v.seeds.length
}

/** Expected `thesis_sweep.jsonl` records: 3 topologies × sizes × seeds × trojan rates. */
export function sweepCells(config: PipelineConfig, profile: PipelineProfile): number {
  return 3 * profile.sweep.ns.length * sweepSeeds(config, profile).length * profile.sweep.trojanRates.length
}

/** Ranks and schemes of the ablation: config `ablation.*` where the config has it, else `value_add.*` (the original). */
export function ablationGrid(config: PipelineConfig): { ranks: readonly number[]; schemes: readonly string[] } {
  return {
    ranks: config.ablation?.ranks ?? config.value_add.ranks,
    schemes: config.ablation?.schemes ?? config.value_add.schemes,
  }
}

/** Expected `ablation.jsonl` records: one per domain × rank × scheme. */
export function ablationCells(config: PipelineConfig): number {
  const g = ablationGrid(config)
  return config.domains.length * g.ranks.length * g.schemes.length
}

const PRIV = 'keys/temp_priv.pem'
const PUB = 'keys/temp_pub.pem'

async function countJsonlRecords(path: string): Promise<number> {
  const text = await readFile(path, 'utf8')
  let n = 0
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    try {
      const v = JSON.parse(line) as unknown
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object')
    } catch (e) {
      throw new ExperimentsError(
        ExperimentsErrorCode.StepFailed,
        `${path} line ${i + 1} is not a JSON object record (${(e as Error).message})`,
        { path, line: i + 1 },
      )
    }
    n++
  }
  return n
}

export { countJsonlRecords }

/** The 19 steps of `name` for `config` (spec pipelines.md §3.3), with the profile's sizes. */
export function pipelineSteps(
  name: PipelineName,
  config: PipelineConfig,
  profile: PipelineProfile = PIPELINE_PROFILES[name],
): PipelineStep[] {
  const d = config.domains
  const p = config.graph.p
  const trojan = config.swarm.trojan_rate
  const adapters = d.map((x) => `out/${x}`)
  const rank0 = config.value_add.ranks[0] ?? 1
  const scheme0 = config.value_add.schemes[0] ?? 'all'
  const grpcDomain = grpcDemoDomain(config)
  const pr = profile.probes
  const sw = profile.sweep
  const cs = profile.consensus
  const modelKeys = ['base_model', 'train', 'data.sources']
  // Step 17: a signing server on a free loopback port; the fetch verifies with the public key.
  const offerCommand = plora('offer', '--root', 'out', '--host', '127.0.0.1', '--port', 0, '--private-key', PRIV)
  const fetchCommand = (port: string) =>
    plora(
      'fetch',
      '--domain',
      grpcDomain,
      '--dest',
      'fetched',
      '--host',
      '127.0.0.1',
      '--port',
      port,
      '--public-key',
      PUB,
    )
  const gateKeys = ['gate', 'allowed_ranks', 'allowed_targets', 'probes']
  const steps: PipelineStep[] = [
    {
      k: 1,
      desc: profile.testCommand
        ? `Running unit tests (${profile.testCommand.join(' ')}: the suite without *.slow.test.ts)`
        : 'Running unit tests (skipped by this profile)',
      make: 'test-fast',
      config: [],
      inputs: [],
      outputs: [],
      deps: [],
      commands: profile.testCommand ? [{ argv: profile.testCommand, cwd: 'repo' }] : [],
    },
    {
      k: 2,
      desc: 'Preloading datasets',
      make: 'prepare-data',
      config: ['domains', 'data.sources'],
      inputs: [],
      outputs: [],
      deps: [],
      commands: [plora('data', 'prepare', '--domains', csv(d), '--splits', 'train,validation')],
    },
    {
      k: 3,
      desc: 'Calibrating spectral constant C (all topologies)',
      make: 'calibrate-c',
      config: ['graph'],
      inputs: [],
      outputs: ['er', 'ws', 'ba'].map((t) => `results/c_calib_${t}.json`),
      deps: [],
      commands: ['er', 'ws', 'ba']
        .map((t) =>
          plora(
            'calibrate-c',
            '--topology',
            t,
            '--ns',
            csv(profile.calibNs),
            '--p',
            p,
            '--rounds',
            profile.calibRounds,
          ).argv.concat(['--seed', '42', '--out', `results/c_calib_${t}.json`]),
        )
        .map((argv) => ({ argv })),
    },
    {
      k: 4,
      desc: 'Validating spectral/Cheeger bounds',
      make: 'validate-bounds',
      config: ['graph.p'],
      inputs: [],
      outputs: ['results/bounds_validation.json'],
      deps: [],
      commands: [
        plora(
          'validate-bounds',
          '--ns',
          csv(profile.boundsNs),
          '--p',
          p,
          '--seed',
          42,
          '--out',
          'results/bounds_validation.json',
        ),
      ],
    },
    {
      k: 5,
      desc: `Calibrating probes (${pr.clean} clean + ${pr.poisoned} poisoned adapters)`,
      make: 'probes-calib',
      config: ['base_model', 'domains', 'probes', 'gate', 'data.sources'],
      inputs: [],
      outputs: ['results/probes_calib.json', 'results/gate-ref.json'],
      deps: [],
      commands: [
        plora(
          'probes',
          'calibrate',
          '--clean',
          pr.clean,
          '--poisoned',
          pr.poisoned,
          '--population-dir',
          `results/gate_population_${name}`,
          ...(pr.epochs !== undefined ? ['--epochs', pr.epochs] : []),
          ...(pr.samples !== undefined ? ['--samples', pr.samples] : []),
          ...(pr.probesMax !== undefined ? ['--probes-max', pr.probesMax] : []),
          ...(pr.ranks !== undefined ? ['--ranks', pr.ranks.join(',')] : []),
          ...(pr.schemes !== undefined ? ['--schemes', pr.schemes.join(',')] : []),
        ),
      ],
    },
    {
      k: 6,
      desc: 'Training per-domain adapters',
      make: 'train-all',
      config: [...modelKeys, 'domains', 'samples', 'value_add.ranks', 'value_add.schemes'],
      inputs: [],
      outputs: d.flatMap((x) => [
        `out/${x}/adapter_model.safetensors`,
        `out/${x}/adapter_config.json`,
        `out/${x}/plora.yml`,
      ]),
      deps: [],
      commands: d.map((x) =>
        plora(
          'train',
          '--domain',
          x,
          '--epochs',
          1,
          '--samples',
          config.samples,
          '--rank',
          rank0,
          '--scheme',
          scheme0,
          '--output',
          `out/${x}`,
        ),
      ),
    },
    {
      k: 7,
      desc: 'Signing adapters',
      make: 'sign-all',
      config: ['domains'],
      inputs: d.flatMap((x) => [`out/${x}/adapter_model.safetensors`, `out/${x}/adapter_config.json`]),
      outputs: [PRIV, PUB, ...d.map((x) => `out/${x}/plora.sig.json`)],
      deps: [6],
      commands: [
        plora('keygen', '--private-key', PRIV, '--public-key', PUB),
        ...d.map((x) => plora('sign', '--adapter-dir', `out/${x}`, '--private-key', PRIV)),
      ],
      action: async (ctx) => {
        const missing = d.filter((x) => !existsSync(join(ctx.cwd, 'out', x, 'adapter_model.safetensors')))
        if (missing.length > 0) {
          throw new ExperimentsError(
            ExperimentsErrorCode.StepFailed,
            `missing adapter for domain(s) ${missing.join(', ')}: expected out/<domain>/adapter_model.safetensors (run step 6 / 'make train-all' first)`,
            { missing },
          )
        }
        if (!existsSync(join(ctx.cwd, PRIV)) || !existsSync(join(ctx.cwd, PUB))) {
          await ctx.run(plora('keygen', '--private-key', PRIV, '--public-key', PUB))
        }
        for (const x of d) await ctx.run(plora('sign', '--adapter-dir', `out/${x}`, '--private-key', PRIV))
      },
    },
    {
      k: 8,
      desc: 'Swarm v2 simulation (security on)',
      make: 'swarm-v2-smoke',
      config: ['graph.p', 'swarm.trojan_rate', ...gateKeys, 'base_model'],
      inputs: [...adapters, 'results/gate-ref.json'],
      outputs: ['results/swarm_v2_report_seed42.json', 'results/history_seed42.json', 'results/history.json'],
      deps: [5, 7],
      commands: [
        plora(
          'swarm',
          'v2',
          '--agents',
          profile.swarmSmoke.agents,
          '--rounds',
          profile.swarmSmoke.rounds,
          '--graph_p',
          p,
          '--security',
          'on',
          '--trojan_rate',
          trojan,
          '--history-alias',
          'results/history.json',
          '--adapters_dir',
          'out',
          '--report_dir',
          'results',
        ),
      ],
    },
    {
      k: 9,
      desc: 'Summarising v2 reports',
      make: 'swarm-v2-eval',
      config: [],
      inputs: ['results/swarm_v2_report_seed42.json'],
      outputs: ['results/summary_v2.json'],
      deps: [8],
      commands: [plora('swarm', 'evaluate', '--reports', 'results', '--out', 'results/summary_v2.json')],
    },
    {
      k: 10,
      desc: 'Training monolithic baseline (rank 4)',
      make: 'monolithic-r4',
      config: [...modelKeys, 'domains', 'samples'],
      inputs: [],
      outputs: ['out/monolithic_r4/adapter_model.safetensors'],
      deps: [],
      commands: [
        plora(
          'monolithic-train',
          '--domains',
          csv(d),
          '--epochs',
          1,
          '--samples',
          config.samples,
          '--rank',
          4,
          '--output',
          'out/monolithic_r4',
        ),
      ],
    },
    {
      k: 11,
      desc: 'Value-add rank sweep',
      make: 'value-add-rank-sweep',
      config: [...modelKeys, 'domains', 'samples', 'value_add', 'eval_split', 'latency_budget_ms'],
      inputs: ['out/monolithic_r4'],
      outputs: ['results/value_add/value_add.jsonl', 'results/value_add/value_add.md'],
      deps: [10],
      commands: [
        plora(
          'value-add',
          'run',
          '--domains',
          csv(d),
          '--ranks',
          csv(config.value_add.ranks),
          '--ignore-latency-guard',
          '--output',
          'results/value_add',
        ),
      ],
      fresh: ['--no-resume'],
    },
    {
      k: 12,
      desc:
        name === 'full'
          ? `Thesis-scale sweep (ER/WS/BA, ${sweepCells(config, profile)} experiments)`
          : 'Thesis-scale sweep (ER/WS/BA)',
      make: name === 'full' ? 'thesis-sweep-full' : 'thesis-sweep',
      config: ['graph', 'value_add.seeds'],
      inputs: ['er', 'ws', 'ba'].map((t) => `results/c_calib_${t}.json`),
      outputs: ['results/thesis_sweep.jsonl', 'results/env_manifest.json'],
      deps: [3],
      commands: [
        plora(
          'sweep',
          '--topos',
          'er,ws,ba',
          '--ns',
          csv(sw.ns),
          '--seeds',
          csv(sweepSeeds(config, profile)),
          '--p',
          p,
          '--rounds',
          sw.rounds,
          '--trojan_rates',
          csv(sw.trojanRates),
          '--out',
          'results/thesis_sweep.jsonl',
          '--resume',
          'on',
        ),
      ],
      fresh: ['--resume', 'off'],
    },
    {
      k: 13,
      desc: 'Ablations (rank/scheme)',
      make: 'ablation',
      config: [...modelKeys, 'domains', 'samples', 'ablation', 'value_add', 'eval_split'],
      inputs: [],
      outputs: ['results/ablation.jsonl'],
      deps: [],
      requires: 'ablation',
      // Ranks, schemes and samples come from the command's config defaults (ablation.*);
      // --resume keeps the cells an interrupted run finished.
      commands: [plora('ablation', '--domains', csv(d), '--epochs', 1, '--out', 'results', '--resume')],
      // After a settings change the old cells are of other settings: start over (`--replace`).
      freshArgv: (argv) => argv.map((a) => (a === '--resume' ? '--replace' : a)),
    },
    {
      k: 14,
      desc: 'Alternating train-merge stability',
      make: 'alt-train-merge',
      config: [...modelKeys, 'domains', 'alt_train_merge', 'value_add.dev_size', 'eval_split'],
      inputs: [],
      outputs: ['results/alt_train_merge/convergence.json'],
      deps: [],
      requires: 'alt-train-merge',
      commands: [plora('alt-train-merge', '--domains', csv(d), '--output', 'results/alt_train_merge', '--replace')],
    },
    {
      k: 15,
      desc: 'Value-add JSONL verification',
      make: '(inline)',
      config: ['domains', 'value_add'],
      inputs: ['results/value_add/value_add.jsonl'],
      outputs: [],
      deps: [11],
      commands: [],
      action: async (ctx) => {
        const path = join(ctx.cwd, 'results/value_add/value_add.jsonl')
        if (!existsSync(path)) {
          throw new ExperimentsError(
            ExperimentsErrorCode.StepFailed,
            'results/value_add/value_add.jsonl is missing (step 11)',
            {
              path,
            },
          )
        }
        const n = await countJsonlRecords(path)
        const want = valueAddCells(ctx.config)
        if (n !== want) {
          throw new ExperimentsError(
            ExperimentsErrorCode.StepFailed,
            `results/value_add/value_add.jsonl has ${n} records, expected ${want} (domains × value_add.ranks × schemes × seeds)`,
            { path, found: n, expected: want },
          )
        }
        ctx.say(`  ✓ value_add.jsonl has ${n} records (= ${want} configured cells)`)
      },
    },
    {
      k: 16,
      desc: 'Consensus-enabled v2 smoke',
      make: '(inline)',
      config: ['graph.p', 'swarm', ...gateKeys, 'base_model'],
      inputs: [...adapters, 'results/gate-ref.json'],
      outputs: [`results/swarm_v2_report_seed${cs.seed}.json`, `results/history_seed${cs.seed}.json`],
      deps: [5, 7],
      commands: [
        plora(
          'swarm',
          'v2',
          '--agents',
          cs.agents,
          '--rounds',
          cs.rounds,
          '--graph',
          'er',
          '--graph_p',
          p,
          '--seed',
          cs.seed,
          '--security',
          'on',
          '--trojan_rate',
          trojan,
          '--consensus',
          'on',
          '--quorum',
          config.swarm.quorum,
          '--report_dir',
          'results',
          '--adapters_dir',
          'out',
        ),
      ],
    },
    {
      k: 17,
      desc: 'gRPC offer/fetch demo (signed)',
      make: 'offer + fetch',
      config: ['domains'],
      inputs: [PUB, `out/${grpcDomain}`],
      outputs: [`fetched/${grpcDomain}/adapter_model.safetensors`],
      deps: [7],
      commands: [offerCommand, fetchCommand('<port>')],
      action: async (ctx) => {
        await rm(join(ctx.cwd, 'fetched', grpcDomain), { recursive: true, force: true })
        const server = ctx.start(offerCommand, /Offer server running on \S*:(\d+)/)
        try {
          const m = await server.ready
          const port = m[1] ?? ''
          ctx.say(`  offer server listening on 127.0.0.1:${port}`)
          await ctx.run(fetchCommand(port))
        } finally {
          await server.stop()
        }
      },
    },
    {
      k: 18,
      desc: 'Dump effective security policy',
      make: 'dump-policy',
      config: ['allowed_ranks', 'allowed_targets', 'gate'],
      inputs: [],
      outputs: [],
      deps: [],
      commands: [plora('dump-policy', '--allowed-ranks', csv(config.allowed_ranks), '--signatures', 'off')],
    },
    {
      k: 19,
      desc: 'Net IT metrics',
      make: 'net-it',
      config: [],
      inputs: ['results/history.json'],
      outputs: ['results/net_it_metrics.json'],
      deps: [8],
      commands: [
        plora(
          'net-it',
          '--history',
          'results/history.json',
          '--out',
          'results/net_it_metrics.json',
          '--boot',
          profile.netIt.boot,
          '--perm',
          profile.netIt.perm,
        ),
      ],
    },
  ]
  return steps
}

/** The closing stage after step 19: figures + results/report.html. */
export function reportStage(): PipelineStep {
  return {
    k: TOTAL_STEPS + 1,
    desc: 'Figures and results/report.html',
    make: 'report',
    config: [],
    inputs: [],
    outputs: ['results/report.html'],
    deps: Array.from({ length: TOTAL_STEPS }, (_, i) => i + 1),
    commands: [plora('report', '--results', 'results')],
  }
}

// ---------------------------------------------------------------------------------------------
// Hashing and state

/** Value at a dotted path (`graph.p`, `value_add.ranks`); undefined when absent. */
export function configValueAt(config: unknown, path: string): unknown {
  let cur: unknown = config
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

/** Content hash of a file or a folder (sorted relative names + file hashes); `missing` when absent. */
export async function hashPath(path: string): Promise<string> {
  let st: Awaited<ReturnType<typeof stat>>
  try {
    st = await stat(path)
  } catch {
    return 'missing'
  }
  if (st.isFile()) return sha256FileHex(path)
  if (!st.isDirectory()) return 'special'
  const parts: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))
    for (const e of entries) {
      const full = join(dir, e.name)
      if (e.isDirectory()) await walk(full)
      else if (e.isFile()) parts.push(`${relative(path, full)}\0${await sha256FileHex(full)}`)
    }
  }
  await walk(path)
  return sha256Hex(parts.join('\n'))
}

/** What a step's record keeps: its hash and what went into it (to explain a re-run). */
export interface StepFingerprint {
  hash: string
  config: Record<string, unknown>
  inputs: Record<string, string>
}

/** Hash of a step: its commands, the values of its config fields and the contents of its inputs. */
export async function stepFingerprint(step: PipelineStep, config: unknown, cwd: string): Promise<StepFingerprint> {
  const cfg: Record<string, unknown> = {}
  for (const key of step.config) cfg[key] = configValueAt(config, key) ?? null
  const inputs: Record<string, string> = {}
  for (const p of step.inputs) inputs[p] = await hashPath(join(cwd, p))
  const hash = sha256Hex(
    canonicalJson({
      k: step.k,
      commands: step.commands.map((c) => [c.cwd ?? 'project', ...c.argv]),
      config: cfg,
      inputs,
    }),
  )
  return { hash, config: cfg, inputs }
}

/** One completed step in the state file. */
export interface StepRecord extends StepFingerprint {
  finished_at: string
  seconds: number
}

/** The state file (`results/.dryrun_state.json` / `results/.experiment_state.json`). */
export interface PipelineState {
  version: number
  pipeline: PipelineName
  config_path: string
  config_sha256: string
  total_steps: number
  steps: Record<string, StepRecord>
}

/** Reads a state file; null when absent. A file that is not a state file is an error (never silently reset). */
export async function readPipelineState(path: string): Promise<PipelineState | null> {
  if (!existsSync(path)) return null
  let v: unknown
  try {
    v = JSON.parse(await readFile(path, 'utf8'))
  } catch (e) {
    throw new ExperimentsError(
      ExperimentsErrorCode.StateInvalid,
      `${path} is not valid JSON (${(e as Error).message}); delete it with the pipeline's reset target to start over`,
      { path },
    )
  }
  const s = v as Partial<PipelineState>
  if (
    s === null ||
    typeof s !== 'object' ||
    s.version !== PIPELINE_STATE_VERSION ||
    typeof s.steps !== 'object' ||
    s.steps === null ||
    !PIPELINE_NAMES.includes(s.pipeline as PipelineName)
  ) {
    throw new ExperimentsError(
      ExperimentsErrorCode.StateInvalid,
      `${path} is not a plora pipeline state file of version ${PIPELINE_STATE_VERSION}; delete it with the pipeline's reset target to start over`,
      { path },
    )
  }
  return s as PipelineState
}

/** Why a step must (re-)run, or null when its record is current. */
export function staleReason(
  step: PipelineStep,
  record: StepRecord | undefined,
  now: StepFingerprint,
  cwd: string,
  rerunDeps: ReadonlySet<number>,
): string | null {
  if (!record) return 'not run yet'
  const deps = step.deps.filter((k) => rerunDeps.has(k))
  if (deps.length > 0) return `step${deps.length > 1 ? 's' : ''} ${deps.join(', ')} re-ran`
  if (record.hash !== now.hash) {
    const cfg = Object.keys(now.config).filter(
      (k) => canonicalJson(now.config[k]) !== canonicalJson(record.config?.[k] ?? null),
    )
    const inp = Object.keys(now.inputs).filter((k) => now.inputs[k] !== record.inputs?.[k])
    if (cfg.length > 0) return `config changed (${cfg.join(', ')})`
    if (inp.length > 0) return `input changed (${inp.join(', ')})`
    return 'commands changed'
  }
  const missing = step.outputs.filter((o) => !existsSync(join(cwd, o)))
  if (missing.length > 0) return `output missing (${missing.join(', ')})`
  return null
}

/** Whether a step's config fields or commands differ from its record (not merely its inputs). */
export function settingsChanged(record: StepFingerprint | undefined, now: StepFingerprint): boolean {
  if (!record || record.hash === now.hash) return false
  const cfg = Object.keys(now.config).some(
    (k) => canonicalJson(now.config[k]) !== canonicalJson(record.config?.[k] ?? null),
  )
  const inputs = Object.keys(now.inputs).some((k) => now.inputs[k] !== record.inputs?.[k])
  return cfg || !inputs
}

// ---------------------------------------------------------------------------------------------
// Running

/** Options of {@link runPipeline}. */
export interface RunPipelineOptions {
  name: PipelineName
  /** Project folder: results/, out/, keys/, fetched/, logs/ live here. */
  cwd: string
  /** The plora checkout (step 1's tests run there). */
  repoRoot: string
  config: PipelineConfig
  /** The config file; every step gets it as `PLORA_CONFIG`. */
  configPath: string
  /** argv prefix that runs the `plora` CLI (e.g. `[process.execPath, 'packages/cli/bin/plora.js']`). */
  plora: readonly string[]
  /**
   * Whether the `plora` that runs the steps has a top-level command (steps 13/14 need `ablation` /
   * `alt-train-merge`); the CLI passes its own command list. Default: every command exists.
   */
  hasCommand?: (name: string) => boolean
  /** Environment of the steps (default `process.env`); `PLORA_CONFIG` is set to `configPath`. */
  env?: NodeJS.ProcessEnv
  profile?: PipelineProfile
  /** Steps to leave out (reported as skipped, never recorded as done). */
  skip?: readonly number[]
  /** Run only these steps (plus nothing else). */
  only?: readonly number[]
  /** Replaces fields of steps (test hook: e.g. a forced failure, or stand-ins for steps 13/14). */
  overrides?: Readonly<Record<number, Partial<PipelineStep>>>
  /** Also write figures + report.html after step 19 (default true). */
  report?: boolean
  /** Stop the running step on SIGINT/SIGTERM (default true; the run then fails at that step). */
  handleSignals?: boolean
  /** Console sink for progress and step output (default: stderr). */
  echo?: (text: string) => void
  /** Clock (tests). */
  now?: () => Date
}

/** What {@link runPipeline} did. */
export interface RunPipelineResult {
  ok: boolean
  failedStep?: number
  error?: string
  /** The resume hint printed on failure. */
  failedMessage?: string
  ran: number[]
  skipped: number[]
  seconds: Record<number, number>
  totalSeconds: number
  logFile: string
}

function stamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`
}

function fmtSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${(s % 60).toFixed(0).padStart(2, '0')} s`
}

/** Path of the state file of `name` under `cwd`. */
export function statePath(name: PipelineName, cwd: string): string {
  return join(cwd, PIPELINES[name].stateFile)
}

/** The step table after `overrides`. */
export function effectiveSteps(
  options: Pick<RunPipelineOptions, 'name' | 'config' | 'profile' | 'overrides'>,
): PipelineStep[] {
  return pipelineSteps(options.name, options.config, options.profile ?? PIPELINE_PROFILES[options.name]).map((s) => ({
    ...s,
    ...(options.overrides?.[s.k] ?? {}),
  }))
}

/**
 * Runs the pipeline, resuming: a step whose record matches its current fingerprint, whose outputs
 * exist and none of whose dependencies re-ran is skipped. Stops at the first failing step.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<RunPipelineResult> {
  const info = PIPELINES[options.name]
  const cwd = resolve(options.cwd)
  const now = options.now ?? (() => new Date())
  const profile = options.profile ?? PIPELINE_PROFILES[options.name]
  const echo = options.echo ?? ((t: string) => process.stderr.write(t))
  const started = Date.now()
  await mkdir(join(cwd, 'logs'), { recursive: true })
  await mkdir(join(cwd, 'results'), { recursive: true })
  const logFile = join(cwd, 'logs', `${info.target}-${stamp(now())}.log`)
  const log: WriteStream = createWriteStream(logFile, { flags: 'a' })
  const write = (text: string, console = true) => {
    log.write(text)
    if (console) echo(text)
  }
  const say = (line: string) => write(`${line}\n`)
  const baseEnv = options.env ?? process.env
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    PLORA_CONFIG: resolve(options.configPath),
    // Grids that run on a worker pool (the ablation) use every core unless the user chose a count;
    // their records do not depend on it, so it is not part of any step's hash.
    PLORA_WORKERS: baseEnv.PLORA_WORKERS ?? String(availableParallelism()),
  }
  const configText = await readFile(options.configPath)
  const sPath = statePath(options.name, cwd)
  const previous = await readPipelineState(sPath)
  const state: PipelineState = {
    version: PIPELINE_STATE_VERSION,
    pipeline: options.name,
    config_path: resolve(options.configPath),
    config_sha256: sha256Hex(configText),
    total_steps: TOTAL_STEPS,
    steps: previous?.pipeline === options.name ? { ...previous.steps } : {},
  }

  // SIGINT/SIGTERM stop the running step's children (a terminal's Ctrl-C reaches them anyway; a
  // `kill <pid>` of the runner alone would leave them writing after the runner is gone), so the
  // step fails, is not recorded, and the next run resumes at it.
  const active = new Set<ReturnType<typeof spawn>>()
  let interrupted: NodeJS.Signals | null = null
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal
    write(`\ninterrupted by ${signal}: stopping the running step\n`)
    for (const child of active) child.kill(signal)
  }
  const handleSignals = options.handleSignals !== false
  if (handleSignals) {
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  }
  const argvOf = (c: StepCommand): string[] =>
    c.argv[0] === 'plora' ? [...options.plora, ...c.argv.slice(1)] : [...c.argv]
  const cwdOf = (c: StepCommand) => (c.cwd === 'repo' ? options.repoRoot : cwd)
  const envOf = (c: StepCommand): NodeJS.ProcessEnv => {
    if (c.cwd !== 'repo') return env
    // The test suite must see the user's environment, not the pipeline's config.
    const e = { ...env }
    delete e.PLORA_CONFIG
    if (baseEnv.PLORA_WORKERS === undefined) delete e.PLORA_WORKERS
    return e
  }
  const spawnCommand = (c: StepCommand, onLine?: (line: string) => void) => {
    const argv = argvOf(c)
    write(`  $ ${c.argv.join(' ')}\n`, false)
    if (interrupted) {
      throw new ExperimentsError(ExperimentsErrorCode.StepFailed, `interrupted by ${interrupted}`, {
        signal: interrupted,
      })
    }
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: cwdOf(c),
      env: envOf(c),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    active.add(child)
    child.on('close', () => active.delete(child))
    let pending = ''
    const onData = (chunk: Buffer) => {
      const text = chunk.toString()
      write(text)
      if (onLine) {
        pending += text
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const l of lines) onLine(l)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
      child.on('error', rej)
      child.on('close', (code, signal) => res({ code, signal }))
    })
    return { child, exited, argv }
  }
  const runCommand = async (c: StepCommand): Promise<void> => {
    const { exited } = spawnCommand(c)
    let r: { code: number | null; signal: NodeJS.Signals | null }
    try {
      r = await exited
    } catch (e) {
      throw new ExperimentsError(
        ExperimentsErrorCode.StepFailed,
        `could not start \`${c.argv.join(' ')}\`: ${(e as Error).message}`,
      )
    }
    if (r.code !== 0) {
      throw new ExperimentsError(
        ExperimentsErrorCode.StepFailed,
        `\`${c.argv.join(' ')}\` ${r.signal ? `was killed by ${r.signal}` : `exited with status ${r.code}`}`,
        { argv: c.argv, code: r.code, signal: r.signal },
      )
    }
  }
  const startCommand = (c: StepCommand, readyLine: RegExp) => {
    let resolveReady: (m: RegExpMatchArray) => void = () => {}
    let rejectReady: (e: Error) => void = () => {}
    const ready = new Promise<RegExpMatchArray>((res, rej) => {
      resolveReady = res
      rejectReady = rej
    })
    const { child, exited } = spawnCommand(c, (line) => {
      const m = line.match(readyLine)
      if (m) resolveReady(m)
    })
    exited.then(
      (r) =>
        rejectReady(
          new ExperimentsError(
            ExperimentsErrorCode.StepFailed,
            `\`${c.argv.join(' ')}\` stopped before it was ready (status ${r.code ?? r.signal})`,
          ),
        ),
      (e: Error) => rejectReady(e),
    )
    const timer = setTimeout(
      () =>
        rejectReady(
          new ExperimentsError(ExperimentsErrorCode.StepFailed, `\`${c.argv.join(' ')}\` not ready within 120 s`),
        ),
      120_000,
    )
    ready.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    )
    const stop = async () => {
      clearTimeout(timer)
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited.catch(() => undefined)
        clearTimeout(kill)
      }
    }
    return { ready, stop }
  }
  const ctx: StepContext = { cwd, config: options.config, profile, run: runCommand, start: startCommand, say }

  const steps = effectiveSteps({ ...options, profile })
  if (options.report !== false) steps.push(reportStage())
  const skipSet = new Set(options.skip ?? [])
  const onlySet = options.only ? new Set(options.only) : null
  const ran = new Set<number>()
  const skipped: number[] = []
  const seconds: Record<number, number> = {}
  say(
    `plora pipeline ${options.name} (${info.target}) — config ${relative(cwd, resolve(options.configPath)) || options.configPath}`,
  )
  say(`log: ${relative(cwd, logFile)}`)
  const finish = async (
    result: Omit<RunPipelineResult, 'ran' | 'skipped' | 'seconds' | 'totalSeconds' | 'logFile'>,
  ) => {
    if (handleSignals) {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    const totalSeconds = (Date.now() - started) / 1000
    say(`total ${fmtSeconds(totalSeconds)} (${ran.size} ran, ${skipped.length} skipped)`)
    await new Promise<void>((res) => log.end(res))
    return { ...result, ran: [...ran], skipped, seconds, totalSeconds, logFile }
  }
  for (const step of steps) {
    const label = step.k <= TOTAL_STEPS ? `[${step.k}/${TOTAL_STEPS}]` : '[report]'
    if (skipSet.has(step.k) || (onlySet && !onlySet.has(step.k) && step.k <= TOTAL_STEPS)) {
      say(`${label} ${step.desc} - SKIPPED (left out by --skip/--only)`)
      skipped.push(step.k)
      continue
    }
    if (step.k > TOTAL_STEPS) {
      // After all 19 steps, or all but those left out explicitly with --skip.
      const missing = steps
        .filter((s) => s.k <= TOTAL_STEPS && !state.steps[String(s.k)] && !skipSet.has(s.k))
        .map((s) => s.k)
      if (missing.length > 0) {
        say(`${label} ${step.desc} - SKIPPED (needs all ${TOTAL_STEPS} steps; not done: ${missing.join(', ')})`)
        skipped.push(step.k)
        continue
      }
    }
    const fp = await stepFingerprint(step, options.config, cwd)
    const reason = staleReason(step, state.steps[String(step.k)], fp, cwd, ran)
    if (reason === null) {
      say(`${label} ${step.desc} - SKIPPED (already done)`)
      skipped.push(step.k)
      continue
    }
    say(`${label} ${step.desc}${state.steps[String(step.k)] ? ` (re-run: ${reason})` : ''}`)
    const previousRecord = state.steps[String(step.k)]
    // A step that starts is no longer done: a run killed inside it resumes at it.
    if (state.steps[String(step.k)]) {
      delete state.steps[String(step.k)]
      await writeJsonAtomic(sPath, state)
    }
    const t0 = Date.now()
    try {
      if (step.requires && options.hasCommand && !options.hasCommand(step.requires)) {
        throw new ExperimentsError(
          ExperimentsErrorCode.StepUnavailable,
          `step ${step.k} (${step.desc}) needs \`plora ${step.requires}\`, which is not available in this build (make target '${step.make}'); update plora or leave the step out with --skip ${step.k}`,
          { step: step.k, command: step.requires },
        )
      }
      const changed = settingsChanged(previousRecord, fp)
      if (step.action) await step.action(ctx)
      else {
        for (const [i, c] of step.commands.entries()) {
          const last = i === step.commands.length - 1
          const fresh = last && changed
          if (fresh && step.freshArgv) await runCommand({ ...c, argv: step.freshArgv(c.argv) })
          else await runCommand(fresh && step.fresh ? { ...c, argv: [...c.argv, ...step.fresh] } : c)
        }
      }
      const missing = step.outputs.filter((o) => !existsSync(join(cwd, o)))
      if (missing.length > 0) {
        throw new ExperimentsError(
          ExperimentsErrorCode.StepFailed,
          `step ${step.k} finished but did not write ${missing.join(', ')}`,
          { missing },
        )
      }
    } catch (e) {
      const s = (Date.now() - t0) / 1000
      seconds[step.k] = s
      delete state.steps[String(step.k)]
      await writeJsonAtomic(sPath, state)
      const error = (e as Error).message
      say(`${label} ${step.desc} - failed after ${fmtSeconds(s)}: ${error}`)
      const failedMessage =
        step.k <= TOTAL_STEPS
          ? `FAILED at step ${step.k}. Re-run 'make ${info.target}' to resume.`
          : `FAILED writing the report. Re-run 'make ${info.target}' to resume.`
      say(failedMessage)
      return finish({ ok: false, failedStep: step.k, error, failedMessage })
    }
    const s = (Date.now() - t0) / 1000
    seconds[step.k] = s
    ran.add(step.k)
    state.steps[String(step.k)] = { ...fp, finished_at: now().toISOString(), seconds: Math.round(s * 10) / 10 }
    await writeJsonAtomic(sPath, state)
    say(`${label} done in ${fmtSeconds(s)}`)
  }
  const done = steps.filter((s) => s.k <= TOTAL_STEPS && state.steps[String(s.k)]).length
  if (done === TOTAL_STEPS) {
    const rule = '═'.repeat(64)
    say(`\n${rule}\n  ${info.finishedMessage}\n${rule}`)
  }
  return finish({ ok: true })
}

// ---------------------------------------------------------------------------------------------
// Status and reset

/** One step's standing. */
export interface StepStatus {
  k: number
  desc: string
  done: boolean
  /** Why it would run next time (null when done and current). */
  reason: string | null
  seconds?: number
}

/** `status` of a pipeline. */
export interface PipelineStatus {
  hasState: boolean
  completed: number
  next: number | null
  steps: StepStatus[]
  lines: string[]
}

/** Completed steps (current fingerprints, outputs present, no stale dependency), the next step, and the spec's lines. */
export async function pipelineStatus(
  options: Pick<RunPipelineOptions, 'name' | 'cwd' | 'config' | 'profile' | 'overrides'>,
): Promise<PipelineStatus> {
  const info = PIPELINES[options.name]
  const cwd = resolve(options.cwd)
  const state = await readPipelineState(statePath(options.name, cwd))
  if (!state) return { hasState: false, completed: 0, next: 1, steps: [], lines: [info.noneMessage] }
  const stale = new Set<number>()
  const out: StepStatus[] = []
  for (const step of effectiveSteps(options)) {
    const rec = state.steps[String(step.k)]
    const fp = await stepFingerprint(step, options.config, cwd)
    const reason = staleReason(step, rec, fp, cwd, stale)
    if (reason !== null) stale.add(step.k)
    out.push({ k: step.k, desc: step.desc, done: reason === null, reason, ...(rec ? { seconds: rec.seconds } : {}) })
  }
  const completed = out.filter((s) => s.done).length
  const next = out.find((s) => !s.done)?.k ?? null
  const lines = [`Completed steps: ${completed}/${TOTAL_STEPS}`]
  if (next === null) lines.push(info.completeMessage)
  else {
    lines.push(`Next step: ${next}`)
    for (const s of out)
      if (!s.done && s.reason !== 'not run yet') lines.push(`  step ${s.k} (${s.desc}) will re-run: ${s.reason}`)
  }
  return { hasState: true, completed, next, steps: out, lines }
}

/** Deletes the state file; returns the spec's message. */
export async function resetPipeline(name: PipelineName, cwd: string): Promise<string> {
  const p = statePath(name, cwd)
  await mkdir(dirname(p), { recursive: true })
  await rm(p, { force: true })
  return PIPELINES[name].resetMessage
}
