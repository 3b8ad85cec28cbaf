/**
 * Training examples (spec pipelines.md §7.2 step 7, fixing `[D-09]` / defect 9 of §20).
 *
 * A pair becomes `Question: {q}\nAnswer: {a}` followed by EOS; the prompt `Question: {q}\nAnswer:` and
 * the answer ` {a}` are tokenised separately (`encodePair` of `@plora/model`, the same layout the
 * scorer uses), so the prompt/answer boundary is exact. The loss is next-token cross-entropy on
 * the answer tokens and the EOS (`lossOn: 'answer'`, default) or on every token after the first
 * (`'all'`, the original's prompt-inclusive loss); padding never counts, and truncation keeps the
 * answer (the prompt's oldest tokens go first), unlike the original, whose 128-token window often
 * cut legal answers away.
 */
import type { Tokenizer } from '@plora/model'
import { encodePair } from '@plora/model'
import * as tf from '@tensorflow/tfjs-core'
import { TrainerError, TrainerErrorCode } from './errors.js'

/** Which target tokens carry loss. */
export type LossOn = 'answer' | 'all'
/** Values of {@link LossOn}. */
export const LOSS_ON_CHOICES: readonly LossOn[] = ['answer', 'all']

/** A question/answer pair (the `@plora/datasets` shape). */
export interface TrainPair {
  question: string
  answer: string
}

/** One encoded example. */
export interface EncodedExample {
  /** Token ids, EOS included, at most `maxLen`. */
  ids: number[]
  /** `lossMask[i] = 1` when the prediction of `ids[i + 1]` from position i is trained (length `ids.length − 1`). */
  lossMask: number[]
}

/** Encodes one pair for training. */
export function encodeTrainingExample(tok: Tokenizer, pair: TrainPair, maxLen: number, lossOn: LossOn): EncodedExample {
  if (maxLen < 3) {
    throw new TrainerError(TrainerErrorCode.OptionsInvalid, `maxLen must be at least 3 tokens, found ${maxLen}`, {
      maxLen,
    })
  }
  const eos = tok.eosTokenId
  // Reserve one position for EOS so truncation never drops the end-of-answer signal.
  const room = eos === undefined ? maxLen : maxLen - 1
  const { ids, answerStart } = encodePair(tok, { prompt: pair.question, answer: pair.answer }, room)
  if (eos !== undefined) ids.push(eos)
  const lossMask = new Array<number>(ids.length - 1)
  for (let i = 0; i < ids.length - 1; i++) lossMask[i] = lossOn === 'all' || i + 1 >= answerStart ? 1 : 0
  return { ids, lossMask }
}

/** A padded batch; the caller disposes the tensors (or builds it inside `tf.tidy`). */
export interface TrainingBatch {
  /** `[b, T]` int32, right-padded with the pad id. */
  inputIds: tf.Tensor2D
  /** `[b, T]` int32, 1 = real token. */
  attentionMask: tf.Tensor2D
  /** `[b, T]` int32, the next token at each position (0 where unused). */
  labels: tf.Tensor2D
  /** `[b, T]` float32, 1 where the loss counts. */
  weights: tf.Tensor2D
  /** Real (unpadded) tokens in the batch. */
  tokens: number
  /** Positions that carry loss. */
  lossTokens: number
}

/**
 * How the loss of a batch averages: `example` (default) weights each example equally (the mean of
 * per-example token means — what the original's batch size 1 does, so a 3-token answer is not
 * drowned by a 60-token one in the same batch); `token` is the plain mean over all loss tokens.
 */
export type LossWeighting = 'example' | 'token'

/** Right-pads `examples` into one batch. Padding has mask 0 and loss weight 0. */
export function collateBatch(
  examples: readonly EncodedExample[],
  padId: number,
  weighting: LossWeighting = 'example',
): TrainingBatch {
  if (examples.length === 0)
    throw new TrainerError(TrainerErrorCode.DataInvalid, 'cannot build a batch of 0 examples', {})
  const b = examples.length
  const T = Math.max(...examples.map((e) => e.ids.length))
  const ids = new Int32Array(b * T).fill(padId)
  const mask = new Int32Array(b * T)
  const labels = new Int32Array(b * T)
  const weights = new Float32Array(b * T)
  let tokens = 0
  let lossTokens = 0
  examples.forEach((e, r) => {
    ids.set(e.ids, r * T)
    mask.fill(1, r * T, r * T + e.ids.length)
    tokens += e.ids.length
    const n = e.lossMask.reduce((a, b) => a + b, 0)
    // maskedCrossEntropy divides by Σw: with 1/n per token that is the mean of per-example means.
    const w = weighting === 'example' && n > 0 ? 1 / n : 1
    for (let i = 0; i < e.ids.length - 1; i++) {
      labels[r * T + i] = e.ids[i + 1]!
      weights[r * T + i] = e.lossMask[i]! * w
    }
    lossTokens += n
  })
  return {
    inputIds: tf.tensor2d(ids, [b, T], 'int32'),
    attentionMask: tf.tensor2d(mask, [b, T], 'int32'),
    labels: tf.tensor2d(labels, [b, T], 'int32'),
    weights: tf.tensor2d(weights, [b, T], 'float32'),
    tokens,
    lossTokens,
  }
}

/** Disposes the tensors of a batch. */
export function disposeBatch(batch: TrainingBatch): void {
  tf.dispose([batch.inputIds, batch.attentionMask, batch.labels, batch.weights])
}
