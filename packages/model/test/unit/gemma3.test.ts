/**
 * Gemma-3 text specifics beyond the shared forward tests: config parsing (layer types from
 * `sliding_window_pattern` or `layer_types`, refused soft-capping / rope scaling / multimodal
 * wrapper), the sliding window (a local layer forgets tokens older than the window), and greedy
 * generation with the KV cache far past the window equal to the full forward.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bf16ToFloat, encodeSafetensors, floatToBf16 } from '@plora/safetensors'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type CausalLM,
  type Gemma3Config,
  generate,
  initBackend,
  loadCausalLMFromDir,
  parseModelConfig,
  randomModelWeights,
  type Tokenizer,
  writeModelFolder,
} from '../../src/index.js'
import { TINY_GEMMA3_CONFIG, tmpDir, writeTinyModel } from '../helpers.js'

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)
}

describe('gemma3_text config', () => {
  it('derives the layer types from sliding_window_pattern or reads layer_types', () => {
    const c = parseModelConfig({ ...TINY_GEMMA3_CONFIG, num_hidden_layers: 7, sliding_window_pattern: 3 }, 'x')
    expect((c as Gemma3Config).layer_types.map((t) => t[0])).toEqual(['s', 's', 'f', 's', 's', 'f', 's'])
    const d = parseModelConfig({ model_type: 'gemma3_text', num_hidden_layers: 6 }, 'x') as Gemma3Config
    expect(d.layer_types.filter((t) => t === 'full_attention')).toHaveLength(1)
    expect(d.layer_types[5]).toBe('full_attention')
    expect([d.rope_theta, d.rope_local_base_freq, d.tie_word_embeddings, d.hidden_act]).toEqual([
      1e6,
      1e4,
      true,
      'gelu_pytorch_tanh',
    ])
    const types = ['full_attention', 'sliding_attention', 'full_attention']
    const e = parseModelConfig({ ...TINY_GEMMA3_CONFIG, layer_types: types }, 'x') as Gemma3Config
    expect(e.layer_types).toEqual(types)
    expect(() => parseModelConfig({ ...TINY_GEMMA3_CONFIG, layer_types: ['full_attention'] }, 'x')).toThrow(
      expect.objectContaining({ code: 'MODEL_CONFIG_INVALID' }),
    )
  })

  it('refuses soft-capping, rope scaling and the multimodal gemma3 wrapper, naming them', () => {
    for (const [key, value] of [
      ['final_logit_softcapping', 30],
      ['attn_logit_softcapping', 50],
      ['rope_scaling', { rope_type: 'linear', factor: 8 }],
    ] as const) {
      expect(() => parseModelConfig({ ...TINY_GEMMA3_CONFIG, [key]: value }, 'cfg.json')).toThrow(
        expect.objectContaining({ code: 'MODEL_ARCHITECTURE_UNSUPPORTED', message: expect.stringContaining(key) }),
      )
    }
    expect(() => parseModelConfig({ model_type: 'gemma3', text_config: TINY_GEMMA3_CONFIG }, 'cfg.json')).toThrow(
      expect.objectContaining({
        code: 'MODEL_ARCHITECTURE_UNSUPPORTED',
        message: expect.stringMatching(/model_type "gemma3" is not supported \(the multimodal .*gemma3_text/),
      }),
    )
    expect(() => parseModelConfig({ model_type: 'mixtral' }, 'cfg.json')).toThrow(
      /"mixtral" is not supported \(mixture-of-experts/,
    )
    expect(() => parseModelConfig({ model_type: 'falcon' }, 'cfg.json')).toThrow(
      /model_type "falcon" is not supported: expected one of gpt2, llama, mistral, qwen2, gemma3_text/,
    )
  })
})

describe('gemma3_text forward', () => {
  let model: CausalLM
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' })
    model = await loadCausalLMFromDir(await writeTinyModel(TINY_GEMMA3_CONFIG, 11))
  })
  afterAll(() => model.dispose())

  it('has the Gemma-3 parameters and LoRA targets under the LLaMA projection names', () => {
    expect(model.family).toBe('gemma3')
    expect(model.params.has('model.layers.0.self_attn.q_norm.weight')).toBe(true)
    expect(model.params.has('model.layers.2.post_feedforward_layernorm.weight')).toBe(true)
    expect(model.params.has('lm_head.weight')).toBe(false)
    expect(model.linearModules().map((m) => m.path.split('.').slice(-2).join('.'))).toEqual(
      Array.from({ length: 3 }, () => [
        'self_attn.q_proj',
        'self_attn.k_proj',
        'self_attn.v_proj',
        'self_attn.o_proj',
        'mlp.gate_proj',
        'mlp.up_proj',
        'mlp.down_proj',
      ]).flat(),
    )
  })

  it('forgets tokens older than the window only through the global layer', async () => {
    // Tokens 0, 1 are outside the local reach of position 6 (window 3); the global layer 2 still sees them.
    const a = [5, 9, 12, 7, 3, 8, 4]
    const b = [40, 41, 12, 7, 3, 8, 4]
    const withGlobal = tf.tidy(() =>
      maxAbsDiff(
        tf.slice(model.forward(tf.tensor2d([a], [1, 7], 'int32')), [0, 6, 0], [1, 1, -1]),
        tf.slice(model.forward(tf.tensor2d([b], [1, 7], 'int32')), [0, 6, 0], [1, 1, -1]),
      ),
    )
    expect(withGlobal).toBeGreaterThan(1e-4)
    // Two local layers with window 3: position 6 reads 4..6, which read 2..6; tokens 0, 1 are out of reach.
    const twoLocal = await loadCausalLMFromDir(
      await writeTinyModel({ ...TINY_GEMMA3_CONFIG, num_hidden_layers: 2, sliding_window_pattern: 100 }, 11),
    )
    const at6 = (ids: number[]) =>
      tf.slice(twoLocal.forward(tf.tensor2d([ids], [1, 7], 'int32')), [0, 6, 0], [1, 1, -1])
    const d = tf.tidy(() => maxAbsDiff(at6(a), at6(b)))
    // Token 2 is within reach: changing it must change position 6.
    const near = tf.tidy(() => maxAbsDiff(at6(a), at6([5, 9, 40, 7, 3, 8, 4])))
    twoLocal.dispose()
    expect(d).toBe(0)
    expect(near).toBeGreaterThan(1e-4)
  })

  it('reads a bfloat16 checkpoint (as Gemma-3 is published) as float32, bit-equal to its rounded float32 copy', async () => {
    const w = randomModelWeights(parseModelConfig(TINY_GEMMA3_CONFIG, 'x'), 11, { std: 0.2, perturbNorms: true })
    const rounded = new Map(
      [...w].map(([k, v]) => [k, { shape: v.shape, data: v.data.map((x) => bf16ToFloat(floatToBf16(x))) }]),
    )
    const f32Dir = join(tmpDir(), 'f32')
    await writeModelFolder(f32Dir, { config: TINY_GEMMA3_CONFIG, weights: rounded })
    const bf16Dir = join(tmpDir(), 'bf16')
    await writeModelFolder(bf16Dir, { config: TINY_GEMMA3_CONFIG, weights: w })
    const bytes = encodeSafetensors(
      [...w].map(([k, v]) => [k, { dtype: 'BF16' as const, shape: v.shape, data: v.data }] as const),
      { format: 'pt' },
    )
    writeFileSync(join(bf16Dir, 'model.safetensors'), bytes)
    const [a, b] = [await loadCausalLMFromDir(f32Dir), await loadCausalLMFromDir(bf16Dir)]
    try {
      const ids = [[2, 9, 33, 14, 5, 41, 27]]
      const la = tf.tidy(() => a.forward(tf.tensor2d(ids, [1, 7], 'int32')).dataSync())
      const lb = tf.tidy(() => b.forward(tf.tensor2d(ids, [1, 7], 'int32')).dataSync())
      expect(Array.from(lb)).toEqual(Array.from(la))
    } finally {
      a.dispose()
      b.dispose()
    }
  })

  it('decodes token by token with the KV cache past the window exactly as the full forward', () => {
    const before = tf.memory().numTensors
    tf.tidy(() => {
      const ids = [
        [0, 0, 2, 17, 5, 30],
        [2, 8, 8, 41, 3, 19],
      ]
      const mask = [
        [0, 0, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
      ]
      let r = model.forwardWithCache(tf.tensor2d(ids, [2, 6], 'int32'), null, {
        attentionMask: tf.tensor2d(mask, [2, 6], 'int32'),
      })
      const steps: tf.Tensor3D[] = [r.logits]
      const seq = ids.map((row) => [...row])
      for (let s = 0; s < 8; s++) {
        const last = tf.slice(r.logits, [0, r.logits.shape[1] - 1, 0], [2, 1, -1])
        const next = Array.from(tf.argMax(tf.reshape(last, [2, -1]), -1).dataSync())
        for (const [row, t] of next.entries()) seq[row]!.push(t)
        r = model.forwardWithCache(tf.tensor2d(next, [2, 1], 'int32'), r.cache)
        steps.push(r.logits)
      }
      expect(r.cache.length).toBe(14)
      const fullMask = mask.map((row) => [...row, ...new Array(8).fill(1)])
      const full = model.forward(tf.tensor2d(seq, [2, 14], 'int32'), {
        attentionMask: tf.tensor2d(fullMask, [2, 14], 'int32'),
      })
      const stitched = tf.concat(steps, 1)
      // Only real positions: row 0's two pads are excluded.
      expect(
        maxAbsDiff(tf.slice(stitched, [0, 2, 0], [1, 12, -1]), tf.slice(full, [0, 2, 0], [1, 12, -1])),
      ).toBeLessThan(1e-5)
      expect(
        maxAbsDiff(tf.slice(stitched, [1, 0, 0], [1, 14, -1]), tf.slice(full, [1, 0, 0], [1, 14, -1])),
      ).toBeLessThan(1e-5)
    })
    expect(tf.memory().numTensors).toBe(before)
  })

  it('generate() with the KV cache picks the argmax of the full forward at every step', async () => {
    const tok: Tokenizer = {
      encode: (text) => [...text].map((ch) => 3 + (ch.charCodeAt(0) % 50)),
      decode: (ids) => ids.join(' '),
      eosTokenId: 1,
      padTokenId: 0,
      vocabSize: 53,
      modelMaxLength: 64,
    }
    const [r] = await generate(model, tok, ['abc'], { maxNewTokens: 9, stopAtEos: false })
    expect(r!.tokenIds).toHaveLength(9)
    const seq = [...tok.encode('abc'), ...r!.tokenIds]
    const argmax = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d([seq], [1, seq.length], 'int32'))
      return Array.from(tf.argMax(tf.reshape(logits, [seq.length, -1]), -1).dataSync())
    })
    expect(argmax.slice(2, -1)).toEqual(r!.tokenIds)
  })
})
