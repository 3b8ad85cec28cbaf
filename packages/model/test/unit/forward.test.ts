import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CausalLM, initBackend, type LoraBranches, loadCausalLMFromDir } from '../../src/index.js'
import {
  TINY_GEMMA3_CONFIG,
  TINY_GPT2_CONFIG,
  TINY_LLAMA_CONFIG,
  TINY_MISTRAL_CONFIG,
  writeTinyModel,
} from '../helpers.js'

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)
}

for (const [family, config] of [
  ['gpt2', TINY_GPT2_CONFIG],
  ['llama', TINY_LLAMA_CONFIG],
  ['mistral', TINY_MISTRAL_CONFIG],
  ['gemma3', TINY_GEMMA3_CONFIG],
] as const) {
  describe(`${family} forward`, () => {
    let model: CausalLM
    beforeAll(async () => {
      await initBackend({ backend: 'cpu' })
      model = await loadCausalLMFromDir(await writeTinyModel(config, 7))
    })
    afterAll(() => model.dispose())

    it('returns [b, t, V] logits and leaves no tensors behind', () => {
      const before = tf.memory().numTensors
      const ids = tf.tensor2d(
        [
          [1, 2, 3, 4, 5],
          [6, 7, 8, 9, 10],
        ],
        [2, 5],
        'int32',
      )
      const logits = model.forward(ids)
      expect(logits.shape).toEqual([2, 5, config.vocab_size])
      expect(Number.isFinite(tf.tidy(() => tf.sum(tf.abs(logits)).dataSync()[0]!))).toBe(true)
      ids.dispose()
      logits.dispose()
      expect(tf.memory().numTensors).toBe(before)
    })

    it('is causal: logits at position i ignore later tokens', () => {
      tf.tidy(() => {
        const a = model.forward(tf.tensor2d([[3, 1, 4, 1, 5]], [1, 5], 'int32'))
        const b = model.forward(tf.tensor2d([[3, 1, 4, 9, 2]], [1, 5], 'int32'))
        expect(maxAbsDiff(tf.slice(a, [0, 0, 0], [1, 3, -1]), tf.slice(b, [0, 0, 0], [1, 3, -1]))).toBeLessThan(1e-6)
        expect(maxAbsDiff(tf.slice(a, [0, 3, 0], [1, 1, -1]), tf.slice(b, [0, 3, 0], [1, 1, -1]))).toBeGreaterThan(1e-4)
      })
    })

    it('gives a left-padded row the same logits as the unpadded sequence', () => {
      tf.tidy(() => {
        const single = model.forward(tf.tensor2d([[5, 6, 7]], [1, 3], 'int32'))
        const ids = tf.tensor2d(
          [
            [0, 0, 5, 6, 7],
            [1, 2, 3, 4, 5],
          ],
          [2, 5],
          'int32',
        )
        const mask = tf.tensor2d(
          [
            [0, 0, 1, 1, 1],
            [1, 1, 1, 1, 1],
          ],
          [2, 5],
          'int32',
        )
        const batched = model.forward(ids, { attentionMask: mask })
        expect(maxAbsDiff(tf.slice(batched, [0, 2, 0], [1, 3, -1]), single)).toBeLessThan(1e-5)
      })
    })

    it('matches the full forward when decoding with the KV cache', () => {
      const before = tf.memory().numTensors
      tf.tidy(() => {
        const full = model.forward(tf.tensor2d([[2, 7, 1, 8, 2, 8]], [1, 6], 'int32'))
        const first = model.forwardWithCache(tf.tensor2d([[2, 7, 1, 8]], [1, 4], 'int32'), null)
        const second = model.forwardWithCache(tf.tensor2d([[2]], [1, 1], 'int32'), first.cache)
        const third = model.forwardWithCache(tf.tensor2d([[8]], [1, 1], 'int32'), second.cache)
        const stitched = tf.concat([first.logits, second.logits, third.logits], 1)
        expect(maxAbsDiff(stitched, full)).toBeLessThan(1e-5)
        expect(third.cache.length).toBe(6)
      })
      expect(tf.memory().numTensors).toBe(before)
    })

    it('adds a LoRA branch s·x·Aᵀ·Bᵀ and differentiates through A and B', () => {
      const mod = model.linearModules()[0]!
      const r = 2
      const a = tf.variable(tf.randomNormal([r, mod.inFeatures], 0, 0.3, 'float32', 1)) as tf.Variable<tf.Rank.R2>
      const bZero = tf.variable(tf.zeros([mod.outFeatures, r])) as tf.Variable<tf.Rank.R2>
      const bRand = tf.variable(tf.randomNormal([mod.outFeatures, r], 0, 0.3, 'float32', 2)) as tf.Variable<tf.Rank.R2>
      const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32')
      const before = tf.memory().numTensors
      tf.tidy(() => {
        const base = model.forward(ids)
        const zero: LoraBranches = new Map([[mod.path, { a, b: bZero, scale: 2 }]])
        expect(maxAbsDiff(model.forward(ids, { lora: zero }), base)).toBeLessThan(1e-6)
        const live: LoraBranches = new Map([[mod.path, { a, b: bRand, scale: 2 }]])
        expect(maxAbsDiff(model.forward(ids, { lora: live }), base)).toBeGreaterThan(1e-4)
        const { value, grads } = tf.variableGrads(
          () => tf.mean(model.forward(ids, { lora: live })) as tf.Scalar,
          [a, bRand],
        )
        expect(Number.isFinite(value.dataSync()[0]!)).toBe(true)
        expect(grads[a.name]!.shape).toEqual(a.shape)
        expect(tf.sum(tf.abs(grads[bRand.name]!)).dataSync()[0]!).toBeGreaterThan(0)
      })
      expect(tf.memory().numTensors).toBe(before)
      for (const t of [a, bZero, bRand, ids]) t.dispose()
    })

    it('rejects a LoRA branch of the wrong shape with a typed error', () => {
      const mod = model.linearModules()[0]!
      const a = tf.zeros([2, mod.inFeatures + 1]) as tf.Tensor2D
      const b = tf.zeros([mod.outFeatures, 2]) as tf.Tensor2D
      const ids = tf.tensor2d([[1, 2]], [1, 2], 'int32')
      expect(() => model.forward(ids, { lora: new Map([[mod.path, { a, b, scale: 1 }]]) })).toThrow(
        expect.objectContaining({ code: 'MODEL_LORA_BRANCH_INVALID' }),
      )
      tf.dispose([a, b, ids])
    })

    it('applies dropout only in training and reproducibly per seed', () => {
      tf.tidy(() => {
        const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32')
        const evalA = model.forward(ids)
        const evalB = model.forward(ids, { training: false, seed: 9 })
        expect(maxAbsDiff(evalA, evalB)).toBe(0)
        const t1 = model.forward(ids, { training: true, seed: 3 })
        const t2 = model.forward(ids, { training: true, seed: 3 })
        expect(maxAbsDiff(t1, t2)).toBe(0)
        if (family === 'gpt2') expect(maxAbsDiff(t1, evalA)).toBeGreaterThan(1e-4)
      })
    })

    it('with baseDropout false keeps only the LoRA-branch dropout', () => {
      const mod = model.linearModules()[0]!
      tf.tidy(() => {
        const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32')
        const evalOut = model.forward(ids)
        // No LoRA: a training forward without base dropout is the eval forward, exactly.
        expect(maxAbsDiff(model.forward(ids, { training: true, baseDropout: false, seed: 3 }), evalOut)).toBe(0)
        const lora: LoraBranches = new Map([
          [
            mod.path,
            {
              a: tf.randomNormal([2, mod.inFeatures], 0, 0.5, 'float32', 1) as tf.Tensor2D,
              b: tf.randomNormal([mod.outFeatures, 2], 0, 0.5, 'float32', 2) as tf.Tensor2D,
              scale: 1,
              dropout: 0.5,
            },
          ],
        ])
        const loraEval = model.forward(ids, { lora })
        const loraTrain = model.forward(ids, { lora, training: true, baseDropout: false, seed: 3 })
        // The branch's own dropout still applies, reproducibly.
        expect(maxAbsDiff(loraTrain, loraEval)).toBeGreaterThan(1e-4)
        expect(maxAbsDiff(model.forward(ids, { lora, training: true, baseDropout: false, seed: 3 }), loraTrain)).toBe(0)
      })
    })
  })
}
