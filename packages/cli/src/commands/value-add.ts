import { type Command, InvalidArgumentError } from 'commander'
import { setExitCodes } from '../exit-codes.js'
import {
  defaultNote,
  parseCsvEnum,
  parseCsvFloats,
  parseCsvInts,
  parseCsvStrings,
  parseEnum,
  parseFloatFlag,
  parseIntFlag,
  parsePathFlag,
  parseShard,
  setLibraryDefaults,
} from '../flags.js'

const positiveInt = parseIntFlag({ min: 1 })
const positiveNumber = parseFloatFlag({ min: 0, exclusive: 'min' })
const schemes = parseCsvEnum(['attention', 'mlp', 'all'] as const)
const placeboBRank = (value: string): number | 'cell' => {
  if (value === 'cell') return 'cell'
  try {
    return positiveInt(value)
  } catch {
    throw new InvalidArgumentError(`expected "cell" or a decimal integer ≥ 1, found ${JSON.stringify(value)}`)
  }
}

/** Default output folder of the value-add experiment (the original's). */
export const VALUE_ADD_RESULTS = 'results/value_add'
/** The monolithic baseline evaluated beside the per-domain adapters when it exists. */
export const DEFAULT_MONOLITHIC_DIR = 'out/monolithic_r4'

interface RunFlags {
  domains?: string[]
  ranks?: number[]
  schemes?: Array<'attention' | 'mlp' | 'all'>
  seeds?: number[]
  samples?: number
  devSize?: number
  output: string
  baseModel?: string
  evalSplit?: 'train' | 'validation' | 'test'
  placeboBRank?: number | 'cell'
  latencyBudgetMs?: number
  ignoreLatencyGuard?: boolean
  resume: boolean
  nllOn: 'answer' | 'all'
  maxLength?: number
  latencyTrials: number
  monolithic?: string
  hub?: boolean
  workers?: number
  placeboMinEffect: number
  placeboGuardB?: boolean
  shard?: { index: number; count: number }
}

