// `plora train` on a Gemma-3 text folder (issue 22): a tiny random `gemma3_text` checkpoint
// (3 layers, layer 2 global, sliding window 8 shorter than the 48-token training rows) with a
// byte-level tokenizer learnt from the embedded corpus, trained for a few steps through the CLI's
// main() with --base-model; the adapter is a PEFT folder over Gemma-3's projection names.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  byteLevelTokenizerJson,
  EMBEDDED_CORPUS,
  parseModelConfig,
  randomModelWeights,
  trainByteLevelBpe,
  writeModelFolder,
} from '../packages/model/src/index.js'
import { runCli as run, useOfflineCliEnv } from './helpers.js'

const saved = { ...process.env }
let dir: string
let modelDir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plora-train-gemma3-'))
  useOfflineCliEnv(join(dir, 'cache'))
  const eos = '<eos>'
  const { json: tokenizer, eosId } = byteLevelTokenizerJson(trainByteLevelBpe(EMBEDDED_CORPUS, 299), eos)
  const config = {
    model_type: 'gemma3_text',
    vocab_size: 300,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 3,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 16,
    max_position_embeddings: 256,
    sliding_window: 8,
    sliding_window_pattern: 3,
    query_pre_attn_scalar: 16,
    rope_theta: 1_000_000,
    rope_local_base_freq: 10_000,
    hidden_activation: 'gelu_pytorch_tanh',
    tie_word_embeddings: true,
    bos_token_id: eosId,
    eos_token_id: eosId,
    pad_token_id: eosId,
  }
  modelDir = join(dir, 'tiny-gemma3')
  await writeModelFolder(modelDir, {
    config,
    weights: randomModelWeights(parseModelConfig(config, 'tiny gemma3'), 5, { std: 0.02 }),
    json: {
      'tokenizer.json': tokenizer,
      'tokenizer_config.json': { eos_token: eos, pad_token: eos, model_max_length: 256 },
      'special_tokens_map.json': { eos_token: eos, pad_token: eos },
    },
  })
})
afterAll(() => {
  process.env = saved
  rmSync(dir, { recursive: true, force: true })
})

describe('plora train on Gemma-3', () => {
  it('trains an adapter on a tiny gemma3_text folder and writes Gemma-3 PEFT keys', async () => {
    const small = ['--samples', '4', '--val-samples', '2', '--rank', '1', '--max-len', '48', '--seed', '1']
    const r = await run(
      'train',
      '--domain',
      'legal',
      '--output',
      join(dir, 'legal'),
      ...small,
      '--base-model',
      modelDir,
    )
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/trained legal: .*val_ppl [\d.]+ -> [\d.]+/i)
    const cfg = JSON.parse(readFileSync(join(dir, 'legal', 'adapter_config.json'), 'utf8'))
    // The default scheme is all: every Gemma-3 projection.
    expect([...cfg.target_modules].sort()).toEqual([
      'down_proj',
      'gate_proj',
      'k_proj',
      'o_proj',
      'q_proj',
      'up_proj',
      'v_proj',
    ])
    const st = readFileSync(join(dir, 'legal', 'adapter_model.safetensors'))
    const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8'))
    expect(Object.keys(header)).toContain('base_model.model.model.layers.2.self_attn.q_proj.lora_A.weight')
    expect(Object.keys(header)).toContain('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight')
  })
})
