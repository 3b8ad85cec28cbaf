import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  barabasiAlbertGraph,
  cheegerBounds,
  conductanceEstimate,
  denseLambda2,
  epidemicThreshold,
  erdosRenyiGraph,
  fiedler,
  predictedRoundsSpectral,
  spectralGap,
  wattsStrogatzGraph,
} from '../../src/index.js'

const path5 = [[1], [0, 2], [1, 3], [2, 4], [3]]
const ring8 = Array.from({ length: 8 }, (_, i) => [(i + 7) % 8, (i + 1) % 8])
const k4 = [
  [1, 2, 3],
  [0, 2, 3],
  [0, 1, 3],
  [0, 1, 2],
]
const star5 = [[1, 2, 3, 4], [0], [0], [0], [0]]
const ns = [20, 40, 80, 160]

// Golden λ2 values: spec swarm.md Appendix A.3 / §14.5 (the original's stored results).
describe('λ2 reproduces the stored values to 1e-9', () => {
  const cases: Array<[string, (n: number) => number[][], number[]]> = [
    [
      'ER p=.25',
      (n) => erdosRenyiGraph(n, 0.25, 42 + n),
      [0.31556897540013445, 0.5191935619684094, 0.6496464415739631, 0.7279447381003754],
    ],
    [
      'WS k=4 beta=.25',
      (n) => wattsStrogatzGraph(n, 4, 0.25, 42 + n),
      [0.25235065775412646, 0.12944922532851375, 0.10349269908700143, 0.0500667816316627],
    ],
    [
      'BA m=2',
      (n) => barabasiAlbertGraph(n, 2, 42 + n),
      [0.3356166634541097, 0.252502623927861, 0.20883243042925415, 0.19282450720076172],
    ],
  ]
  for (const [name, make, expected] of cases) {
    it(`${name}, dense and Lanczos`, () => {
      ns.forEach((n, i) => {
        const g = make(n)
        expect(fiedler(g, { method: 'dense' }).lambda2, `${name} n=${n} dense`).toBeCloseTo(expected[i]!, 9)
        expect(fiedler(g, { method: 'lanczos' }).lambda2, `${name} n=${n} lanczos`).toBeCloseTo(expected[i]!, 9)
      })
    })
  }

  it('sweep ER n=20 with seeds 41/42/43', () => {
    const got = [41, 42, 43].map((s) => spectralGap(erdosRenyiGraph(20, 0.25, s), true))
    const want = [0.34358624017808714, 0.4479311298166631, 0.33490638731776134]
    for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(want[i]!, 9)
  })

  it('seed-42 and seed-11 report graphs', () => {
    expect(spectralGap(erdosRenyiGraph(6, 0.25, 42), true)).toBeCloseTo(0.5256893096129952, 9)
    expect(spectralGap(erdosRenyiGraph(6, 0.25, 11), true)).toBeCloseTo(0.23623738417402662, 9)
  })

  it('small graphs, normalized and combinatorial', () => {
    expect(spectralGap(path5, true)).toBeCloseTo(0.29289321881345254, 12)
    expect(spectralGap(path5)).toBeCloseTo(0.3819660112501052, 12)
    expect(spectralGap(ring8, true)).toBeCloseTo(0.2928932188134524, 12)
    expect(spectralGap(ring8)).toBeCloseTo(0.5857864376269046, 12)
    expect(spectralGap(k4, true)).toBeCloseTo(4 / 3, 12)
    expect(spectralGap(k4)).toBeCloseTo(4, 12)
    expect(spectralGap(star5, true)).toBeCloseTo(1, 12)
    expect(spectralGap(star5)).toBeCloseTo(1, 12)
    // REC §10.1: one edge plus an isolated node is disconnected, so λ2 = 0 (the original said 1.0).
    expect(spectralGap([[1], [0], []], true)).toBe(0)
    expect(spectralGap([[1], [0], []])).toBe(0)
  })

  it('combinatorial λ2 of the bound tests', () => {
    expect(spectralGap(erdosRenyiGraph(50, 0.2, 123))).toBeCloseTo(4.725, 2)
    expect(spectralGap(erdosRenyiGraph(100, 0.2, 456))).toBeCloseTo(10.728, 2)
  })
})

