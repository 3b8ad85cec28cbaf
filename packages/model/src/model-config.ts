/**
 * Parses a Hugging Face `config.json` into {@link ModelConfig}, filling Hugging Face's own
 * defaults (`GPT2Config`, `LlamaConfig`, `MistralConfig`, `Qwen2Config`, `Gemma3TextConfig`)
 * for absent fields.
 */
import { ModelError, ModelErrorCode } from './errors.js'
import type { Gemma3Config, Gpt2Config, LlamaConfig, ModelConfig, ModelFamily } from './types.js'

type Json = Record<string, unknown>

function num(raw: Json, key: string, fallback: number | undefined, where: string): number {
  const v = raw[key] ?? fallback
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ModelError(
      ModelErrorCode.ConfigInvalid,
      `${where}: field "${key}" must be a number, found ${JSON.stringify(raw[key])}`,
      { path: where, field: key },
    )
  }
  return v
}

function optInt(raw: Json, key: string): number | null {
  const v = raw[key]
  return typeof v === 'number' ? v : null
}

function posInt(raw: Json, key: string, fallback: number | undefined, where: string): number {
  const v = num(raw, key, fallback, where)
  if (!Number.isInteger(v) || v <= 0) {
    throw new ModelError(
      ModelErrorCode.ConfigInvalid,
      `${where}: field "${key}" must be a positive integer, found ${v}`,
      {
        path: where,
        field: key,
      },
    )
  }
  return v
}

/** The `model_type` values `config.json` may carry, in the order error messages list them. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = ['gpt2', 'llama', 'mistral', 'qwen2', 'gemma3_text']

/** The family implementing a `model_type`, or undefined when unsupported. */
export function familyOf(modelType: unknown): ModelFamily | undefined {
  if (modelType === 'gpt2') return 'gpt2'
  if (modelType === 'llama' || modelType === 'mistral' || modelType === 'qwen2') return 'llama'
  if (modelType === 'gemma3_text') return 'gemma3'
  return undefined
}

// Why a known but unimplemented model_type is refused (appended to the error message).
const UNSUPPORTED_REASONS: Record<string, string> = {
  gemma3:
    'the multimodal Gemma-3 wrapper (Gemma3ForConditionalGeneration, vision tower + text_config) is not implemented; use a text-only gemma3_text checkpoint such as google/gemma-3-1b-it',
  gemma2: 'Gemma-2 (logit soft-capping, alternating windows) is not implemented',
  gemma: 'Gemma-1 is not implemented',
  mixtral: 'mixture-of-experts models are not implemented',
  qwen2_moe: 'mixture-of-experts models are not implemented',
}

function nullOrAbsent(r: Json, key: string, where: string, why: string): void {
  if (r[key] !== undefined && r[key] !== null) {
    throw new ModelError(
      ModelErrorCode.ArchitectureUnsupported,
      `${where}: field "${key}" is ${JSON.stringify(r[key])}: ${why}; expected null or absent`,
      { path: where, field: key, found: r[key] },
    )
  }
}

