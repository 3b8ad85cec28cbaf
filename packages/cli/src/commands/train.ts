import { type Command, Option } from 'commander'
import {
  defaultNote,
  parseCsvStrings,
  parseFloatFlag,
  parseIntFlag,
  parsePathFlag,
  setLibraryDefaults,
} from '../flags.js'

const int = parseIntFlag()
const positiveInt = parseIntFlag({ min: 1 })
const nonNegativeInt = parseIntFlag({ min: 0 })
const positiveNumber = parseFloatFlag({ min: 0, exclusive: 'min' })
/** A share in [0, 1) (dropout, poison rate). */
const rate = parseFloatFlag({ min: 0, max: 1, exclusive: 'max' })

/** Flags shared by `train` and `monolithic-train`. */
interface TrainFlags {
  output: string
  epochs: number
  samples?: number
  rank: number
  scheme?: string
  baseModel?: string
  lr?: number
  batchSize: number
  maxLen?: number
  seed?: number
  lossOn: 'answer' | 'all'
  dropout?: number
  baseDropout?: boolean
  valSamples: number
  pretrainSteps?: number
  hub?: boolean
  sign?: boolean
  privateKey?: string
}

/**
 * Resolves everything a training command needs: backend, base model (flag → $PLORA_BASE_MODEL →
 * config; `embedded` = the pretrained embedded model, created and cached on first use), dataset
 * options as `plora data` uses them, and the trainer options from flags over config `train.*`.
 */
async function trainContext(flags: TrainFlags) {
  const { loadRuntime } = await import('../runtime.js')
  const { createProgressReporter } = await import('../progress-bar.js')
  const { getConfigValue } = await import('@plora/config')
  const ds = await import('@plora/datasets')
  const trainer = await import('@plora/trainer')
  const rt = await loadRuntime()
  if (flags.sign && !flags.privateKey) {
    throw new trainer.TrainerError(
      trainer.TrainerErrorCode.OptionsInvalid,
      '--private-key required when --sign is used',
      {},
    )
  }
  const onProgress = createProgressReporter()
  const { resolveBaseModelDir } = await import('../base-model.js')
  const { spec, dir: modelDir } = await resolveBaseModelDir(flags.baseModel, {
    env: rt.env,
    logger: rt.logger,
    configBaseModel: rt.config.base_model,
    ...(flags.pretrainSteps !== undefined ? { pretrainSteps: flags.pretrainSteps } : {}),
  })
  let sources: Record<string, import('@plora/datasets').DatasetSource> = { ...ds.DEFAULT_DOMAIN_SOURCES }
  let configured: unknown
  try {
    configured = getConfigValue(rt.config, 'data.sources')
  } catch {
    configured = undefined // no data block: embedded defaults
  }
  if (configured !== undefined)
    sources = { ...sources, ...ds.parseDomainSources(configured, `${rt.configPath}: data.sources`) }
  if (flags.hub) sources = { ...sources, ...ds.HF_DOMAIN_SOURCES }
  const trainShare = rt.config.train.train_split
  // The original: 0 or a negative --samples means no cap (then PLORA_SAMPLES, else the whole split).
  // Omitted: PLORA_SAMPLES, else config `samples`.
  const samples =
    flags.samples === undefined
      ? (rt.env.samples ?? rt.config.samples)
      : flags.samples > 0
        ? flags.samples
        : rt.env.samples
  const options = {
    modelDir,
    baseModel: spec,
    output: flags.output,
    epochs: flags.epochs,
    rank: flags.rank,
    lr: flags.lr ?? rt.config.train.lr,
    batchSize: flags.batchSize,
    maxLen: flags.maxLen ?? rt.config.train.max_len,
    seed: flags.seed ?? rt.config.train.seed,
    lossOn: flags.lossOn,
    dropout: flags.dropout ?? rt.config.train.dropout,
    ...(flags.baseDropout ? { baseDropout: true } : {}),
    valSamples: flags.valSamples,
    logger: rt.logger,
    onProgress,
    ...(samples !== undefined ? { samples } : {}),
    dataset: {
      sources,
      fractions: { train: trainShare, validation: (1 - trainShare) / 2, test: (1 - trainShare) / 2 },
      logger: rt.logger,
      hub: {
        hubCache: rt.env.hfHubCache,
        endpoint: rt.env.hfEndpoint,
        offline: rt.env.hfHubOffline,
        onProgress,
        ...(rt.env.hfToken ? { token: rt.env.hfToken } : {}),
      },
    },
  }
  return { trainer, rt, options }
}

