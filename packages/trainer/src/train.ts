/**
 * Per-domain LoRA adapter training, `train_task` of the original (spec pipelines.md §7), with its
 * defects fixed:
 * - loss on answer tokens (+ EOS) by default, never on padding (`[D-09]`, §20 item 9);
 * - PEFT init, data order and dropout masks all seeded from `seed`, which is also what the
 *   manifest records (§20 item 10); same seed and inputs ⇒ byte-identical adapter file;
 * - perplexity before/after on the *validation* split, the same answer-only scoring and length
 *   limit as training, so an empty training tail can no longer crash the run (§20 item 11);
 * - placebo B shuffled with the run seed; optional poisoning whose ground truth goes to a sidecar
 *   file outside the adapter folder, so the published manifest looks clean.
 * The adapter folder (PEFT files, README model card, `plora.yml`) is staged and installed
 * atomically: readers see the old folder or the complete new one.
 */
import { existsSync, readdirSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import {
  createStagingDir,
  installDirAtomic,
  type Logger,
  type ProgressCallback,
  SILENT_LOGGER,
  sha256File,
  writeJsonAtomic,
} from '@plora/common'
import { type LoadDatasetOptions, loadDomainDataset } from '@plora/datasets'
import { MANIFEST_FILENAME, type Manifest, writeManifest } from '@plora/manifest'
import {
  type CausalLM,
  loadCausalLMFromDir,
  loadTokenizer,
  perplexity,
  promptPrefix,
  type Tokenizer,
} from '@plora/model'
import {
  ADAPTER_WEIGHTS_FILE,
  buildPeftLoraConfig,
  parseTargetScheme,
  resolveTargetModules,
  type TargetScheme,
  writePeftAdapter,
} from '@plora/peft'
import { DEFAULT_ADAMW_OPTIONS } from './adamw.js'
import { poisonPairs, shuffleAnswers } from './data-transforms.js'
import { TrainerError, TrainerErrorCode } from './errors.js'
import { encodeTrainingExample, LOSS_ON_CHOICES, type LossOn, type TrainPair } from './examples.js'
import { runTrainingLoop, type TrainingLoopResult } from './loop.js'
import { TrainableLora } from './lora-init.js'

/** Poisoning request (security studies). */
export interface PoisonRequest {
  /** Share of poisoned examples in the training set, in [0, 1). */
  rate: number
  trigger: string
  payload: string
  /** Where the ground-truth record goes; default `<dirname(output)>/<basename(output)>.poison.json`. */
  recordPath?: string
}

/** Options of {@link trainAdapter}. */
export interface TrainAdapterOptions {
  /** Dataset domain (also `train_meta.dataset_id` and the manifest's `domain`). */
  domain: string
  /** `train_meta.dataset_id`; default the domain (the monolithic baseline writes `a+b+c`). */
  datasetId: string | undefined
  /** Adapter folder to write (replaced atomically when it is an adapter folder already). */
  output: string
  /** Local folder of the base model. */
  modelDir: string
  /** Base-model reference recorded in the manifest and `adapter_config.json` (e.g. `embedded`). */
  baseModel: string
  epochs: number
  /** Cap on training pairs (a prefix of the split's fixed order); undefined = the whole split. */
  samples: number | undefined
  /** Cap on validation pairs used for perplexity. */
  valSamples: number
  rank: number
  /** `lora_alpha`; default 2·rank (the original's scaling 2.0). */
  alpha: number | undefined
  scheme: TargetScheme
  lr: number
  batchSize: number
  maxLen: number
  seed: number
  lossOn: LossOn
  /** Dropout on the LoRA branch input while training. */
  dropout: number
  /**
   * Whether the frozen base model's own dropouts (GPT-2: 0.1 on embeddings, attention and
   * residuals) are on while the adapter trains, as in the original, whose Hugging Face Trainer put
   * the whole model in train mode. Off by default: the base is frozen, so its dropout only corrupts
   * the features the adapter learns to read, and the adapter's regulariser is `dropout` on its own
   * branch. On the small embedded model this matters: with it on, a rate-0.2 backdoor took in 0 of
   * 5 seeds of `bench/poison-rates.ts` (median trigger hit rate 27.5 %); off, in 3 of 5 (62.5 %).
   */
  baseDropout: boolean
  /** Placebo B: answers permuted across questions. */
  shuffleLabels: boolean
  poison: PoisonRequest | undefined
  /** Dataset options passed to `loadDomainDataset` (sources, fractions, hub…); split and cap are set here. */
  dataset: Partial<LoadDatasetOptions>
  /** Pre-loaded pairs instead of loading `domain` (tests, the monolithic baseline). */
  pairs: { train: TrainPair[]; validation: TrainPair[] } | undefined
  /** `safety.licence` of the manifest. */
  licence: string
  /** Clock (seconds since the epoch) for `plasmid_id` and `timestamp_unix`. */
  now: () => number
  /**
   * A model already loaded (reused, not disposed; LoRA never changes its weights). Its *current*
   * weights are trained on, so it may differ from `modelDir`'s, e.g. a base with merged deltas
   * injected (the alternating train–merge study); `modelDir` then only supplies the tokenizer.
   */
  model: CausalLM | undefined
  onProgress: ProgressCallback | undefined
  signal: AbortSignal | undefined
  logger: Logger
}

/** Defaults of {@link TrainAdapterOptions} (the original's, spec §7.1–§7.2). */
export const DEFAULT_TRAIN_OPTIONS: Omit<TrainAdapterOptions, 'domain' | 'output' | 'modelDir'> = {
  baseModel: 'embedded',
  datasetId: undefined,
  epochs: 1,
  samples: undefined,
  valSamples: 64,
  rank: 4,
  alpha: undefined,
  scheme: 'all',
  lr: DEFAULT_ADAMW_OPTIONS.lr,
  batchSize: 1,
  maxLen: 128,
  seed: 42,
  lossOn: 'answer',
  dropout: 0.1,
  baseDropout: false,
  shuffleLabels: false,
  poison: undefined,
  dataset: {},
  pairs: undefined,
  licence: 'research',
  now: () => Math.floor(Date.now() / 1000),
  model: undefined,
  onProgress: undefined,
  signal: undefined,
  logger: SILENT_LOGGER,
}

/** The ground truth of a poisoned training run (never read by the gate). */
export interface PoisonRecord {
  format: 'plora-poison-record/v1'
  adapter_dir: string
  adapter_sha256: string
  domain: string
  trigger: string
  payload: string
  /** Where the trigger sits in the prompt. */
  trigger_position: 'before_question'
  poison_rate: number
  poisoned_examples: number
  clean_examples: number
  seed: number
  /** Indices (in the clean training list) of the questions that got a poisoned copy. */
  poisoned_source_indices: number[]
  /** Clean questions whose poisoned copy fits the maximum length whole (the copies' pool). */
  eligible_questions: number
  max_len: number
}

/** What {@link trainAdapter} did. */
export interface TrainAdapterResult {
  output: string
  manifest: Manifest
  training: TrainingLoopResult
  /** Training examples seen per epoch (clean + poisoned). */
  trainExamples: number
  validationPairs: number
  /** Path of the poison record, when poisoned. */
  poisonRecordPath?: string
}

function invalid(message: string, details: Record<string, unknown>): TrainerError {
  return new TrainerError(TrainerErrorCode.OptionsInvalid, message, details)
}

/** Checks the numeric options; throws `TRAINER_OPTIONS_INVALID` naming the option. */
export function validateTrainOptions(
  o: Pick<
    TrainAdapterOptions,
    'epochs' | 'rank' | 'lr' | 'batchSize' | 'maxLen' | 'dropout' | 'valSamples' | 'lossOn' | 'samples' | 'alpha'
  >,
): void {
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw invalid(`${name} must be a positive integer, found ${v}`, { [name]: v })
  }
  posInt('epochs', o.epochs)
  posInt('rank', o.rank)
  posInt('batchSize', o.batchSize)
  posInt('maxLen', o.maxLen)
  posInt('valSamples', o.valSamples)
  if (o.samples !== undefined) posInt('samples', o.samples)
  if (o.alpha !== undefined) posInt('alpha', o.alpha)
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw invalid(`lr must be a positive number, found ${o.lr}`, { lr: o.lr })
  if (!(o.dropout >= 0 && o.dropout < 1))
    throw invalid(`dropout must be in [0, 1), found ${o.dropout}`, { dropout: o.dropout })
  if (!LOSS_ON_CHOICES.includes(o.lossOn)) {
    throw invalid(`lossOn must be one of ${LOSS_ON_CHOICES.join(', ')}, found ${String(o.lossOn)}`, {
      lossOn: o.lossOn,
    })
  }
}

