// The committed default base model (issue 20 item 1): assets/models/plora-base-gpt2-small is the
// `embedded` reference, used in place (never rebuilt or copied) when its budget is the preset's,
// its files are the ones its marker's SHA-256s name, and it is a trained language model.
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadDomainDataset } from '../packages/datasets/src/index.js'
import {
  EMBEDDED_PRESETS,
  embeddedAssetDir,
  initBackend,
  loadCausalLMFromDir,
  loadTokenizer,
  perplexity,
} from '../packages/model/src/index.js'
import {
  ensurePretrainedBaseModel,
  PRESET_PRETRAIN_OPTIONS,
  PRETRAIN_MARKER_FILE,
} from '../packages/trainer/src/index.js'

const REPO = join(import.meta.dirname, '..')
const ASSET = join(REPO, 'assets', 'models', EMBEDDED_PRESETS.small.name)
const sha = (f: string) =>
  createHash('sha256')
    .update(readFileSync(join(ASSET, f)))
    .digest('hex')

describe('the committed small embedded base model', () => {
  let cache: string
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' })
    cache = mkdtempSync(join(tmpdir(), 'plora-asset-'))
  })
  afterAll(() => rmSync(cache, { recursive: true, force: true }))

  it('is in the checkout with the files its marker names, at the preset budget', () => {
    expect(embeddedAssetDir('small')).toBe(ASSET)
    const marker = JSON.parse(readFileSync(join(ASSET, PRETRAIN_MARKER_FILE), 'utf8'))
    const budget = PRESET_PRETRAIN_OPTIONS.small
    expect(marker).toMatchObject({
      preset: 'small',
      steps: budget.steps,
      batch_size: budget.batchSize,
      seq_len: budget.seqLen,
      lr: budget.lr,
      seed: 0,
      backend: 'wasm',
    })
    for (const [f, digest] of Object.entries(marker.sha256 as Record<string, string>)) expect(sha(f), f).toBe(digest)
    expect(Object.keys(marker.sha256).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json'])
    expect(marker.final_loss).toBeLessThan(4.5) // a random model starts at ln 2048 ≈ 7.6
  })

  it('is what the embedded reference resolves to, used in place without building anything', async () => {
    const dir = await ensurePretrainedBaseModel({ cacheDir: cache, preset: 'small' })
    expect(dir).toBe(ASSET)
    expect(existsSync(join(cache, 'models')) ? readdirSync(join(cache, 'models')) : []).toEqual([])
  })

  it('has the preset architecture and predicts held-out domain answers far better than chance', async () => {
    const model = await loadCausalLMFromDir(ASSET)
    try {
      expect(model.config).toMatchObject({ n_embd: 192, n_layer: 4, n_head: 6, vocab_size: 2048 })
      const tok = await loadTokenizer(ASSET)
      expect(tok.vocabSize).toBe(2048)
      // Legal answers: their synsets were held out of the pretraining corpus.
      const pairs = (await loadDomainDataset('legal', { split: 'validation', samples: 16 })).pairs
      const ppl = await perplexity(
        model,
        tok,
        pairs.map((p) => ({ prompt: p.question, answer: p.answer })),
        { maxLength: 128 },
      )
      // A uniform guess over 2,048 tokens has perplexity 2,048; the random initialisation ≈ 2,000.
      expect(ppl).toBeLessThan(400) // measured 235 (≈ 1.9 nats per character)
    } finally {
      model.dispose()
    }
  })
})
