/**
 * The loader against real `@plora/model` causal LMs (tiny random GPT-2, LLaMA and Gemma-3 checkpoints
 * written by the test): merged injection gives the same logits as the model's own un-merged LoRA
 * branch, removal restores every weight bit for bit, and nothing leaks tensors.
 */
import { join } from 'node:path'
import {
  type CausalLM,
  loadCausalLMFromDir,
  parseModelConfig,
  randomModelWeights,
  writeModelFolder,
} from '@plora/model'
import type { LoraAdapter } from '@plora/peft'
import { buildPeftLoraConfig, loadPeftAdapter, resolveTargetModules, writePeftAdapter } from '@plora/peft'
import { readSafetensors } from '@plora/safetensors'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { baseFingerprint, createLoraBranches, injectAdapters } from '../../src/inject.js'
import { mergeAdapters } from '../../src/merge.js'
import { bitEqual, maxAbsDiff, randomAdapterModules } from '../helpers/fake-host.js'
import { makeTmpDir } from '../helpers/tmp.js'

const GPT2 = {
  model_type: 'gpt2',
  vocab_size: 40,
  n_positions: 16,
  n_embd: 16,
  n_layer: 2,
  n_head: 4,
  n_inner: null,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  resid_pdrop: 0,
  embd_pdrop: 0,
  attn_pdrop: 0,
  bos_token_id: 0,
  eos_token_id: 0,
}
const LLAMA = {
  model_type: 'llama',
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
}
// Gemma-3 text: sliding window 3 shorter than the 6-token inputs, layer 1 global.
const GEMMA3 = {
  model_type: 'gemma3_text',
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 8,
  max_position_embeddings: 32,
  sliding_window: 3,
  sliding_window_pattern: 2,
  query_pre_attn_scalar: 8,
  tie_word_embeddings: true,
}

describe('loader on @plora/model causal LMs', () => {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  const models: Record<string, CausalLM> = {}
  beforeAll(async () => {
    tmp = await makeTmpDir()
    for (const [name, cfg, seed] of [
      ['gpt2', GPT2, 5],
      ['llama', LLAMA, 6],
      ['gemma3', GEMMA3, 7],
    ] as const) {
      const dir = join(tmp.dir, name)
      await writeModelFolder(dir, {
        config: cfg,
        weights: randomModelWeights(parseModelConfig(cfg, name), seed, { std: 0.2 }),
      })
      models[name] = await loadCausalLMFromDir(dir)
    }
  })
  afterAll(async () => {
    for (const m of Object.values(models)) m.dispose()
    await tmp.cleanup()
  })

  const ids = (): tf.Tensor2D =>
    tf.tensor2d(
      [
        [3, 7, 1, 9, 12, 5],
        [8, 2, 2, 30, 4, 11],
      ],
      [2, 6],
      'int32',
    )

  for (const name of ['gpt2', 'llama', 'gemma3']) {
    it(`${name}: merged injection equals the model's LoRA branch, and removal is bit-exact and leak-free`, async () => {
      const model = models[name]!
      const targets = resolveTargetModules(model.linearModules(), 'all')
      const adapter: LoraAdapter = {
        dir: null,
        config: buildPeftLoraConfig({
          r: 4,
          loraAlpha: 8,
          targetModules: targets.peftTargetModules,
          fanInFanOut: name === 'gpt2',
          baseModelNameOrPath: name,
        }),
        modules: randomAdapterModules(targets.modules, 4, 77, 2),
      }
      const fingerprint = await baseFingerprint(model)
      const numTensors = tf.memory().numTensors
      const base = tf.tidy(() => model.forward(ids()).dataSync() as Float32Array)
      const branches = createLoraBranches(model, [adapter])
      const viaBranch = tf.tidy(() => model.forward(ids(), { lora: branches.branches }).dataSync() as Float32Array)
      branches.dispose()
      const handle = injectAdapters(model, [adapter])
      const viaMerge = tf.tidy(() => model.forward(ids()).dataSync() as Float32Array)
      handle.remove()
      const after = tf.tidy(() => model.forward(ids()).dataSync() as Float32Array)
      expect(maxAbsDiff(viaMerge, base)).toBeGreaterThan(1e-2)
      expect(maxAbsDiff(viaMerge, viaBranch)).toBeLessThan(1e-4)
      expect(bitEqual(after, base)).toBe(true)
      expect(await baseFingerprint(model)).toBe(fingerprint)
      expect(tf.memory().numTensors).toBe(numTensors)
    })
  }

  it('gemma3: the adapter folder has the PEFT keys Hugging Face writes and reloads to the same merged logits', async () => {
    const model = models.gemma3!
    const targets = resolveTargetModules(model.linearModules(), 'all')
    expect(targets.peftTargetModules).toEqual([
      'down_proj',
      'gate_proj',
      'k_proj',
      'o_proj',
      'q_proj',
      'up_proj',
      'v_proj',
    ])
    const adapter: LoraAdapter = {
      dir: null,
      config: buildPeftLoraConfig({
        r: 2,
        loraAlpha: 4,
        targetModules: targets.peftTargetModules,
        fanInFanOut: false,
        baseModelNameOrPath: 'google/gemma-3-1b-it',
      }),
      modules: randomAdapterModules(targets.modules, 2, 88, 2),
    }
    const dir = join(tmp.dir, 'gemma3-adapter')
    await writePeftAdapter(dir, adapter)
    const keys = [...(await readSafetensors(join(dir, 'adapter_model.safetensors'))).tensors.keys()].sort()
    expect(keys).toHaveLength(2 * 7 * 2)
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')
    expect(keys).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')
    const reloaded = await loadPeftAdapter(dir)
    const merged = (a: LoraAdapter) => {
      const handle = injectAdapters(model, [a])
      const out = tf.tidy(() => model.forward(ids()).dataSync() as Float32Array)
      handle.remove()
      return out
    }
    expect(bitEqual(merged(reloaded), merged(adapter))).toBe(true)
  })

  it('merges with a line search on mean NLL, never worse than base, without leaking tensors', async () => {
    const model = models.gpt2!
    const targets = resolveTargetModules(model.linearModules(), 'attention')
    const cfg = buildPeftLoraConfig({
      r: 2,
      loraAlpha: 4,
      targetModules: targets.peftTargetModules,
      fanInFanOut: true,
      baseModelNameOrPath: 'gpt2',
    })
    const adapters: LoraAdapter[] = [101, 102].map((seed) => ({
      dir: `a${seed}`,
      config: cfg,
      modules: randomAdapterModules(targets.modules, 2, seed, 4),
    }))
    const meanNll = async (): Promise<number> =>
      tf.tidy(() => {
        const x = ids()
        const logits = model.forward(x)
        const logp = tf.logSoftmax(logits.slice([0, 0, 0], [2, 5, 40]))
        const next = tf.oneHot(x.slice([0, 1], [2, 5]), 40)
        return -tf.sum(tf.mul(logp, next)).dataSync()[0]! / 10
      })
    const fingerprint = await baseFingerprint(model)
    const numTensors = tf.memory().numTensors
    const result = await mergeAdapters(model, adapters, { evaluate: meanNll, reprojectRank: 2 })
    expect(result.lineSearch!.value).toBeLessThanOrEqual(result.lineSearch!.baseValue)
    expect(result.lineSearch!.evaluations.length).toBeGreaterThanOrEqual(3)
    expect(await baseFingerprint(model)).toBe(fingerprint)
    expect(tf.memory().numTensors).toBe(numTensors)
  })
})
