import { readFileSync } from 'node:fs'
import { createRng } from '@plora/common'
import {
  buildPeftLoraConfig,
  denseDelta,
  factoredFromDense,
  type LoraModule,
  moduleScale,
  reprojectDeltaWithError,
  reprojectLargeDense,
} from '@plora/peft'
import { describe, expect, it } from 'vitest'
import { LoaderErrorCode } from '../../src/errors.js'
import {
  dareKeepMask,
  electSignDisjointMean,
  MERGE_METHODS,
  type MergeMethod,
  pruneByMagnitude,
} from '../../src/merge-methods.js'
import { type MergeInput, planMerge } from '../../src/merge-plan.js'

/** Shape of packages/loader/test/golden/merge-methods.json (scripts/golden/merge_methods.py). */
interface GoldenCase {
  name: string
  method: MergeMethod
  weights: number[] | null
  density: number | null
  drop_rate: number | null
  seed: number | null
  k: number | null
  adapters: Array<{
    r: number
    lora_alpha: number
    use_rslora: boolean
    scale: number
    modules: Record<string, { out: number; in: number; a: number[]; b: number[] }>
  }>
  expected: Record<
    string,
    {
      rank: number
      dense: number[]
      untruncated?: number[]
      norm?: number
      error?: number
      relative?: number
      masks?: Record<string, number[]>
    }
  >
  truncation_relative?: number
}

const golden = JSON.parse(readFileSync(new URL('../golden/merge-methods.json', import.meta.url), 'utf8')) as {
  cases: GoldenCase[]
}

function inputsOf(c: GoldenCase): MergeInput[] {
  return c.adapters.map((ad, i) => {
    const config = buildPeftLoraConfig({
      r: ad.r,
      loraAlpha: ad.lora_alpha,
      useRslora: ad.use_rslora,
      targetModules: Object.keys(ad.modules),
      fanInFanOut: false,
      baseModelNameOrPath: null,
    })
    const modules = new Map<string, LoraModule>()
    for (const [path, m] of Object.entries(ad.modules)) {
      const scale = moduleScale(config, path)
      // The scale is @plora/peft's (alpha/r, or alpha/√r with rsLoRA), checked against the script's.
      expect(scale).toBeCloseTo(ad.scale, 14)
      modules.set(path, {
        path,
        rank: ad.r,
        inFeatures: m.in,
        outFeatures: m.out,
        a: Float32Array.from(m.a),
        b: Float32Array.from(m.b),
        scale,
      })
    }
    return { name: `adapter ${i}`, modules }
  })
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let d = 0
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!))
  return d
}

function planOf(c: GoldenCase) {
  return planMerge(inputsOf(c), {
    method: c.method,
    weights: c.weights,
    ...(c.density !== null ? { density: c.density } : {}),
    ...(c.drop_rate !== null ? { dropRate: c.drop_rate } : {}),
    ...(c.seed !== null ? { seed: c.seed } : {}),
    reprojectRank: c.method === 'cat' ? null : c.k,
  })
}