/** Dataset options as `plora train` / `plora data` build them (config data.sources, split fractions, hub). */
export async function datasetOptions(rt: import('../runtime.js').Runtime, hub: boolean) {
  const { getConfigValue } = await import('@plora/config')
  const ds = await import('@plora/datasets')
  let sources: Record<string, import('@plora/datasets').DatasetSource> = { ...ds.DEFAULT_DOMAIN_SOURCES }
  let configured: unknown
  try {
    configured = getConfigValue(rt.config, 'data.sources')
  } catch {
    configured = undefined
  }
  if (configured !== undefined)
    sources = { ...sources, ...ds.parseDomainSources(configured, `${rt.configPath}: data.sources`) }
  if (hub) sources = { ...sources, ...ds.HF_DOMAIN_SOURCES }
  const share = rt.config.train.train_split
  return {
    sources,
    fractions: { train: share, validation: (1 - share) / 2, test: (1 - share) / 2 },
    logger: rt.logger,
    hub: {
      hubCache: rt.env.hfHubCache,
      endpoint: rt.env.hfEndpoint,
      offline: rt.env.hfHubOffline,
      ...(rt.env.hfToken ? { token: rt.env.hfToken } : {}),
    },
  }
}

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`
}

/** The grid and evaluation flags `value-add run` and `value-add merge` share. */
function addGridFlags(cmd: Command, what: 'run' | 'merge'): Command {
  return cmd
    .option('--domains <csv>', 'domains (default: config domains)', parseCsvStrings)
    .option('--ranks <csv>', 'LoRA ranks (default: config value_add.ranks)', parseCsvInts({ min: 1 }))
    .option('--schemes <csv>', 'target schemes: attention, mlp, all (default: config value_add.schemes)', schemes)
    .option(
      '--seeds <csv>',
      'seeds: LoRA init, data order, dropout (default: config value_add.seeds)',
      parseCsvInts({ min: 0 }),
    )
    .option('--samples <n>', 'training pairs per domain (default: $PLORA_SAMPLES, else config samples)', positiveInt)
    .option('--dev-size <n>', 'evaluation pairs per domain (default: config value_add.dev_size)', positiveInt)
    .option(
      '--output <dir>',
      what === 'run' ? 'output folder' : 'merged output folder (new or empty)',
      parsePathFlag,
      VALUE_ADD_RESULTS,
    )
    .option('--base-model <id|dir>', 'base model (default: $PLORA_BASE_MODEL, else config base_model)', parsePathFlag)
    .option(
      '--eval-split <split>',
      'split evaluated: train | validation | test (default: config eval_split)',
      parseEnum(['train', 'validation', 'test'] as const),
    )
    .option(
      '--placebo-b-rank <r|cell>',
      'rank of placebo B (label-shuffled training), or "cell" for each cell\'s rank (default: config value_add.placebo_b_rank)',
      placeboBRank,
    )
    .option(
      '--nll-on <what>',
      'tokens the NLL averages over: answer | all (the original: all)',
      parseEnum(['answer', 'all'] as const),
    )
    .option('--max-length <n>', 'longest scored sequence in tokens (default: the model context)', positiveInt)
    .option(
      '--monolithic <dir>',
      'monolithic adapter evaluated beside the per-domain adapters when it exists',
      parsePathFlag,
    )
    .option(
      '--placebo-min-effect <nats>',
      'smallest placebo NLL improvement that trips the placebo guard (0 = any significant improvement)',
      parseFloatFlag({ min: 0 }),
    )
    .option('--placebo-guard-b', 'let placebo B (shuffled labels, the domain-adaptation control) trip the guard too')
    .option('--hub', "use the original's Hugging Face datasets for arithmetic, legal and medical")
}

/** The grid, settings and dataset of a value-add run (or of the merge of its shards) from flags and config. */
async function valueAddOptions(
  flags: RunFlags,
  rt: import('../runtime.js').Runtime & { baseModel: string; modelDir: string },
) {
  const ex = await import('@plora/experiments')
  const va = rt.config.value_add
  return {
    modelDir: rt.modelDir,
    baseModel: rt.baseModel,
    domains: flags.domains ?? rt.config.domains,
    ranks: flags.ranks ?? va.ranks,
    schemes: flags.schemes ?? (va.schemes as Array<'attention' | 'mlp' | 'all'>),
    seeds: flags.seeds ?? va.seeds,
    samples: flags.samples ?? rt.env.samples ?? rt.config.samples,
    devSize: flags.devSize ?? va.dev_size,
    output: flags.output,
    evalSplit: flags.evalSplit ?? rt.config.eval_split,
    placeboBRank: flags.placeboBRank ?? va.placebo_b_rank,
    nllOn: flags.nllOn,
    maxLength: flags.maxLength,
    training: {
      epochs: 1,
      lr: rt.config.train.lr,
      maxLen: rt.config.train.max_len,
      dropout: rt.config.train.dropout,
      batchSize: 1,
      valSamples: ex.DEFAULT_VALUE_ADD_OPTIONS.training.valSamples,
    },
    dataset: await datasetOptions(rt, flags.hub === true),
    monolithic: flags.monolithic ?? DEFAULT_MONOLITHIC_DIR,
    placeboMinEffect: flags.placeboMinEffect,
    placeboGuard: flags.placeboGuardB ? ['placebo_a' as const, 'placebo_b' as const] : ['placebo_a' as const],
    logger: rt.logger,
  }
}

/** `plora value-add run|merge|build|compare` (spec pipelines.md §9; issue 16, issue 23 item 3). */
export function register(program: Command): void {
  const group = program
    .command('value-add')
    .description('the value-add experiment: trained adapters vs the pristine base model and two placebos')

  const run = addGridFlags(
    group
      .command('run')
      .description(
        'train and evaluate every domain × rank × scheme × seed cell (trained, placebo A, placebo B, cross-domain, latency); appends value_add.jsonl, writes value_add.md',
      ),
    'run',
  )
    .option(
      '--latency-budget-ms <ms>',
      'inject+remove latency budget (default: $PLORA_LATENCY_BUDGET_MS, else config latency_budget_ms)',
      positiveNumber,
    )
    .option('--ignore-latency-guard', 'only flag (⚠) cells over the latency budget instead of stopping the run')
    .option('--no-resume', 'start over: delete value_add.jsonl and nll_cache.json, retrain the adapters')
    .option('--latency-trials <n>', 'inject+remove trials, median reported (≥ 3)', parseIntFlag({ min: 3 }))
    .option(
      '--workers <n>',
      'worker threads the cells run on, each with its own backend and model copy; records as with 1 (default: $PLORA_WORKERS, else 1)',
      positiveInt,
    )
    .option(
      '--shard <i/n>',
      'run only shard i of n of the grid (cell g goes to shard g mod n + 1) into its own --output; join the shards with `plora value-add merge` (the placebo guard runs there)',
      parseShard,
    )
    .addHelpText(
      'after',
      '\nExit status: 0 done; 1 bad input, a dataset that cannot be loaded (names the domain and split) or a\n' +
        'base model whose weights changed; 4 placebo A (B too with --placebo-guard-b) lowers the NLL\n' +
        'significantly after Holm correction, by at least --placebo-min-effect nats (names the cell;\n' +
        'records and report are written first; not checked in a --shard run); 5 a cell exceeded the\n' +
        'latency budget without --ignore-latency-guard (the record and the report are written first).',
    )
  /** The library defaults the grid flags of `run` and `merge` show. */
  const gridDefaults = async () => {
    const { DEFAULT_VALUE_ADD_OPTIONS: d } = await import('@plora/experiments')
    return {
      nllOn: d.nllOn,
      placeboMinEffect: d.placeboMinEffect,
      monolithic: defaultNote(`${DEFAULT_MONOLITHIC_DIR} when it exists`),
      maxLength: defaultNote('the model context'),
    }
  }
  setLibraryDefaults(run, async () => {
    const { DEFAULT_VALUE_ADD_OPTIONS: d } = await import('@plora/experiments')
    return { ...(await gridDefaults()), latencyTrials: d.latencyTrials }
  })
  setExitCodes(run, { EXPERIMENTS_PLACEBO_BEATS_BASELINE: 4, EXPERIMENTS_LATENCY_GUARD_EXCEEDED: 5 })
  run.action(async (flags: RunFlags) => {
    const { loadModelRuntime } = await import('../runtime.js')
    const ex = await import('@plora/experiments')
    const rt = await loadModelRuntime(flags.baseModel)
    const started = Date.now()
    const result = await ex.runValueAdd({
      ...(await valueAddOptions(flags, rt)),
      ignoreLatencyGuard: flags.ignoreLatencyGuard === true,
      resume: flags.resume,
      latencyTrials: flags.latencyTrials,
      latencyBudgetMs: flags.latencyBudgetMs ?? rt.env.latencyBudgetMs ?? rt.config.latency_budget_ms,
      workers: flags.workers ?? rt.env.workers ?? 1,
      ...(flags.shard ? { shard: flags.shard } : {}),
      onCell: (p) => {
        const t = p.record.trained
        const what = p.skipped
          ? 'resumed'
          : `done in ${p.seconds.toFixed(1)} s: trained ΔNLL ${t ? ex.formatSigned3(t.delta_mean) : '?'}`
        process.stderr.write(`[value-add ${p.done}/${p.total}] ${p.label} ${what}; ETA ${formatEta(p.etaSeconds)}\n`)
      },
    })
    process.stdout.write(
      `value-add${flags.shard ? ` shard ${flags.shard.index}/${flags.shard.count}` : ''}: ${result.newRecords} new cell(s) on ${result.workers} worker thread(s), ${result.skipped} resumed, ${result.records.length} record(s) in ${result.jsonlPath}; ` +
        `report ${result.mdPath}; base weights ${result.baseSha256Start === result.baseSha256End ? 'pristine' : 'CHANGED'} ` +
        `(sha256 ${result.baseSha256End.slice(0, 12)}…); ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    )
  })

  const merge = addGridFlags(
    group
      .command('merge')
      .description(
        "join the --output folders of a sharded run (value-add run --shard i/n) into --output: records in grid order, NLL caches, adapters, then value_add.md and the summary as a one-machine run writes them (give the shards' grid flags)",
      )
      .argument('<shards...>', 'the output folders the shards wrote'),
    'merge',
  ).addHelpText(
    'after',
    '\nExit status: 0 done; 1 a cell missing from every shard (named, with the count), a record of another\n' +
      'grid or settings, a cell two shards hold with different results (timing fields aside) or an\n' +
      '--output that is not empty: nothing is written; 4 the placebo guard, over the whole grid (the\n' +
      'merged folder is written first).',
  )
  setLibraryDefaults(merge, gridDefaults)
  setExitCodes(merge, { EXPERIMENTS_PLACEBO_BEATS_BASELINE: 4 })
  merge.action(async (shards: string[], flags: RunFlags) => {
    const { loadModelRuntime } = await import('../runtime.js')
    const ex = await import('@plora/experiments')
    const rt = await loadModelRuntime(flags.baseModel)
    const r = await ex.mergeValueAddShards({ ...(await valueAddOptions(flags, rt)), inputs: shards })
    process.stdout.write(
      `Merged ${r.inputs} shard folder(s) into ${r.output} (${r.records} records in grid order, ${r.files} adapter files)\n`,
    )
  })

  const build = group
    .command('build')
    .description(
      're-evaluate adapters already on disk (flat <domain>_r<r>_<scheme>_seed<n> or nested rank_r<r>/<domain>_<scheme>_seed<n> folders) on the held-out split; writes one record per configuration',
    )
    .option('--artifacts-dir <dir>', 'folder of the adapters', parsePathFlag, VALUE_ADD_RESULTS)
    .option('--output <path>', 'JSONL written', parsePathFlag, `${VALUE_ADD_RESULTS}/value_add.jsonl`)
    .option(
      '--domains <csv>',
      'domains whose dev sets are built and used for cross-domain deltas (default: config domains)',
      parseCsvStrings,
    )
    .option('--dev-size <n>', 'evaluation pairs per domain (default: config value_add.dev_size)', positiveInt)
    .option('--max-length <n>', 'longest scored sequence in tokens', positiveInt)
    .option(
      '--base-model <id|dir>',
      'base model when an artefact names none (default: $PLORA_BASE_MODEL, else config base_model)',
      parsePathFlag,
    )
    .option(
      '--eval-split <split>',
      'held-out split evaluated (default: config eval_split; the original used the training rows)',
      parseEnum(['train', 'validation', 'test'] as const),
    )
    .option('--nll-on <what>', 'tokens the NLL averages over: answer | all', parseEnum(['answer', 'all'] as const))
    .option('--overwrite', 'ignore the existing output')
    .option('--filter <regex>', 'keep adapter folders whose name matches', '')
    .option('--latency-trials <n>', 'hot inject+remove trials (0 = no latency)', parseIntFlag({ min: 0 }))
    .option('--no-disk-cache', 'do not cache baseline NLLs on disk')
    .option('--no-adapter-cache', 'do not cache adapter NLLs on disk')
    .option('--skip-placebos', 'do not evaluate placebo folders')
    .option('--skip-cross', 'no cross-domain deltas')
    .option('--list-configs', 'print the discovered configurations and exit')
    .option('--seeds <csv>', 'keep these seeds (default: config value_add.seeds)', parseCsvInts({ min: 0 }))
    .option('--hub', "use the original's Hugging Face datasets for arithmetic, legal and medical")
    .addHelpText(
      'after',
      '\nExit status: 0 done (failed configurations become records with status "eval_failed:<code>");\n' +
        '1 bad input or a dev set that cannot be loaded; 2 the artefacts folder does not exist; 3 no\n' +
        'configuration left after filtering.',
    )
  setLibraryDefaults(build, async () => {
    const { DEFAULT_BUILD_VALUE_ADD_OPTIONS: d } = await import('@plora/experiments')
    return { maxLength: d.maxLength, latencyTrials: d.latencyTrials, nllOn: d.nllOn }
  })
  setExitCodes(build, { EXPERIMENTS_ARTIFACTS_MISSING: 2, EXPERIMENTS_NO_CONFIGS: 3 })
  registerCompare(group)
  build.action(
    async (flags: {
      artifactsDir: string
      output: string
      domains?: string[]
      devSize?: number
      maxLength: number
      baseModel?: string
      evalSplit?: 'train' | 'validation' | 'test'
      nllOn: 'answer' | 'all'
      overwrite?: boolean
      filter: string
      latencyTrials: number
      diskCache: boolean
      adapterCache: boolean
      skipPlacebos?: boolean
      skipCross?: boolean
      listConfigs?: boolean
      seeds?: number[]
      hub?: boolean
    }) => {
      const { loadRuntime } = await import('../runtime.js')
      const ex = await import('@plora/experiments')
      const rt = await loadRuntime()
      const domains = flags.domains ?? rt.config.domains
      const seeds = flags.seeds ?? rt.config.value_add.seeds
      if (flags.listConfigs) {
        const configs = ex.filterArtifacts(ex.discoverArtifacts(flags.artifactsDir), {
          filter: flags.filter,
          seeds,
          domains,
        })
        const lines = configs.map((c) => `${c.domain} rank=${c.rank} scheme=${c.scheme} seed=${c.seed} -> ${c.dir}`)
        process.stdout.write(`${[...lines, `Discovered ${configs.length} configs.`].join('\n')}\n`)
        return
      }
      const { resolveBaseModelDir } = await import('../base-model.js')
      const result = await ex.buildValueAdd({
        artifactsDir: flags.artifactsDir,
        output: flags.output,
        domains,
        devSize: flags.devSize ?? rt.config.value_add.dev_size,
        maxLength: flags.maxLength,
        evalSplit: flags.evalSplit ?? rt.config.eval_split,
        nllOn: flags.nllOn,
        baseModel: flags.baseModel ?? rt.env.baseModel ?? rt.config.base_model,
        resolveModelDir: async (spec) =>
          (await resolveBaseModelDir(spec, { env: rt.env, logger: rt.logger, configBaseModel: rt.config.base_model }))
            .dir,
        overwrite: flags.overwrite === true,
        filter: flags.filter,
        seeds,
        latencyTrials: flags.latencyTrials,
        diskCache: flags.diskCache,
        adapterCache: flags.adapterCache,
        skipPlacebos: flags.skipPlacebos === true,
        skipCross: flags.skipCross === true,
        dataset: await datasetOptions(rt, flags.hub === true),
        logger: rt.logger,
        onConfig: (k, n, name) => process.stderr.write(`[${k}/${n}] wrote ${name}\n`),
      })
      process.stdout.write(
        `Done. Wrote ${result.records.length} records to ${result.output} (${result.evaluated} evaluated, ${result.reused} reused, ${result.failed} failed)\n`,
      )
    },
  )
}

