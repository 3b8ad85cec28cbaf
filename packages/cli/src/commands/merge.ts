import { type Logger, PloraError } from '@plora/common'
import type { PloraEnv } from '@plora/config'
import { type Command, Option } from 'commander'

/** Flags of `plora merge` as commander parses them. */
interface MergeFlags {
  baseModel?: string
  plasmids: string[]
  out: string
  strategy: 'weighted_sum' | 'sequential'
  weights?: string[]
  fisherWeighted: boolean
  maxDeltaFro?: string
  moduleCap?: string[]
  globalScale?: string
  reprojectRank?: string
  output: 'model' | 'adapter'
  lsData?: string
  lsSamples?: string
  replace: boolean
  json: boolean
}

function number(flag: string, value: string): number {
  const x = Number(value)
  if (value.trim() === '' || !Number.isFinite(x)) {
    throw new PloraError('CLI_ARGUMENT_INVALID', `${flag} expects a number, got "${value}"`, { flag, value })
  }
  return x
}

/** `--module-cap c_attn=0.5` → `['c_attn', 0.5]`. */
function parseCap(text: string): [string, number] {
  const at = text.lastIndexOf('=')
  if (at <= 0)
    throw new PloraError('CLI_ARGUMENT_INVALID', `--module-cap expects KEY=CAP (e.g. c_attn=0.5), got "${text}"`, {
      value: text,
    })
  return [text.slice(0, at), number('--module-cap', text.slice(at + 1))]
}

/** Flags → library options (one typed mapping, STYLE.md §6). */
function toMergeOptions(f: MergeFlags) {
  return {
    strategy: f.strategy,
    weights: f.weights ? f.weights.map((w) => number('--weights', w)) : null,
    fisherWeighted: f.fisherWeighted,
    maxDeltaFro: f.maxDeltaFro === undefined ? null : number('--max-delta-fro', f.maxDeltaFro),
    moduleCaps: (f.moduleCap ?? []).map(parseCap),
    globalScale: f.globalScale === undefined ? null : number('--global-scale', f.globalScale),
    reprojectRank: f.reprojectRank === undefined ? null : number('--reproject-rank', f.reprojectRank),
  }
}

/** Line-search pairs from a JSONL file (`prompt`/`answer`, or `question`/`answer`). */
async function readPairs(path: string, limit: number | undefined): Promise<Array<{ prompt: string; answer: string }>> {
  const { readJsonl } = await import('@plora/common')
  const rows = (await readJsonl(path)) as Array<Record<string, unknown>>
  const pairs = rows.map((row, i) => {
    const prompt = row.prompt ?? row.question
    const answer = row.answer
    if (typeof prompt !== 'string' || typeof answer !== 'string') {
      throw new PloraError(
        'CLI_ARGUMENT_INVALID',
        `${path} line ${i + 1}: expected string fields "prompt" (or "question") and "answer"`,
        { path, line: i + 1 },
      )
    }
    return { prompt, answer }
  })
  return limit === undefined ? pairs : pairs.slice(0, limit)
}

/**
 * Loads the base model: a local Hugging Face folder, a hub id (local HF cache, or downloaded when
 * online), or — with no spec — the embedded default base model in the plora cache.
 */
async function openBaseModel(spec: string | undefined, env: PloraEnv, logger: Logger) {
  const { resolveBaseModelDir } = await import('../base-model.js')
  const { dir } = await resolveBaseModelDir(spec, { env, logger })
  const model = await import('@plora/model')
  return model.loadCausalLMFromDir(dir)
}

