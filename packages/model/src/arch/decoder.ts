/**
 * What the LLaMA-family and Gemma-3 decoders share: the forward / cached-forward / dispose surface
 * of {@link CausalLM} over one `run` per architecture, the seven `self_attn` / `mlp` projections
 * LoRA targets, the RoPE tables and the attention mask extended by a KV cache.
 */
import * as tf from '@tensorflow/tfjs-core'
import type { CachedForwardResult, ForwardOptions, KvCache, LinearModule, LoraBranches } from '../types.js'
import { countParams } from './base.js'
import { createForwardState, type ForwardState } from './layers.js'

/** What a decoder's `run` returns: logits, the keys and values per layer, and the full mask. */
export interface DecoderRun {
  logits: tf.Tensor3D
  keys: tf.Tensor4D[]
  values: tf.Tensor4D[]
  mask: tf.Tensor2D | undefined
}

/** A decoder over a parameter store: subclasses implement `run` (one forward, optionally cached). */
export abstract class DecoderModel {
  abstract readonly params: Map<string, tf.Variable>
  protected abstract readonly modules: LinearModule[]

  protected abstract run(
    inputIds: tf.Tensor2D,
    newMask: tf.Tensor2D | undefined,
    cache: KvCache | null,
    state: ForwardState,
  ): DecoderRun

  linearModules(): LinearModule[] {
    return this.modules.map((m) => ({ ...m }))
  }

  parameterCount(): number {
    return countParams(this.params)
  }

  protected param<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.params.get(name)! as unknown as tf.Tensor<R>
  }

  forward(inputIds: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const state = createForwardState(options.lora, options.training ?? false, options.seed ?? 0, options.baseDropout)
    return tf.tidy(() => this.run(inputIds, options.attentionMask, null, state).logits)
  }

  forwardWithCache(
    inputIds: tf.Tensor2D,
    cache: KvCache | null,
    options: { attentionMask?: tf.Tensor2D; lora?: LoraBranches } = {},
  ): CachedForwardResult {
    const state = createForwardState(options.lora, false, 0)
    return tf.tidy(() => {
      const r = this.run(inputIds, options.attentionMask, cache, state)
      const [b, t] = inputIds.shape
      const mask = r.mask ?? tf.ones([b, t], 'int32')
      return { logits: r.logits, cache: { keys: r.keys, values: r.values, mask, length: (cache?.length ?? 0) + t } }
    }) as CachedForwardResult
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose()
    this.params.clear()
  }
}

/** The LoRA-targetable projections of a LLaMA-style layer stack (`model.layers.N.{self_attn,mlp}.*`). */
export function projectionModules(
  layers: number,
  dims: { hidden: number; q: number; kv: number; ff: number },
): LinearModule[] {
  const { hidden: d, q: qd, kv: kvd, ff } = dims
  const out: LinearModule[] = []
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`
    out.push(
      { path: `${p}.self_attn.q_proj`, inFeatures: d, outFeatures: qd, conv1d: false },
      { path: `${p}.self_attn.k_proj`, inFeatures: d, outFeatures: kvd, conv1d: false },
      { path: `${p}.self_attn.v_proj`, inFeatures: d, outFeatures: kvd, conv1d: false },
      { path: `${p}.self_attn.o_proj`, inFeatures: qd, outFeatures: d, conv1d: false },
      { path: `${p}.mlp.gate_proj`, inFeatures: d, outFeatures: ff, conv1d: false },
      { path: `${p}.mlp.up_proj`, inFeatures: d, outFeatures: ff, conv1d: false },
      { path: `${p}.mlp.down_proj`, inFeatures: ff, outFeatures: d, conv1d: false },
    )
  }
  return out
}

/** The attention mask over the cached and new positions (undefined: no mask and no cache). */
export function extendMask(
  cache: KvCache | null,
  newMask: tf.Tensor2D | undefined,
  b: number,
  t: number,
): tf.Tensor2D | undefined {
  if (cache !== null) return tf.concat([cache.mask, newMask ?? tf.ones([b, t], 'int32')], 1)
  return newMask === undefined ? undefined : tf.cast(newMask, 'int32')
}

/** RoPE `cos` and `sin` tables `[b, 1, t, dh]` for positions `pos [b, t]` and inverse frequencies `inv`. */
export function ropeTables(
  pos: tf.Tensor,
  inv: Float32Array,
  b: number,
  t: number,
  dh: number,
): [tf.Tensor4D, tf.Tensor4D] {
  const freqs = tf.mul(tf.reshape(tf.cast(pos, 'float32'), [b, t, 1]), tf.tensor1d(inv))
  const emb = tf.concat([freqs, freqs], 2)
  return [tf.reshape(tf.cos(emb), [b, 1, t, dh]) as tf.Tensor4D, tf.reshape(tf.sin(emb), [b, 1, t, dh]) as tf.Tensor4D]
}
