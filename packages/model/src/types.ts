/**
 * The engine's public model interface (cross-package contract with `@plora/loader` and
 * `@plora/trainer`): a causal LM whose parameters are TensorFlow.js variables keyed by their
 * Hugging Face state-dict names, and LoRA side branches passed per call.
 */
import type * as tf from '@tensorflow/tfjs-core'

/** Model families the engine implements. `llama` also covers `mistral` and `qwen2`. */
export type ModelFamily = 'gpt2' | 'llama' | 'gemma3'

/** The fields of a GPT-2 `config.json` the forward uses (Hugging Face spelling). */
export interface Gpt2Config {
  model_type: 'gpt2'
  vocab_size: number
  n_positions: number
  n_embd: number
  n_layer: number
  n_head: number
  /** MLP width; `null`/absent means 4·n_embd. */
  n_inner: number | null
  layer_norm_epsilon: number
  activation_function: string
  resid_pdrop: number
  embd_pdrop: number
  attn_pdrop: number
  tie_word_embeddings: boolean
  scale_attn_weights: boolean
  bos_token_id: number | null
  eos_token_id: number | null
}

/** The fields of a LLaMA / Mistral / Qwen2 `config.json` the forward uses. */
export interface LlamaConfig {
  /** The original `model_type` (`llama`, `mistral` or `qwen2`). */
  model_type: 'llama' | 'mistral' | 'qwen2'
  vocab_size: number
  hidden_size: number
  intermediate_size: number
  num_hidden_layers: number
  num_attention_heads: number
  num_key_value_heads: number
  head_dim: number
  max_position_embeddings: number
  rms_norm_eps: number
  rope_theta: number
  /** `null`, or `{rope_type|type: 'linear', factor}` / `{rope_type: 'llama3', …}`. */
  rope_scaling: Record<string, unknown> | null
  hidden_act: string
  /** Bias on q/k/v projections (always true for qwen2, `attention_bias` for llama). */
  qkv_bias: boolean
  /** Bias on the output projection (`attention_bias` for llama; false for qwen2). */
  o_bias: boolean
  mlp_bias: boolean
  attention_dropout: number
  /**
   * Mistral's sliding window: query i attends to keys j with i − sliding_window < j ≤ i; `null`
   * (LLaMA, Qwen2 without `use_sliding_window`, Mistral with `sliding_window: null`) is full causal.
   */
  sliding_window: number | null
  tie_word_embeddings: boolean
  bos_token_id: number | null
  eos_token_id: number | number[] | null
}

/**
 * The fields of a Gemma-3 text `config.json` (`model_type: gemma3_text`, Hugging Face
 * `Gemma3TextConfig`) the forward uses.
 */
export interface Gemma3Config {
  model_type: 'gemma3_text'
  vocab_size: number
  hidden_size: number
  intermediate_size: number
  num_hidden_layers: number
  num_attention_heads: number
  num_key_value_heads: number
  head_dim: number
  max_position_embeddings: number
  rms_norm_eps: number
  /** RoPE base of the global (full-attention) layers. */
  rope_theta: number
  /** RoPE base of the local (sliding-window) layers. */
  rope_local_base_freq: number
  /** Keys a sliding-window layer sees: query i attends to j with i − sliding_window < j ≤ i. */
  sliding_window: number
  /** Per layer: `sliding_attention` or `full_attention` (from `layer_types` or `sliding_window_pattern`). */
  layer_types: Array<'sliding_attention' | 'full_attention'>
  /** The attention scale is `query_pre_attn_scalar^-1/2`. */
  query_pre_attn_scalar: number
  /** `hidden_activation` (Gemma 3: `gelu_pytorch_tanh`). */
  hidden_act: string
  /** Bias on q/k/v/o projections (`attention_bias`, false in Gemma 3). */
  attention_bias: boolean
  attention_dropout: number
  tie_word_embeddings: boolean
  bos_token_id: number | null
  eos_token_id: number | number[] | null
}