/** `plora merge` (spec pipelines.md §8.5, core.md §11.3) and `plora placebo` (core.md §11.5). */
export function register(program: Command): void {
  program
    .command('merge')
    .description('merge LoRA adapters into a base model (or into one rank-k adapter) in factor space')
    .option(
      '--base-model <id|dir>',
      'base model folder or Hugging Face id (default: $PLORA_BASE_MODEL, else the embedded model)',
    )
    .requiredOption('--plasmids <dirs...>', 'adapter folders to merge')
    .requiredOption('--out <dir>', 'output folder (for --output model it must not exist unless --replace)')
    .addOption(
      new Option('--strategy <name>', 'merge strategy').choices(['weighted_sum', 'sequential']).default('weighted_sum'),
    )
    .option('--weights <w...>', 'explicit weights, one per adapter, used as-is (default: equal weights 1/n)')
    .option('--fisher-weighted', 'weights from fisher_diag.json / .safetensors (fallback Σ‖T‖_F)', false)
    .option('--max-delta-fro <x>', 'global Frobenius trust region on the merged delta (default off)')
    .addOption(new Option('--max_delta_fro <x>').hideHelp().argParser((v: string) => v))
    .option('--module-cap <key=cap...>', 'cap ‖Δ‖_F of the weights whose name contains KEY (in order)')
    .option('--global-scale <x>', 'multiply the merged delta (disables the line search)')
    .option('--reproject-rank <k>', 're-project every merged module delta to rank k (QR + core SVD)')
    .addOption(
      new Option('--output <kind>', 'write a merged model folder or a rank-k PEFT adapter')
        .choices(['model', 'adapter'])
        .default('model'),
    )
    .option(
      '--ls-data <file>',
      'JSONL of {"prompt", "answer"}: line-search α ∈ {1, ½, …, 1/32, 0} on their mean token NLL',
    )
    .option('--ls-samples <n>', 'use only the first n line-search pairs (default all)')
    .option('--replace', 'replace an existing --out folder', false)
    .option('--json', 'print a JSON summary on stdout', false)
    .action(async (flags: MergeFlags & { max_delta_fro?: string }) => {
      if (flags.max_delta_fro !== undefined && flags.maxDeltaFro === undefined) flags.maxDeltaFro = flags.max_delta_fro
      const options = toMergeOptions(flags)
      const { readEnv } = await import('@plora/config')
      const { createLogger } = await import('@plora/common')
      const env = readEnv()
      const logger = createLogger({ level: env.logLevel })
      const loader = await import('@plora/loader')
      const model = await openBaseModel(flags.baseModel, env, logger)
      try {
        const adapters = []
        for (const dir of flags.plasmids) {
          const adapter = await loader.loadPeftAdapter(dir)
          adapters.push({
            ...adapter,
            fisherScalar: options.fisherWeighted ? await loader.loadFisherScalar(dir) : null,
          })
        }
        let evaluate: (() => Promise<number>) | null = null
        if (flags.lsData !== undefined) {
          const pairs = await readPairs(
            flags.lsData,
            flags.lsSamples === undefined ? undefined : number('--ls-samples', flags.lsSamples),
          )
          const { loadTokenizer } = await import('@plora/model')
          evaluate = loader.createMeanNllEvaluator(model, await loadTokenizer(model.modelDir), pairs)
        }
        const result = await loader.mergeAdapters(model, adapters, { ...options, evaluate, logger })
        if (flags.output === 'adapter') {
          await loader.writeMergedAdapter(flags.out, result.deltas, {
            baseModelNameOrPath: flags.baseModel ?? env.baseModel ?? model.modelDir,
            fanInFanOut: model.family === 'gpt2',
          })
          logger.info(`Merged adapter saved to ${flags.out}`)
        } else {
          await loader.writeMergedModel(flags.out, model, result.deltas, { replace: flags.replace })
          logger.info(`Merged model saved to ${flags.out}`)
        }
        if (flags.json) {
          const p = result.plan
          process.stdout.write(
            `${JSON.stringify({
              out: flags.out,
              output: flags.output,
              strategy: p.strategy,
              weights: p.weights,
              weight_source: p.weightSource,
              modules: p.deltas.size,
              norm_before: p.normBefore,
              trust_region_factor: p.trustRegionFactor,
              cap_factors: p.capFactors,
              global_scale: p.globalScale,
              reproject_rank: p.reprojectRank,
              norm_after: p.normAfter,
              line_search: result.lineSearch,
            })}\n`,
          )
        }
      } finally {
        model.dispose()
      }
    })

  program
    .command('placebo')
    .description(
      'write placebo A: a seeded random adapter with the shapes and per-module ‖ΔW‖_F of a reference adapter',
    )
    .requiredOption('--like <dir>', 'reference adapter folder')
    .requiredOption('--out <dir>', 'output adapter folder')
    .option('--seed <n>', 'seed of the random factors', '42')
    .action(async (flags: { like: string; out: string; seed: string }) => {
      const seed = number('--seed', flags.seed)
      const { loadPeftAdapter, createPlaceboAdapter, writePeftAdapter } = await import('@plora/loader')
      const placebo = createPlaceboAdapter(await loadPeftAdapter(flags.like), { seed })
      await writePeftAdapter(flags.out, placebo)
      process.stdout.write(`Placebo adapter saved to ${flags.out}\n`)
    })
}