describe('merge methods against NumPy goldens (scripts/golden/merge_methods.py)', () => {
  it('covers every method', () => {
    expect(new Set(golden.cases.map((c) => c.method))).toEqual(new Set(MERGE_METHODS))
  })

  for (const c of golden.cases) {
    it(`${c.name}: merged ΔW, rank and truncation error match to 1e-6`, () => {
      const plan = planOf(c)
      expect(plan.method).toBe(c.method)
      expect([...plan.deltas.keys()].sort()).toEqual(Object.keys(c.expected).sort())
      for (const [path, want] of Object.entries(c.expected)) {
        const got = plan.deltas.get(path)!
        expect(got.rank, path).toBe(want.rank)
        expect(maxAbsDiff(denseDelta(got), want.dense), `${c.name} ${path}`).toBeLessThan(1e-6)
      }
      if (c.method === 'cat') {
        expect(plan.truncation).toBeNull()
        expect(plan.reprojectRank).toBeNull()
        return
      }
      const t = plan.truncation!
      expect(t.rank).toBe(c.k)
      expect(Math.abs(t.relative - c.truncation_relative!)).toBeLessThan(1e-6)
      for (const m of t.modules) {
        const want = c.expected[m.path]!
        expect(Math.abs(m.norm - want.norm!), m.path).toBeLessThan(1e-6)
        expect(Math.abs(m.error - want.error!), m.path).toBeLessThan(1e-6)
        expect(Math.abs(m.relative - want.relative!), m.path).toBeLessThan(1e-6)
      }
    })
  }

  it('DARE keep masks are the ones the script drew (deriveSeed + PythonRandom streams)', () => {
    let checked = 0
    for (const c of golden.cases) {
      for (const [path, want] of Object.entries(c.expected)) {
        for (const [index, mask] of Object.entries(want.masks ?? {})) {
          expect([...dareKeepMask(c.seed!, path, Number(index), mask.length, c.drop_rate!)]).toEqual(mask)
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4)
  })

  it('DARE masks depend on the seed, module and adapter, and drop about p of the entries', () => {
    const base = dareKeepMask(5, 'm.q', 0, 4000, 0.3)
    expect([...dareKeepMask(5, 'm.q', 0, 4000, 0.3)]).toEqual([...base])
    for (const other of [
      dareKeepMask(6, 'm.q', 0, 4000, 0.3),
      dareKeepMask(5, 'm.v', 0, 4000, 0.3),
      dareKeepMask(5, 'm.q', 1, 4000, 0.3),
    ]) {
      expect([...other]).not.toEqual([...base])
    }
    const dropped = base.reduce((acc, x) => acc + (1 - x), 0) / base.length
    expect(Math.abs(dropped - 0.3)).toBeLessThan(0.03)
  })

  it('cat is exact in factor space: rank Σ r_i, and negating a weight negates its term', () => {
    const c = golden.cases.find((x) => x.method === 'cat')!
    const inputs = inputsOf(c)
    const w = c.weights!
    const plus = planMerge(inputs, { method: 'cat', weights: w })
    const minus = planMerge(inputs, { method: 'cat', weights: w.map((x, i) => (i === 1 ? -x : x)) })
    const only = planMerge([inputs[1]!], { method: 'cat', weights: [w[1]!] })
    for (const path of plus.deltas.keys()) {
      const p = denseDelta(plus.deltas.get(path)!)
      const m = denseDelta(minus.deltas.get(path)!)
      const o = denseDelta(only.deltas.get(path)!)
      // plus − minus = 2·w_1·τ_1
      expect(
        maxAbsDiff(
          p.map((x, i) => x - m[i]!),
          o.map((x) => 2 * x),
        ),
      ).toBeLessThan(1e-12)
    }
  })

  it('svd with k ≥ Σ r_i reports zero truncation error', () => {
    const c = golden.cases.find((x) => x.name === 'svd-k6-exact')!
    const t = planOf(c).truncation!
    expect(t.relative).toBeLessThan(1e-12)
  })
})

describe('merge-method building blocks', () => {
  it('pruneByMagnitude keeps ⌊density·n⌋ largest |x|, lower index on ties', () => {
    const x = Float64Array.from([1, -3, 2, -2, 0.5])
    expect([...pruneByMagnitude(x, 0.6)]).toEqual([0, -3, 2, -2, 0])
    expect([...pruneByMagnitude(x, 0.4)]).toEqual([0, -3, 2, 0, 0])
    expect([...pruneByMagnitude(x, 0.1)]).toEqual([0, 0, 0, 0, 0])
  })

  it('electSignDisjointMean averages only the entries agreeing with the elected sign', () => {
    const got = electSignDisjointMean([Float64Array.from([1, -4, 0, 0]), Float64Array.from([3, 1, 0, -2])])
    // entry 0: both +, mean 2; entry 1: total −3 → −, only −4; entry 2: none; entry 3: −2 alone.
    expect([...got]).toEqual([2, -4, 0, -2])
  })

  it('a negative weight votes with the negated sign in TIES', () => {
    const c = golden.cases.find((x) => x.method === 'ties')!
    const inputs = inputsOf(c).slice(0, 2)
    const a = planMerge(inputs, { method: 'ties', weights: [1, -1], density: 1, reprojectRank: 7 })
    const b = planMerge([inputs[0]!], { method: 'ties', weights: [1], density: 1, reprojectRank: 7 })
    const negated = planMerge([inputs[1]!], { method: 'ties', weights: [-1], density: 1, reprojectRank: 7 })
    for (const path of ['m.q']) {
      const got = denseDelta(a.deltas.get(path)!)
      const t0 = denseDelta(b.deltas.get(path)!)
      const t1 = denseDelta(negated.deltas.get(path)!)
      const want = t0.map((x, i) => {
        const y = t1[i]!
        const s = x + y >= 0 ? 1 : -1
        const kept = [x, y].filter((v) => Math.sign(v) === s)
        return kept.reduce((acc, v) => acc + v, 0) / Math.max(1, kept.length)
      })
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-9)
    }
  })

  it('rejects bad method options with LOADER_MERGE_OPTIONS_INVALID', () => {
    const inputs = inputsOf(golden.cases[0]!)
    const bad: Array<Record<string, unknown>> = [
      { method: 'nope' },
      { method: 'cat', reprojectRank: 2 },
      { method: 'ties', density: 0 },
      { method: 'ties', density: 1.5 },
      { method: 'dare_linear', dropRate: 1 },
      { method: 'dare_ties', dropRate: -0.1 },
      { method: 'dare_linear', seed: -1 },
      { method: 'ties', strategy: 'sequential' },
    ]
    for (const o of bad) {
      expect(() => planMerge(inputs, o), JSON.stringify(o)).toThrow(
        expect.objectContaining({ code: LoaderErrorCode.MergeOptionsInvalid }),
      )
    }
  })

  it('defaults keep the old behaviour: no method = cat, or svd with a re-projection rank', () => {
    const inputs = inputsOf(golden.cases[0]!)
    expect(planMerge(inputs).method).toBe('cat')
    const p = planMerge(inputs, { reprojectRank: 2 })
    expect(p.method).toBe('svd')
    expect(p.truncation?.rank).toBe(2)
  })

  it('the Gram-eigenvector re-projection of large dense deltas agrees with the exact SVD path', () => {
    const rng = createRng(9)
    for (const [m, n, k] of [
      [40, 30, 4],
      [25, 45, 6],
    ] as const) {
      const x = Float64Array.from({ length: m * n }, () => rng.gauss(0, 1))
      const delta = factoredFromDense('x', x, m, n)
      const exact = reprojectDeltaWithError(delta, k)
      const gram = reprojectLargeDense(delta, k)
      expect(maxAbsDiff(denseDelta(gram.delta), denseDelta(exact.delta))).toBeLessThan(1e-8)
      expect(Math.abs(gram.norm - exact.norm)).toBeLessThan(1e-9)
      expect(Math.abs(gram.error - exact.error)).toBeLessThan(1e-7)
    }
  })
})
