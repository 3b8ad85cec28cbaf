import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bitLength, PythonRandom } from '../../src/index.js'

// Golden values printed by CPython 3.11.7 through scripts/golden/python_random.py.
interface SeedGolden {
  random: number[]
  randrange_1e6: number[]
  shuffle_50: number[]
  sample_100_10: number[]
  mixed: {
    choice: string[]
    randint: number[]
    randrange_step: number[]
    getrandbits: number[]
    gauss: number[]
    sample_big: number[]
    randbelow_big: number[]
  }
}
const golden = JSON.parse(readFileSync(new URL('../golden/python-random.json', import.meta.url), 'utf8')) as {
  python: string
  seeds: Record<string, SeedGolden>
}

const SEEDS: Array<[string, number | bigint]> = [
  ['0', 0],
  ['1', 1],
  ['42', 42],
  [String(2 ** 40), 2n ** 40n],
]

describe('PythonRandom reproduces CPython random.Random', () => {
  it('has golden values from CPython 3.11', () => {
    expect(golden.python.startsWith('3.11')).toBe(true)
  })

  for (const [key, seed] of SEEDS) {
    const g = golden.seeds[key]!
    describe(`seed ${key}`, () => {
      it('matches the first 1,000 values of random() exactly', () => {
        const r = new PythonRandom(seed)
        const got = Array.from({ length: 1000 }, () => r.random())
        expect(got).toEqual(g.random)
      })
      it('matches 1,000 draws of randrange(10**6)', () => {
        const r = new PythonRandom(seed)
        expect(Array.from({ length: 1000 }, () => r.randrange(1_000_000))).toEqual(g.randrange_1e6)
      })
      it('matches shuffle(range(50))', () => {
        const r = new PythonRandom(seed)
        expect(r.shuffle(Array.from({ length: 50 }, (_, i) => i))).toEqual(g.shuffle_50)
      })
      it('matches sample(range(100), 10)', () => {
        const r = new PythonRandom(seed)
        expect(
          r.sample(
            Array.from({ length: 100 }, (_, i) => i),
            10,
          ),
        ).toEqual(g.sample_100_10)
      })
      it('matches choice, randint, stepped randrange, getrandbits, gauss and set-based sample', () => {
        const r = new PythonRandom(seed)
        const m = g.mixed
        expect(Array.from({ length: 20 }, () => r.choice('abcdefghij'))).toEqual(m.choice)
        expect(Array.from({ length: 20 }, () => r.randint(-5, 5))).toEqual(m.randint)
        expect(Array.from({ length: 20 }, () => r.randrange(3, 1000, 7))).toEqual(m.randrange_step)
        expect([1, 7, 31, 32, 33, 48, 53].map((k) => r.getrandbits(k))).toEqual(m.getrandbits)
        const gauss = Array.from({ length: 21 }, () => r.gauss(0, 1))
        // cos/sin/log may differ from glibc in the last ulp; everything else is exact.
        for (const [i, v] of gauss.entries()) expect(v, `gauss[${i}]`).toBeCloseTo(m.gauss[i]!, 12)
        const pop = { length: 100000 } as ArrayLike<number>
        const big = r.sample(
          Array.from(pop, (_, i) => i),
          30,
        )
        expect(big).toEqual(m.sample_big)
        expect(Array.from({ length: 10 }, () => r.randrange(2 ** 52 + 12345))).toEqual(m.randbelow_big)
      })
    })
  }

  it('treats negative seeds like their absolute value, as Python does', () => {
    expect(new PythonRandom(-42).random()).toBe(new PythonRandom(42).random())
  })

  it('rejects invalid arguments with a PloraError code', () => {
    const r = new PythonRandom(1)
    expect(() => r.randrange(0)).toThrow(expect.objectContaining({ code: 'COMMON_RNG_ARGUMENT_INVALID' }))
    expect(() => r.sample([1, 2], 3)).toThrow(expect.objectContaining({ code: 'COMMON_RNG_ARGUMENT_INVALID' }))
    expect(() => r.choice([])).toThrow(expect.objectContaining({ code: 'COMMON_RNG_ARGUMENT_INVALID' }))
    expect(() => new PythonRandom(0.5)).toThrow(expect.objectContaining({ code: 'COMMON_RNG_ARGUMENT_INVALID' }))
  })

  it('computes bit lengths like int.bit_length()', () => {
    expect([0, 1, 2, 3, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53].map(bitLength)).toEqual([
      0, 1, 2, 2, 8, 9, 32, 32, 33, 54,
    ])
  })
})
