/**
 * Placebo A: a seeded random adapter matched to a reference adapter (spec core.md §11.5,
 * pipelines.md §9.3 step 7, fixing pipelines §20 item 17).
 *
 * The original drew every LoRA entry from `N(0,1)·1e-4`, so its ΔW was ~1e-8 of a trained one and
 * "trained beats placebo" proved nothing. Here the placebo has the reference's config (rank, alpha,
 * targets, `fan_in_fan_out`, rsLoRA) and shapes, with `A`, `B` drawn `N(0,1)` from a seeded RNG and
 * then rescaled per module so that `‖s·B'A'‖_F = ‖s·BA‖_F` of the reference: same per-module update
 * magnitude, random direction. Both factors get the same factor `√ρ` (`ρ` = norm ratio), keeping
 * them balanced. A reference module with `ΔW = 0` gives a placebo module with `B' = 0`.
 */
import { createRng, type PythonRandom } from '@plora/common'
import { PeftError, PeftErrorCode } from './errors.js'
import type { LoraAdapter } from './folder.js'
import { deltaFrobeniusSquared, factoredDeltaOf, type LoraModule } from './lora-math.js'

/** Options of {@link createPlaceboAdapter}. */
export interface PlaceboOptions {
  /** Seed of the random factors. */
  seed: number
}

function gaussian(rng: PythonRandom, n: number): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = rng.gauss(0, 1)
  return out
}

/**
 * A random adapter with the reference's config and shapes and, per module, the same Frobenius
 * norm of ΔW.
 *
 * @throws PeftError `PEFT_PLACEBO_OPTIONS_INVALID` for a non-integer seed or an empty reference.
 * @example
 * ```ts
 * const placebo = createPlaceboAdapter(await loadPeftAdapter('out/legal'), { seed: 42 })
 * await writePeftAdapter('out/legal_placebo_random', placebo)
 * ```
 */
export function createPlaceboAdapter(reference: LoraAdapter, options: PlaceboOptions): LoraAdapter {
  if (!Number.isSafeInteger(options.seed)) {
    throw new PeftError(PeftErrorCode.PlaceboOptionsInvalid, `placebo seed must be an integer, got ${options.seed}`, {
      seed: options.seed,
    })
  }
  if (reference.modules.size === 0) {
    throw new PeftError(
      PeftErrorCode.PlaceboOptionsInvalid,
      `reference adapter ${reference.dir ?? ''} has no modules`,
      {},
    )
  }
  const rng = createRng(options.seed)
  const modules = new Map<string, LoraModule>()
  // Path order: the same seed gives the same placebo whatever order the reference was read in.
  for (const path of [...reference.modules.keys()].sort()) {
    const ref = reference.modules.get(path)!
    const a = gaussian(rng, ref.a.length)
    const b = gaussian(rng, ref.b.length)
    const target = deltaFrobeniusSquared(factoredDeltaOf(ref))
    const placebo: LoraModule = { ...ref, a, b }
    const current = deltaFrobeniusSquared(factoredDeltaOf(placebo))
    if (target === 0 || current === 0) {
      b.fill(0)
    } else {
      const root = Math.sqrt(Math.sqrt(target / current))
      for (let i = 0; i < a.length; i++) a[i]! *= root
      for (let i = 0; i < b.length; i++) b[i]! *= root
    }
    modules.set(path, placebo)
  }
  return { dir: null, config: { ...reference.config }, modules }
}
