import { deltaFrobeniusSquared, denseDelta, factoredDeltaOf } from '@plora/peft'
import { describe, expect, it } from 'vitest'
import { adapterFroSum, type MergeInput, planMerge, resolveMergeWeights } from '../../src/merge-plan.js'
import { createGpt2Host, maxAbsDiff, randomAdapterModules } from '../helpers/fake-host.js'

const host = createGpt2Host({ layers: 2, d: 6 })
const infos = host.modules
host.dispose()

function adapter(name: string, seed: number, count = infos.length, rank = 2, fisher?: number | null): MergeInput {
  return { name, modules: randomAdapterModules(infos.slice(0, count), rank, seed, 1.25), fisherScalar: fisher ?? null }
}

function denseOf(input: MergeInput, path: string): Float64Array {
  const m = input.modules.get(path)
  return m === undefined
    ? new Float64Array(infos.find((x) => x.path === path)!.outFeatures * infos.find((x) => x.path === path)!.inFeatures)
    : denseDelta(factoredDeltaOf(m))
}

function totalNorm(plan: ReturnType<typeof planMerge>): number {
  let s = 0
  for (const d of plan.deltas.values()) s += deltaFrobeniusSquared(d)
  return Math.sqrt(s)
}

describe('planMerge', () => {
  it('weighted sum equals Σ w_i ΔW_i (1e-6) for random weights, including modules only one adapter has', () => {
    for (let seed = 0; seed < 6; seed++) {
      const a = adapter('a', seed)
      const b = adapter('b', seed + 50, 5)
      const w = [Math.sin(seed + 1) * 2, Math.cos(seed + 1) * 3]
      const plan = planMerge([a, b], { weights: w })
      expect(plan.weightSource).toBe('explicit')
      for (const info of infos) {
        const got = denseDelta(plan.deltas.get(info.path)!)
        const da = denseOf(a, info.path)
        const db = denseOf(b, info.path)
        const want = da.map((x, i) => w[0]! * x + w[1]! * db[i]!)
        expect(maxAbsDiff(got, want), `seed ${seed} ${info.path}`).toBeLessThan(1e-6)
      }
    }
  })

  it('uses equal weights 1/n by default and weight [1, 0] reproduces adapter 1 alone', () => {
    const a = adapter('a', 1)
    const b = adapter('b', 2)
    expect(planMerge([a, b]).weights).toEqual([0.5, 0.5])
    const only = planMerge([a, b], { weights: [1, 0] })
    const seq = planMerge([a], { strategy: 'sequential' })
    for (const info of infos) {
      expect(maxAbsDiff(denseDelta(only.deltas.get(info.path)!), denseDelta(seq.deltas.get(info.path)!))).toBeLessThan(
        1e-12,
      )
    }
    const zero = planMerge([a, b], { weights: [0, 0] })
    expect(zero.normAfter).toBe(0)
  })

  it('derives Fisher weights f_i/Σf, falling back to Σ‖T‖_F, and to equal weights when a total is 0', () => {
    const w = resolveMergeWeights([adapter('a', 1, 8, 2, 1e9), adapter('b', 2, 8, 2, 1e9 / 3)], {
      weights: null,
      fisherWeighted: true,
    })
    expect(w.source).toBe('fisher')
    expect(w.weights[0]).toBeCloseTo(0.75, 12)
    const a = adapter('a', 1, 8, 2, 3)
    const b = adapter('b', 2, 8, 2, 0)
    const fb = resolveMergeWeights([a, b], { weights: null, fisherWeighted: true })
    expect(fb.source).toBe('fisher-fro-fallback')
    expect(fb.weights[1]).toBeCloseTo(adapterFroSum(b.modules) / (3 + adapterFroSum(b.modules)), 12)
    const empty: MergeInput = { name: 'empty', modules: new Map(), fisherScalar: 0 }
    expect(resolveMergeWeights([a, empty], { weights: null, fisherWeighted: true })).toEqual({
      weights: [0.5, 0.5],
      source: 'equal',
    })
  })

  it('applies the trust region, then the caps in order, then the global scale', () => {
    const a = adapter('a', 3)
    const b = adapter('b', 4)
    const free = planMerge([a, b])
    const limit = free.normBefore / 4
    const tr = planMerge([a, b], { maxDeltaFro: limit })
    expect(tr.trustRegionFactor).toBeCloseTo(0.25, 12)
    expect(totalNorm(tr)).toBeCloseTo(limit, 9)
    const loose = planMerge([a, b], { maxDeltaFro: free.normBefore * 2 })
    expect(loose.trustRegionFactor).toBe(1)

    const one = planMerge([a, b], { moduleCaps: [['c_attn', 1e-3]] })
    let attn = 0
    for (const [path, d] of one.deltas) if (path.endsWith('c_attn')) attn += deltaFrobeniusSquared(d)
    expect(Math.sqrt(attn)).toBeCloseTo(1e-3, 9)
    const caps = planMerge([a, b], {
      moduleCaps: [
        ['c_attn', 1e-3],
        ['h.0.', 0.5],
      ],
    })
    expect(caps.capFactors[0]!.factor).toBeLessThan(1)
    expect(caps.capFactors[1]!.groupNorm).toBeLessThan(free.normBefore)
    // The second group sees the first cap's scaling.
    let h0 = 0
    for (const [path, d] of caps.deltas) if (path.includes('h.0.')) h0 += deltaFrobeniusSquared(d)
    expect(Math.sqrt(h0)).toBeLessThanOrEqual(0.5 + 1e-9)

    const scaled = planMerge([a, b], { globalScale: -0.5 })
    expect(scaled.normAfter).toBeCloseTo(free.normBefore * 0.5, 9)
    const p = infos[0]!.path
    expect(
      maxAbsDiff(
        denseDelta(scaled.deltas.get(p)!),
        denseDelta(free.deltas.get(p)!).map((x) => -0.5 * x),
      ),
    ).toBeLessThan(1e-12)
  })

  it('sequential sums with weight 1 and ignores weights, trust region, caps and scale', () => {
    const a = adapter('a', 5)
    const b = adapter('b', 6)
    const seq = planMerge([a, b], {
      strategy: 'sequential',
      weights: [3, 3],
      maxDeltaFro: 1e-9,
      moduleCaps: [['c_', 0]],
      globalScale: 0,
    })
    for (const info of infos) {
      const want = denseOf(a, info.path).map((x, i) => x + denseOf(b, info.path)[i]!)
      expect(maxAbsDiff(denseDelta(seq.deltas.get(info.path)!), want)).toBeLessThan(1e-9)
    }
  })

  it('re-projects only modules that received a delta, to exactly rank k', () => {
    const a = adapter('a', 7, 3, 4)
    const b = adapter('b', 8, 3, 4)
    const plan = planMerge([a, b], { reprojectRank: 3 })
    expect([...plan.deltas.keys()]).toEqual(
      infos
        .slice(0, 3)
        .map((m) => m.path)
        .sort(),
    )
    for (const d of plan.deltas.values()) expect(d.rank).toBe(3)
  })

  it('rejects bad options with stable codes', () => {
    const a = adapter('a', 1)
    expect(() => planMerge([a], { strategy: 'average' as 'sequential' })).toThrow(
      expect.objectContaining({ code: 'LOADER_MERGE_OPTIONS_INVALID' }),
    )
    expect(() => planMerge([a], { weights: [1, 2] })).toThrow(
      expect.objectContaining({ code: 'LOADER_MERGE_OPTIONS_INVALID' }),
    )
    expect(() => planMerge([a], { reprojectRank: 0 })).toThrow(
      expect.objectContaining({ code: 'LOADER_MERGE_OPTIONS_INVALID' }),
    )
    expect(() => planMerge([a], { moduleCaps: [['x', Number.NaN]] })).toThrow(
      expect.objectContaining({ code: 'LOADER_MERGE_OPTIONS_INVALID' }),
    )
    const other: MergeInput = { name: 'b', modules: randomAdapterModules([{ ...infos[0]!, inFeatures: 3 }], 2, 1) }
    expect(() => planMerge([a, other])).toThrow(expect.objectContaining({ code: 'LOADER_MERGE_INPUTS_INCOMPATIBLE' }))
  })

  it('returns an empty plan for no adapters', () => {
    expect(planMerge([]).deltas.size).toBe(0)
  })
})
