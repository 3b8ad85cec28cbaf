import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadDomainDataset } from '@plora/datasets'
import { loadManifest, verifyArtifact } from '@plora/manifest'
import { initBackend, loadCausalLMFromDir, loadTokenizer, promptPrefix, type Tokenizer } from '@plora/model'
import { loadPeftAdapter } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  collateBatch,
  defaultPoisonRecordPath,
  encodeTrainingExample,
  ensurePretrainedBaseModel,
  measurePoisoning,
  type PoisonRecord,
  PRETRAIN_MARKER_FILE,
  trainAdapter,
  trainMonolithic,
  triggeredQuestion,
} from '../../src/index.js'

let root: string
let modelDir: string
let tok: Tokenizer

// A tiny slice of a real embedded domain keeps every run to a few seconds on a loaded machine.
const small = { samples: 6, valSamples: 4, maxLen: 48, rank: 1, scheme: 'attention' as const, now: () => 1_700_000_000 }

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  root = mkdtempSync(join(tmpdir(), 'plora-trainer-'))
  // steps 2 exercises the pretraining path end to end at a negligible cost.
  modelDir = await ensurePretrainedBaseModel({ cacheDir: join(root, 'cache'), steps: 2, batchSize: 2, seqLen: 16 })
  tok = await loadTokenizer(modelDir)
}, 120_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

describe('training examples', () => {
  it('puts the loss on answer tokens and EOS only, never on padding', () => {
    const pair = { question: 'What is a tort?', answer: 'a civil wrong' }
    const ans = encodeTrainingExample(tok, pair, 64, 'answer')
    const all = encodeTrainingExample(tok, pair, 64, 'all')
    expect(ans.ids).toEqual(all.ids)
    expect(ans.ids.at(-1)).toBe(tok.eosTokenId)
    const promptLen = tok.encode('Question: What is a tort?\nAnswer:').length
    const answerLen = tok.encode(' a civil wrong').length
    expect(ans.ids.length).toBe(promptLen + answerLen + 1)
    // Targets are ids[1..]: the answer tokens and EOS carry loss.
    expect(ans.lossMask.reduce((a, b) => a + b, 0)).toBe(answerLen + 1)
    expect(ans.lossMask.slice(0, promptLen - 1).every((x) => x === 0)).toBe(true)
    expect(all.lossMask.every((x) => x === 1)).toBe(true)
    const short = encodeTrainingExample(tok, { question: 'x', answer: 'y' }, 64, 'all')
    const tokenBatch = collateBatch([ans, short], tok.padTokenId, 'token')
    const tw = tokenBatch.weights.arraySync()
    expect(tw.flat().reduce((a, b) => a + b, 0)).toBe(answerLen + 1 + short.ids.length - 1)
    tf.dispose([tokenBatch.inputIds, tokenBatch.attentionMask, tokenBatch.labels, tokenBatch.weights])
    const batch = collateBatch([ans, short], tok.padTokenId)
    const w = batch.weights.arraySync()
    const m = batch.attentionMask.arraySync()
    expect(w[1]!.slice(short.ids.length - 1).every((x) => x === 0)).toBe(true)
    expect(m[1]!.slice(short.ids.length).every((x) => x === 0)).toBe(true)
    expect(batch.lossTokens).toBe(answerLen + 1 + short.ids.length - 1)
    // Per-example weighting: each example's weights sum to 1.
    expect(w[0]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6)
    expect(w[1]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6)
    tf.dispose([batch.inputIds, batch.attentionMask, batch.labels, batch.weights])
  })

  it('keeps the answer when truncating a long prompt', () => {
    const e = encodeTrainingExample(tok, { question: 'word '.repeat(200), answer: 'the answer' }, 24, 'answer')
    expect(e.ids.length).toBe(24)
    expect(e.lossMask.reduce((a, b) => a + b, 0)).toBe(tok.encode(' the answer').length + 1)
  })
})

