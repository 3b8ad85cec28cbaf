import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  EMBEDDED_VOCAB_SIZE,
  ensureEmbeddedBaseModel,
  initBackend,
  loadCausalLM,
  loadTokenizer,
  writeEmbeddedBaseModel,
} from '../../src/index.js'
import { tmpDir } from '../helpers.js'

describe('embedded base model', () => {
  let dir: string
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' })
    dir = await writeEmbeddedBaseModel(join(tmpDir(), 'base'), { seed: 0 })
  })

  it('writes a complete Hugging Face folder', () => {
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
    ]) {
      expect(readFileSync(join(dir, f)).length, f).toBeGreaterThan(10)
    }
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
    expect(config).toMatchObject({ model_type: 'gpt2', vocab_size: EMBEDDED_VOCAB_SIZE, n_positions: 256 })
  })

  it('is deterministic for a seed and differs across seeds', async () => {
    const again = await writeEmbeddedBaseModel(join(tmpDir(), 'base'), { seed: 0 })
    const other = await writeEmbeddedBaseModel(join(tmpDir(), 'base'), { seed: 1 })
    for (const f of ['model.safetensors', 'tokenizer.json', 'config.json']) {
      expect(readFileSync(join(again, f)).equals(readFileSync(join(dir, f))), f).toBe(true)
    }
    expect(readFileSync(join(other, 'model.safetensors')).equals(readFileSync(join(dir, 'model.safetensors')))).toBe(
      false,
    )
  })

  it('has about a million parameters and a 512-token vocabulary', async () => {
    const model = await loadCausalLM(dir)
    try {
      expect(model.parameterCount()).toBeGreaterThan(800_000)
      expect(model.parameterCount()).toBeLessThan(1_200_000)
      const tok = await loadTokenizer(dir)
      expect(tok.vocabSize).toBe(EMBEDDED_VOCAB_SIZE)
      expect(tok.eosTokenId).toBe(EMBEDDED_VOCAB_SIZE - 1)
      const logits = tf.tidy(() => model.forward(tf.tensor2d([tok.encode('Question: hi')], undefined, 'int32')))
      expect(logits.shape[2]).toBe(EMBEDDED_VOCAB_SIZE)
      logits.dispose()
    } finally {
      model.dispose()
    }
  })

  it('tokenizes with learnt merges and round-trips any text through transformers.js', async () => {
    const tok = await loadTokenizer(dir)
    const text = 'Question: What is 12 plus 7?\nAnswer: 19'
    const ids = tok.encode(text)
    expect(ids.length).toBeLessThan(new TextEncoder().encode(text).length / 2)
    expect(tok.decode(ids)).toBe(text)
    const odd = 'Ünïcödé ☃ and tabs\tstay intact'
    expect(tok.decode(tok.encode(odd))).toBe(odd)
    expect(Math.max(...tok.encode(odd))).toBeLessThan(EMBEDDED_VOCAB_SIZE)
  })

  it('creates the model once in the cache folder and reuses it', async () => {
    const cache = tmpDir()
    const first = await ensureEmbeddedBaseModel(cache)
    const mtime = readFileSync(join(first, 'model.safetensors'))
    const second = await ensureEmbeddedBaseModel(cache)
    expect(second).toBe(first)
    expect(readFileSync(join(second, 'model.safetensors')).equals(mtime)).toBe(true)
  })
})
