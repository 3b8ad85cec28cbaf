/**
 * Fast seeded Fisher–Yates shuffles for permutation tests: each index is drawn from one raw
 * 32-bit MT19937 output with Lemire's multiply-and-reject method (Lemire 2019, "Fast random
 * integer generation in an interval", ACM TOMACS 29(1)), which is exactly uniform and needs
 * fewer draws than CPython's `_randbelow` (a permutation test makes millions of them).
 */
import { ItError, ItErrorCode } from './errors.js'

/** The raw 32-bit stream of a seeded generator (`PythonRandom` provides it). */
export interface Uint32Source {
  nextUint32(): number
}

const TWO32 = 4294967296
const INV_TWO32 = 1 / TWO32

/** A uniform integer in [0, n) for 1 ≤ n ≤ 2²¹ (so that x·n < 2⁵³ stays exact). */
export function randIndex(rng: Uint32Source, n: number): number {
  // high/low 32-bit halves of x·n without fmod: multiplying by 2⁻³² is exact
  let m = rng.nextUint32() * n
  let high = Math.floor(m * INV_TWO32)
  let low = m - high * TWO32
  if (low < n) {
    const threshold = (TWO32 - n) % n
    while (low < threshold) {
      m = rng.nextUint32() * n
      high = Math.floor(m * INV_TWO32)
      low = m - high * TWO32
    }
  }
  return high
}

/** Shuffles `a` in place (Fisher–Yates) with draws from `rng`. */
export function shuffleInPlace(a: Int32Array | Float64Array, rng: Uint32Source): void {
  if (a.length > 2 ** 21) {
    throw new ItError(ItErrorCode.ArgumentInvalid, `shuffleInPlace: ${a.length} elements exceed the supported 2^21`)
  }
  for (let i = a.length - 1; i > 0; i--) {
    const j = randIndex(rng, i + 1)
    const t = a[i] as number
    a[i] = a[j] as number
    a[j] = t
  }
}

/**
 * xoshiro128** (Blackman & Vigna 2018) seeded through SplitMix32 from a 53-bit seed: a small,
 * fast, well-tested generator for the permutation loops, where CPython's MT19937 stream is not
 * needed (nothing there has to match the original) but every draw must still come from the seed.
 */
export class Xoshiro128 implements Uint32Source {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: number) {
    // SplitMix32 over the low and high words of the seed fills the 128-bit state.
    let s = (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO32) >>> 0, 0x9e3779b9)
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = next()
    this.#b = next()
    this.#c = next()
    this.#d = next()
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0
    const t = this.#b << 9
    this.#c ^= this.#a
    this.#d ^= this.#b
    this.#b ^= this.#c
    this.#a ^= this.#d
    this.#c ^= t
    this.#d = rotl(this.#d, 11)
    return result
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
