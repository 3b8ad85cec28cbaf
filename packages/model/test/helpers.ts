/**
 * Tiny deterministic checkpoints for the model tests. The same configs and seeds are used by
 * scripts/golden/make-model-goldens.py and scripts/golden/torch-forward.py (via the files written by
 * write-golden-models.mjs).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomModelWeights, writeModelFolder } from '../src/index.js'
import { parseModelConfig } from '../src/model-config.js'

/** A tiny GPT-2 config (HF spelling). */
export const TINY_GPT2_CONFIG = {
  model_type: 'gpt2',
  vocab_size: 61,
  n_positions: 32,
  n_embd: 16,
  n_layer: 2,
  n_head: 4,
  n_inner: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  bos_token_id: 0,
  eos_token_id: 0,
} as const

/** A tiny LLaMA config with grouped-query attention, an untied head and a non-default rope_theta. */
export const TINY_LLAMA_CONFIG = {
  model_type: 'llama',
  vocab_size: 53,
  hidden_size: 16,
  intermediate_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 500.0,
  hidden_act: 'silu',
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
} as const

/** A tiny Mistral config: the LLaMA forward with a sliding window of 3 (shorter than the test rows). */
export const TINY_MISTRAL_CONFIG = {
  ...TINY_LLAMA_CONFIG,
  model_type: 'mistral',
  num_key_value_heads: 1,
  sliding_window: 3,
} as const

/**
 * A tiny Gemma-3 text config: 3 layers with layer 2 global (sliding_window_pattern 3), a
 * sliding window of 3 shorter than the test sequences, GQA, distinct local/global RoPE bases.
 */
export const TINY_GEMMA3_CONFIG = {
  model_type: 'gemma3_text',
  vocab_size: 53,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 3,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 8,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 1_000_000,
  rope_local_base_freq: 10_000,
  sliding_window: 3,
  sliding_window_pattern: 3,
  query_pre_attn_scalar: 8,
  hidden_activation: 'gelu_pytorch_tanh',
  tie_word_embeddings: true,
  bos_token_id: 2,
  eos_token_id: 1,
  pad_token_id: 0,
} as const

/** Seeds of the golden checkpoints. */
export const GOLDEN_SEEDS = { gpt2: 1234, llama: 4321 } as const

/** A fresh temporary folder. */
export function tmpDir(prefix = 'plora-model-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Writes a tiny random checkpoint folder (biases and norms perturbed) and returns its path. */
export async function writeTinyModel(
  config: Record<string, unknown>,
  seed: number,
  dir = join(tmpDir(), 'model'),
): Promise<string> {
  const parsed = parseModelConfig(config, 'test config')
  await writeModelFolder(dir, { config, weights: randomModelWeights(parsed, seed, { std: 0.2, perturbNorms: true }) })
  return dir
}
