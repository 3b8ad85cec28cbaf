import { type Logger, PloraError } from '@plora/common'
import type { PloraEnv } from '@plora/config'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { setExitCodes } from '../exit-codes.js'
import {
  addAlias,
  parseEnum,
  parseFloatFlag,
  parseIntFlag,
  parseOnOff,
  parsePathFlag,
  setLibraryDefaults,
} from '../flags.js'
import { addPolicyFlags, policyFromCommand } from '../policy-flags.js'
import { DEFAULT_REFERENCE, GATE_REJECTED_EXIT } from './gate.js'

/** The merge methods (mirrors `MERGE_METHODS` of @plora/loader, which loads only when merge runs). */
const METHODS = ['cat', 'svd', 'ties', 'dare_linear', 'dare_ties', 'magnitude_prune'] as const

/** Flags of `plora merge` as commander parses them. */
interface MergeFlags {
  baseModel?: string
  plasmids: string[]
  out: string
  strategy: 'weighted_sum' | 'sequential'
  weights?: number[]
  fisherWeighted: boolean
  maxDeltaFro?: number
  moduleCap?: Array<[string, number]>
  globalScale?: number
  reprojectRank?: number
  method?: (typeof METHODS)[number]
  density: number
  dropRate: number
  seed: number
  output: 'model' | 'adapter'
  lsData?: string
  lsSamples?: number
  replace: boolean
  json: boolean
  gate: boolean
  probes?: boolean
}

/** The policy flags `--gate` reads (an error without `--gate`: they would be ignored silently). */
const POLICY_KEYS = [
  'policyFile',
  'allowedTargetsFile',
  'allowedTargets',
  'allowedRanks',
  'signatures',
  'trustedPubkeys',
  'tauTrigger',
  'tauNormZ',
  'tauCleanDelta',
  'referenceFile',
  'requireWeightReference',
  'requireStatement',
  'probes',
] as const

const positiveNumber = parseFloatFlag({ min: 0, exclusive: 'min' })
const weight = parseFloatFlag()

/** `--module-cap c_attn=0.5` → `['c_attn', 0.5]` (repeatable: appended to the previous caps). */
function parseCap(text: string, previous: Array<[string, number]> = []): Array<[string, number]> {
  const at = text.lastIndexOf('=')
  if (at <= 0) throw new InvalidArgumentError(`expected KEY=CAP (e.g. c_attn=0.5), found ${JSON.stringify(text)}`)
  return [...previous, [text.slice(0, at), parseFloatFlag({ min: 0 })(text.slice(at + 1))]]
}