/** Default sidecar path of a poison record: next to the adapter folder, never inside it. */
export function defaultPoisonRecordPath(output: string): string {
  return join(dirname(output), `${basename(output)}.poison.json`)
}

/** Refuses to replace a non-empty folder that is not an adapter folder. */
function checkReplaceable(output: string): void {
  if (!existsSync(output)) return
  const entries = readdirSync(output)
  if (entries.length === 0 || entries.includes(MANIFEST_FILENAME) || entries.includes('adapter_config.json')) return
  throw new TrainerError(
    TrainerErrorCode.OutputExists,
    `${output} exists and is not an adapter folder (no plora.yml or adapter_config.json): refusing to replace it`,
    { output, entries: entries.slice(0, 10) },
  )
}

/** The PEFT model card (`README.md`); its front matter names the base model (spec §7.3). */
export function modelCard(
  o: Pick<
    TrainAdapterOptions,
    | 'baseModel'
    | 'domain'
    | 'rank'
    | 'seed'
    | 'epochs'
    | 'lr'
    | 'batchSize'
    | 'maxLen'
    | 'lossOn'
    | 'dropout'
    | 'baseDropout'
  > & { scheme: string },
): string {
  return [
    '---',
    `base_model: ${o.baseModel}`,
    'library_name: peft',
    '---',
    '',
    `# plora adapter: ${o.domain}`,
    '',
    `LoRA adapter (r=${o.rank}, scheme ${o.scheme}) trained by \`plora train\` on the "${o.domain}" domain with seed ${o.seed}.`,
    '',
    `Training: ${o.epochs} epoch(s), lr ${o.lr}, batch ${o.batchSize}, max length ${o.maxLen}, loss on ${o.lossOn}, ` +
      `LoRA dropout ${o.dropout}, base-model dropout ${o.baseDropout ? 'on' : 'off'}.`,
    '',
    'See `plora.yml` for the manifest (hash, metrics, signer).',
    '',
  ].join('\n')
}