function parseGemma3(r: Json, where: string): Gemma3Config {
  nullOrAbsent(r, 'final_logit_softcapping', where, 'logit soft-capping is not implemented')
  nullOrAbsent(r, 'attn_logit_softcapping', where, 'attention logit soft-capping is not implemented')
  nullOrAbsent(r, 'rope_scaling', where, 'RoPE scaling is not implemented for gemma3_text')
  const hidden = posInt(r, 'hidden_size', 2304, where)
  const heads = posInt(r, 'num_attention_heads', 8, where)
  const kvHeads = posInt(r, 'num_key_value_heads', 4, where)
  const headDim = posInt(r, 'head_dim', 256, where)
  if (heads % kvHeads !== 0 || headDim % 2 !== 0) {
    throw new ModelError(
      ModelErrorCode.ConfigInvalid,
      `${where}: num_attention_heads ${heads} must be a multiple of num_key_value_heads ${kvHeads} and head_dim ${headDim} even`,
      { path: where },
    )
  }
  const layers = posInt(r, 'num_hidden_layers', 26, where)
  let layerTypes: Gemma3Config['layer_types']
  if (r.layer_types !== undefined && r.layer_types !== null) {
    const lt = r.layer_types
    if (
      !Array.isArray(lt) ||
      lt.length !== layers ||
      lt.some((x) => x !== 'sliding_attention' && x !== 'full_attention')
    ) {
      throw new ModelError(
        ModelErrorCode.ConfigInvalid,
        `${where}: field "layer_types" must list ${layers} entries of "sliding_attention" / "full_attention", found ${JSON.stringify(lt)}`,
        { path: where, field: 'layer_types' },
      )
    }
    layerTypes = [...(lt as Gemma3Config['layer_types'])]
  } else {
    // Older configs: every `pattern`-th layer is global (HF: is_sliding = bool((i + 1) % pattern)).
    const key = r.sliding_window_pattern !== undefined ? 'sliding_window_pattern' : '_sliding_window_pattern'
    const pattern = posInt(r, key, 6, where)
    layerTypes = Array.from({ length: layers }, (_, i) =>
      (i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention',
    )
  }
  const eos = r.eos_token_id ?? 1
  return {
    model_type: 'gemma3_text',
    vocab_size: posInt(r, 'vocab_size', 262208, where),
    hidden_size: hidden,
    intermediate_size: posInt(r, 'intermediate_size', 9216, where),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: posInt(r, 'max_position_embeddings', 131072, where),
    rms_norm_eps: num(r, 'rms_norm_eps', 1e-6, where),
    rope_theta: num(r, 'rope_theta', 1_000_000, where),
    rope_local_base_freq: num(r, 'rope_local_base_freq', 10_000, where),
    sliding_window: posInt(r, 'sliding_window', 4096, where),
    layer_types: layerTypes,
    query_pre_attn_scalar: num(r, 'query_pre_attn_scalar', 256, where),
    hidden_act:
      typeof r.hidden_activation === 'string'
        ? r.hidden_activation
        : typeof r.hidden_act === 'string'
          ? r.hidden_act
          : 'gelu_pytorch_tanh',
    attention_bias: r.attention_bias === true,
    attention_dropout: num(r, 'attention_dropout', 0, where),
    tie_word_embeddings: r.tie_word_embeddings !== false,
    bos_token_id: r.bos_token_id === undefined ? 2 : optInt(r, 'bos_token_id'),
    eos_token_id: Array.isArray(eos) ? (eos as number[]) : typeof eos === 'number' ? eos : null,
  }
}

/** Validates and completes a parsed `config.json` (`where` names the file in errors). */
export function parseModelConfig(raw: unknown, where: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelError(ModelErrorCode.ConfigInvalid, `${where}: expected a JSON object`, { path: where })
  }
  const r = raw as Json
  const family = familyOf(r.model_type)
  if (family === undefined) {
    const reason = UNSUPPORTED_REASONS[String(r.model_type)]
    throw new ModelError(
      ModelErrorCode.ArchitectureUnsupported,
      `${where}: model_type "${String(r.model_type)}" is not supported${reason ? ` (${reason})` : ''}: expected one of ${SUPPORTED_MODEL_TYPES.join(', ')}`,
      { path: where, modelType: r.model_type, supported: [...SUPPORTED_MODEL_TYPES] },
    )
  }
  if (family === 'gemma3') return parseGemma3(r, where)
  if (family === 'gpt2') {
    if (r.scale_attn_by_inverse_layer_idx === true || r.reorder_and_upcast_attn === true) {
      throw new ModelError(
        ModelErrorCode.ArchitectureUnsupported,
        `${where}: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported`,
        { path: where },
      )
    }
    const c: Gpt2Config = {
      model_type: 'gpt2',
      vocab_size: posInt(r, 'vocab_size', 50257, where),
      n_positions: posInt(r, 'n_positions', 1024, where),
      n_embd: posInt(r, 'n_embd', 768, where),
      n_layer: posInt(r, 'n_layer', 12, where),
      n_head: posInt(r, 'n_head', 12, where),
      n_inner: optInt(r, 'n_inner'),
      layer_norm_epsilon: num(r, 'layer_norm_epsilon', 1e-5, where),
      activation_function: typeof r.activation_function === 'string' ? r.activation_function : 'gelu_new',
      resid_pdrop: num(r, 'resid_pdrop', 0.1, where),
      embd_pdrop: num(r, 'embd_pdrop', 0.1, where),
      attn_pdrop: num(r, 'attn_pdrop', 0.1, where),
      tie_word_embeddings: r.tie_word_embeddings !== false,
      scale_attn_weights: r.scale_attn_weights !== false,
      bos_token_id: optInt(r, 'bos_token_id'),
      eos_token_id: optInt(r, 'eos_token_id'),
    }
    if (c.n_embd % c.n_head !== 0) {
      throw new ModelError(
        ModelErrorCode.ConfigInvalid,
        `${where}: n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`,
        {
          path: where,
        },
      )
    }
    return c
  }
  const modelType = r.model_type as LlamaConfig['model_type']
  const hidden = posInt(r, 'hidden_size', 4096, where)
  const heads = posInt(r, 'num_attention_heads', 32, where)
  const kvHeads = posInt(r, 'num_key_value_heads', heads, where)
  const headDim = typeof r.head_dim === 'number' ? posInt(r, 'head_dim', undefined, where) : hidden / heads
  if (!Number.isInteger(headDim) || heads % kvHeads !== 0) {
    throw new ModelError(
      ModelErrorCode.ConfigInvalid,
      `${where}: hidden_size ${hidden}, num_attention_heads ${heads}, num_key_value_heads ${kvHeads} are inconsistent`,
      { path: where },
    )
  }
  const ropeScaling = (r.rope_scaling ?? null) as Record<string, unknown> | null
  const ropeType = ropeScaling === null ? 'default' : String(ropeScaling.rope_type ?? ropeScaling.type ?? 'default')
  if (!['default', 'linear', 'llama3'].includes(ropeType)) {
    throw new ModelError(
      ModelErrorCode.ArchitectureUnsupported,
      `${where}: rope_scaling type "${ropeType}" is not supported: expected none, linear or llama3`,
      { path: where, ropeType },
    )
  }
  const attentionBias = r.attention_bias === true
  if (modelType === 'qwen2' && r.use_sliding_window === true) {
    throw new ModelError(
      ModelErrorCode.ArchitectureUnsupported,
      `${where}: qwen2 with use_sliding_window true (windows on layers from max_window_layers) is not supported: expected use_sliding_window false`,
      { path: where, field: 'use_sliding_window' },
    )
  }
  // MistralConfig defaults sliding_window to 4096; LLaMA has none; Qwen2 only with use_sliding_window.
  const slidingWindow =
    modelType === 'mistral' && r.sliding_window !== null ? posInt(r, 'sliding_window', 4096, where) : null
  const eos = r.eos_token_id
  return {
    model_type: modelType,
    vocab_size: posInt(r, 'vocab_size', 32000, where),
    hidden_size: hidden,
    intermediate_size: posInt(r, 'intermediate_size', 11008, where),
    num_hidden_layers: posInt(r, 'num_hidden_layers', 32, where),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: posInt(r, 'max_position_embeddings', 2048, where),
    rms_norm_eps: num(r, 'rms_norm_eps', 1e-6, where),
    rope_theta: num(r, 'rope_theta', 10000, where),
    rope_scaling: ropeScaling,
    hidden_act: typeof r.hidden_act === 'string' ? r.hidden_act : 'silu',
    qkv_bias: modelType === 'qwen2' ? true : attentionBias,
    o_bias: modelType === 'qwen2' ? false : attentionBias,
    mlp_bias: r.mlp_bias === true,
    attention_dropout: num(r, 'attention_dropout', 0, where),
    sliding_window: slidingWindow,
    // LlamaConfig and MistralConfig default to an untied head; Qwen2Config too.
    tie_word_embeddings: r.tie_word_embeddings === true,
    bos_token_id: optInt(r, 'bos_token_id'),
    eos_token_id: Array.isArray(eos) ? (eos as number[]) : typeof eos === 'number' ? eos : null,
  }
}
