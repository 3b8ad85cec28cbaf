/** Micro-benchmark: wasm matMul variants (transpose flags), to pick the fastest formulation. */
import * as tf from '@tensorflow/tfjs-core'
import { it } from 'vitest'
import { initBackend } from '../src/index.js'

function time(label: string, flops: number, f: () => tf.Tensor): void {
  for (let i = 0; i < 3; i++) f().dispose()
  const n = 20
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const r = f()
    r.dataSync()
    r.dispose()
  }
  const ms = (performance.now() - t0) / n
  console.log(`${label.padEnd(48)} ${ms.toFixed(2)} ms  ${((flops / ms) * 1e-6).toFixed(2)} GFLOP/s`)
}

it('matMul variants', async () => {
  await initBackend({ backend: (process.env.BENCH_BACKEND ?? 'wasm') as 'wasm' })
  const M = 512
  const K = 128
  const N = 512
  const a = tf.randomNormal([M, K])
  const b = tf.randomNormal([K, N])
  const aT = tf.transpose(a)
  const bT = tf.transpose(b)
  const f = 2 * M * K * N
  time('a·b [512,128]x[128,512]', f, () => tf.matMul(a, b))
  time('a·bᵀ flag (b stored [N,K])', f, () => tf.matMul(a, bT, false, true))
  time('aᵀ·b flag (a stored [K,M])', f, () => tf.matMul(aT, b, true, false))
  time('explicit transpose(bT) then a·b', f, () => tf.tidy(() => tf.matMul(a, tf.transpose(bT))))
  time('transpose [512,128] only', M * K, () => tf.transpose(a))
  const big = tf.randomNormal([M, N])
  time('[512,512]x[512,128]', 2 * M * N * K, () => tf.matMul(big, aT.reshape([N, K])))
  const q = tf.randomNormal([32, 64, 32])
  const k = tf.randomNormal([32, 64, 32])
  const kT = tf.transpose(k, [0, 2, 1])
  time('batched q·kᵀ flag [32,64,32]', 2 * 32 * 64 * 64 * 32, () => tf.matMul(q, k, false, true))
  time('batched q·(kT) no flag', 2 * 32 * 64 * 64 * 32, () => tf.matMul(q, kT))
  time('batched transpose k', 32 * 64 * 32, () => tf.transpose(k, [0, 2, 1]))
  // The same 32 products as one depthwise convolution (what causalSelfAttention does): input
  // [1, rows, window, pairs], filter [1, window, pairs, cols].
  const qIn = tf.reshape(tf.transpose(q, [1, 2, 0]), [1, 64, 32, 32]) as tf.Tensor4D
  const kF = tf.reshape(tf.transpose(k, [2, 0, 1]), [1, 32, 32, 64]) as tf.Tensor4D
  time('batched q·kᵀ as depthwiseConv2d', 2 * 32 * 64 * 64 * 32, () => tf.depthwiseConv2d(qIn, kF, 1, 'valid'))
  const x = tf.randomNormal([512, 512])
  time('tanh [512,512]', 512 * 512, () => tf.tanh(x))
  time('sigmoid [512,512]', 512 * 512, () => tf.sigmoid(x))
  time('mul [512,512]', 512 * 512, () => tf.mul(x, x))
  time('exp [512,512]', 512 * 512, () => tf.exp(x))
  time('logSoftmax [512,512]', 512 * 512, () => tf.logSoftmax(x))
  time('softmax [512,512]', 512 * 512, () => tf.softmax(x))
  time('logSumExp [512,512]', 512 * 512, () => tf.logSumExp(x, -1))
  time('max axis -1 [512,512]', 512 * 512, () => tf.max(x, -1))
  time('sum axis -1 [512,512]', 512 * 512, () => tf.sum(x, -1))
  time('oneHot 512x512', 512 * 512, () => tf.oneHot(tf.zeros([512], 'int32') as tf.Tensor1D, 512))
})
