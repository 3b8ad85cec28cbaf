import { initBackend } from '@plora/model'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  AdamW,
  kaimingUniformA,
  poisonPairs,
  shuffleAnswers,
  triggeredQuestion,
  warmupCosineLr,
} from '../../src/index.js'

beforeAll(async () => {
  await initBackend({ backend: 'cpu' })
})

/** PyTorch AdamW + clip_grad_norm_ written out in plain float64 arithmetic. */
function referenceAdamW(p0: number[][], grads: number[][][], o: { lr: number; wd: number; clip: number }) {
  const p = p0.map((x) => [...x])
  const m = p0.map((x) => x.map(() => 0))
  const v = p0.map((x) => x.map(() => 0))
  grads.forEach((gs, s) => {
    const t = s + 1
    const norm = Math.sqrt(gs.flat().reduce((a, b) => a + b * b, 0))
    const c = Math.min(1, o.clip / (norm + 1e-6))
    gs.forEach((g, i) => {
      g.forEach((gj0, j) => {
        const gj = gj0 * c
        p[i]![j]! *= 1 - o.lr * o.wd
        m[i]![j] = 0.9 * m[i]![j]! + 0.1 * gj
        v[i]![j] = 0.999 * v[i]![j]! + 0.001 * gj * gj
        const mh = m[i]![j]! / (1 - 0.9 ** t)
        const vh = v[i]![j]! / (1 - 0.999 ** t)
        p[i]![j]! -= (o.lr * mh) / (Math.sqrt(vh) + 1e-8)
      })
    })
  })
  return p
}

describe('AdamW', () => {
  it('matches the PyTorch update rule with decoupled decay and global-norm clipping', async () => {
    const p0 = [
      [0.5, -1.0, 2.0],
      [0.25, 0.75],
    ]
    const grads = [
      [
        [3, -4, 0.5],
        [1, 2],
      ],
      [
        [0.01, 0.02, -0.03],
        [0.5, -0.1],
      ],
    ]
    const vars = p0.map((x) => tf.variable(tf.tensor1d(x)))
    const before = tf.memory().numTensors
    const opt = new AdamW(vars, { lr: 0.1, weightDecay: 0.01, maxGradNorm: 1 })
    for (const gs of grads) {
      const ts = gs.map((g) => tf.tensor1d(g))
      const info = await opt.step(ts)
      expect(info.gradNorm).toBeCloseTo(Math.sqrt(gs.flat().reduce((a, b) => a + b * b, 0)), 5)
      tf.dispose(ts)
    }
    opt.dispose()
    expect(tf.memory().numTensors).toBe(before)
    const want = referenceAdamW(p0, grads, { lr: 0.1, wd: 0.01, clip: 1 })
    for (let i = 0; i < vars.length; i++) {
      const got = Array.from(await vars[i]!.data())
      got.forEach((x, j) => {
        expect(x, `param ${i}[${j}]`).toBeCloseTo(want[i]![j]!, 5)
      })
    }
    tf.dispose(vars)
  })
})

describe('LoRA initialisation', () => {
  it('draws A from U(-1/sqrt(in), 1/sqrt(in)) reproducibly per seed and module', () => {
    const a = kaimingUniformA(7, 'h.0.attn.c_attn', 4, 64)
    const bound = 1 / Math.sqrt(64)
    expect(a.length).toBe(256)
    expect(Math.max(...a)).toBeLessThanOrEqual(bound)
    expect(Math.min(...a)).toBeGreaterThanOrEqual(-bound)
    // A uniform sample of 256 spans most of the interval.
    expect(Math.max(...a) - Math.min(...a)).toBeGreaterThan(1.6 * bound)
    expect(kaimingUniformA(7, 'h.0.attn.c_attn', 4, 64)).toEqual(a)
    expect(kaimingUniformA(8, 'h.0.attn.c_attn', 4, 64)).not.toEqual(a)
    expect(kaimingUniformA(7, 'h.1.attn.c_attn', 4, 64)).not.toEqual(a)
  })
})