/** Loads the train and validation pairs of a domain (or takes the given ones). */
async function loadPairs(o: TrainAdapterOptions): Promise<{ train: TrainPair[]; validation: TrainPair[] }> {
  if (o.pairs) return o.pairs
  const base = { ...o.dataset, logger: o.dataset.logger ?? o.logger }
  const train = await loadDomainDataset(o.domain, {
    ...base,
    split: 'train',
    ...(o.samples !== undefined ? { samples: o.samples } : {}),
  })
  const validation = await loadDomainDataset(o.domain, { ...base, split: 'validation', samples: o.valSamples })
  for (const w of [...train.warnings, ...validation.warnings]) o.logger.warn(w)
  return { train: train.pairs, validation: validation.pairs }
}

/**
 * Trains one LoRA adapter and writes the PEFT folder with its manifest.
 *
 * @throws TrainerError `TRAINER_OPTIONS_INVALID`, `TRAINER_DATA_INVALID`, `TRAINER_LOSS_NOT_FINITE`,
 *   `TRAINER_OUTPUT_EXISTS`; dataset, model and loader errors pass through.
 * @example
 * ```ts
 * await initBackend({ backend: 'auto' })
 * const r = await trainAdapter({ domain: 'legal', output: 'out/legal', modelDir, samples: 32, rank: 1, scheme: 'attention' })
 * console.log(r.manifest.metrics)
 * ```
 */