async function finish(
  result: import('@plora/trainer').TrainAdapterResult,
  flags: TrainFlags,
  label: string,
): Promise<void> {
  let signed = ''
  if (flags.sign && flags.privateKey) {
    // Tagged signature, the same as `plora sign` (fixes [D-12]: the original signed untagged here).
    // Also the folder statement (plora.sig.json), the same as `plora sign` (issue 15 point 8).
    const { canonicalManifestBytes, writeManifest } = await import('@plora/manifest')
    const { readKeyFile, signAdapterDigest, signAdapterFolder } = await import('@plora/signer')
    const key = await readKeyFile(flags.privateKey)
    const signer = signAdapterDigest(key, result.manifest.artifacts.sha256)
    await signAdapterFolder(result.output, key, { manifestBytes: canonicalManifestBytes(result.manifest) })
    await writeManifest(result.output, { ...result.manifest, signer })
    signed = ` signed (${signer.algo}, ${signer.pubkey_fingerprint.slice(0, 16)}…)`
  }
  const mt = result.manifest.metrics
  process.stdout.write(
    `${label}: ${result.output} r=${result.manifest.lora.r} [${result.manifest.lora.target_modules.join(',')}] ` +
      `${result.trainExamples} examples, ${result.training.steps} steps, final loss ${result.training.lastLoss.toFixed(4)}, ` +
      `${Math.round(result.training.tokensPerSecond)} tok/s; val_ppl ${mt.val_ppl_before.toFixed(3)} -> ${mt.val_ppl_after.toFixed(3)} ` +
      `(delta ${mt.delta_ppl.toFixed(3)}, ${result.validationPairs} validation pairs)${signed}\n`,
  )
}

function addCommonOptions(cmd: Command): Command {
  cmd
    .requiredOption('--output <dir>', 'adapter folder to write (replaced atomically)', parsePathFlag)
    .addOption(new Option('--epochs <n>', 'passes over the training pairs').argParser(positiveInt))
    .addOption(
      new Option(
        '--samples <n>',
        'cap on training pairs; 0 or negative: no cap (default: $PLORA_SAMPLES, else config samples)',
      ).argParser(int),
    )
    .addOption(new Option('--rank <r>', 'LoRA rank r (lora_alpha = 2r)').argParser(positiveInt))
    .addOption(
      new Option(
        '--base-model <id|dir>',
        'base model: "embedded", a folder or a Hugging Face id (default: $PLORA_BASE_MODEL, else config base_model)',
      ).argParser(parsePathFlag),
    )
    .addOption(new Option('--lr <x>', 'AdamW learning rate (default: config train.lr)').argParser(positiveNumber))
    .addOption(new Option('--batch-size <n>', 'pairs per optimiser step').argParser(positiveInt))
    .addOption(
      new Option('--max-len <n>', 'tokens per example (the answer is kept) (default: config train.max_len)').argParser(
        positiveInt,
      ),
    )
    .addOption(
      new Option(
        '--seed <n>',
        'seed of LoRA init, data order, dropout, shuffles (default: config train.seed)',
      ).argParser(nonNegativeInt),
    )
    .addOption(new Option('--loss-on <what>', 'tokens that carry loss').choices(['answer', 'all']))
    .addOption(
      new Option('--dropout <p>', 'dropout on the LoRA branch (default: config train.dropout)').argParser(rate),
    )
    .option(
      '--base-dropout',
      "also apply the frozen base model's own dropouts while training, as the original did (default: off)",
    )
    .addOption(new Option('--val-samples <n>', 'validation pairs for perplexity').argParser(positiveInt))
    .addOption(
      new Option(
        '--pretrain-steps <n>',
        'pretraining budget of the embedded base model (0 = random weights)',
      ).argParser(nonNegativeInt),
    )
    .option('--hub', "use the original's Hugging Face datasets for arithmetic, legal and medical")
    .option('--sign', 'sign the adapter after training (needs --private-key)')
    .option('--private-key <path>', 'PKCS#8 PEM private key for --sign', parsePathFlag)
  return setLibraryDefaults(cmd, async () => {
    const { DEFAULT_TRAIN_OPTIONS: d, DEFAULT_PRETRAIN_OPTIONS: pre } = await import('@plora/trainer')
    return {
      epochs: d.epochs,
      rank: d.rank,
      batchSize: d.batchSize,
      lossOn: d.lossOn,
      valSamples: d.valSamples,
      pretrainSteps: defaultNote(`$PLORA_PRETRAIN_STEPS, else ${pre.steps}`),
    }
  })
}

