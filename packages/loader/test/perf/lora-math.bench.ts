// Breakdown of benchmark (c): the parts of one module's merge + re-projection (3 × rank 8, 2304×768).
import { createRng } from '@plora/common'
import { deltaFrobeniusSquared, factoredDeltaOf, factoredSvd, reprojectDeltaWithError, stackDeltas } from '@plora/peft'
import { bench, describe } from 'vitest'

const rng = createRng(0)
const g = (n: number) => Float32Array.from({ length: n }, () => rng.gauss(0, 0.02))
const mods = [0, 1, 2].map(() => ({
  path: 'm',
  rank: 8,
  inFeatures: 768,
  outFeatures: 2304,
  a: g(8 * 768),
  b: g(2304 * 8),
  scale: 2,
}))
const stacked = stackDeltas(mods.map((m) => factoredDeltaOf(m)))
describe('parts', () => {
  bench('factoredDeltaOf x3 + stack', () => {
    stackDeltas(mods.map((m) => factoredDeltaOf(m)))
  })
  bench('frobenius', () => {
    deltaFrobeniusSquared(stacked)
  })
  bench('factoredSvd (all 24 triplets lifted)', () => {
    factoredSvd(stacked)
  })
  bench('reprojectDeltaWithError to rank 8 (8 triplets lifted)', () => {
    reprojectDeltaWithError(stacked, 8)
  })
})
