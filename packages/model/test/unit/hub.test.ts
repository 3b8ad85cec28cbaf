import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { encodeSafetensors } from '@plora/safetensors'
import { type FakeHub, startFakeHub } from '@plora/testing'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  initBackend,
  loadCausalLM,
  loadTokenizer,
  readFloatSafetensors,
  repoFolderName,
  resolveModelDir,
} from '../../src/index.js'
import { TINY_GPT2_CONFIG, tmpDir, writeTinyModel } from '../helpers.js'

const FILES = ['config.json', 'model.safetensors']

describe('model folders and the Hugging Face hub', () => {
  let src: string
  let hub: FakeHub
  let shardedFiles: Record<string, Uint8Array>
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' })
    src = await writeTinyModel(TINY_GPT2_CONFIG, 11)
    const files: Record<string, Uint8Array> = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(src, f))]))
    // Sharded copy of the same weights: two files plus model.safetensors.index.json.
    const weights = await readFloatSafetensors(join(src, 'model.safetensors'))
    const names = [...weights.keys()]
    const half = Math.ceil(names.length / 2)
    const shard = (part: string[]) =>
      encodeSafetensors(
        part.map((n) => [n, { dtype: 'F32', shape: weights.get(n)!.shape, data: weights.get(n)!.data }] as const),
      )
    const weightMap = Object.fromEntries(
      names.map((n, i) => [n, i < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']),
    )
    shardedFiles = {
      'config.json': files['config.json']!,
      'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })),
      'model-00001-of-00002.safetensors': shard(names.slice(0, half)),
      'model-00002-of-00002.safetensors': shard(names.slice(half)),
    }
    hub = await startFakeHub({
      models: {
        'org/tiny': { files: { ...files, 'pytorch_model.bin': new Uint8Array(64), 'README.md': '# tiny' } },
        'org/sharded': { files: shardedFiles },
        'org/no-weights': { files: { 'config.json': files['config.json']! } },
      },
    })
  })
  afterAll(() => hub.close())

  it('uses a local folder as it is', async () => {
    expect(await resolveModelDir(src)).toBe(src)
    await expect(resolveModelDir('./does/not/exist')).rejects.toMatchObject({ code: 'MODEL_FOLDER_NOT_FOUND' })
  })

  it('downloads only the needed files into the HF cache layout, then works offline', async () => {
    const cache = tmpDir()
    const dir = await resolveModelDir('org/tiny', { cacheDir: cache, endpoint: hub.url })
    const sha = readFileSync(join(cache, repoFolderName('org/tiny'), 'refs', 'main'), 'utf8')
    expect(sha).toMatch(/^[0-9a-f]{40}$/)
    expect(dir).toBe(join(cache, 'models--org--tiny', 'snapshots', sha))
    for (const f of FILES) expect(readFileSync(join(dir, f)).equals(readFileSync(join(src, f))), f).toBe(true)
    expect(existsSync(join(dir, 'pytorch_model.bin'))).toBe(false)
    expect(hub.requests.some((r) => r.includes('pytorch_model.bin'))).toBe(false)
    const seen = hub.requests.length
    expect(await resolveModelDir('org/tiny', { cacheDir: cache, endpoint: hub.url, offline: true })).toBe(dir)
    expect(await resolveModelDir('org/tiny', { cacheDir: cache, endpoint: hub.url })).toBe(dir)
    expect(hub.requests.length).toBe(seen)
    // hfHome/hub is the default cache location.
    const home = tmpDir()
    const viaHome = await resolveModelDir('org/tiny', { hfHome: home, endpoint: hub.url })
    expect(viaHome.startsWith(join(home, 'hub', 'models--org--tiny', 'snapshots'))).toBe(true)
  })

  it('fails clearly offline when the model is not cached', async () => {
    const cache = tmpDir()
    await expect(
      resolveModelDir('org/tiny', { cacheDir: cache, endpoint: hub.url, offline: true }),
    ).rejects.toMatchObject({
      code: 'MODEL_HUB_OFFLINE',
    })
  })

  it('reports missing repos and repos without safetensors weights', async () => {
    const cache = tmpDir()
    await expect(resolveModelDir('org/absent', { cacheDir: cache, endpoint: hub.url })).rejects.toMatchObject({
      code: 'MODEL_FOLDER_NOT_FOUND',
    })
    await expect(resolveModelDir('org/no-weights', { cacheDir: cache, endpoint: hub.url })).rejects.toMatchObject({
      code: 'MODEL_WEIGHTS_MISSING',
    })
  })

  it('sends HF_TOKEN as a bearer token', async () => {
    const gated = await startFakeHub({
      models: { 'org/gated': { files: Object.fromEntries(FILES.map((f) => [f, readFileSync(join(src, f))])) } },
      token: 'hf_secret',
    })
    try {
      await expect(resolveModelDir('org/gated', { cacheDir: tmpDir(), endpoint: gated.url })).rejects.toMatchObject({
        code: 'MODEL_HUB_DOWNLOAD_FAILED',
      })
      const dir = await resolveModelDir('org/gated', { cacheDir: tmpDir(), endpoint: gated.url, token: 'hf_secret' })
      expect(existsSync(join(dir, 'model.safetensors'))).toBe(true)
    } finally {
      await gated.close()
    }
  })

  it('loads a sharded checkpoint with the same logits as the single file', async () => {
    const single = await loadCausalLM(src)
    const sharded = await loadCausalLM('org/sharded', { cacheDir: tmpDir(), endpoint: hub.url })
    try {
      expect(existsSync(join(sharded.modelDir, 'model-00002-of-00002.safetensors'))).toBe(true)
      const diff = tf.tidy(() => {
        const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')
        return tf.max(tf.abs(tf.sub(single.forward(ids), sharded.forward(ids)))).dataSync()[0]!
      })
      expect(diff).toBe(0)
    } finally {
      single.dispose()
      sharded.dispose()
    }
  })

  it('refuses to load a tokenizer that is not in the folder (never downloads one)', async () => {
    await expect(loadTokenizer(src)).rejects.toMatchObject({ code: 'MODEL_TOKENIZER_INVALID' })
  })
})
