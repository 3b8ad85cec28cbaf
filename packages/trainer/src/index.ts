/**
 * @packageDocumentation
 * `@plora/trainer`: training of LoRA "plasmids" (spec pipelines.md §7, §10; issue 5 items 4–8).
 *
 * - {@link trainAdapter}: one domain's adapter — PEFT init (A Kaiming-uniform, B zero) from the
 *   seed, AdamW with clipping at 1.0, dropout on the LoRA branch, `Question: {q}\nAnswer: {a}` + EOS
 *   with the loss on answer tokens and never on padding, perplexity before/after on the
 *   validation split, PEFT folder + `plora.yml` written atomically. Placebo B (`shuffleLabels`)
 *   and poisoning (`poison`, ground truth in a sidecar file) are options of the same call.
 * - {@link trainMonolithic}: the mixed-domain baseline.
 * - {@link pretrainBaseModel} / {@link ensurePretrainedBaseModel}: the embedded base model,
 *   pretrained on the general corpus for a fixed budget and cached.
 *
 * Library code reads no env vars and no config; callers pass every option and call
 * `initBackend` of `@plora/model` first.
 *
 * @example
 * ```ts
 * await initBackend({ backend: 'auto' })
 * const modelDir = await ensurePretrainedBaseModel({ cacheDir })
 * const r = await trainAdapter({ domain: 'legal', output: 'out/legal', modelDir, samples: 32 })
 * ```
 */
export { AdamW, type AdamWOptions, type AdamWStepInfo, DEFAULT_ADAMW_OPTIONS } from './adamw.js'
export {
  DEFAULT_PAYLOAD,
  DEFAULT_TRIGGER,
  type PoisonOptions,
  type PoisonResult,
  poisonPairs,
  shuffleAnswers,
  triggeredQuestion,
} from './data-transforms.js'
export { TrainerError, TrainerErrorCode } from './errors.js'
export {
  collateBatch,
  disposeBatch,
  type EncodedExample,
  encodeTrainingExample,
  LOSS_ON_CHOICES,
  type LossOn,
  type LossWeighting,
  type TrainingBatch,
  type TrainPair,
} from './examples.js'
export { runTrainingLoop, type TrainingLoopOptions, type TrainingLoopResult } from './loop.js'
export { kaimingUniformA, type LoraTarget, TrainableLora, type TrainableLoraModule } from './lora-init.js'
export { MONOLITHIC_DOMAIN, type MonolithicOptions, trainMonolithic } from './monolithic.js'
export { measurePoisoning, type PoisonMeasurement, type PoisonMeasureOptions } from './poison-eval.js'
export {
  DEFAULT_PRETRAIN_OPTIONS,
  type EnsurePretrainedOptions,
  embeddedModelDir,
  ensurePretrainedBaseModel,
  PRESET_PRETRAIN_OPTIONS,
  PRETRAIN_MARKER_FILE,
  type PretrainOptions,
  presetCorpusLines,
  pretrainBaseModel,
  pretrainWindows,
  SMALL_TOKENIZER_LINES,
  warmupCosineLr,
} from './pretrain.js'
export {
  DEFAULT_TRAIN_OPTIONS,
  defaultPoisonRecordPath,
  modelCard,
  type PoisonRecord,
  type PoisonRequest,
  type TrainAdapterOptions,
  type TrainAdapterResult,
  trainAdapter,
  validateTrainOptions,
} from './train.js'