/** A parsed model configuration. */
export type ModelConfig = Gpt2Config | LlamaConfig | Gemma3Config

/** One adaptable linear layer of a model (GPT-2 `Conv1D` or `nn.Linear`). */
export interface LinearModule {
  /** Full module path, e.g. `transformer.h.0.attn.c_attn` or `model.layers.0.self_attn.q_proj`. */
  path: string
  inFeatures: number
  outFeatures: number
  /** True for GPT-2 `Conv1D`: the stored weight is `[in, out]` (PEFT `fan_in_fan_out`). */
  conv1d: boolean
}

/**
 * LoRA side branches keyed by module path. The forward adds `scale · dropout(x)·aᵀ·bᵀ` to that
 * linear's output (spec §11.1), differentiably in `a` and `b`; dropout only when training.
 */
export type LoraBranches = ReadonlyMap<
  string,
  {
    /** `lora_A`, shape `[r, in]`. */
    a: tf.Tensor2D
    /** `lora_B`, shape `[out, r]`. */
    b: tf.Tensor2D
    /** `lora_alpha / r` (or `/ sqrt(r)` with rsLoRA). */
    scale: number
    /** Dropout rate on the branch input while training (default 0). */
    dropout?: number
  }
>

/** Options of {@link CausalLM.forward}. */
export interface ForwardOptions {
  /** `[b, t]` with 1 for real tokens and 0 for padding (left or right). */
  attentionMask?: tf.Tensor2D
  /** LoRA branches to add (un-merged adapters, e.g. while training). */
  lora?: LoraBranches
  /** Enables the model's dropouts and the LoRA dropout. Default false. */
  training?: boolean
  /**
   * With `training`, whether the base model's own dropouts (embedding, attention, residual) are on
   * too; false keeps only the LoRA-branch dropout (adapter training on a frozen base). Default true.
   */
  baseDropout?: boolean
  /** Seed of the dropout masks (training only). */
  seed?: number
}

/** Key/value cache of one decoding sequence batch: per layer `[b, kvHeads, T, headDim]`. */
export interface KvCache {
  keys: tf.Tensor4D[]
  values: tf.Tensor4D[]
  /** `[b, T]` mask of the cached positions (1 = real token). */
  mask: tf.Tensor2D
  /** Number of cached positions T. */
  length: number
}

/** Result of {@link CausalLM.forwardWithCache}. */
export interface CachedForwardResult {
  /** `[b, t, V]` logits of the new positions. */
  logits: tf.Tensor3D
  /** The cache extended by the new positions (the old cache is not disposed). */
  cache: KvCache
}

/**
 * A loaded causal language model.
 *
 * @example
 * ```ts
 * const model = await loadCausalLM(dir)
 * const logits = tf.tidy(() => model.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')))
 * model.dispose()
 * ```
 */
export interface CausalLM {
  readonly family: ModelFamily
  readonly config: ModelConfig
  /** The folder the model was loaded from. */
  readonly modelDir: string
  /** Parameters keyed by Hugging Face state-dict names (`transformer.h.0.attn.c_attn.weight`). */
  readonly params: Map<string, tf.Variable>
  /** Every adaptable linear layer, in module order. */
  linearModules(): LinearModule[]
  /** Logits `[b, t, V]` (float32) for `inputIds` `[b, t]` (int32). */
  forward(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D
  /**
   * Incremental decoding: logits for `inputIds` after the cached positions. `attentionMask`
   * covers only the new positions. Inference only (no dropout).
   */
  forwardWithCache(
    inputIds: tf.Tensor2D,
    cache: KvCache | null,
    options?: { attentionMask?: tf.Tensor2D; lora?: LoraBranches },
  ): CachedForwardResult
  /** Number of parameters (elements). */
  parameterCount(): number
  /** Disposes every variable. */
  dispose(): void
}
