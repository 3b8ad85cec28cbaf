import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  EMBEDDED_PRESETS,
  EMBEDDED_VOCAB_SIZE,
  embeddedAssetDir,
  embeddedBaseModelConfig,
  embeddedPresetOf,
  ensureEmbeddedBaseModel,
  initBackend,
  loadCausalLM,
  loadTokenizer,
  parseModelConfig,
  randomModelWeights,
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

describe('embedded presets and references', () => {
  it('maps embedded, embedded-small and embedded-tiny to presets and leaves other references alone', () => {
    expect(embeddedPresetOf('embedded')).toBe('small')
    expect(embeddedPresetOf(undefined)).toBe('small')
    expect(embeddedPresetOf('embedded', 'tiny')).toBe('tiny')
    expect(embeddedPresetOf('embedded-tiny')).toBe('tiny')
    expect(embeddedPresetOf('embedded-small', 'tiny')).toBe('small')
    expect(embeddedPresetOf('embedded-large')).toBeUndefined()
    expect(embeddedPresetOf('Qwen/Qwen2.5-0.5B')).toBeUndefined()
  })

  it('gives the small preset d_model 192, 4 layers, 6 heads, a 2,048 vocabulary and no dropout (≈2.2M parameters)', () => {
    const c = parseModelConfig(embeddedBaseModelConfig(2047, 'small'), 'small')
    expect(c).toMatchObject({ n_embd: 192, n_layer: 4, n_head: 6, vocab_size: 2048, n_positions: 256 })
    const cfg = embeddedBaseModelConfig(2047, 'small') as Record<string, number>
    expect([cfg.resid_pdrop, cfg.attn_pdrop, cfg.embd_pdrop]).toEqual([0, 0, 0])
    let n = 0
    for (const t of randomModelWeights(c, 0).values()) n += t.data.length
    expect(n).toBeGreaterThan(2_100_000)
    expect(n).toBeLessThan(2_400_000)
    expect(EMBEDDED_PRESETS.tiny.vocabSize).toBe(EMBEDDED_VOCAB_SIZE)
  })

  it('finds committed weights only where a folder with a config exists', () => {
    const root = tmpDir()
    expect(embeddedAssetDir('small', root)).toBeUndefined()
    const dir = join(root, 'models', EMBEDDED_PRESETS.small.name)
    mkdirSync(dir, { recursive: true })
    expect(embeddedAssetDir('small', root)).toBeUndefined()
    writeFileSync(join(dir, 'config.json'), '{}')
    expect(embeddedAssetDir('small', root)).toBe(dir)
    expect(embeddedAssetDir('tiny', root)).toBeUndefined()
  })
})
