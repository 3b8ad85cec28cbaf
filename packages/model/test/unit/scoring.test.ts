import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type CausalLM,
  encodePair,
  generate,
  initBackend,
  loadCausalLM,
  loadTokenizer,
  maskedCrossEntropy,
  perplexity,
  promptPrefix,
  type Tokenizer,
  tokenNlls,
  writeEmbeddedBaseModel,
} from '../../src/index.js'
import { tmpDir } from '../helpers.js'

const PAIRS = [
  { prompt: 'What is 2 plus 2?', answer: '4' },
  { prompt: 'What does the heart do?', answer: 'It pumps blood through the body.' },
  { prompt: 'Who decides the facts in a jury trial?', answer: 'The jury.' },
]

/** Reference: NLL of answer tokens from one unbatched forward, with float64 log-softmax. */
function referenceNlls(model: CausalLM, ids: number[], answerStart: number): number[] {
  const logits = tf.tidy(() => model.forward(tf.tensor2d([ids], undefined, 'int32')))
  const rows = (logits.arraySync() as number[][][])[0]!
  logits.dispose()
  const out: number[] = []
  for (let i = answerStart; i < ids.length; i++) {
    const row = rows[i - 1]!
    const m = Math.max(...row)
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0))
    out.push(lse - row[ids[i]!]!)
  }
  return out
}

