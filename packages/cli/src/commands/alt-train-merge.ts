import type { Command } from 'commander'
import {
  defaultNote,
  parseCsvFloats,
  parseCsvStrings,
  parseEnum,
  parseIntFlag,
  parsePathFlag,
  setLibraryDefaults,
} from '../flags.js'

const positiveInt = parseIntFlag({ min: 1 })
const heldOut = parseEnum(['validation', 'test'] as const)

/** Default output folder of the alternating train–merge study (the original's). */
export const ALT_TRAIN_MERGE_RESULTS = 'results/alt_train_merge'

interface AltTrainMergeFlags {
  domains?: string[]
  cycles?: number
  samples?: number
  rank?: number
  scheme: 'attention' | 'mlp' | 'all'
  seed?: number
  alphas: number[]
  lineSearchSplit: 'validation' | 'test'
  lineSearchSize: number
  evalSplit: 'validation' | 'test'
  devSize: number
  nllOn: 'answer' | 'all'
  maxLength?: number
  output: string
  replace?: boolean
  saveMergedModels?: boolean
  baseModel?: string
  hub?: boolean
}

/** `plora alt-train-merge` (spec pipelines.md §12; issue 17 item 2). Thin: the work is in @plora/experiments. */
export function register(program: Command): void {
  const cmd = program
    .command('alt-train-merge')
    .description(
      'alternating train–merge: each cycle trains every domain on fresh data on top of the previous merged model, merges at the α of a held-out line search; writes convergence.json/.md and cycle_<c>/<domain>/ adapters',
    )
    .option('--domains <csv>', 'domains (default: config domains)', parseCsvStrings)
    .option('--cycles <n>', 'train–merge cycles (default: config alt_train_merge.cycles)', positiveInt)
    .option(
      '--samples <n>',
      'fresh training pairs per domain and cycle (default: config alt_train_merge.samples)',
      positiveInt,
    )
    .option('--rank <r>', 'LoRA rank (default: config alt_train_merge.rank)', positiveInt)
    .option(
      '--scheme <s>',
      'LoRA target scheme: attention | mlp | all',
      parseEnum(['attention', 'mlp', 'all'] as const),
    )
    .option(
      '--seed <n>',
      'seed of the data blocks, LoRA init, order and dropout (default: config train.seed)',
      parseIntFlag({ min: 0 }),
    )
    .option(
      '--alphas <csv>',
      'merge scales the line search tries (include 0 to allow rejecting a merge)',
      parseCsvFloats({ min: 0 }),
    )
    .option('--line-search-split <split>', 'held-out split the line search scores: validation | test', heldOut)
    .option('--line-search-size <n>', 'line-search pairs per domain', positiveInt)
    .option(
      '--eval-split <split>',
      'held-out split reported every cycle (must differ from the line-search split)',
      heldOut,
    )
    .option('--dev-size <n>', 'evaluation pairs per domain', positiveInt)
    .option('--nll-on <what>', 'tokens the NLL averages over: answer | all', parseEnum(['answer', 'all'] as const))
    .option('--max-length <n>', 'longest scored sequence in tokens', positiveInt)
    .option('--output <dir>', 'output folder', parsePathFlag, ALT_TRAIN_MERGE_RESULTS)
    .option('--replace', 'replace an existing output folder (otherwise an existing non-empty folder is an error)')
    .option('--save-merged-models', "also write every cycle's full merged model to merged_cycle_<c>/ (large)")
    .option('--base-model <id|dir>', 'base model (default: $PLORA_BASE_MODEL, else config base_model)', parsePathFlag)
    .option('--hub', "use the original's Hugging Face datasets for arithmetic, legal and medical")
  setLibraryDefaults(cmd, async () => {
    const { DEFAULT_ALT_TRAIN_MERGE_OPTIONS: d } = await import('@plora/experiments')
    return {
      scheme: d.scheme,
      alphas: d.alphas,
      lineSearchSplit: d.lineSearchSplit,
      lineSearchSize: d.lineSearchSize,
      evalSplit: d.evalSplit,
      devSize: d.devSize,
      nllOn: d.nllOn,
      maxLength: defaultNote('the model context'),
    }
  })
  cmd.action(async (flags: AltTrainMergeFlags) => {
    const { loadModelRuntime } = await import('../runtime.js')
    const { datasetOptions } = await import('./value-add.js')
    const ex = await import('@plora/experiments')
    const rt = await loadModelRuntime(flags.baseModel)
    const { baseModel: spec, modelDir } = rt
    const atm = rt.config.alt_train_merge
    const cycles = flags.cycles ?? atm.cycles
    const started = Date.now()
    const nlls = (r: Record<string, number>) =>
      Object.entries(r)
        .map(([d, v]) => `${d} ${v.toFixed(4)}`)
        .join(', ')
    const result = await ex.runAltTrainMerge({
      modelDir,
      baseModel: spec,
      domains: flags.domains ?? rt.config.domains,
      cycles,
      samples: flags.samples ?? atm.samples,
      rank: flags.rank ?? atm.rank,
      scheme: flags.scheme,
      seed: flags.seed ?? rt.config.train.seed,
      alphas: flags.alphas,
      lineSearchSplit: flags.lineSearchSplit,
      lineSearchSize: flags.lineSearchSize,
      evalSplit: flags.evalSplit,
      devSize: flags.devSize,
      nllOn: flags.nllOn,
      maxLength: flags.maxLength,
      output: flags.output,
      replace: flags.replace === true,
      saveMergedModels: flags.saveMergedModels === true,
      training: {
        ...ex.DEFAULT_ALT_TRAIN_MERGE_OPTIONS.training,
        lr: rt.config.train.lr,
        maxLen: rt.config.train.max_len,
        dropout: rt.config.train.dropout,
      },
      dataset: await datasetOptions(rt, flags.hub === true),
      logger: rt.logger,
      onProgress: (e) => {
        const line =
          e.status === 'baseline'
            ? `[alt-train-merge cycle 0/${cycles}] base held-out NLL: ${nlls(e.nll)} (${e.seconds.toFixed(1)} s)`
            : e.status === 'trained'
              ? `[alt-train-merge cycle ${e.cycle}/${e.cycles}] trained ${e.domain} in ${e.seconds.toFixed(1)} s: in-domain NLL ${e.inDomainNll.toFixed(4)}`
              : `[alt-train-merge cycle ${e.cycle}/${e.cycles}] merged at α = ${e.alpha}${e.alpha === 0 ? ' (rejected)' : ''}, ‖ΔW‖_F ${e.paramDeltaFro.toPrecision(4)}; held-out NLL: ${nlls(e.nll)} (${e.seconds.toFixed(1)} s)`
        process.stderr.write(`${line}\n`)
      },
    })
    process.stdout.write(
      `${ex.convergenceMarkdown(result.report)}\nalt-train-merge: wrote ${result.jsonPath} and ${result.mdPath} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    )
  })
}