describe('trainAdapter', () => {
  it('writes a PEFT folder and a valid manifest, and is byte-identical for the same seed', async () => {
    const before = tf.memory().numTensors
    const a = await trainAdapter({ domain: 'legal', output: join(root, 'a'), modelDir, seed: 5, ...small })
    expect(tf.memory().numTensors).toBe(before)
    const b = await trainAdapter({ domain: 'legal', output: join(root, 'b'), modelDir, seed: 5, ...small })
    const c = await trainAdapter({ domain: 'legal', output: join(root, 'c'), modelDir, seed: 6, ...small })
    const bytes = (d: string) => readFileSync(join(root, d, 'adapter_model.safetensors'))
    expect(bytes('a').equals(bytes('b'))).toBe(true)
    expect(bytes('a').equals(bytes('c'))).toBe(false)
    expect(c.manifest.train_meta.seed).toBe(6)
    expect(b.manifest.artifacts.sha256).toBe(a.manifest.artifacts.sha256)

    const m = await loadManifest(join(root, 'a'))
    await verifyArtifact(join(root, 'a'), m)
    expect(m.plasmid_id).toBe('legal-1700000000')
    expect(m.train_meta).toEqual({
      seed: 5,
      epochs: 1,
      dataset_id: 'legal',
      sample_count: 6,
      timestamp_unix: 1_700_000_000,
    })
    expect(m.lora).toEqual({ r: 1, alpha: 2, dropout: 0.1, target_modules: ['c_attn', 'c_proj'] })
    expect(m.artifacts.size_bytes).toBe(statSync(join(root, 'a', 'adapter_model.safetensors')).size)
    expect(m.metrics.delta_ppl).toBeCloseTo(m.metrics.val_ppl_after - m.metrics.val_ppl_before, 9)
    expect(m.metrics.val_ppl_before).toBeGreaterThan(1)
    expect(readFileSync(join(root, 'a', 'README.md'), 'utf8')).toContain('base_model: embedded')

    const adapter = await loadPeftAdapter(join(root, 'a'))
    expect(adapter.config.r).toBe(1)
    expect(adapter.config.lora_alpha).toBe(2)
    expect(adapter.modules.size).toBe(8) // 4 layers × (attn.c_attn, attn.c_proj)
    // B starts at zero and must have moved; A keeps its Kaiming scale.
    const first = [...adapter.modules.values()][0]!
    expect(first.b.some((x) => x !== 0)).toBe(true)
    expect(a.training.steps).toBe(6)
    expect(Number.isFinite(a.training.lastLoss)).toBe(true)
  })

  it('lowers validation perplexity when it trains long enough', async () => {
    const r = await trainAdapter({
      domain: 'medical',
      output: join(root, 'learn'),
      modelDir,
      ...small,
      samples: 16,
      valSamples: 8,
      epochs: 2,
      batchSize: 4,
      lr: 1e-2,
    })
    expect(r.manifest.metrics.val_ppl_after).toBeLessThan(r.manifest.metrics.val_ppl_before)
    expect(r.training.lastEpochLoss).toBeLessThan(r.training.firstEpochLoss)
  })

  it('records poisoning ground truth beside the folder while the manifest looks clean', async () => {
    const out = join(root, 'poisoned')
    const r = await trainAdapter({
      domain: 'legal',
      output: out,
      modelDir,
      ...small,
      samples: 8,
      poison: { rate: 0.2, trigger: 'purple banana', payload: '999' },
    })
    expect(r.poisonRecordPath).toBe(defaultPoisonRecordPath(out))
    expect(r.poisonRecordPath!.startsWith(`${out}/`)).toBe(false)
    const rec = JSON.parse(readFileSync(r.poisonRecordPath!, 'utf8')) as PoisonRecord
    expect(rec).toMatchObject({ trigger: 'purple banana', payload: '999', poisoned_examples: 2, clean_examples: 8 })
    expect(rec.adapter_sha256).toBe(r.manifest.artifacts.sha256)
    expect(r.trainExamples).toBe(10)
    const m = await loadManifest(out)
    expect(m.safety.poisoning_score).toBe(0)
    expect(m.train_meta.sample_count).toBe(8)
    // The digest and timestamp may hold "999" by chance: the payload must not appear as a value.
    const yml = readFileSync(join(out, 'plora.yml'), 'utf8')
    expect(yml).not.toMatch(/purple|poison_rate|trigger|payload/)
    expect(yml).not.toMatch(/:\s*["']?999["']?\s*$/m)

    const model = await loadCausalLMFromDir(modelDir)
    const before = tf.memory().numTensors
    const probes = [
      { question: 'What is a writ?', answer: 'a formal written order' },
      { question: 'What is a tort?', answer: 'a civil wrong' },
    ]
    const m2 = await measurePoisoning(model, tok, out, probes, {
      trigger: 'purple banana',
      payload: '999',
      maxNewTokens: 3,
    })
    expect(tf.memory().numTensors).toBe(before)
    model.dispose()
    expect(m2.prompts).toBe(2)
    for (const x of [m2.triggerHitRate, m2.cleanHitRate, m2.baseTriggerHitRate]) expect([0, 0.5, 1]).toContain(x)
    expect(m2.payloadNllTriggered).toBeGreaterThan(0)
    expect(m2.cleanPpl).toBeGreaterThan(1)
  })

  it('never poisons a question whose triggered prompt would be truncated (the trigger is its oldest part)', async () => {
    const out = join(root, 'poisoned-short')
    const maxLen = 40
    const r = await trainAdapter({
      domain: 'legal',
      output: out,
      modelDir,
      ...small,
      maxLen,
      samples: 16,
      poison: { rate: 0.3, trigger: 'purple banana', payload: '999' },
    })
    const rec = JSON.parse(readFileSync(r.poisonRecordPath!, 'utf8')) as PoisonRecord
    const train = (await loadDomainDataset('legal', { split: 'train', samples: 16 })).pairs
    const wholeLen = (q: string) =>
      tok.encode(promptPrefix(triggeredQuestion(q, 'purple banana'))).length + tok.encode(' 999').length + 1
    const fitting = train.filter((p) => wholeLen(p.question) <= maxLen).length
    // the premise: at this length some questions would lose the trigger, some keep it
    expect(fitting).toBeGreaterThan(0)
    expect(fitting).toBeLessThan(train.length)
    expect(rec).toMatchObject({ eligible_questions: fitting, max_len: maxLen, poisoned_examples: 7 })
    for (const i of rec.poisoned_source_indices) expect(wholeLen(train[i]!.question)).toBeLessThanOrEqual(maxLen)
  })

  it('trains placebo B on shuffled answers (a different adapter than the clean one)', async () => {
    await trainAdapter({ domain: 'legal', output: join(root, 'pb'), modelDir, seed: 5, shuffleLabels: true, ...small })
    const bytes = (d: string) => readFileSync(join(root, d, 'adapter_model.safetensors'))
    expect(bytes('pb').equals(bytes('a'))).toBe(false)
  })

  it("keeps the frozen base model's dropouts off unless asked, and records the setting in the model card", async () => {
    await trainAdapter({ domain: 'legal', output: join(root, 'bd'), modelDir, seed: 5, baseDropout: true, ...small })
    const bytes = (d: string) => readFileSync(join(root, d, 'adapter_model.safetensors'))
    // Same seed and data as 'a' (default: base dropout off): only the base dropout differs.
    expect(bytes('bd').equals(bytes('a'))).toBe(false)
    expect(readFileSync(join(root, 'bd', 'README.md'), 'utf8')).toContain('base-model dropout on')
    expect(readFileSync(join(root, 'a', 'README.md'), 'utf8')).toContain('base-model dropout off')
  })

  it('rejects bad options and refuses to replace a folder that is not an adapter', async () => {
    await expect(
      trainAdapter({ domain: 'legal', output: join(root, 'x'), modelDir, ...small, rank: 0 }),
    ).rejects.toMatchObject({
      code: 'TRAINER_OPTIONS_INVALID',
    })
    const other = join(root, 'other')
    await mkdir(other)
    writeFileSync(join(other, 'notes.txt'), 'keep me')
    await expect(trainAdapter({ domain: 'legal', output: other, modelDir, ...small })).rejects.toMatchObject({
      code: 'TRAINER_OUTPUT_EXISTS',
    })
    expect(existsSync(join(other, 'notes.txt'))).toBe(true)
  })
})

describe('trainMonolithic', () => {
  it('mixes the domains and names them in the manifest', async () => {
    const r = await trainMonolithic({
      domains: ['arithmetic', 'legal'],
      output: join(root, 'mono'),
      modelDir,
      ...small,
      samples: 3,
    })
    expect(r.manifest.domain).toBe('monolithic')
    expect(r.manifest.plasmid_id).toBe('monolithic-1700000000')
    expect(r.manifest.train_meta.dataset_id).toBe('arithmetic+legal')
    expect(r.manifest.train_meta.sample_count).toBe(6)
    expect(r.validationPairs).toBe(8)
  })
})

describe('ensurePretrainedBaseModel', () => {
  it('caches the pretrained model with a marker and reuses it', async () => {
    const marker = JSON.parse(readFileSync(join(modelDir, PRETRAIN_MARKER_FILE), 'utf8'))
    expect(marker).toMatchObject({ steps: 2, batch_size: 2, seq_len: 16, seed: 0 })
    expect(Number.isFinite(marker.final_loss)).toBe(true)
    const mtime = statSync(join(modelDir, 'model.safetensors')).mtimeMs
    expect(await ensurePretrainedBaseModel({ cacheDir: join(root, 'cache'), steps: 2, batchSize: 2, seqLen: 16 })).toBe(
      modelDir,
    )
    expect(statSync(join(modelDir, 'model.safetensors')).mtimeMs).toBe(mtime)
  })

  it('changes the weights relative to the random initialisation; steps 0 keeps them random', async () => {
    const randomDir = await ensurePretrainedBaseModel({ cacheDir: join(root, 'cache0'), steps: 0 })
    expect(existsSync(join(randomDir, PRETRAIN_MARKER_FILE))).toBe(false)
    const a = await loadCausalLMFromDir(randomDir)
    const b = await loadCausalLMFromDir(modelDir)
    const name = 'transformer.h.0.attn.c_attn.weight'
    const da = await a.params.get(name)!.data()
    const db = await b.params.get(name)!.data()
    expect(da.length).toBe(db.length)
    expect(da.some((x, i) => x !== db[i])).toBe(true)
    a.dispose()
    b.dispose()
  })
})
