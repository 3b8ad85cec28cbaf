import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bf16ToFloat, encodeSafetensors, floatToBf16, floatToHalf, halfToFloat } from '@plora/safetensors'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  initBackend,
  loadCausalLMFromDir,
  parseModelConfig,
  randomModelWeights,
  writeModelFolder,
} from '../../src/index.js'
import { TINY_GPT2_CONFIG, tmpDir, writeTinyModel } from '../helpers.js'

const weights = () =>
  randomModelWeights(parseModelConfig(TINY_GPT2_CONFIG, 'tiny'), 5, { std: 0.2, perturbNorms: true })

async function writeWithDtype(dtype: 'F16' | 'BF16'): Promise<string> {
  const dir = join(tmpDir(), 'model')
  await writeModelFolder(dir, { config: TINY_GPT2_CONFIG, weights: weights() })
  const bytes = encodeSafetensors(
    [...weights()].map(([k, v]) => [k, { dtype, shape: v.shape, data: v.data }] as const),
    { format: 'pt' },
  )
  writeFileSync(join(dir, 'model.safetensors'), bytes)
  return dir
}

describe('checkpoint weights', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' })
  })

  for (const [dtype, round] of [
    ['F16', (x: number) => halfToFloat(floatToHalf(x))],
    ['BF16', (x: number) => bf16ToFloat(floatToBf16(x))],
  ] as const) {
    it(`widens ${dtype} stored weights to float32 exactly`, async () => {
      const model = await loadCausalLMFromDir(await writeWithDtype(dtype))
      try {
        const name = 'transformer.h.1.mlp.c_fc.weight'
        const got = model.params.get(name)!.dataSync()
        const src = weights().get(name)!.data
        for (let i = 0; i < src.length; i += 17) expect(got[i], `${name}[${i}]`).toBe(Math.fround(round(src[i]!)))
      } finally {
        model.dispose()
      }
    })
  }

  it('reports missing, mis-shaped and unreadable weights and unsupported architectures with codes', async () => {
    const w = weights()
    w.delete('transformer.h.0.ln_1.bias')
    const missing = join(tmpDir(), 'm')
    await writeModelFolder(missing, { config: TINY_GPT2_CONFIG, weights: w })
    await expect(loadCausalLMFromDir(missing)).rejects.toMatchObject({ code: 'MODEL_WEIGHTS_MISSING' })

    const wrong = join(tmpDir(), 'm')
    await writeModelFolder(wrong, { config: { ...TINY_GPT2_CONFIG, n_embd: 8, n_head: 2 }, weights: weights() })
    await expect(loadCausalLMFromDir(wrong)).rejects.toMatchObject({ code: 'MODEL_WEIGHT_SHAPE_MISMATCH' })

    const broken = await writeTinyModel(TINY_GPT2_CONFIG, 1)
    writeFileSync(join(broken, 'model.safetensors'), new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 123]))
    await expect(loadCausalLMFromDir(broken)).rejects.toMatchObject({ code: 'MODEL_WEIGHTS_INVALID' })

    const neox = join(tmpDir(), 'm')
    await writeModelFolder(neox, { config: TINY_GPT2_CONFIG, weights: weights() })
    writeFileSync(join(neox, 'config.json'), JSON.stringify({ model_type: 'gpt_neox' }))
    await expect(loadCausalLMFromDir(neox)).rejects.toMatchObject({ code: 'MODEL_ARCHITECTURE_UNSUPPORTED' })
  })

  it('gives every parameter a finite gradient in full training on wasm', async () => {
    const model = await loadCausalLMFromDir(await writeTinyModel(TINY_GPT2_CONFIG, 2))
    const before = tf.memory().numTensors
    try {
      const ids = tf.tensor2d([[1, 5, 9, 2, 7]], [1, 5], 'int32')
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.square(model.forward(ids, { training: true, seed: 1 }))) as tf.Scalar,
        [...model.params.values()],
      )
      for (const [name, v] of model.params) {
        const g = grads[v.name]!
        const s = tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]!)
        expect(Number.isFinite(s), name).toBe(true)
        expect(s, name).toBeGreaterThan(0)
      }
      tf.dispose([ids, value, ...Object.values(grads)])
      expect(tf.memory().numTensors).toBe(before)
    } finally {
      model.dispose()
    }
  })
})
