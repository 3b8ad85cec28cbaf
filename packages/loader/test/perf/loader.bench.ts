/**
 * Loader benchmarks (issue 4 "Done when", tightened by issue 21), on TensorFlow.js' wasm backend
 * (SIMD, one thread):
 *  (b) inject + remove of rank-8 adapters on all 12 `c_attn` weights of a GPT-2-small-shaped model
 *      (Conv1D [768, 2304]) — target: no slower than torch's in-place `addmm_` and back (one thread);
 *  (c) merge + re-projection (QR of stacked factors + core SVD) of three rank-8 adapters — target
 *      ≤ 5 ms per 768×2304 module.
 * The ratios against torch / numpy come from `node packages/loader/bench/inject-vs-torch.mjs`
 * (same shapes, interleaved samples, wall and CPU time).
 * Run: `pnpm --filter @plora/loader bench` (prints mean ms per iteration).
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createRng } from '@plora/common'
import type { LinearModuleInfo, LoraModule } from '@plora/peft'
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm'
import * as tf from '@tensorflow/tfjs-core'
import { bench, describe } from 'vitest'
import { injectAdapters, type LoraHost } from '../../src/inject.js'
import { planMerge } from '../../src/merge-plan.js'

const require = createRequire(import.meta.url)
setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`)
setThreadsCount(1)
tf.env().set('IS_TEST', true)
await tf.setBackend('wasm')
await tf.ready()

const D = 768
const OUT = 3 * D
const LAYERS = 12
const RANK = 8
const rng = createRng(0)

function gauss(n: number, sigma: number): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = rng.gauss(0, sigma)
  return out
}

const modules: LinearModuleInfo[] = Array.from({ length: LAYERS }, (_, l) => ({
  path: `transformer.h.${l}.attn.c_attn`,
  inFeatures: D,
  outFeatures: OUT,
  conv1d: true,
}))
const params = new Map<string, tf.Variable>()
for (const m of modules) params.set(`${m.path}.weight`, tf.variable(tf.tensor2d(gauss(D * OUT, 0.02), [D, OUT])))
const host: LoraHost = { params, linearModules: () => modules }

function adapter(): { modules: Map<string, LoraModule> } {
  return {
    modules: new Map(
      modules.map((m) => [
        m.path,
        {
          path: m.path,
          rank: RANK,
          inFeatures: D,
          outFeatures: OUT,
          a: gauss(RANK * D, 0.02),
          b: gauss(OUT * RANK, 0.02),
          scale: 2,
        },
      ]),
    ),
  }
}
const one = adapter()
const three = [adapter(), adapter(), adapter()]
const oneModule = three.map((a, i) => ({
  name: `a${i}`,
  modules: new Map([[modules[0]!.path, a.modules.get(modules[0]!.path)!]]),
}))

describe(`(b) inject+remove, rank ${RANK}, ${LAYERS} × c_attn [${D}, ${OUT}], backend ${tf.getBackend()}`, () => {
  bench(
    'inject + remove (target: ≤ torch addmm_, see bench/inject-vs-torch.mjs)',
    () => {
      // The wasm backend runs every kernel synchronously, so the new weights exist when this returns.
      injectAdapters(host, [one]).remove()
    },
    { time: 3000, warmupIterations: 3 },
  )
})

describe(`(c) merge + re-projection of 3 rank-${RANK} adapters, per [${OUT}, ${D}] module`, () => {
  bench(
    'weighted_sum + reproject to rank 8, one module (target ≤ 5 ms)',
    () => {
      planMerge(oneModule, { reprojectRank: RANK })
    },
    { time: 3000, warmupIterations: 3 },
  )
  bench(
    'weighted_sum + reproject to rank 8, all 12 modules (divide by 12)',
    () => {
      planMerge(
        three.map((a, i) => ({ name: `a${i}`, modules: a.modules })),
        { reprojectRank: RANK },
      )
    },
    { time: 3000, warmupIterations: 1 },
  )
})
