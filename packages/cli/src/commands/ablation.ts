import type { Command } from 'commander'
import { setExitCodes } from '../exit-codes.js'
import {
  parseCsvEnum,
  parseCsvInts,
  parseCsvStrings,
  parseEnum,
  parseIntFlag,
  parsePathFlag,
  parseShard,
  resolveLibraryDefaults,
  setLibraryDefaults,
} from '../flags.js'
import { datasetOptions, formatEta } from './value-add.js'

const positiveInt = parseIntFlag({ min: 1 })

/** Default output folder of the ablation (the original's `results/`). */
export const ABLATION_RESULTS = 'results'

interface AblationFlags {
  domains?: string[]
  ranks?: number[]
  schemes?: Array<'attention' | 'mlp' | 'all'>
  samples?: number
  epochs: number
  seed?: number
  devSize?: number
  evalSplit?: 'train' | 'validation' | 'test'
  baseModel?: string
  out: string
  nllOn: 'answer' | 'all'
  maxLength?: number
  latencyTrials: number
  replace?: boolean
  resume?: boolean
  hub?: boolean
  workers?: number
  shard?: { index: number; count: number }
}

/** The grid and settings the flags describe (shared by a run and `ablation merge`). */
function gridOf(flags: AblationFlags, rt: import('../runtime.js').Runtime, valSamples: number) {
  const ab = rt.config.ablation
  return {
    domains: flags.domains ?? rt.config.domains,
    ranks: flags.ranks ?? ab.ranks,
    schemes: flags.schemes ?? (ab.schemes as Array<'attention' | 'mlp' | 'all'>),
    samples: flags.samples ?? rt.env.samples ?? ab.samples,
    seed: flags.seed ?? rt.config.train.seed,
    devSize: flags.devSize ?? rt.config.value_add.dev_size,
    evalSplit: flags.evalSplit ?? rt.config.eval_split,
    output: flags.out,
    nllOn: flags.nllOn,
    maxLength: flags.maxLength,
    training: {
      epochs: flags.epochs,
      lr: rt.config.train.lr,
      maxLen: rt.config.train.max_len,
      dropout: rt.config.train.dropout,
      batchSize: 1,
      valSamples,
    },
  }
}

