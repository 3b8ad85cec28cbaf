/**
 * A bit-exact re-implementation of CPython's `random.Random` (Python 3.11) for integer seeds.
 *
 * The swarm's graph generators must reproduce the original's networkx graphs edge for edge
 * (spec swarm.md §3.6, §17.1), so every method here follows CPython's `Modules/_randommodule.c`
 * and `Lib/random.py` step by step: the MT19937 generator (Matsumoto & Nishimura 1998) seeded by
 * `init_by_array` over the 32-bit words of `abs(seed)`, `random()` from two draws (a>>5, b>>6),
 * `getrandbits(k)` assembled little-endian from 32-bit words, rejection-sampled `_randbelow`, and
 * the 3.11 algorithms of `shuffle`, `sample`, `choice` and `gauss`.
 *
 * Golden values for seeds 0, 1, 42 and 2**40 are committed in `test/golden/python-random.json`
 * (produced by `scripts/golden/python_random.py` under CPython 3.11).
 */
import { CommonError, CommonErrorCode } from './errors.js'

const N = 624
const M = 397
const MATRIX_A = 0x9908b0df
const UPPER_MASK = 0x80000000
const LOWER_MASK = 0x7fffffff
const TWO_PI = 2 * Math.PI

/** Seeds accepted by {@link PythonRandom}: any integer, as in `random.Random(n)`. */
export type PythonSeed = number | bigint

function invalid(what: string, found: unknown): never {
  throw new CommonError(CommonErrorCode.RngArgumentInvalid, `random: ${what} (found ${String(found)})`, {
    found: String(found),
  })
}

/** The 32-bit little-endian words of |seed|, as CPython's `random_seed` builds the init key. */
function seedKey(seed: PythonSeed): number[] {
  let n: bigint
  if (typeof seed === 'bigint') {
    n = seed
  } else {
    if (!Number.isSafeInteger(seed)) {
      invalid('seed must be a safe integer or a bigint', seed)
    }
    n = BigInt(seed)
  }
  if (n < 0n) n = -n
  if (n === 0n) return [0]
  const key: number[] = []
  while (n > 0n) {
    key.push(Number(n & 0xffffffffn))
    n >>= 32n
  }
  return key
}

/**
 * CPython's `random.Random`, seeded with an integer.
 *
 * @example
 * const r = new PythonRandom(42)
 * r.random() // 0.6394267984578837, as Python prints it
 */
export class PythonRandom {
  readonly #mt = new Uint32Array(N)
  #mti = N + 1
  #gaussNext: number | null = null

  constructor(seed: PythonSeed = 0) {
    this.seed(seed)
  }

  /** Re-seeds in place, like `random.seed(n)`. */
  seed(seed: PythonSeed): void {
    this.#initByArray(seedKey(seed))
    this.#gaussNext = null
  }