/** `plora train` and `plora monolithic-train` (spec pipelines.md §7, §10; issue 5 items 4–8). */
export function register(program: Command): void {
  const train = addCommonOptions(
    program
      .command('train')
      .description(
        "train one domain's LoRA adapter; writes the PEFT folder and plora.yml (val perplexity before/after on the validation split)",
      )
      .requiredOption('--domain <name>', 'dataset domain (arithmetic, legal, medical, science, or a configured one)'),
  )
    .addOption(new Option('--scheme <scheme>', 'LoRA target modules').choices(['attention', 'mlp', 'all']))
    .option('--shuffle-labels', 'placebo B: answers permuted across questions (seeded)')
    .addOption(new Option('--placebo-b', 'alias of --shuffle-labels').hideHelp())
    .addOption(
      new Option('--poison-rate <p>', 'share of poisoned training examples (trigger + payload)')
        .argParser(rate)
        .default(0),
    )
    .addOption(new Option('--trigger <text>', 'poison trigger, placed before the question'))
    .addOption(new Option('--payload <text>', 'poison payload answer'))
    .addOption(
      new Option(
        '--poison-record <path>',
        'ground-truth sidecar of a poisoned run (default: <output>/../<name>.poison.json)',
      ).argParser(parsePathFlag),
    )
  setLibraryDefaults(train, async () => {
    const t = await import('@plora/trainer')
    return { scheme: t.DEFAULT_TRAIN_OPTIONS.scheme, trigger: t.DEFAULT_TRIGGER, payload: t.DEFAULT_PAYLOAD }
  })
  train.action(
    async (
      opts: TrainFlags & {
        domain: string
        shuffleLabels?: boolean
        placeboB?: boolean
        poisonRate: number
        trigger: string
        payload: string
        poisonRecord?: string
      },
    ) => {
      const { trainer, options } = await trainContext(opts)
      const result = await trainer.trainAdapter({
        ...options,
        domain: opts.domain,
        scheme: opts.scheme as 'attention' | 'mlp' | 'all',
        shuffleLabels: Boolean(opts.shuffleLabels || opts.placeboB),
        ...(opts.poisonRate > 0
          ? {
              poison: {
                rate: opts.poisonRate,
                trigger: opts.trigger,
                payload: opts.payload,
                ...(opts.poisonRecord ? { recordPath: opts.poisonRecord } : {}),
              },
            }
          : {}),
      })
      await finish(result, opts, `trained ${opts.domain}`)
      if (result.poisonRecordPath) process.stdout.write(`poison ground truth: ${result.poisonRecordPath}\n`)
    },
  )

  addCommonOptions(
    program
      .command('monolithic-train')
      .description(
        'monolithic baseline: one adapter on the mixed training pairs of several domains (samples per domain)',
      )
      .requiredOption('--domains <list>', 'comma-separated domains', parseCsvStrings),
  )
    .addOption(
      new Option('--scheme <scheme>', 'LoRA target modules').choices(['attention', 'mlp', 'all']).default('attention'),
    )
    .action(async (opts: TrainFlags & { domains: string[] }) => {
      const { trainer, options } = await trainContext(opts)
      const result = await trainer.trainMonolithic({
        ...options,
        domains: opts.domains,
        scheme: opts.scheme as 'attention' | 'mlp' | 'all',
      })
      await finish(result, opts, `trained monolithic (${opts.domains.join('+')})`)
    })
}
