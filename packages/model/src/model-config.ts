/**
 * Parses a Hugging Face `config.json` into {@link ModelConfig}, filling Hugging Face's own
 * defaults (`GPT2Config`, `LlamaConfig`, `MistralConfig`, `Qwen2Config`) for absent fields.
 */
import { ModelError, ModelErrorCode } from './errors.js'
import type { Gpt2Config, LlamaConfig, ModelConfig, ModelFamily } from './types.js'

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

/** The family implementing a `model_type`, or undefined when unsupported. */
export function familyOf(modelType: unknown): ModelFamily | undefined {
  if (modelType === 'gpt2') return 'gpt2'
  if (modelType === 'llama' || modelType === 'mistral' || modelType === 'qwen2') return 'llama'
  return undefined
}

/** Validates and completes a parsed `config.json` (`where` names the file in errors). */
export function parseModelConfig(raw: unknown, where: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelError(ModelErrorCode.ConfigInvalid, `${where}: expected a JSON object`, { path: where })
  }
  const r = raw as Json
  const family = familyOf(r.model_type)
  if (family === undefined) {
    throw new ModelError(
      ModelErrorCode.ArchitectureUnsupported,
      `${where}: model_type "${String(r.model_type)}" is not supported: expected gpt2, llama, mistral or qwen2`,
      { path: where, modelType: r.model_type },
    )
  }
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
    // LlamaConfig and MistralConfig default to an untied head; Qwen2Config too.
    tie_word_embeddings: r.tie_word_embeddings === true,
    bos_token_id: optInt(r, 'bos_token_id'),
    eos_token_id: Array.isArray(eos) ? (eos as number[]) : typeof eos === 'number' ? eos : null,
  }
}
