import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  batchMatMul,
  causalSelfAttention,
  dense,
  dropoutMask,
  embeddingLookup,
  geluTanh,
  initBackend,
  layerNormOp,
  softmaxCrossEntropy,
} from '../../src/index.js'

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)
}

// wasm twice: on its own kernels, and with MatMul and attention on the native GEMM where the addon
// is built (native-kernels.test.ts says whether it is; without it both runs take the wasm kernels).
const RUNS = [
  { backend: 'cpu', nativeKernels: 'off' },
  { backend: 'wasm', nativeKernels: 'off' },
  { backend: 'wasm', nativeKernels: 'auto' },
] as const

for (const { backend, nativeKernels } of RUNS) {
  describe(`custom-gradient ops on ${backend}${backend === 'wasm' ? ` (native kernels ${nativeKernels})` : ''}`, () => {
    beforeAll(async () => {
      await initBackend({ backend, nativeKernels })
    })
    afterAll(async () => {
      await initBackend({ backend: 'cpu', nativeKernels: 'off' })
    })

    // in > out and in < out: the weight gradient transposes whichever operand is smaller.
    it.each([
      [5, 4],
      [3, 7],
    ])('dense matches matMul (+bias) and its gradients for both weight layouts (in %i, out %i)', (fin, fout) => {
      tf.tidy(() => {
        const x = tf.randomNormal([6, fin], 0, 1, 'float32', 1) as tf.Tensor2D
        const wIO = tf.randomNormal([fin, fout], 0, 1, 'float32', 2) as tf.Tensor2D
        const b = tf.randomNormal([fout], 0, 1, 'float32', 3) as tf.Tensor1D
        const wOI = tf.transpose(wIO) as tf.Tensor2D
        const ref = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.square(tf.add(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb)))
        const [gx, gw, gb] = tf.grads(ref)([x, wIO, b])
        for (const inOut of [true, false]) {
          const w = inOut ? wIO : wOI
          const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.square(dense(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, inOut)))
          expect(maxDiff(dense(x, w, b, inOut), tf.add(tf.matMul(x, wIO), b))).toBeLessThan(1e-5)
          const [dx, dw, db] = tf.grads(f)([x, w, b])
          expect(maxDiff(dx!, gx!), `dx inOut=${inOut}`).toBeLessThan(1e-4)
          expect(maxDiff(dw!, inOut ? gw! : tf.transpose(gw!)), `dW inOut=${inOut}`).toBeLessThan(1e-4)
          expect(maxDiff(db!, gb!), `db inOut=${inOut}`).toBeLessThan(1e-4)
        }
      })
    })

    it('keeps input gradients exact when the weight variable is frozen', () => {
      const w = tf.variable(tf.randomNormal([3, 2], 0, 1, 'float32', 4))
      const x = tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 5))
      w.trainable = false
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.square(dense(x as unknown as tf.Tensor2D, w as unknown as tf.Tensor2D, undefined, true))),
        [x, w],
      )
      expect(grads[w.name]).toBeFalsy()
      const ref = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(tf.matMul(xx as tf.Tensor2D, w))))(x)
      expect(maxDiff(grads[x.name]!, ref)).toBeLessThan(1e-5)
      tf.dispose([w, x, ref, ...Object.values(grads)])
    })

    it('batchMatMul matches matMul and its gradients with and without transposeB', () => {
      tf.tidy(() => {
        const a = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 8) as tf.Tensor4D
        const b = tf.randomNormal([2, 3, 5, 6], 0, 1, 'float32', 9) as tf.Tensor4D
        const bT = tf.transpose(b, [0, 1, 3, 2]) as tf.Tensor4D
        const ref = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor4D, y as tf.Tensor4D)))
        const [ga, gb] = tf.grads(ref)([a, b])
        for (const transposeB of [false, true]) {
          const y = transposeB ? bT : b
          const f = (x: tf.Tensor, z: tf.Tensor) =>
            tf.sum(tf.square(batchMatMul(x as tf.Tensor4D, z as tf.Tensor4D, transposeB)))
          expect(maxDiff(batchMatMul(a, y, transposeB), tf.matMul(a, b))).toBeLessThan(1e-5)
          const [da, db] = tf.grads(f)([a, y])
          expect(maxDiff(da!, ga!), `da transposeB=${transposeB}`).toBeLessThan(1e-4)
          expect(
            maxDiff(db!, transposeB ? tf.transpose(gb!, [0, 1, 3, 2]) : gb!),
            `db transposeB=${transposeB}`,
          ).toBeLessThan(1e-4)
        }
      })
    })

    it('causalSelfAttention matches softmax(QKᵀ·s + bias)·V per head, with gradients (time-major rows)', () => {
      tf.tidy(() => {
        const [b, t, h, d] = [2, 5, 3, 4]
        const qkv = tf.randomNormal([t * b, 3 * h * d], 0, 1, 'float32', 21) as tf.Tensor2D
        const r = tf.randomNormal([t * b, h * d], 0, 1, 'float32', 22)
        // Causal, and the second sequence's first two keys are padding.
        const causal = tf.linalg.bandPart(tf.ones([t, t]), -1, 0)
        const keys = tf
          .tensor2d([
            [1, 1, 1, 1, 1],
            [0, 0, 1, 1, 1],
          ])
          .reshape([b, 1, 1, t])
        const biasBM = tf.mul(tf.sub(1, tf.mul(causal, keys)), -1e9) as tf.Tensor4D // [b, 1, t, t]
        const biasTM = tf.transpose(biasBM, [2, 0, 1, 3])
        const scale = 1 / Math.sqrt(d)
        const ref = (x: tf.Tensor) => {
          const [q, k, v] = tf
            .split(tf.reshape(x, [t, b, 3, h, d]), 3, 2)
            .map((y) => tf.transpose(tf.reshape(y, [t, b, h, d]), [1, 2, 0, 3])) as [
            tf.Tensor4D,
            tf.Tensor4D,
            tf.Tensor4D,
          ]
          const p = tf.softmax(tf.add(tf.matMul(tf.mul(q, scale), k, false, true), biasBM))
          const o = tf.reshape(tf.transpose(tf.matMul(p as tf.Tensor4D, v), [2, 0, 1, 3]), [t * b, h * d])
          return tf.sum(tf.mul(o, r))
        }
        const mine = (x: tf.Tensor) =>
          tf.sum(tf.mul(causalSelfAttention(x as tf.Tensor2D, b, h, biasTM, scale, 0.1, undefined), r))
        expect(Math.abs(mine(qkv).dataSync()[0]! - ref(qkv).dataSync()[0]!)).toBeLessThan(1e-4)
        expect(maxDiff(tf.grad(mine)(qkv), tf.grad(ref)(qkv))).toBeLessThan(1e-4)
        // Dropout on the probabilities: seeded, and the gradient matches a central difference (causal
        // bias only: a fully masked row sees s − 1e9, which float32 rounds in steps of 64).
        const causalTM = tf.reshape(tf.mul(tf.sub(1, causal), -1e9), [t, 1, 1, t])
        const drop = (x: tf.Tensor, seed: number) =>
          tf.sum(tf.mul(causalSelfAttention(x as tf.Tensor2D, b, h, causalTM, scale, 0.3, seed), r))
        expect(drop(qkv, 5).dataSync()[0]).toBe(drop(qkv, 5).dataSync()[0])
        expect(drop(qkv, 5).dataSync()[0]).not.toBe(drop(qkv, 6).dataSync()[0])
        const u = tf.randomNormal(qkv.shape, 0, 1, 'float32', 23)
        const eps = 1e-2
        const fd =
          (drop(tf.add(qkv, tf.mul(u, eps)), 5).dataSync()[0]! - drop(tf.sub(qkv, tf.mul(u, eps)), 5).dataSync()[0]!) /
          (2 * eps)
        const g = tf.sum(tf.mul(tf.grad((x: tf.Tensor) => drop(x, 5))(qkv), u)).dataSync()[0]!
        expect(Math.abs(fd - g)).toBeLessThan(1e-2 * Math.max(1, Math.abs(g)))
      })
    })

    it('geluTanh matches 0.5x(1+tanh(√(2/π)(x+0.044715x³))) and its gradient', () => {
      tf.tidy(() => {
        const x = tf.mul(tf.randomNormal([50], 0, 1, 'float32', 11), 3)
        const ref = (z: tf.Tensor) =>
          tf.mul(
            tf.mul(z, 0.5),
            tf.add(1, tf.tanh(tf.mul(tf.add(z, tf.mul(tf.pow(z, 3), 0.044715)), Math.sqrt(2 / Math.PI)))),
          )
        expect(maxDiff(geluTanh(x), ref(x))).toBeLessThan(1e-5)
        const w = tf.randomNormal([50], 0, 1, 'float32', 12)
        const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(geluTanh(z), w)))(x)
        expect(maxDiff(g, tf.grad((z: tf.Tensor) => tf.sum(tf.mul(ref(z), w)))(x))).toBeLessThan(1e-5)
      })
    })

    it('layerNormOp matches the moments formulation and its gradients', () => {
      tf.tidy(() => {
        const x = tf.randomNormal([6, 8], 1, 2, 'float32', 13) as tf.Tensor2D
        const w = tf.randomNormal([8], 1, 0.3, 'float32', 14) as tf.Tensor1D
        const b = tf.randomNormal([8], 0, 0.3, 'float32', 15) as tf.Tensor1D
        const r = tf.randomNormal([6, 8], 0, 1, 'float32', 16)
        const ref = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
          const { mean, variance } = tf.moments(xx, -1, true)
          return tf.sum(tf.mul(tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, 1e-5))), ww), bb), r))
        }
        const mine = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.sum(tf.mul(layerNormOp(xx as tf.Tensor2D, ww as tf.Tensor1D, bb as tf.Tensor1D, 1e-5), r))
        expect(Math.abs(mine(x, w, b).dataSync()[0]! - ref(x, w, b).dataSync()[0]!)).toBeLessThan(1e-4)
        const g1 = tf.grads(mine)([x, w, b])
        const g2 = tf.grads(ref)([x, w, b])
        for (const [i, g] of g1.entries()) expect(maxDiff(g, g2[i]!), `grad ${i}`).toBeLessThan(1e-4)
      })
    })

    it('softmaxCrossEntropy matches the log-softmax definition and its gradient', () => {
      tf.tidy(() => {
        const z = tf.mul(tf.randomNormal([5, 7], 0, 1, 'float32', 6), 30) as tf.Tensor2D
        const y = tf.tensor1d([0, 6, 3, 3, 1], 'int32')
        const w = tf.tensor1d([1, 0, 1, 1, 0.5])
        const ref = (zz: tf.Tensor) =>
          tf.div(tf.sum(tf.mul(tf.neg(tf.sum(tf.mul(tf.logSoftmax(zz), tf.oneHot(y, 7)), -1)), w)), tf.sum(w))
        expect(Math.abs(softmaxCrossEntropy(z, y, w).dataSync()[0]! - ref(z).dataSync()[0]!)).toBeLessThan(1e-3)
        const g = tf.grad((zz: tf.Tensor) => softmaxCrossEntropy(zz as tf.Tensor2D, y, w))(z)
        expect(maxDiff(g, tf.grad(ref)(z))).toBeLessThan(1e-5)
      })
    })

    it('embeddingLookup gathers rows and sums gradients of repeated ids', () => {
      tf.tidy(() => {
        const table = tf.randomNormal([6, 3], 0, 1, 'float32', 7) as tf.Tensor2D
        const ids = tf.tensor1d([1, 4, 1, 0], 'int32')
        expect(maxDiff(embeddingLookup(table, ids), tf.gather(table, ids))).toBe(0)
        const g = tf.grad((t: tf.Tensor) =>
          tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, ids), tf.range(0, 12).reshape([4, 3]))),
        )(table)
        const rows = g.arraySync() as number[][]
        expect(rows[1]).toEqual([0 + 6, 1 + 7, 2 + 8])
        expect(rows[2]).toEqual([0, 0, 0])
      })
    })

    it('dropoutMask is seeded, scales kept units by 1/(1−p) and drops about p', () => {
      tf.tidy(() => {
        const x = tf.ones([100, 100])
        const a = dropoutMask(x, 0.25, 42).dataSync()
        const b = dropoutMask(x, 0.25, 42).dataSync()
        const c = dropoutMask(x, 0.25, 43).dataSync()
        expect(Array.from(a)).toEqual(Array.from(b))
        expect(Array.from(a)).not.toEqual(Array.from(c))
        const zeros = a.filter((v) => v === 0).length / a.length
        expect(zeros).toBeGreaterThan(0.22)
        expect(zeros).toBeLessThan(0.28)
        expect(a.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6)).toBe(true)
      })
    })
  })
}