  #initGenrand(s: number): void {
    const mt = this.#mt
    mt[0] = s >>> 0
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]!
      mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0
    }
    this.#mti = N
  }

  #initByArray(key: readonly number[]): void {
    const mt = this.#mt
    this.#initGenrand(19650218)
    let i = 1
    let j = 0
    const keyLength = key.length
    for (let k = Math.max(N, keyLength); k > 0; k--) {
      const prev = mt[i - 1]!
      // Sums stay below 2**35, exact in a double; >>> 0 reduces mod 2**32 like C's uint32 arithmetic.
      mt[i] = ((mt[i]! ^ Math.imul(prev ^ (prev >>> 30), 1664525)) + key[j]! + j) >>> 0
      i++
      j++
      if (i >= N) {
        mt[0] = mt[N - 1]!
        i = 1
      }
      if (j >= keyLength) j = 0
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]!
      mt[i] = ((mt[i]! ^ Math.imul(prev ^ (prev >>> 30), 1566083941)) - i) >>> 0
      i++
      if (i >= N) {
        mt[0] = mt[N - 1]!
        i = 1
      }
    }
    mt[0] = 0x80000000
  }

  /** The next raw 32-bit output of MT19937 (`genrand_uint32`). */
  nextUint32(): number {
    const mt = this.#mt
    if (this.#mti >= N) {
      let kk = 0
      for (; kk < N - M; kk++) {
        const y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK)
        mt[kk] = mt[kk + M]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
      }
      for (; kk < N - 1; kk++) {
        const y = (mt[kk]! & UPPER_MASK) | (mt[kk + 1]! & LOWER_MASK)
        mt[kk] = mt[kk + (M - N)]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
      }
      const y = (mt[N - 1]! & UPPER_MASK) | (mt[0]! & LOWER_MASK)
      mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
      this.#mti = 0
    }
    let y = mt[this.#mti++]!
    y ^= y >>> 11
    y ^= (y << 7) & 0x9d2c5680
    y ^= (y << 15) & 0xefc60000
    y ^= y >>> 18
    return y >>> 0
  }

  /** A float in [0, 1) with 53 random bits: `random.random()`. */
  random(): number {
    const a = this.nextUint32() >>> 5
    const b = this.nextUint32() >>> 6
    return (a * 67108864 + b) / 9007199254740992
  }

  /** `random.uniform(a, b)`. */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.random()
  }

  /**
   * `random.getrandbits(k)` for 0 ≤ k ≤ 53, as a number. Words are drawn low word first and the
   * last (partial) word keeps its high bits, as CPython does.
   */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k > 53) invalid('getrandbits(k) needs an integer 0 <= k <= 53', k)
    if (k === 0) return 0
    if (k <= 32) return this.nextUint32() >>> (32 - k)
    const low = this.nextUint32()
    const high = this.nextUint32() >>> (64 - k)
    return high * 4294967296 + low
  }

  /** `random.getrandbits(k)` for any k ≥ 0, as a bigint. */
  getrandbitsBig(k: number): bigint {
    if (!Number.isInteger(k) || k < 0) invalid('getrandbits(k) needs an integer k >= 0', k)
    let result = 0n
    let shift = 0n
    for (let left = k; left > 0; left -= 32) {
      let r = this.nextUint32()
      if (left < 32) r >>>= 32 - left
      result |= BigInt(r) << shift
      shift += 32n
    }
    return result
  }

  /** `Random._randbelow(n)` for 1 ≤ n ≤ 2**53: rejection sampling on `n.bit_length()` bits. */
  randbelow(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 53) invalid('randbelow(n) needs an integer 1 <= n <= 2**53', n)
    const k = bitLength(n)
    let r = this.getrandbits(k)
    while (r >= n) r = this.getrandbits(k)
    return r
  }

  /** `random.randrange(stop)` or `random.randrange(start, stop[, step])`, as in Python 3.11. */
  randrange(start: number, stop?: number, step = 1): number {
    if (!Number.isInteger(start)) invalid('randrange() needs integer arguments', start)
    if (stop === undefined) {
      if (start > 0) return this.randbelow(start)
      invalid('empty range for randrange()', start)
    }
    if (!Number.isInteger(stop) || !Number.isInteger(step)) invalid('randrange() needs integer arguments', stop)
    const width = stop - start
    if (step === 1) {
      if (width > 0) return start + this.randbelow(width)
      invalid(`empty range for randrange(${start}, ${stop})`, width)
    }
    let n: number
    if (step > 0) n = Math.floor((width + step - 1) / step)
    else if (step < 0) n = Math.floor((width + step + 1) / step)
    else invalid('zero step for randrange()', step)
    if (n <= 0) invalid(`empty range for randrange(${start}, ${stop}, ${step})`, n)
    return start + step * this.randbelow(n)
  }

  /** `random.randint(a, b)`: an integer in [a, b]. */
  randint(a: number, b: number): number {
    return this.randrange(a, b + 1)
  }

  /** `random.choice(seq)`. */
  choice<T>(seq: ArrayLike<T>): T {
    if (seq.length === 0) invalid('cannot choose from an empty sequence', 0)
    return seq[this.randbelow(seq.length)]!
  }

  /** `random.shuffle(x)` in place (Fisher–Yates from the end, Python 3.11). */
  shuffle<T>(x: T[]): T[] {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1)
      const t = x[i]!
      x[i] = x[j]!
      x[j] = t
    }
    return x
  }

  /**
   * `random.sample(population, k)` (Python 3.11): a pool-based draw when the population is small
   * relative to a k-element set, else set-based rejection — the switch point matters for exactness.
   */
  sample<T>(population: ArrayLike<T>, k: number): T[] {
    const n = population.length
    if (!Number.isInteger(k) || k < 0 || k > n)
      invalid(`sample larger than population or is negative (k=${k}, n=${n})`, k)
    const result: T[] = new Array<T>(k)
    let setsize = 21
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4))
    if (n <= setsize) {
      const pool = Array.from(population)
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i)
        result[i] = pool[j]!
        pool[j] = pool[n - i - 1]!
      }
    } else {
      const selected = new Set<number>()
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n)
        while (selected.has(j)) j = this.randbelow(n)
        selected.add(j)
        result[i] = population[j]!
      }
    }
    return result
  }

  /** `random.gauss(mu, sigma)`: Box–Muller with the cached second value, as in Python 3.11. */
  gauss(mu = 0, sigma = 1): number {
    let z = this.#gaussNext
    this.#gaussNext = null
    if (z === null) {
      const x2pi = this.random() * TWO_PI
      const g2rad = Math.sqrt(-2.0 * Math.log(1.0 - this.random()))
      z = Math.cos(x2pi) * g2rad
      this.#gaussNext = Math.sin(x2pi) * g2rad
    }
    return mu + z * sigma
  }

  /** `random.expovariate(lambd)`. */
  expovariate(lambd: number): number {
    return -Math.log(1.0 - this.random()) / lambd
  }
}

/** Python's `int.bit_length()` for a non-negative safe integer. */
export function bitLength(n: number): number {
  if (n === 0) return 0
  const high = Math.floor(n / 4294967296)
  if (high === 0) return 32 - Math.clz32(n)
  return 64 - Math.clz32(high)
}
