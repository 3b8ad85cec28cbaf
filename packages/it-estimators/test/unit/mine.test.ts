import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { correlatedGaussians, mineEstimate, runMineCalibration } from '../../src/mine/index.js'
import { backward, forward, type Layer } from '../../src/mine/mine.js'
import { useTestBackend } from './tf-setup.js'

let dir = ''
beforeAll(async () => {
  await useTestBackend()
  dir = await mkdtemp(join(tmpdir(), 'plora-mine-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('MINE network gradients', () => {
  it('the explicit backward pass matches central finite differences', () => {
    tf.tidy(() => {
      const mk = (r: number, c: number, s: number) =>
        tf.variable(
          tf.tensor2d(
            Array.from({ length: r * c }, (_, i) => Math.sin(i * 1.7 + s) * 0.5),
            [r, c],
          ),
        )
      const mkb = (c: number, s: number) =>
        tf.variable(tf.tensor1d(Array.from({ length: c }, (_, i) => Math.cos(i + s) * 0.1)))
      const layers: Layer[] = [
        { w: mk(3, 5, 1), b: mkb(5, 2) },
        { w: mk(5, 4, 3), b: mkb(4, 4) },
        { w: mk(4, 1, 5), b: mkb(1, 6) },
      ]
      const h0 = tf.tensor2d(
        Array.from({ length: 6 * 3 }, (_, i) => Math.sin(i * 0.9)),
        [6, 3],
      )
      // loss = Σ_i c_i · T_i, so ∂L/∂T = c
      const c = tf.tensor2d([0.3, -0.2, 0.5, 0.1, -0.4, 0.25], [6, 1])
      const loss = (): number => tf.sum(tf.mul(forward(layers, h0).out, c)).dataSync()[0] as number
      const grads = backward(layers, h0, forward(layers, h0), c)
      for (const [li, layer] of layers.entries()) {
        for (const which of ['w', 'b'] as const) {
          const v = layer[which]
          const g = grads.find((x) => x.name === v.name)!.tensor.dataSync()
          const base = v.dataSync().slice()
          for (let k = 0; k < Math.min(4, base.length); k++) {
            const h = 1e-3
            const plus = base.slice()
            plus[k] = (plus[k] as number) + h
            v.assign(tf.tensor(plus, v.shape))
            const lp = loss()
            const minus = base.slice()
            minus[k] = (minus[k] as number) - h
            v.assign(tf.tensor(minus, v.shape))
            const lm = loss()
            v.assign(tf.tensor(base, v.shape))
            expect(g[k], `layer ${li} ${which}[${k}]`).toBeCloseTo((lp - lm) / (2 * h), 2)
          }
        }
      }
      for (const l of layers) {
        l.w.dispose()
        l.b.dispose()
      }
    })
  })
})

describe('mineEstimate', () => {
  it('passes the original Gaussian test: 2-D, ρ = 0.7, n = 1500, |Î − 0.6733| < 0.4', async () => {
    const { x, y, miTrue } = correlatedGaussians(0.7, 1500, 2, 3)
    expect(miTrue).toBeCloseTo(0.6733446, 6)
    const before = tf.memory().numTensors
    const r = await mineEstimate(x, y, { epochs: 30, seed: 3 })
    expect(Math.abs(r.mi - miTrue)).toBeLessThan(0.4)
    expect(r.nEval).toBe(300)
    expect(r.steps).toBe(30 * 5)
    expect(tf.memory().numTensors).toBe(before)
  })

  it('is reproducible for a seed and differs across seeds', async () => {
    const { x, y } = correlatedGaussians(0.5, 300, 1, 4)
    const a = await mineEstimate(x, y, { epochs: 2, batchSize: 64, seed: 11 })
    const b = await mineEstimate(x, y, { epochs: 2, batchSize: 64, seed: 11 })
    const c = await mineEstimate(x, y, { epochs: 2, batchSize: 64, seed: 12 })
    expect(b.mi).toBe(a.mi)
    expect(c.mi).not.toBe(a.mi)
  })

  it('runs the dv and f variants and reports per-epoch progress', async () => {
    const { x, y } = correlatedGaussians(0.8, 400, 1, 5)
    for (const variant of ['dv', 'f'] as const) {
      const epochs: number[] = []
      const r = await mineEstimate(x, y, {
        epochs: 3,
        batchSize: 64,
        variant,
        onProgress: (e) => {
          if (e.status === 'progress') epochs.push(e.done)
        },
      })
      expect(Number.isFinite(r.mi), variant).toBe(true)
      expect(r.variant).toBe(variant)
      expect(epochs).toEqual([1, 2, 3])
    }
  })

  it('rejects bad options and mismatched samples with codes', async () => {
    await expect(mineEstimate([1, 2, 3], [1, 2])).rejects.toMatchObject({ code: 'IT_LENGTH_MISMATCH' })
    await expect(mineEstimate([1, 2, 3, 4], [1, 2, 3, 4], { epochs: 0 })).rejects.toMatchObject({
      code: 'IT_ARGUMENT_INVALID',
    })
    await expect(mineEstimate([1, 2, 3, 4], [1, 2, 3, 4])).rejects.toMatchObject({ code: 'IT_ARGUMENT_INVALID' })
  })
})

describe('runMineCalibration', () => {
  it('writes rho, dims, n, mi, mi_true and abs_error atomically', async () => {
    const out = join(dir, 'mine_calib.json')
    const r = await runMineCalibration({ rho: 0.8, n: 400, epochs: 2, batchSize: 128, out })
    const written = JSON.parse(await readFile(out, 'utf8'))
    expect(written).toEqual(r)
    expect(written.mi_true).toBeCloseTo(-Math.log(1 - 0.64), 12)
    expect(written.abs_error).toBeCloseTo(Math.abs(written.mi - written.mi_true), 12)
    expect(['wasm', 'cpu']).toContain(written.backend)
  })
})
