/**
 * The shared optimisation loop of adapter training, the monolithic baseline and base-model
 * pretraining: seeded per-epoch example order, padded mini-batches, masked next-token
 * cross-entropy (`maskedCrossEntropy` of `@plora/model`), gradients of the given variables only,
 * AdamW with global-norm clipping, seeded dropout masks per step, progress with loss and tokens/s.
 */
import { createRng, deriveSeed, type ProgressCallback } from '@plora/common'
import { type CausalLM, type LoraBranches, maskedCrossEntropy } from '@plora/model'
import * as tf from '@tensorflow/tfjs-core'
import { AdamW, type AdamWOptions } from './adamw.js'
import { TrainerError, TrainerErrorCode } from './errors.js'
import { collateBatch, disposeBatch, type EncodedExample, type LossWeighting } from './examples.js'

/** Inputs of {@link runTrainingLoop}. */
export interface TrainingLoopOptions {
  epochs: number
  batchSize: number
  seed: number
  optimizer: Partial<AdamWOptions>
  /** LoRA branches (adapter training); omitted for full-model training. */
  lora?: LoraBranches
  /** Whether the model's own dropouts are on (default true; LoRA-branch dropout is always on). */
  baseDropout?: boolean
  /** Learning rate at a 0-based step (schedules); default the constant `optimizer.lr`. */
  lrAt?: (step: number, totalSteps: number) => number
  /** Loss averaging over a batch (default `example`). */
  lossWeighting?: LossWeighting
  /** Progress task name. */
  task: string
  onProgress?: ProgressCallback
  signal?: AbortSignal
  /** Called after each step (benchmarks sample memory here). */
  afterStep?: (step: number) => void
}

/** Figures of a finished loop. */
export interface TrainingLoopResult {
  steps: number
  /** Real tokens processed (forward + backward). */
  tokens: number
  /** Mean loss of the first and of the last epoch (nats per trained token). */
  firstEpochLoss: number
  lastEpochLoss: number
  /** Loss of the last step. */
  lastLoss: number
  seconds: number
  tokensPerSecond: number
}

/**
 * Trains `variables` of `model` on `examples`.
 *
 * @throws TrainerError `TRAINER_LOSS_NOT_FINITE` when a loss or gradient norm is NaN/Infinity.
 */
export async function runTrainingLoop(
  model: CausalLM,
  variables: readonly tf.Variable[],
  examples: readonly EncodedExample[],
  padId: number,
  o: TrainingLoopOptions,
): Promise<TrainingLoopResult> {
  if (examples.length === 0) throw new TrainerError(TrainerErrorCode.DataInvalid, 'no training examples', {})
  const opt = new AdamW(variables, o.optimizer)
  const perEpoch = Math.ceil(examples.length / o.batchSize)
  const total = perEpoch * o.epochs
  const start = performance.now()
  let tokens = 0
  let step = 0
  let firstEpochLoss = Number.NaN
  let lastEpochLoss = Number.NaN
  let lastLoss = Number.NaN
  o.onProgress?.({ status: 'start', task: o.task, total })
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      // A fresh seeded order per epoch (the original used loader order, batch 1).
      const order = createRng(deriveSeed(o.seed, 'train-order', epoch)).shuffle([...examples.keys()])
      let epochLoss = 0
      let epochWeight = 0
      for (let s = 0; s < perEpoch; s++) {
        o.signal?.throwIfAborted()
        const batch = collateBatch(
          order.slice(s * o.batchSize, (s + 1) * o.batchSize).map((i) => examples[i]!),
          padId,
          o.lossWeighting ?? 'example',
        )
        const stepSeed = deriveSeed(o.seed, 'dropout', step) % 2_147_483_647
        let loss: number
        try {
          if (batch.lossTokens === 0) {
            // Nothing to learn from (e.g. an answer truncated away): skip, but keep the schedule.
            step += 1
            continue
          }
          const { value, grads } = tf.variableGrads(
            () =>
              maskedCrossEntropy(
                model.forward(batch.inputIds, {
                  attentionMask: batch.attentionMask,
                  training: true,
                  baseDropout: o.baseDropout ?? true,
                  seed: stepSeed,
                  ...(o.lora ? { lora: o.lora } : {}),
                }),
                batch.labels,
                batch.weights,
              ),
            variables as tf.Variable[],
          )
          loss = (await value.data())[0]!
          value.dispose()
          const list = variables.map((v) => grads[v.name] ?? tf.zerosLike(v))
          try {
            if (!Number.isFinite(loss)) {
              throw new TrainerError(
                TrainerErrorCode.LossNotFinite,
                `loss became ${loss} at step ${step + 1} of ${o.task}`,
                {
                  step: step + 1,
                },
              )
            }
            const lr = o.lrAt ? o.lrAt(step, total) : undefined
            const info = await opt.step(list, lr)
            if (!Number.isFinite(info.gradNorm)) {
              throw new TrainerError(
                TrainerErrorCode.LossNotFinite,
                `gradient norm became ${info.gradNorm} at step ${step + 1} of ${o.task}`,
                { step: step + 1 },
              )
            }
          } finally {
            tf.dispose(list)
          }
        } finally {
          disposeBatch(batch)
        }
        tokens += batch.tokens
        step += 1
        lastLoss = loss
        epochLoss += loss * batch.lossTokens
        epochWeight += batch.lossTokens
        o.afterStep?.(step)
        const secs = (performance.now() - start) / 1000
        o.onProgress?.({
          status: 'progress',
          task: o.task,
          done: step,
          total,
          info: { loss: Number(loss.toFixed(4)), 'tok/s': Math.round(tokens / Math.max(secs, 1e-9)) },
        })
      }
      const mean = epochWeight > 0 ? epochLoss / epochWeight : Number.NaN
      if (epoch === 0) firstEpochLoss = mean
      lastEpochLoss = mean
    }
  } finally {
    opt.dispose()
  }
  const seconds = (performance.now() - start) / 1000
  const result = {
    steps: step,
    tokens,
    firstEpochLoss,
    lastEpochLoss,
    lastLoss,
    seconds,
    tokensPerSecond: tokens / Math.max(seconds, 1e-9),
  }
  o.onProgress?.({
    status: 'done',
    task: o.task,
    info: { loss: Number(lastLoss.toFixed(4)), 'tok/s': Math.round(result.tokensPerSecond) },
  })
  return result
}