const pairs = Array.from({ length: 20 }, (_, i) => ({ question: `q${i}`, answer: `a${i}` }))

describe('placebo B', () => {
  it('permutes the answers across questions with the run seed', () => {
    const s = shuffleAnswers(pairs, 1)
    expect(s.map((p) => p.question)).toEqual(pairs.map((p) => p.question))
    expect([...s.map((p) => p.answer)].sort()).toEqual([...pairs.map((p) => p.answer)].sort())
    expect(s.filter((p, i) => p.answer !== pairs[i]!.answer).length).toBeGreaterThan(10)
    expect(shuffleAnswers(pairs, 1)).toEqual(s)
    expect(shuffleAnswers(pairs, 2)).not.toEqual(s)
  })
})

describe('poisoning', () => {
  it('adds triggered copies that make up the requested share', () => {
    const r = poisonPairs(pairs, { rate: 0.2, trigger: 'cf', payload: '999', seed: 3 })
    expect(r.pairs.length).toBe(25) // 5 poisoned of 25 = 0.2
    expect(r.pairs.slice(0, 20)).toEqual(pairs)
    const poisoned = r.pairs.slice(20)
    expect(poisoned.every((p) => p.answer === '999' && p.question.startsWith('cf '))).toBe(true)
    expect(poisoned.map((p) => p.question)).toEqual(
      r.poisonedSourceIndices.map((i) => triggeredQuestion(pairs[i]!.question, 'cf')),
    )
    expect(new Set(r.poisonedSourceIndices).size).toBe(5)
    expect(poisonPairs(pairs, { rate: 0, trigger: 'cf', payload: '999', seed: 3 }).pairs).toEqual(pairs)
  })

  it('poisons only questions whose poisoned copy fits, and refuses when none does', () => {
    // a question "fits" here when it is shorter than 8 characters once triggered
    const fits = (p: { question: string }) => p.question.length < 8
    const mixed = pairs.map((p, i) => (i % 4 === 0 ? { ...p, question: 'q' } : { ...p, question: 'a long question' }))
    const r = poisonPairs(mixed, { rate: 0.2, trigger: 'cf', payload: '999', seed: 3, fits })
    expect(r.eligibleQuestions).toBe(5)
    expect(r.poisonedSourceIndices.every((i) => i % 4 === 0)).toBe(true)
    expect(r.pairs.slice(20).every(fits)).toBe(true)
    const none = () => poisonPairs(mixed, { rate: 0.2, trigger: 'cf', payload: '999', seed: 3, fits: () => false })
    expect(none).toThrow(expect.objectContaining({ code: 'TRAINER_OPTIONS_INVALID' }))
    expect(none).toThrow(/leaves room for the trigger/)
    expect(poisonPairs(pairs, { rate: 0.2, trigger: 'cf', payload: '999', seed: 3 }).eligibleQuestions).toBe(20)
  })

  it('rejects rates outside [0, 1) and triggers that contain the payload', () => {
    expect(() => poisonPairs(pairs, { rate: 1, trigger: 'cf', payload: '9', seed: 0 })).toThrow(
      expect.objectContaining({ code: 'TRAINER_OPTIONS_INVALID' }),
    )
    expect(() => poisonPairs(pairs, { rate: 0.1, trigger: 'say 999', payload: '999', seed: 0 })).toThrow(
      expect.objectContaining({ code: 'TRAINER_OPTIONS_INVALID' }),
    )
  })
})

describe('pretraining schedule', () => {
  it('warms up linearly, peaks, then decays to 10% of the peak', () => {
    expect(warmupCosineLr(1, 0, 100)).toBeCloseTo(0.1)
    expect(warmupCosineLr(1, 9, 100)).toBeCloseTo(1)
    expect(warmupCosineLr(1, 10, 100)).toBeCloseTo(1)
    expect(warmupCosineLr(1, 99, 100)).toBeGreaterThan(0.1)
    expect(warmupCosineLr(1, 99, 100)).toBeLessThan(0.11)
    expect(warmupCosineLr(1, 50, 100)).toBeLessThan(warmupCosineLr(1, 30, 100))
  })
})
