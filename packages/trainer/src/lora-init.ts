/**
 * Trainable LoRA factors with PEFT's default initialisation (`init_lora_weights=True`, PEFT 0.12
 * `LoraLayer.reset_lora_parameters`): `A ~ kaiming_uniform_(a=√5)` and `B = 0`.
 *
 * `kaiming_uniform_` with `a = √5` on a `[r, in]` weight has fan_in = in, gain = √(2/(1+a²)) = √(1/3)
 * and bound = gain·√(3/fan_in) = 1/√in, so `A[i,j] ~ U(−1/√in, 1/√in)`. B = 0 makes the adapter
 * start as an exact no-op. Every draw comes from a CPython-compatible RNG seeded per module with
 * `deriveSeed(seed, 'lora-init', path)`, so the same seed gives the same A in any module order
 * (the original never seeded its tensor library, `[D-10]` item 10).
 */
import { createRng, deriveSeed } from '@plora/common'
import type { LoraBranches } from '@plora/model'
import type { LoraModule } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'

/** Shape of one adaptable module (a subset of the model's `LinearModule`). */
export interface LoraTarget {
  path: string
  inFeatures: number
  outFeatures: number
}

/** One module's trainable factors. */
export interface TrainableLoraModule {
  path: string
  rank: number
  inFeatures: number
  outFeatures: number
  /** `[r, in]` */
  a: tf.Variable<tf.Rank.R2>
  /** `[out, r]` */
  b: tf.Variable<tf.Rank.R2>
  scale: number
}

/** The PEFT Kaiming-uniform A of one module, `[rank, inFeatures]` row-major, from the seed. */
export function kaimingUniformA(seed: number, path: string, rank: number, inFeatures: number): Float32Array {
  const rng = createRng(deriveSeed(seed, 'lora-init', path))
  const bound = 1 / Math.sqrt(inFeatures)
  const a = new Float32Array(rank * inFeatures)
  for (let i = 0; i < a.length; i++) a[i] = (2 * rng.random() - 1) * bound
  return a
}

/** A set of trainable LoRA modules (the adapter being trained). */
export class TrainableLora {
  readonly modules: TrainableLoraModule[]

  /**
   * @param targets modules to adapt (sorted by path by the caller for a stable file order)
   * @param rank LoRA r
   * @param scale `lora_alpha / r`
   * @param seed initialisation seed
   */
  constructor(targets: readonly LoraTarget[], rank: number, scale: number, seed: number) {
    this.modules = targets.map((t) => ({
      path: t.path,
      rank,
      inFeatures: t.inFeatures,
      outFeatures: t.outFeatures,
      // tidy frees the initial value; variables survive it.
      a: tf.tidy(() =>
        tf.variable(tf.tensor2d(kaimingUniformA(seed, t.path, rank, t.inFeatures), [rank, t.inFeatures]), true),
      ),
      b: tf.tidy(() => tf.variable(tf.zeros([t.outFeatures, rank]), true)),
      scale,
    }))
  }

  /** Every variable, A then B per module, in module order (the optimiser's order). */
  variables(): tf.Variable[] {
    return this.modules.flatMap((m) => [m.a, m.b])
  }

  /** Side branches for `CausalLM.forward`; `dropout` applies only while training. */
  branches(dropout = 0): LoraBranches {
    return new Map(
      this.modules.map((m) => [m.path, { a: m.a, b: m.b, scale: m.scale, ...(dropout > 0 ? { dropout } : {}) }]),
    )
  }

  /** Snapshot as `@plora/peft` modules (float32 copies), ready for `writePeftAdapter`. */
  async toLoraModules(): Promise<Map<string, LoraModule>> {
    const out = new Map<string, LoraModule>()
    for (const m of this.modules) {
      out.set(m.path, {
        path: m.path,
        rank: m.rank,
        inFeatures: m.inFeatures,
        outFeatures: m.outFeatures,
        a: new Float32Array(await m.a.data()),
        b: new Float32Array(await m.b.data()),
        scale: m.scale,
      })
    }
    return out
  }

  /** Frees the variables. */
  dispose(): void {
    for (const m of this.modules) {
      m.a.dispose()
      m.b.dispose()
    }
  }
}