describe('Lanczos matches the dense reference solver to 1e-8', () => {
  it('on ER/WS/BA graphs up to n = 1000, both Laplacians', () => {
    const graphs: Array<[string, number[][]]> = [
      ['er400', erdosRenyiGraph(400, 0.02, 1)],
      ['ws600', wattsStrogatzGraph(600, 6, 0.3, 2)],
      ['ba1000', barabasiAlbertGraph(1000, 3, 3)],
      ['er1000', erdosRenyiGraph(1000, 0.008, 4)],
    ]
    for (const [name, g] of graphs) {
      for (const normalized of [true, false]) {
        if (!normalized && g.length > 400) continue
        const dense = denseLambda2(g, normalized)
        // Full Gram–Schmidt every step, and Simon's partial re-orthogonalisation (used for big n).
        for (const reorthogonalization of ['full', 'partial'] as const) {
          const lz = fiedler(g, { method: 'lanczos', normalized, maxIterations: 1000, reorthogonalization })
          const msg = `${name} normalized=${normalized} ${reorthogonalization}`
          expect(Math.abs(lz.lambda2 - dense), msg).toBeLessThan(1e-8)
          expect(lz.residual, msg).toBeLessThan(1e-4)
        }
      }
    }
  })
})

describe('Cheeger bounds from the sweep cut', () => {
  it('C8 gives (0.03125, 0.5)', () => {
    const b = cheegerBounds(ring8)
    expect(b.lower).toBeCloseTo(0.03125, 12)
    expect(b.upper).toBeCloseTo(0.5, 12)
  })

  it('hold on 200 random graphs of each family', () => {
    for (let s = 0; s < 200; s++) {
      const n = 12 + (s % 40)
      for (const [name, g] of [
        ['er', erdosRenyiGraph(n, 0.1 + (s % 5) * 0.05, 1000 + s)],
        ['ws', wattsStrogatzGraph(n, 4, 0.1 + (s % 4) * 0.1, 2000 + s)],
        ['ba', barabasiAlbertGraph(n, 1 + (s % 3), 3000 + s)],
      ] as const) {
        const b = cheegerBounds(g)
        const msg = `${name} n=${n} seed=${s}`
        expect(b.lower, msg).toBeLessThanOrEqual(b.lambda2 + 1e-12)
        expect(b.lambda2, msg).toBeLessThanOrEqual(b.upper + 1e-12)
        expect(b.phi_sweep, msg).toBeLessThanOrEqual(b.phi_sign + 1e-12)
      }
    }
  })
})

describe('conductance, epidemic threshold and predicted rounds', () => {
  it('reproduces the random-cut conductance of the original', () => {
    expect(conductanceEstimate(erdosRenyiGraph(40, 0.15, 1), 64)).toBe(0.4336283185840708)
    expect(conductanceEstimate(erdosRenyiGraph(40, 0.35, 2), 64)).toBe(0.488)
    expect(conductanceEstimate(erdosRenyiGraph(20, 0.25, 62), 64)).toBeCloseTo(0.3888888888888889, 12)
  })

  it('epidemic threshold of C8 is 1/2 (bipartite: power iteration is shifted)', () => {
    expect(epidemicThreshold(ring8)).toBeCloseTo(0.5, 9)
    expect(epidemicThreshold(k4)).toBeCloseTo(1 / 3, 9)
  })

  it('predicted rounds examples of §10.5', () => {
    expect(predictedRoundsSpectral(6, 0.52569, { normalized: true })).toBe(3)
    expect(predictedRoundsSpectral(6, 0.23624, { normalized: true })).toBe(6)
    expect(predictedRoundsSpectral(20, 0.31557, { normalized: true })).toBe(7)
    expect(
      predictedRoundsSpectral(20, 0.34359, { normalized: true, C: 0.12202674, initialInformedFraction: 1 / 3 }),
    ).toBe(2)
    expect(predictedRoundsSpectral(50, 4.7)).toBe(3)
    expect(predictedRoundsSpectral(10, 0.0, { normalized: true })).toBe(17)
    expect(predictedRoundsSpectral(10, 0.5, { normalized: true, safetyMargin: 0.1 })).toBe(4)
    expect(predictedRoundsSpectral(1, 0.5)).toBe(0)
  })
})