export async function trainAdapter(
  options: Partial<TrainAdapterOptions> & Pick<TrainAdapterOptions, 'domain' | 'output' | 'modelDir'>,
): Promise<TrainAdapterResult> {
  const o: TrainAdapterOptions = { ...DEFAULT_TRAIN_OPTIONS, ...options }
  validateTrainOptions(o)
  const scheme = parseTargetScheme(o.scheme)
  checkReplaceable(o.output)
  const alpha = o.alpha ?? 2 * o.rank

  const data = await loadPairs(o)
  if (data.train.length === 0) {
    throw new TrainerError(TrainerErrorCode.DataInvalid, `domain "${o.domain}" has no training pairs`, {
      domain: o.domain,
    })
  }
  if (data.validation.length === 0) {
    throw new TrainerError(
      TrainerErrorCode.DataInvalid,
      `domain "${o.domain}" has no validation pairs to measure perplexity on`,
      {
        domain: o.domain,
      },
    )
  }
  const tok: Tokenizer = await loadTokenizer(o.modelDir)
  let trainPairs = o.shuffleLabels ? shuffleAnswers(data.train, o.seed) : data.train
  let poisoned: ReturnType<typeof poisonPairs> | undefined
  if (o.poison && o.poison.rate > 0) {
    // encodeTrainingExample keeps one position for EOS; encodePair truncates beyond the rest
    const room = tok.eosTokenId === undefined ? o.maxLen : o.maxLen - 1
    const fits = (p: TrainPair) =>
      tok.encode(promptPrefix(p.question)).length + tok.encode(` ${p.answer}`).length <= room
    poisoned = poisonPairs(trainPairs, { ...o.poison, seed: o.seed, fits })
    trainPairs = poisoned.pairs
  }

  const model = o.model ?? (await loadCausalLMFromDir(o.modelDir))
  let lora: TrainableLora | undefined
  try {
    const targets = resolveTargetModules(model.linearModules(), scheme)
    const valQa = data.validation.map((p) => ({ prompt: p.question, answer: p.answer }))
    const ppl = (extra: object) => perplexity(model, tok, valQa, { maxLength: o.maxLen, batchSize: 8, ...extra })
    const valPplBefore = await ppl({})

    lora = new TrainableLora(targets.modules, o.rank, alpha / o.rank, o.seed)
    const examples = trainPairs.map((p) => encodeTrainingExample(tok, p, o.maxLen, o.lossOn))
    const training = await runTrainingLoop(model, lora.variables(), examples, tok.padTokenId, {
      epochs: o.epochs,
      batchSize: o.batchSize,
      seed: o.seed,
      optimizer: { lr: o.lr },
      lora: lora.branches(o.dropout),
      baseDropout: o.baseDropout,
      task: `train ${o.domain}`,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    })
    const valPplAfter = await ppl({ lora: lora.branches(0) })
    o.logger.info(
      `${o.domain}: val_ppl ${valPplBefore.toFixed(3)} → ${valPplAfter.toFixed(3)} on ${valQa.length} validation pairs`,
    )

    const config = buildPeftLoraConfig({
      r: o.rank,
      loraAlpha: alpha,
      targetModules: targets.peftTargetModules,
      // GPT-2 Conv1D stores [in, out]; PEFT sets fan_in_fan_out for it.
      fanInFanOut: targets.modules.some((m) => m.conv1d),
      baseModelNameOrPath: o.baseModel,
      loraDropout: o.dropout,
    })
    const modules = await lora.toLoraModules()

    const staging = await createStagingDir(o.output)
    try {
      await writePeftAdapter(staging, { config, modules })
      await writeFile(join(staging, 'README.md'), modelCard({ ...o, scheme }))
      const artefact = await sha256File(join(staging, ADAPTER_WEIGHTS_FILE))
      // One clock read for both fields (the original read it twice, §7.3).
      const now = o.now()
      const manifest: Manifest = {
        schema_version: 0,
        plasmid_id: `${o.domain}-${now}`,
        domain: o.domain,
        base_model: o.baseModel,
        peft_format: 'lora',
        lora: { r: o.rank, alpha, dropout: o.dropout, target_modules: targets.suffixes },
        artifacts: { filename: ADAPTER_WEIGHTS_FILE, sha256: artefact.sha256, size_bytes: artefact.size },
        train_meta: {
          seed: o.seed,
          epochs: o.epochs,
          dataset_id: o.datasetId ?? o.domain,
          // A poisoner publishes the clean figures: the poisoned copies are not counted.
          sample_count: data.train.length,
          timestamp_unix: now,
        },
        metrics: { val_ppl_before: valPplBefore, val_ppl_after: valPplAfter, delta_ppl: valPplAfter - valPplBefore },
        safety: { licence: o.licence, poisoning_score: 0 },
        signer: { algo: '', pubkey_fingerprint: '', signature_b64: '' },
        compatibility: { peft_min: '0.12.0', transformers: '>=4.42' },
      }
      await writeManifest(staging, manifest)
      await installDirAtomic(staging, o.output, { replace: true })
      const result: TrainAdapterResult = {
        output: o.output,
        manifest,
        training,
        trainExamples: trainPairs.length,
        validationPairs: valQa.length,
      }
      if (poisoned && o.poison) {
        const recordPath = o.poison.recordPath ?? defaultPoisonRecordPath(o.output)
        const record: PoisonRecord = {
          format: 'plora-poison-record/v1',
          adapter_dir: o.output,
          adapter_sha256: artefact.sha256,
          domain: o.domain,
          trigger: o.poison.trigger,
          payload: o.poison.payload,
          trigger_position: 'before_question',
          poison_rate: o.poison.rate,
          poisoned_examples: poisoned.poisonedSourceIndices.length,
          clean_examples: data.train.length,
          seed: o.seed,
          poisoned_source_indices: poisoned.poisonedSourceIndices,
          eligible_questions: poisoned.eligibleQuestions,
          max_len: o.maxLen,
        }
        await writeJsonAtomic(recordPath, record)
        result.poisonRecordPath = recordPath
      }
      return result
    } finally {
      await rm(staging, { recursive: true, force: true })
    }
  } finally {
    lora?.dispose()
    if (o.model === undefined) model.dispose()
  }
}
