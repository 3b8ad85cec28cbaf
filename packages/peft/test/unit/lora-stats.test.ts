import { readFileSync } from 'node:fs'
import { PythonRandom } from '@plora/common'
import { describe, expect, it } from 'vitest'
import { factorSingularValues, moduleUpdateStats } from '../../src/lora-stats.js'

interface GoldenCase {
  seed: number
  r: number
  in: number
  out: number
  scale: number
  deficient: boolean
  singular_values: number[]
  frobenius: number
  spectral: number
}
const golden = JSON.parse(readFileSync(new URL('../golden/lora-svd.json', import.meta.url), 'utf8')) as {
  cases: GoldenCase[]
}

function draw(c: GoldenCase): { a: Float64Array; b: Float64Array } {
  const rng = new PythonRandom(c.seed)
  const a = Float64Array.from({ length: c.r * c.in }, () => rng.gauss(0, 1))
  const b = Float64Array.from({ length: c.out * c.r }, () => rng.gauss(0, 1))
  if (c.deficient) {
    for (let o = 0; o < c.out; o++) b[o * c.r + c.r - 1] = b[o * c.r]!
    for (let k = 0; k < c.in; k++) a[(c.r - 1) * c.in + k] = a[k]!
  }
  return { a, b }
}

describe('moduleUpdateStats', () => {
  for (const c of golden.cases) {
    it(`matches numpy's dense SVD of s·B·A (seed ${c.seed}, r ${c.r}, ${c.out}×${c.in}${c.deficient ? ', rank-deficient' : ''})`, () => {
      const { a, b } = draw(c)
      const st = moduleUpdateStats({ a, b, r: c.r, inFeatures: c.in, outFeatures: c.out, scale: c.scale })
      expect(st.frobenius).toBeCloseTo(c.frobenius, 9)
      expect(st.spectral).toBeCloseTo(c.spectral, 8)
      for (let i = 0; i < c.r; i++) {
        // Gram-based values are accurate to ~√ε·σ₁ for the smallest ones
        expect(Math.abs(st.singularValues[i]! - c.singular_values[i]!), `σ${i}`).toBeLessThan(1e-6 * c.spectral)
      }
      expect(st.numericalRank).toBe(c.deficient ? c.r - 1 : c.r)
      expect(st.stableRank).toBeCloseTo((c.frobenius / c.spectral) ** 2, 8)
      expect(st.topEnergy).toBeCloseTo((c.spectral / c.frobenius) ** 2, 8)
      expect(st.effectiveRank).toBeGreaterThanOrEqual(1)
      expect(st.effectiveRank).toBeLessThanOrEqual(c.r + 1e-9)
    })
  }

  it('gives a rank-1 update one singular value, top energy 1 and effective rank 1', () => {
    const r = 4
    const n = 30
    const m = 20
    const rng = new PythonRandom(7)
    const u = Array.from({ length: m }, () => rng.gauss(0, 1))
    const v = Array.from({ length: n }, () => rng.gauss(0, 1))
    // B = u·e₀ᵀ, A = e₀·vᵀ → ΔW = s·u·vᵀ, σ₁ = s‖u‖‖v‖
    const a = new Float32Array(r * n)
    const b = new Float32Array(m * r)
    for (let k = 0; k < n; k++) a[k] = v[k]!
    for (let o = 0; o < m; o++) b[o * r] = u[o]!
    const st = moduleUpdateStats({ a, b, r, inFeatures: n, outFeatures: m, scale: 3 })
    const nu = Math.hypot(...Float32Array.from(u))
    const nv = Math.hypot(...Float32Array.from(v))
    expect(st.spectral).toBeCloseTo(3 * nu * nv, 4)
    expect(st.frobenius).toBeCloseTo(3 * nu * nv, 4)
    expect(st.numericalRank).toBe(1)
    expect(st.topEnergy).toBeCloseTo(1, 10)
    expect(st.effectiveRank).toBeCloseTo(1, 6)
  })

  it('reports a zero update (B = 0, the PEFT initialisation) as all-zero norms', () => {
    const st = moduleUpdateStats({
      a: Float32Array.from({ length: 8 }, (_, i) => i + 1),
      b: new Float32Array(6),
      r: 2,
      inFeatures: 4,
      outFeatures: 3,
      scale: 2,
    })
    expect(st.frobenius).toBe(0)
    expect(st.spectral).toBe(0)
    expect(st.numericalRank).toBe(0)
    expect(st.normB).toBe(0)
    expect(st.normA).toBeGreaterThan(0)
  })

  it('rejects factors whose shapes do not chain', () => {
    expect(() =>
      moduleUpdateStats({
        a: new Float32Array(7),
        b: new Float32Array(6),
        r: 2,
        inFeatures: 4,
        outFeatures: 3,
        scale: 1,
      }),
    ).toThrow(expect.objectContaining({ code: 'PEFT_FACTORS_INVALID' }))
  })

  it('scales linearly with |s| and is invariant to the sign of s', () => {
    const c = golden.cases[0]!
    const { a, b } = draw(c)
    const base = { a, b, r: c.r, inFeatures: c.in, outFeatures: c.out }
    const s1 = moduleUpdateStats({ ...base, scale: 1 })
    const s2 = moduleUpdateStats({ ...base, scale: -2.5 })
    expect(s2.spectral).toBeCloseTo(2.5 * s1.spectral, 9)
    expect(s2.frobenius).toBeCloseTo(2.5 * s1.frobenius, 9)
    expect(s2.stableRank).toBeCloseTo(s1.stableRank, 9)
  })

  it('factorSingularValues agrees with the transposed problem (Conv1D storage)', () => {
    const c = golden.cases[1]!
    const { a, b } = draw(c)
    // (B·A)ᵀ = Aᵀ·Bᵀ: factors A' = Bᵀ [r, out], B' = Aᵀ [in, r]
    const at = new Float64Array(c.r * c.out)
    const bt = new Float64Array(c.in * c.r)
    for (let o = 0; o < c.out; o++) for (let i = 0; i < c.r; i++) at[i * c.out + o] = b[o * c.r + i]!
    for (let i = 0; i < c.r; i++) for (let k = 0; k < c.in; k++) bt[k * c.r + i] = a[i * c.in + k]!
    const s = factorSingularValues(a, b, c.r, c.in, c.out)
    const t = factorSingularValues(at, bt, c.r, c.out, c.in)
    for (let i = 0; i < c.r; i++) expect(t[i]!).toBeCloseTo(s[i]!, 8)
  })
})
