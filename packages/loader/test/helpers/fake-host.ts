/**
 * Test fixtures built in memory: a host with GPT-2-shaped (Conv1D) or LLaMA-shaped (Linear)
 * module paths whose weights are real TensorFlow.js variables, and seeded LoRA modules with
 * non-zero `B` (a PEFT-initialised `B = 0` would make every merge test vacuous `[D-12]`).
 */
import { createRng, type Rng } from '@plora/common'
import type { LinearModuleInfo, LoraModule } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'
import type { LoraHost } from '../../src/inject.js'

export interface FakeHost extends LoraHost {
  modules: LinearModuleInfo[]
  dispose(): void
}

function gaussArray(rng: Rng, n: number, sigma = 1): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = rng.gauss(0, sigma)
  return out
}

/** GPT-2 layout: `transformer.h.<i>.{attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj}` (Conv1D) plus embeddings. */
export function createGpt2Host(options: { layers?: number; d?: number; seed?: number } = {}): FakeHost {
  const layers = options.layers ?? 2
  const d = options.d ?? 8
  const rng = createRng(options.seed ?? 1)
  const modules: LinearModuleInfo[] = []
  for (let l = 0; l < layers; l++) {
    modules.push({ path: `transformer.h.${l}.attn.c_attn`, inFeatures: d, outFeatures: 3 * d, conv1d: true })
    modules.push({ path: `transformer.h.${l}.attn.c_proj`, inFeatures: d, outFeatures: d, conv1d: true })
    modules.push({ path: `transformer.h.${l}.mlp.c_fc`, inFeatures: d, outFeatures: 4 * d, conv1d: true })
    modules.push({ path: `transformer.h.${l}.mlp.c_proj`, inFeatures: 4 * d, outFeatures: d, conv1d: true })
  }
  const params = new Map<string, tf.Variable>()
  params.set('transformer.wte.weight', tf.variable(tf.tensor2d(gaussArray(rng, 16 * d), [16, d])))
  for (const m of modules) {
    params.set(
      `${m.path}.weight`,
      tf.variable(tf.tensor2d(gaussArray(rng, m.inFeatures * m.outFeatures, 0.2), [m.inFeatures, m.outFeatures])),
    )
    params.set(`${m.path}.bias`, tf.variable(tf.tensor1d(gaussArray(rng, m.outFeatures, 0.1))))
  }
  return hostOf(modules, params)
}

/** LLaMA layout: `model.layers.<i>.self_attn.{q,k,v,o}_proj`, `mlp.{gate,up,down}_proj` (Linear, [out, in]). */
export function createLlamaHost(options: { layers?: number; d?: number; seed?: number } = {}): FakeHost {
  const layers = options.layers ?? 1
  const d = options.d ?? 8
  const rng = createRng(options.seed ?? 2)
  const modules: LinearModuleInfo[] = []
  for (let l = 0; l < layers; l++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
      modules.push({
        path: `model.layers.${l}.self_attn.${p}`,
        inFeatures: d,
        outFeatures: p === 'k_proj' || p === 'v_proj' ? d / 2 : d,
        conv1d: false,
      })
    }
    modules.push({ path: `model.layers.${l}.mlp.gate_proj`, inFeatures: d, outFeatures: 2 * d, conv1d: false })
    modules.push({ path: `model.layers.${l}.mlp.up_proj`, inFeatures: d, outFeatures: 2 * d, conv1d: false })
    modules.push({ path: `model.layers.${l}.mlp.down_proj`, inFeatures: 2 * d, outFeatures: d, conv1d: false })
  }
  modules.push({ path: 'lm_head', inFeatures: d, outFeatures: 16, conv1d: false })
  const params = new Map<string, tf.Variable>()
  for (const m of modules) {
    params.set(
      `${m.path}.weight`,
      tf.variable(tf.tensor2d(gaussArray(rng, m.inFeatures * m.outFeatures, 0.2), [m.outFeatures, m.inFeatures])),
    )
  }
  return hostOf(modules, params)
}

function hostOf(modules: LinearModuleInfo[], params: Map<string, tf.Variable>): FakeHost {
  return {
    modules,
    params,
    linearModules: () => modules.map((m) => ({ ...m })),
    dispose: () => {
      for (const v of params.values()) v.dispose()
    },
  }
}

/** A seeded LoRA module with non-zero A and B. */
export function randomLoraModule(info: LinearModuleInfo, rank: number, rng: Rng, scale = 2): LoraModule {
  return {
    path: info.path,
    rank,
    inFeatures: info.inFeatures,
    outFeatures: info.outFeatures,
    a: gaussArray(rng, rank * info.inFeatures, 0.3),
    b: gaussArray(rng, info.outFeatures * rank, 0.3),
    scale,
  }
}

/** A seeded adapter (modules map) on the given module infos. */
export function randomAdapterModules(
  infos: readonly LinearModuleInfo[],
  rank: number,
  seed: number,
  scale = 2,
): Map<string, LoraModule> {
  const rng = createRng(seed)
  return new Map(infos.map((m) => [m.path, randomLoraModule(m, rank, rng, scale)]))
}

/** Float32 snapshot of every param, by name. */
export function snapshotParams(host: LoraHost): Map<string, Float32Array> {
  return new Map([...host.params].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]))
}

/** True when two float32 arrays are bit-identical (NaN-safe, ±0-distinguishing). */
export function bitEqual(x: Float32Array, y: Float32Array): boolean {
  if (x.length !== y.length) return false
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length)
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length)
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Max |x − y|. */
export function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!))
  return m
}
