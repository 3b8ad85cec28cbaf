/**
 * Seeded randomness for all of plora (STYLE.md §5): library code takes an {@link Rng} (or a
 * seed) and draws from nothing else, so one seed reproduces a whole run.
 */
import { createHash } from 'node:crypto'
import { PythonRandom, type PythonSeed } from './python-random.js'

/** The random source every stochastic plora function accepts. */
export interface Rng {
  /** A float in [0, 1). */
  random(): number
  /** An integer in [0, n). */
  randbelow(n: number): number
  /** A standard normal deviate scaled to N(mu, sigma²). */
  gauss(mu?: number, sigma?: number): number
  /** Shuffles in place and returns the array. */
  shuffle<T>(x: T[]): T[]
  /** k distinct elements drawn without replacement. */
  sample<T>(population: ArrayLike<T>, k: number): T[]
  /** One element drawn uniformly. */
  choice<T>(seq: ArrayLike<T>): T
}

/** A new, independent {@link Rng} for `seed`; it is CPython's `random.Random(seed)` exactly. */
export function createRng(seed: PythonSeed): PythonRandom {
  return new PythonRandom(seed)
}

/**
 * A child seed in [0, 2**53) derived from a parent seed and labels by SHA-256, so that
 * independent streams (per agent, per domain, per worker) never share a sequence and do not
 * depend on the order in which they are created.
 */
export function deriveSeed(seed: PythonSeed, ...labels: Array<string | number>): number {
  const h = createHash('sha256').update(`plora-seed|${String(seed)}`)
  for (const label of labels) h.update(`|${String(label)}`)
  const d = h.digest()
  // 21 bits from the first word, 32 from the second: 53 bits, exactly representable.
  return (d.readUInt32BE(0) >>> 11) * 4294967296 + d.readUInt32BE(4)
}