/** ‖L·v − λ·v‖ computed here from the adjacency (independent of the solver's own matvec). */
function laplacianResidual(adj: number[][], v: Float64Array, lambda: number, normalized: boolean): number {
  const deg = adj.map((r) => r.length)
  let s2 = 0
  for (let i = 0; i < adj.length; i++) {
    let lv = normalized ? v[i]! : deg[i]! * v[i]!
    for (const j of adj[i]!) lv -= normalized ? v[j]! / Math.sqrt(deg[i]! * deg[j]!) : v[j]!
    s2 += (lv - lambda * v[i]!) ** 2
  }
  return Math.sqrt(s2)
}

describe('thick-restart and partial Lanczos agree with the dense reference to 1e-8', () => {
  const path = (n: number): number[][] =>
    Array.from({ length: n }, (_, i) => [i - 1, i + 1].filter((j) => j >= 0 && j < n))
  const ring = (n: number): number[][] => Array.from({ length: n }, (_, i) => [(i + n - 1) % n, (i + 1) % n])
  // Three ER blobs chained by single edges: λ2 and λ3 are both tiny and close together.
  const blobs = (k: number, m: number, p: number, seed: number): number[][] => {
    const adj: number[][] = Array.from({ length: k * m }, () => [])
    for (let c = 0; c < k; c++) {
      erdosRenyiGraph(m, p, seed + c).forEach((row, i) => {
        for (const j of row) adj[c * m + i]!.push(c * m + j)
      })
      if (c > 0) {
        adj[c * m - 1]!.push(c * m)
        adj[c * m]!.push(c * m - 1)
      }
    }
    return adj
  }
  const graphs: Array<[string, number[][]]> = [
    // The path's relative gap is tiny: ncv = 12 needs ~1200 matvecs (dozens of restarts) at n = 300.
    ['path200', path(200)],
    ['ring90', ring(90)],
    ['er500', erdosRenyiGraph(500, 0.02, 7)],
    ['threeBlobs120', blobs(3, 120, 0.08, 21)],
  ]
  for (const [name, g] of graphs) {
    it(name, () => {
      for (const normalized of [true, false]) {
        const dense = denseLambda2(g, normalized)
        for (const [reorthogonalization, ncv] of [
          ['restart', 12],
          ['restart', 24],
          ['partial', 0],
          ['auto', 0],
        ] as const) {
          const msg = `${name} normalized=${normalized} ${reorthogonalization} ncv=${ncv}`
          const lz = fiedler(g, { method: 'lanczos', normalized, maxIterations: 5000, reorthogonalization, ncv })
          expect(lz.method, msg).toBe('lanczos')
          expect(Math.abs(lz.lambda2 - dense), msg).toBeLessThan(1e-8)
          expect(lz.iterations, msg).toBeGreaterThan(0)
          // The Fiedler vector is a unit eigenvector: ‖L v − λ2 v‖ small, checked independently.
          let nrm = 0
          for (const x of lz.vector) nrm += x * x
          expect(Math.abs(Math.sqrt(nrm) - 1), msg).toBeLessThan(1e-12)
          const res = laplacianResidual(g, lz.vector, lz.lambda2, normalized)
          expect(res, msg).toBeLessThan(1e-4)
          expect(Math.abs(res - lz.residual), msg).toBeLessThan(1e-9)
        }
      }
    })
  }

  it('is deterministic for a seed, and the seed only moves λ2 within the tolerance', () => {
    const g = erdosRenyiGraph(800, 0.01, 3)
    const a = fiedler(g, { method: 'lanczos', reorthogonalization: 'restart', seed: 5 })
    const b = fiedler(g, { method: 'lanczos', reorthogonalization: 'restart', seed: 5 })
    const c = fiedler(g, { method: 'lanczos', reorthogonalization: 'restart', seed: 6 })
    expect(b.lambda2).toBe(a.lambda2)
    expect(Array.from(b.vector)).toEqual(Array.from(a.vector))
    expect(b.iterations).toBe(a.iterations)
    expect(Math.abs(c.lambda2 - a.lambda2)).toBeLessThan(1e-8)
  })

  it('keeps the disconnected and small-n answers', () => {
    for (const reorthogonalization of ['restart', 'partial'] as const) {
      const disc = fiedler([[1], [0], [3], [2]], { method: 'lanczos', reorthogonalization })
      expect(disc.method).toBe('disconnected')
      expect(disc.lambda2).toBe(0)
      expect(fiedler([[]], { method: 'lanczos', reorthogonalization }).method).toBe('trivial')
      const k2 = fiedler([[1], [0]], { method: 'lanczos', reorthogonalization })
      expect(k2.lambda2).toBeCloseTo(2, 12)
      expect(fiedler(path5, { method: 'lanczos', reorthogonalization }).lambda2).toBeCloseTo(0.29289321881345254, 12)
    }
    expect(() => fiedler(path5, { ncv: 1 })).toThrow(/ncv must be 0/)
    expect(() => fiedler(path5, { ncv: 2.5 })).toThrow(/ncv must be 0/)
  })
})

