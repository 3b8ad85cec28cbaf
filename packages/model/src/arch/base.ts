/**
 * What GPT-2 and LLaMA models share: the parameter store (TensorFlow.js variables keyed by
 * Hugging Face state-dict names), shape checks against `config.json`, and disposal.
 */
import * as tf from '@tensorflow/tfjs-core'
import { ModelError, ModelErrorCode } from '../errors.js'
import type { FloatTensorData } from '../weights.js'

/** Creates float32 variables from decoded weights, checking each expected name and shape. */
export function createParams(
  weights: Map<string, FloatTensorData>,
  expected: Map<string, number[]>,
  where: string,
): Map<string, tf.Variable> {
  for (const [name, shape] of expected) {
    const w = weights.get(name)
    if (w === undefined) {
      throw new ModelError(ModelErrorCode.WeightsMissing, `weight ${name} is missing from ${where}`, {
        path: where,
        name,
      })
    }
    if (w.shape.length !== shape.length || w.shape.some((s, i) => s !== shape[i])) {
      throw new ModelError(
        ModelErrorCode.WeightShapeMismatch,
        `weight ${name} in ${where} has shape ${JSON.stringify(w.shape)}: expected ${JSON.stringify(shape)} from config.json`,
        { path: where, name, expected: shape, found: w.shape },
      )
    }
  }
  const params = new Map<string, tf.Variable>()
  for (const [name, shape] of expected) {
    // Unnamed variables: tfjs names must be globally unique, and two models may be loaded at once.
    const initial = tf.tensor(weights.get(name)!.data, shape, 'float32')
    params.set(name, tf.variable(initial, true))
    // The variable shares (and ref-counts) the data buffer; the wrapper tensor itself must go.
    initial.dispose()
  }
  return params
}

/** Total element count of a parameter map. */
export function countParams(params: Map<string, tf.Variable>): number {
  let n = 0
  for (const v of params.values()) n += v.size
  return n
}

/** Throws when `inputIds` is not an int32 `[b, t]` tensor with t ≥ 1 and t ≤ `maxT`. */
export function checkInputIds(inputIds: tf.Tensor, maxT: number, past: number): void {
  if (inputIds.rank !== 2 || inputIds.dtype !== 'int32' || inputIds.shape[1] === 0) {
    throw new ModelError(
      ModelErrorCode.InputInvalid,
      `inputIds must be an int32 tensor [batch, time] with time ≥ 1, found ${inputIds.dtype} ${JSON.stringify(inputIds.shape)}`,
      { shape: inputIds.shape, dtype: inputIds.dtype },
    )
  }
  if (past + inputIds.shape[1]! > maxT) {
    throw new ModelError(
      ModelErrorCode.InputInvalid,
      `sequence of ${past + inputIds.shape[1]!} positions exceeds the model's context of ${maxT}`,
      { length: past + inputIds.shape[1]!, context: maxT },
    )
  }
}

/** Throws when a mask is not `[b, t]` matching the input ids. */
export function checkMask(mask: tf.Tensor | undefined, inputIds: tf.Tensor): void {
  if (mask === undefined) return
  if (mask.rank !== 2 || mask.shape[0] !== inputIds.shape[0] || mask.shape[1] !== inputIds.shape[1]) {
    throw new ModelError(
      ModelErrorCode.InputInvalid,
      `attentionMask has shape ${JSON.stringify(mask.shape)}: expected ${JSON.stringify(inputIds.shape)} like inputIds`,
      { mask: mask.shape, inputIds: inputIds.shape },
    )
  }
}

/**
 * Marks every base parameter trainable or frozen. Freeze the base for LoRA-only training: the
 * engine's dense layers then skip the base weight gradients (they return zeros for frozen
 * variables), which is most of the backward cost.
 */
export function setBaseTrainable(params: Map<string, tf.Variable>, trainable: boolean): void {
  for (const v of params.values()) v.trainable = trainable
}
