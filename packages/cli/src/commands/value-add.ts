import type { Command } from 'commander'
import { setExitCodes } from '../exit-codes.js'
import {
  defaultNote,
  parseCsvEnum,
  parseCsvInts,
  parseCsvStrings,
  parseEnum,
  parseFloatFlag,
  parseIntFlag,
  parsePathFlag,
  setLibraryDefaults,
} from '../flags.js'

const positiveInt = parseIntFlag({ min: 1 })
const positiveNumber = parseFloatFlag({ min: 0, exclusive: 'min' })
const schemes = parseCsvEnum(['attention', 'mlp', 'all'] as const)
const placeboBRank = (value: string): number | 'cell' => (value === 'cell' ? 'cell' : positiveInt(value))

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
}

/** Dataset options as `plora train` / `plora data` build them (config data.sources, split fractions, hub). */
async function datasetOptions(rt: import('../runtime.js').Runtime, hub: boolean) {
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

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`
}

/** `plora value-add run|build` (spec pipelines.md §9; issue 16). */
export function register(program: Command): void {
  const group = program
    .command('value-add')
    .description('the value-add experiment: trained adapters vs the pristine base model and two placebos')

  const run = group
    .command('run')
    .description(
      'train and evaluate every domain × rank × scheme × seed cell (trained, placebo A, placebo B, cross-domain, latency); appends value_add.jsonl, writes value_add.md',
    )
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
    .option('--output <dir>', 'output folder', parsePathFlag, VALUE_ADD_RESULTS)
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
      '--latency-budget-ms <ms>',
      'inject+remove latency budget (default: $PLORA_LATENCY_BUDGET_MS, else config latency_budget_ms)',
      positiveNumber,
    )
    .option('--ignore-latency-guard', 'only flag (⚠) cells over the latency budget instead of stopping the run')
    .option('--no-resume', 'start over: delete value_add.jsonl and nll_cache.json, retrain the adapters')
    .option(
      '--nll-on <what>',
      'tokens the NLL averages over: answer | all (the original: all)',
      parseEnum(['answer', 'all'] as const),
    )
    .option('--max-length <n>', 'longest scored sequence in tokens (default: the model context)', positiveInt)
    .option('--latency-trials <n>', 'inject+remove trials, median reported (≥ 3)', parseIntFlag({ min: 3 }))
    .option(
      '--monolithic <dir>',
      'monolithic adapter evaluated beside the per-domain adapters when it exists',
      parsePathFlag,
    )
    .option('--hub', "use the original's Hugging Face datasets for arithmetic, legal and medical")
    .addHelpText(
      'after',
      '\nExit status: 0 done; 1 bad input, a dataset that cannot be loaded (names the domain and split) or a\n' +
        'base model whose weights changed; 4 a placebo lowers the NLL significantly after Holm correction\n' +
        '(names the cell; records and report are written first); 5 a cell exceeded the latency budget\n' +
        'without --ignore-latency-guard (the record and the report are written first).',
    )
  setLibraryDefaults(run, async () => {
    const { DEFAULT_VALUE_ADD_OPTIONS: d } = await import('@plora/experiments')
    return {
      nllOn: d.nllOn,
      latencyTrials: d.latencyTrials,
      monolithic: defaultNote(`${DEFAULT_MONOLITHIC_DIR} when it exists`),
      maxLength: defaultNote('the model context'),
    }
  })
  setExitCodes(run, { EXPERIMENTS_PLACEBO_BEATS_BASELINE: 4, EXPERIMENTS_LATENCY_GUARD_EXCEEDED: 5 })
  run.action(async (flags: RunFlags) => {
    const { loadRuntime } = await import('../runtime.js')
    const { resolveBaseModelDir } = await import('../base-model.js')
    const ex = await import('@plora/experiments')
    const rt = await loadRuntime()
    const { spec, dir: modelDir } = await resolveBaseModelDir(flags.baseModel, {
      env: rt.env,
      logger: rt.logger,
      configBaseModel: rt.config.base_model,
    })
    const va = rt.config.value_add
    const started = Date.now()
    const result = await ex.runValueAdd({
      modelDir,
      baseModel: spec,
      domains: flags.domains ?? rt.config.domains,
      ranks: flags.ranks ?? va.ranks,
      schemes: flags.schemes ?? (va.schemes as Array<'attention' | 'mlp' | 'all'>),
      seeds: flags.seeds ?? va.seeds,
      samples: flags.samples ?? rt.env.samples ?? rt.config.samples,
      devSize: flags.devSize ?? va.dev_size,
      output: flags.output,
      evalSplit: flags.evalSplit ?? rt.config.eval_split,
      placeboBRank: flags.placeboBRank ?? va.placebo_b_rank,
      latencyBudgetMs: flags.latencyBudgetMs ?? rt.env.latencyBudgetMs ?? rt.config.latency_budget_ms,
      ignoreLatencyGuard: flags.ignoreLatencyGuard === true,
      resume: flags.resume,
      nllOn: flags.nllOn,
      maxLength: flags.maxLength,
      latencyTrials: flags.latencyTrials,
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
      logger: rt.logger,
      onCell: (p) => {
        const t = p.record.trained
        const what = p.skipped
          ? 'resumed'
          : `done in ${p.seconds.toFixed(1)} s: trained ΔNLL ${t ? ex.formatSigned3(t.delta_mean) : '?'}`
        process.stderr.write(`[value-add ${p.done}/${p.total}] ${p.label} ${what}; ETA ${formatEta(p.etaSeconds)}\n`)
      },
    })
    process.stdout.write(
      `value-add: ${result.newRecords} new cell(s), ${result.skipped} resumed, ${result.records.length} record(s) in ${result.jsonlPath}; ` +
        `report ${result.mdPath}; base weights ${result.baseSha256Start === result.baseSha256End ? 'pristine' : 'CHANGED'} ` +
        `(sha256 ${result.baseSha256End.slice(0, 12)}…); ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    )
  })
}