/** The merge methods `value-add compare` accepts (mirrors `MERGE_METHODS` of @plora/loader). */
const COMPARE_METHODS = ['cat', 'svd', 'ties', 'dare_linear', 'dare_ties', 'magnitude_prune'] as const

/** `plora value-add compare` (make compare-adapters): per-domain vs monolithic vs merged adapters. */
function registerCompare(group: Command): void {
  const compare = group
    .command('compare')
    .description(
      "per domain, on the same eval_split examples: ΔNLL vs the base model of the domain's adapter, the monolithic adapter and each merge method's merge of the per-domain adapters (CI, Holm/BH-adjusted p)",
    )
    .option('--adapters-dir <dir>', 'folder of the per-domain adapters <dir>/<domain>', parsePathFlag, 'out')
    .option('--monolithic <dir>', 'monolithic adapter folder', parsePathFlag, DEFAULT_MONOLITHIC_DIR)
    .option('--no-monolithic', 'no monolithic row')
    .option('--domains <csv>', 'domains (default: config domains)', parseCsvStrings)
    .option(
      '--methods <csv>',
      `merge methods compared: ${COMPARE_METHODS.join(',')} (cat = the exact weighted sum; default all)`,
      parseCsvEnum(COMPARE_METHODS),
    )
    .option('--weights <csv>', 'merge weights, one per domain (default 1/K each)', parseCsvFloats())
    .option(
      '--density <d>',
      'fraction kept by ties / magnitude_prune',
      parseFloatFlag({ min: 0, max: 1, exclusive: 'min' }),
    )
    .option('--drop-rate <p>', 'DARE drop probability', parseFloatFlag({ min: 0, max: 1, exclusive: 'max' }))
    .option('--seed <n>', 'seed of the DARE masks', parseIntFlag({ min: 0 }))
    .option('--dev-size <n>', 'evaluation pairs per domain (default: config value_add.dev_size)', positiveInt)
    .option('--max-length <n>', 'longest scored sequence in tokens', positiveInt)
    .option(
      '--eval-split <split>',
      'held-out split evaluated (default: config eval_split)',
      parseEnum(['train', 'validation', 'test'] as const),
    )
    .option('--nll-on <what>', 'tokens the NLL averages over: answer | all', parseEnum(['answer', 'all'] as const))
    .option('--base-model <id|dir>', 'base model (default: $PLORA_BASE_MODEL, else config base_model)', parsePathFlag)
    .option('--bootstrap <n>', 'bootstrap resamples of the paired CI', positiveInt, 1000)
    .option('--out <path>', 'report (JSON)', parsePathFlag, 'results/adapter_comparison.json')
    .option('--md <path>', 'report (Markdown)', parsePathFlag, 'results/adapter_comparison.md')
    .option('--hub', "use the original's Hugging Face datasets for arithmetic, legal and medical")
  setLibraryDefaults(compare, async () => {
    const { DEFAULT_MERGE_METHOD_PARAMS: p } = await import('@plora/loader')
    const { DEFAULT_BUILD_VALUE_ADD_OPTIONS: d } = await import('@plora/experiments')
    return { density: p.density, dropRate: p.dropRate, seed: p.seed, maxLength: d.maxLength, nllOn: d.nllOn }
  })
  compare.action(
    async (flags: {
      adaptersDir: string
      monolithic: string | false
      domains?: string[]
      methods?: Array<(typeof COMPARE_METHODS)[number]>
      weights?: number[]
      density: number
      dropRate: number
      seed: number
      devSize?: number
      maxLength: number
      evalSplit?: 'train' | 'validation' | 'test'
      nllOn: 'answer' | 'all'
      baseModel?: string
      bootstrap: number
      out: string
      md: string
      hub?: boolean
    }) => {
      const { join } = await import('node:path')
      const { loadModelRuntime } = await import('../runtime.js')
      const ex = await import('@plora/experiments')
      const { loadCausalLMFromDir, loadTokenizer } = await import('@plora/model')
      const rt = await loadModelRuntime(flags.baseModel)
      const domains = flags.domains ?? rt.config.domains
      const dir = rt.modelDir
      const model = await loadCausalLMFromDir(dir)
      try {
        const report = await ex.compareAdapters({
          model,
          tok: await loadTokenizer(dir),
          domains,
          perDomain: new Map(domains.map((d) => [d, join(flags.adaptersDir, d)])),
          monolithic: flags.monolithic === false ? null : flags.monolithic,
          methods: flags.methods ?? [...COMPARE_METHODS],
          weights: flags.weights ?? null,
          density: flags.density,
          dropRate: flags.dropRate,
          seed: flags.seed,
          evalSplit: flags.evalSplit ?? rt.config.eval_split,
          devSize: flags.devSize ?? rt.config.value_add.dev_size,
          maxLength: flags.maxLength,
          nllOn: flags.nllOn,
          dataset: await datasetOptions(rt, flags.hub === true),
          bootstrap: { nResamples: flags.bootstrap, seed: 42 },
          jsonOut: flags.out,
          markdownOut: flags.md,
          onRow: (k, n, label) => process.stderr.write(`[${k}/${n}] ${label}\n`),
        })
        process.stdout.write(`${ex.adapterComparisonMarkdown(report)}Wrote ${flags.out} and ${flags.md}\n`)
      } finally {
        model.dispose()
      }
    },
  )
}