/** Flags → library options (one typed mapping, STYLE.md §6). */
function toMergeOptions(f: MergeFlags) {
  return {
    strategy: f.strategy,
    weights: f.weights ?? null,
    fisherWeighted: f.fisherWeighted,
    maxDeltaFro: f.maxDeltaFro ?? null,
    moduleCaps: f.moduleCap ?? [],
    globalScale: f.globalScale ?? null,
    reprojectRank: f.reprojectRank ?? null,
    method: f.method ?? null,
    density: f.density,
    dropRate: f.dropRate,
    seed: f.seed,
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
  const resolved = await resolveBaseModelDir(spec, { env, logger })
  const model = await import('@plora/model')
  return { model: await model.loadCausalLMFromDir(resolved.dir), spec: resolved.spec }
}

/**
 * `--gate`: the gate (the policy of the `plora gate check` flags; probes on unless `--probes off`)
 * on the merged adapter, or on the merged model's effective delta as a rank-k adapter. Installs the
 * adapter at `--out` when accepted (`--output adapter`); a rejection throws `GATE_MERGE_REJECTED`
 * (exit 3) and leaves nothing behind.
 */
async function gateMerge(
  cmd: Command,
  flags: MergeFlags,
  model: import('@plora/model').CausalLM,
  baseModel: string,
  deltas: ReadonlyMap<string, import('@plora/peft').FactoredDelta>,
  logger: Logger,
): Promise<import('@plora/gate').GateDecision> {
  const { existsSync } = await import('node:fs')
  const { resolve } = await import('node:path')
  const gate = await import('@plora/gate')
  const { gateMergedDeltas } = await import('@plora/experiments')
  let policy = await policyFromCommand(cmd, { probes: flags.probes ?? true })
  if (policy.reference_file === null && existsSync(DEFAULT_REFERENCE)) {
    policy = { ...policy, reference_file: resolve(DEFAULT_REFERENCE) }
  }
  const context = await gate.loadGateContext(policy)
  if (policy.enable_probes) {
    const { loadTokenizer } = await import('@plora/model')
    const { baseFingerprint, createProbeHarness } = await import('@plora/loader')
    context.probes = createProbeHarness(model, await loadTokenizer(model.modelDir), {
      expectedFingerprint: await baseFingerprint(model),
    })
  }
  const { decision } = await gateMergedDeltas(deltas, {
    dest: flags.out,
    baseModel,
    fanInFanOut: model.family === 'gpt2',
    policy,
    context,
    install: flags.output === 'adapter',
    replace: flags.replace,
  })
  if (!decision.passed) {
    const what = flags.output === 'adapter' ? 'merged adapter' : "merged model's delta"
    throw new gate.GateError(
      gate.GateErrorCode.MergeRejected,
      `the gate rejected the ${what} of ${flags.plasmids.join(', ')}: ${decision.reasons.join(', ')}; nothing was written to ${flags.out}`,
      { out: flags.out, reasons: decision.reasons, metrics: decision.metrics },
    )
  }
  logger.info(
    `merge: gate passed (${policy.enable_probes ? 'weights + probes' : 'weights only'}, reference ${policy.reference_file ?? 'none'})`,
  )
  return decision
}

/** `plora merge` (spec pipelines.md §8.5, core.md §11.3) and `plora placebo` (core.md §11.5). */
export function register(program: Command): void {
  const merge = program
    .command('merge')
    .description('merge LoRA adapters into a base model (or into one rank-k adapter) in factor space')
    .option(
      '--base-model <id|dir>',
      'base model folder or Hugging Face id (default: $PLORA_BASE_MODEL, else the embedded model)',
    )
    .requiredOption('--plasmids <dirs...>', 'adapter folders to merge')
    .requiredOption(
      '--out <dir>',
      'output folder (for --output model it must not exist unless --replace)',
      parsePathFlag,
    )
    .addOption(new Option('--strategy <name>', 'merge strategy').choices(['weighted_sum', 'sequential']))
    .option(
      '--weights <w...>',
      'explicit weights, one per adapter, used as-is (default: equal weights 1/n)',
      (v: string, prev: number[] = []) => [...prev, weight(v)],
    )
    .option('--fisher-weighted', 'weights from fisher_diag.json / .safetensors (fallback Σ‖T‖_F)', false)
    .option('--max-delta-fro <x>', 'global Frobenius trust region on the merged delta (default off)', positiveNumber)
    .option('--module-cap <key=cap...>', 'cap ‖Δ‖_F of the weights whose name contains KEY (in order)', parseCap)
    .option('--global-scale <x>', 'multiply the merged delta (disables the line search)', parseFloatFlag())
    .option(
      '--reproject-rank <k>',
      're-project every merged module delta to rank k (QR + core SVD)',
      parseIntFlag({ min: 1 }),
    )
    .option(
      '--method <name>',
      `how task vectors combine: ${METHODS.join('|')} (default: cat, or svd with --reproject-rank; ` +
        'svd and the dense methods re-project to --reproject-rank, else the largest adapter rank)',
      parseEnum(METHODS),
    )
    .option(
      '--density <d>',
      'fraction of entries kept by magnitude per task vector (ties, magnitude_prune)',
      parseFloatFlag({ min: 0, max: 1, exclusive: 'min' }),
    )
    .option(
      '--drop-rate <p>',
      'DARE drop probability, survivors scaled by 1/(1−p) (dare_linear, dare_ties)',
      parseFloatFlag({ min: 0, max: 1, exclusive: 'max' }),
    )
    .option('--seed <n>', 'seed of the DARE drop masks', parseIntFlag({ min: 0 }))
    .addOption(
      new Option('--output <kind>', 'write a merged model folder or a rank-k PEFT adapter')
        .choices(['model', 'adapter'])
        .default('model'),
    )
    .option(
      '--ls-data <file>',
      'JSONL of {"prompt", "answer"}: line-search α ∈ {1, ½, …, 1/32, 0} on their mean token NLL',
    )
    .option('--ls-samples <n>', 'use only the first n line-search pairs (default all)', parseIntFlag({ min: 1 }))
    .option('--replace', 'replace an existing --out folder', false)
    .option('--json', 'print a JSON summary on stdout', false)
    .option(
      '--gate',
      `gate the merged adapter (or the merged model's delta) like \`plora gate check\` before writing; rejected: exit ${GATE_REJECTED_EXIT}, nothing written`,
      false,
    )
    .addOption(
      new Option('--probes <on|off>', 'behavioural probes of --gate (default on; policy enable_probes)').argParser(
        parseOnOff,
      ),
    )
  addPolicyFlags(merge, { referenceFile: DEFAULT_REFERENCE })
  setExitCodes(merge, { GATE_MERGE_REJECTED: GATE_REJECTED_EXIT })
  addAlias(merge, 'max_delta_fro', merge.options.find((o) => o.long === '--max-delta-fro') as Option)
  setLibraryDefaults(merge, async () => {
    const { DEFAULT_MERGE_PLAN_OPTIONS: d } = await import('@plora/loader')
    return { strategy: d.strategy, density: d.density, dropRate: d.dropRate, seed: d.seed }
  })
  merge.action(async (flags: MergeFlags) => {
    if (!flags.gate) {
      const given = POLICY_KEYS.filter((k) => merge.getOptionValueSource(k) === 'cli')
      if (given.length > 0) {
        throw new PloraError(
          'CLI_ARGUMENT_INVALID',
          `plora merge: ${given.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} only apply with --gate`,
          { flags: given },
        )
      }
    }
    const options = toMergeOptions(flags)
    const { readEnv } = await import('@plora/config')
    const { createLogger } = await import('@plora/common')
    const env = readEnv()
    const logger = createLogger({ level: env.logLevel })
    const loader = await import('@plora/loader')
    const peft = await import('@plora/peft')
    const { model, spec } = await openBaseModel(flags.baseModel, env, logger)
    try {
      const adapters = []
      for (const dir of flags.plasmids) {
        const adapter = await peft.loadPeftAdapter(dir)
        adapters.push({
          ...adapter,
          fisherScalar: options.fisherWeighted ? await loader.loadFisherScalar(dir) : null,
        })
      }
      let evaluate: (() => Promise<number>) | null = null
      if (flags.lsData !== undefined) {
        const pairs = await readPairs(flags.lsData, flags.lsSamples)
        const { loadTokenizer } = await import('@plora/model')
        evaluate = loader.createMeanNllEvaluator(model, await loadTokenizer(model.modelDir), pairs)
      }
      const result = await loader.mergeAdapters(model, adapters, { ...options, evaluate, logger })
      const baseModelRef = flags.baseModel ?? env.baseModel ?? model.modelDir
      const gated = flags.gate ? await gateMerge(merge, flags, model, spec, result.deltas, logger) : null
      if (gated !== null && flags.output === 'adapter') {
        logger.info(`Merged adapter saved to ${flags.out} (gated, with plora.yml)`)
      } else if (flags.output === 'adapter') {
        await loader.writeMergedAdapter(flags.out, result.deltas, {
          baseModelNameOrPath: baseModelRef,
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
            method: p.method,
            weights: p.weights,
            weight_source: p.weightSource,
            modules: p.deltas.size,
            norm_before: p.normBefore,
            trust_region_factor: p.trustRegionFactor,
            cap_factors: p.capFactors,
            global_scale: p.globalScale,
            reproject_rank: p.reprojectRank,
            norm_after: p.normAfter,
            truncation: p.truncation,
            line_search: result.lineSearch,
            gate: gated === null ? null : { passed: gated.passed, reasons: gated.reasons },
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
    .requiredOption('--like <dir>', 'reference adapter folder', parsePathFlag)
    .requiredOption('--out <dir>', 'output adapter folder', parsePathFlag)
    .option('--seed <n>', 'seed of the random factors', parseIntFlag({ min: 0 }), 42)
    .action(async (flags: { like: string; out: string; seed: number }) => {
      const seed = flags.seed
      const { loadPeftAdapter, createPlaceboAdapter, writePeftAdapter } = await import('@plora/peft')
      const placebo = createPlaceboAdapter(await loadPeftAdapter(flags.like), { seed })
      await writePeftAdapter(flags.out, placebo)
      process.stdout.write(`Placebo adapter saved to ${flags.out}\n`)
    })
}