/** `plora ablation` (spec pipelines.md §11; issue 17 item 1). */
export function register(program: Command): void {
  const cmd = program
    .command('ablation')
    .description(
      'rank × scheme ablation: train one adapter per domain × rank × scheme into <out>/abl_<d>_r<r>_<scheme>/; writes ablation.jsonl (val perplexity, ΔNLL with CI and adjusted p, parameters, bytes, train time, inject+remove latency) and ablation.md',
    )
    .option('--domains <csv>', 'domains (default: config domains)', parseCsvStrings)
    .option('--ranks <csv>', 'LoRA ranks (default: config ablation.ranks)', parseCsvInts({ min: 1 }))
    .option(
      '--schemes <csv>',
      'target schemes: attention, mlp, all (default: config ablation.schemes)',
      parseCsvEnum(['attention', 'mlp', 'all'] as const),
    )
    .option(
      '--samples <n>',
      'training pairs per cell (default: $PLORA_SAMPLES, else config ablation.samples)',
      positiveInt,
    )
    .option('--epochs <n>', 'training epochs per cell', positiveInt)
    .option(
      '--seed <n>',
      'seed of every cell: LoRA init, data order, dropout (default: config train.seed)',
      parseIntFlag({ min: 0 }),
    )
    .option('--dev-size <n>', 'evaluation pairs per domain (default: config value_add.dev_size)', positiveInt)
    .option(
      '--eval-split <split>',
      'split the ΔNLL is measured on: train | validation | test (default: config eval_split)',
      parseEnum(['train', 'validation', 'test'] as const),
    )
    .option('--base-model <id|dir>', 'base model (default: $PLORA_BASE_MODEL, else config base_model)', parsePathFlag)
    .option('--out <dir>', 'output folder', parsePathFlag, ABLATION_RESULTS)
    .option('--nll-on <what>', 'tokens the NLL averages over: answer | all', parseEnum(['answer', 'all'] as const))
    .option('--max-length <n>', 'longest scored sequence in tokens (default: the model context)', positiveInt)
    .option('--latency-trials <n>', 'inject+remove repetitions, median reported (≥ 3)', parseIntFlag({ min: 3 }))
    .option(
      '--replace',
      'delete the ablation outputs already in --out (only those: ablation.jsonl, ablation.md, abl_*) and start over',
    )
    .option('--resume', 'keep the finished cells of an earlier run with the same settings')
    .option('--hub', "use the original's Hugging Face datasets for arithmetic, legal and medical")
    .option(
      '--workers <n>',
      'worker threads the cells run on, each with its own backend and model copy; records as with 1 (default: $PLORA_WORKERS, else 1)',
      positiveInt,
    )
    .option(
      '--shard <i/n>',
      "run only shard i of n of the grid (cell g goes to shard g mod n + 1) into its own --out; join the shards' folders with `plora ablation merge`",
      parseShard,
    )
    .addHelpText(
      'after',
      '\nExit status: 0 done; 1 bad input or a dataset that cannot be loaded (names the domain and split);\n' +
        '3 --out already holds ablation outputs and neither --replace nor --resume was given (nothing is\n' +
        'deleted), or --resume found records of other settings.',
    )
  setLibraryDefaults(cmd, async () => {
    const { DEFAULT_ABLATION_OPTIONS: d } = await import('@plora/experiments')
    return { epochs: d.training.epochs, nllOn: d.nllOn, latencyTrials: d.latencyTrials }
  })
  setExitCodes(cmd, { EXPERIMENTS_OUTPUT_EXISTS: 3 })
  const merge = cmd
    .command('merge')
    .description(
      "join the --out folders of a sharded ablation (--shard i/n) into --out: records in grid order with p-values adjusted over the whole grid, ablation.md and the adapter folders, as a one-machine run writes them (give the shards' grid flags)",
    )
    .argument('<shards...>', 'the --out folders the shards wrote')
    .addHelpText(
      'after',
      '\nExit status: 0 done; 1 a cell missing from every shard (named, with the count), a record of another\n' +
        'grid or settings, or a cell two shards hold with different results (timing fields aside): nothing\n' +
        'is written; 3 --out already holds ablation outputs.',
    )
  setExitCodes(merge, { EXPERIMENTS_OUTPUT_EXISTS: 3 })
  merge.action(async (shards: string[], _o: unknown, sub: Command) => {
    const parent = sub.parent!
    await resolveLibraryDefaults(parent)
    const flags = parent.opts() as AblationFlags
    const { loadRuntime } = await import('../runtime.js')
    const ex = await import('@plora/experiments')
    const rt = await loadRuntime()
    const r = await ex.mergeAblationShards({
      ...gridOf(flags, rt, ex.DEFAULT_ABLATION_OPTIONS.training.valSamples),
      // as the run resolves it (flag, then $PLORA_BASE_MODEL, then config): no model is loaded here
      baseModel: flags.baseModel ?? rt.env.baseModel ?? rt.config.base_model,
      inputs: shards,
    })
    process.stdout.write(
      `Merged ${r.inputs} shard folder(s) into ${r.jsonlPath} and ${r.mdPath} (${r.records.length} records in grid order)\n`,
    )
  })
  cmd.action(async (flags: AblationFlags) => {
    const { loadModelRuntime } = await import('../runtime.js')
    const ex = await import('@plora/experiments')
    const rt = await loadModelRuntime(flags.baseModel)
    const { baseModel: spec, modelDir } = rt
    const started = Date.now()
    const result = await ex.runAblation({
      ...gridOf(flags, rt, ex.DEFAULT_ABLATION_OPTIONS.training.valSamples),
      modelDir,
      baseModel: spec,
      latencyTrials: flags.latencyTrials,
      ...(flags.shard ? { shard: flags.shard } : {}),
      dataset: await datasetOptions(rt, flags.hub === true),
      replace: flags.replace === true,
      resume: flags.resume === true,
      workers: flags.workers ?? rt.env.workers ?? 1,
      logger: rt.logger,
      onCell: (p) => {
        const r = p.record
        const what = p.skipped
          ? 'resumed'
          : `done in ${p.seconds.toFixed(1)} s: ΔNLL ${r.delta_nll.delta_mean.toFixed(4)}, val ppl ${r.val_ppl_before.toFixed(2)} → ${r.val_ppl_after.toFixed(2)}, ${r.trainable_params} params`
        process.stderr.write(`[ablation ${p.done}/${p.total}] ${p.label} ${what}; ETA ${formatEta(p.etaSeconds)}\n`)
      },
    })
    process.stdout.write(await (await import('node:fs/promises')).readFile(result.mdPath, 'utf8'))
    process.stdout.write(
      `ablation: ${result.newRecords} new cell(s) on ${result.workers} worker thread(s), ${result.skipped} resumed, ${result.records.length} record(s) in ${result.jsonlPath}; ` +
        `report ${result.mdPath}; ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    )
  })
}