describe('scoring and generation', () => {
  let model: CausalLM
  let tok: Tokenizer
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' })
    const dir = await writeEmbeddedBaseModel(join(tmpDir(), 'base'), { seed: 3 })
    model = await loadCausalLM(dir)
    tok = await loadTokenizer(dir)
  })
  afterAll(() => model.dispose())

  it('scores exactly the answer tokens, batched or not, matching a direct log-softmax', async () => {
    const before = tf.memory().numTensors
    const batched = await tokenNlls(model, tok, PAIRS, { batchSize: 3 })
    const single = await tokenNlls(model, tok, PAIRS, { batchSize: 1 })
    expect(tf.memory().numTensors).toBe(before)
    PAIRS.forEach((p, i) => {
      const { ids, answerStart } = encodePair(tok, p, 256)
      expect(batched[i]!.answerIds).toEqual(tok.encode(` ${p.answer}`))
      expect(ids.slice(0, answerStart)).toEqual(tok.encode(promptPrefix(p.prompt)))
      const ref = referenceNlls(model, ids, answerStart)
      expect(batched[i]!.tokenNlls.length).toBe(ref.length)
      ref.forEach((v, k) => {
        expect(Math.abs(batched[i]!.tokenNlls[k]! - v), `pair ${i} token ${k}`).toBeLessThan(1e-4)
        expect(Math.abs(single[i]!.tokenNlls[k]! - batched[i]!.tokenNlls[k]!), `pair ${i} token ${k}`).toBeLessThan(
          1e-4,
        )
      })
    })
  })

  it("with scope 'all' scores every position after the first, prompt included (the original value-add metric)", async () => {
    const all = await tokenNlls(model, tok, PAIRS, { batchSize: 2, scope: 'all' })
    const answer = await tokenNlls(model, tok, PAIRS, { batchSize: 2 })
    PAIRS.forEach((p, i) => {
      const { ids } = encodePair(tok, p, 256)
      const ref = referenceNlls(model, ids, 1)
      expect(all[i]!.tokenNlls.length).toBe(ids.length - 1)
      ref.forEach((v, k) => {
        expect(Math.abs(all[i]!.tokenNlls[k]! - v), `pair ${i} token ${k}`).toBeLessThan(1e-4)
      })
      // The answer-only NLLs are the tail of the whole-text ones.
      const tail = all[i]!.tokenNlls.slice(-answer[i]!.tokenNlls.length)
      tail.forEach((v, k) => {
        expect(Math.abs(v - answer[i]!.tokenNlls[k]!)).toBeLessThan(1e-5)
      })
    })
  })

  it('computes perplexity over scored tokens and rejects an empty dataset', async () => {
    const rs = await tokenNlls(model, tok, PAIRS)
    const all = rs.flatMap((r) => r.tokenNlls)
    const ppl = await perplexity(model, tok, PAIRS)
    expect(ppl).toBeCloseTo(Math.exp(all.reduce((a, b) => a + b, 0) / all.length), 6)
    // An untrained 512-token model is close to uniform.
    expect(ppl).toBeGreaterThan(100)
    await expect(perplexity(model, tok, [])).rejects.toMatchObject({ code: 'MODEL_INPUT_INVALID' })
  })

  it('keeps the answer when a long prompt is truncated to the context', () => {
    const { ids, answerStart } = encodePair(tok, { prompt: 'word '.repeat(400), answer: 'kept' }, 256)
    expect(ids.length).toBe(256)
    expect(ids.slice(answerStart)).toEqual(tok.encode(' kept'))
  })

  it('maskedCrossEntropy equals the mean NLL of the weighted positions', () => {
    tf.tidy(() => {
      const logits = tf.randomNormal([2, 3, 5], 0, 2, 'float32', 4) as tf.Tensor3D
      const labels = tf.tensor2d(
        [
          [1, 4, 0],
          [2, 2, 3],
        ],
        undefined,
        'int32',
      )
      const weights = tf.tensor2d([
        [0, 1, 1],
        [1, 0, 0],
      ])
      const got = maskedCrossEntropy(logits, labels, weights).dataSync()[0]!
      const l = logits.arraySync()
      const nll = (r: number, t: number, y: number): number => {
        const row = l[r]![t]!
        const m = Math.max(...row)
        return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[y]!
      }
      expect(got).toBeCloseTo((nll(0, 1, 4) + nll(0, 2, 0) + nll(1, 0, 2)) / 3, 5)
    })
  })

  it('generates greedily with the cache exactly as full re-computation does, without leaking tensors', async () => {
    const prompt = promptPrefix('What is 6 times 8?')
    const before = tf.memory().numTensors
    const [r] = await generate(model, tok, [prompt], { maxNewTokens: 6, stopAtEos: false })
    expect(tf.memory().numTensors).toBe(before)
    const ids = tok.encode(prompt)
    const expected: number[] = []
    for (let s = 0; s < 6; s++) {
      const next = tf.tidy(() => {
        const logits = model.forward(tf.tensor2d([[...ids, ...expected]], undefined, 'int32'))
        return tf
          .argMax(tf.squeeze(tf.slice(logits, [0, ids.length + expected.length - 1, 0], [1, 1, -1])), -1)
          .dataSync()[0]!
      })
      expected.push(next)
    }
    expect(r!.tokenIds).toEqual(expected)
    expect(r!.finishReason).toBe('length')
    expect(r!.text).toBe(tok.decode(expected))
  })

  it('gives each left-padded row of a batch the same continuation as alone', async () => {
    const prompts = ['Hi', promptPrefix('What is the sum of 250 and 125?')]
    const batch = await generate(model, tok, prompts, { maxNewTokens: 4, stopAtEos: false })
    for (let i = 0; i < prompts.length; i++) {
      const [alone] = await generate(model, tok, [prompts[i]!], { maxNewTokens: 4, stopAtEos: false })
      expect(batch[i]!.tokenIds, `row ${i}`).toEqual(alone!.tokenIds)
    }
  })

  it('stops a row at the EOS token', async () => {
    const [free] = await generate(model, tok, ['The court'], { maxNewTokens: 8, stopAtEos: false })
    const ids = free!.tokenIds
    // Declare as EOS the first token that is new in the free continuation (index 0 when all repeat).
    const k = Math.max(
      0,
      ids.findIndex((t, i) => i > 0 && !ids.slice(0, i).includes(t)),
    )
    const eosTok: Tokenizer = { ...tok, encode: tok.encode, decode: tok.decode, eosTokenId: ids[k]! }
    const [r] = await generate(model, eosTok, ['The court'], { maxNewTokens: 8 })
    expect(r!.finishReason).toBe('eos')
    expect(r!.tokenIds).toEqual(ids.slice(0, k))
  })
})