// scipy eigsh goldens beyond the dense reference's reach (scripts/golden/swarm-lambda2-eigsh.py).
const eigshGolden = JSON.parse(readFileSync(new URL('../golden/lambda2-eigsh.json', import.meta.url), 'utf8')) as {
  cases: Array<{ graph: 'chords' | 'ladder'; n: number; normalized: boolean; lambda2: number }>
}

describe('λ2 matches scipy eigsh to 1e-9 on n = 2000–4000 graphs', () => {
  const chords = (n: number): number[][] => {
    const adj: number[][] = Array.from({ length: n }, () => [])
    for (let i = 0; i < n; i++) for (const j of [(i + 1) % n, (i + 37) % n, (i * i + 7) % n]) adj[i]!.push(j)
    return adj
  }
  const ladder = (n: number): number[][] => {
    const h = n / 2
    const adj: number[][] = Array.from({ length: n }, () => [])
    for (let i = 0; i < h; i++) {
      adj[i]!.push((i + 1) % h)
      adj[h + i]!.push(h + ((i + 1) % h))
      adj[i]!.push(h + i)
    }
    for (let i = 0; i < n; i += 50) adj[i]!.push((7 * i + 3) % n)
    return adj
  }
  for (const c of eigshGolden.cases) {
    it(`${c.graph} n=${c.n} normalized=${c.normalized}`, () => {
      const g = (c.graph === 'chords' ? chords : ladder)(c.n)
      // The ladder's relative gap is small: ≈ 520 unrestarted steps, ≈ 750 with ncv = 24.
      for (const reorthogonalization of ['auto', 'restart'] as const) {
        const f = fiedler(g, { normalized: c.normalized, reorthogonalization, maxIterations: 5000 })
        const msg = `${reorthogonalization}`
        expect(f.method, msg).toBe('lanczos')
        expect(Math.abs(f.lambda2 - c.lambda2), msg).toBeLessThan(1e-9)
        expect(f.residual, msg).toBeLessThan(1e-4)
      }
    })
  }
})
