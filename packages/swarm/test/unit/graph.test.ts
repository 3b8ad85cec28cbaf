import { describe, expect, it } from 'vitest'
import {
  applyTemporalDropout,
  barabasiAlbertGraph,
  edgeCount,
  erdosRenyiGraph,
  isConnected,
  talkPairs,
  wattsStrogatzGraph,
  weightedFromUnweighted,
} from '../../src/index.js'

// Golden adjacency lists: spec swarm.md Appendix A.2 (computed by running the original).
describe('graph generators reproduce the original exactly (Appendix A.2)', () => {
  it('Erdős–Rényi with fix-ups', () => {
    expect(erdosRenyiGraph(6, 0.25, 42)).toEqual([[2, 4], [4], [0, 3, 4], [2, 4, 5], [0, 1, 2, 3], [3]])
    expect(erdosRenyiGraph(6, 0.25, 11)).toEqual([[1], [3, 0], [4], [1, 4], [2, 3, 5], [4]])
    expect(erdosRenyiGraph(3, 0.25, 42)).toEqual([[2, 1], [0], [0]])
    expect(erdosRenyiGraph(8, 0.3, 7)).toEqual([
      [2, 4, 7],
      [3, 5, 6],
      [0, 4, 5],
      [1, 7],
      [0, 2, 6, 7],
      [1, 2, 6],
      [1, 4, 5],
      [0, 3, 4],
    ])
    const g = erdosRenyiGraph(20, 0.25, 123)
    expect(g[0]).toEqual([1, 2, 4, 6, 10, 13, 14, 16, 18])
    expect(g[17]).toEqual([7])
    expect(erdosRenyiGraph(5, 0.0, 1)).toEqual([[1], [0, 2], [1, 3], [2, 4], [3]])
  })

  it('Watts–Strogatz, including the odd-k adjustment', () => {
    expect(wattsStrogatzGraph(10, 4, 0.2, 1)).toEqual([
      [2, 8, 1, 3],
      [2, 3, 9, 0, 8],
      [0, 1, 3, 4, 7],
      [1, 2, 5, 0],
      [2, 5, 6],
      [3, 4, 6, 7],
      [4, 5, 7, 8],
      [5, 6, 8, 2, 9],
      [6, 7, 0, 1],
      [1, 7],
    ])
    expect(wattsStrogatzGraph(5, 3, 0, 1)).toEqual([
      [1, 2, 3, 4],
      [0, 2, 3, 4],
      [0, 1, 3, 4],
      [1, 2, 4, 0],
      [2, 3, 0, 1],
    ])
    const ring = wattsStrogatzGraph(10, 4, 0, 1)
    expect(ring[0]).toEqual([1, 2, 8, 9])
    expect(ring[9]).toEqual([7, 8, 0, 1])
  })

  it('Barabási–Albert', () => {
    expect(barabasiAlbertGraph(8, 2, 3)).toEqual([
      [1, 2, 3, 5, 6],
      [0, 2, 3, 4, 7],
      [0, 1, 4, 5],
      [0, 1],
      [1, 2, 6],
      [0, 2],
      [0, 4, 7],
      [1, 6],
    ])
  })

  it('edge counts for seed 42+n', () => {
    const ns = [20, 40, 80, 160]
    expect(ns.map((n) => edgeCount(erdosRenyiGraph(n, 0.25, 42 + n)))).toEqual([44, 199, 786, 3162])
    expect(ns.map((n) => edgeCount(wattsStrogatzGraph(n, 4, 0.25, 42 + n)))).toEqual([40, 80, 160, 320])
    expect(ns.map((n) => edgeCount(barabasiAlbertGraph(n, 2, 42 + n)))).toEqual([37, 77, 157, 317])
  })
})

function symmetric(adj: number[][]): boolean {
  return adj.every((row, u) => row.every((v) => adj[v]!.includes(u)))
}

describe('graph invariants (spec §15 test 10)', () => {
  it('ER(20, .25, 123) is symmetric, loop-free and connected', () => {
    const g = erdosRenyiGraph(20, 0.25, 123)
    expect(g).toHaveLength(20)
    expect(g.every((row, u) => !row.includes(u))).toBe(true)
    expect(symmetric(g)).toBe(true)
    expect(isConnected(g)).toBe(true)
  })

  it('WS(30, 4, .2, 321) has average degree 4', () => {
    const g = wattsStrogatzGraph(30, 4, 0.2, 321)
    expect(symmetric(g)).toBe(true)
    expect(g.every((row, u) => !row.includes(u))).toBe(true)
    expect(g.reduce((s, r) => s + r.length, 0) / 30).toBe(4)
  })

  it('BA(40, 2, 999) has minimum degree 2', () => {
    const g = barabasiAlbertGraph(40, 2, 999)
    expect(symmetric(g)).toBe(true)
    expect(Math.min(...g.map((r) => r.length))).toBe(2)
  })

  it('the geometric-skip ER sampler gives a connected symmetric graph with the right density', () => {
    const n = 20000
    const g = erdosRenyiGraph(n, 10 / (n - 1), 5)
    expect(symmetric(g)).toBe(true)
    expect(isConnected(g)).toBe(true)
    const mean = (2 * edgeCount(g)) / n
    expect(mean).toBeGreaterThan(9.8)
    expect(mean).toBeLessThan(10.3)
  })

  it('rejects WS with n < 3 and BA with n < 2', () => {
    expect(() => wattsStrogatzGraph(2, 2, 0, 1)).toThrow(
      expect.objectContaining({ code: 'SWARM_GRAPH_ARGUMENT_INVALID' }),
    )
    expect(() => barabasiAlbertGraph(1, 1, 1)).toThrow(
      expect.objectContaining({ code: 'SWARM_GRAPH_ARGUMENT_INVALID' }),
    )
    expect(() => erdosRenyiGraph(5, 1.5, 1)).toThrow(expect.objectContaining({ code: 'SWARM_GRAPH_ARGUMENT_INVALID' }))
  })

  it('temporal dropout keeps even positions; talk pairs cover each edge once', () => {
    const g = erdosRenyiGraph(6, 0.25, 42)
    expect(applyTemporalDropout(g, 1, 2)).toEqual([[2], [4], [0, 4], [2, 5], [0, 2], [3]])
    expect(applyTemporalDropout(g, 2, 2)).toBe(g)
    expect(applyTemporalDropout(g, 1, 0)).toBe(g)
    expect(Array.from(talkPairs(g))).toEqual([0, 2, 0, 4, 1, 4, 2, 3, 2, 4, 3, 4, 3, 5])
    // The dropped view is asymmetric; every pair present in one direction gets one talk.
    expect(Array.from(talkPairs(applyTemporalDropout(g, 1, 2)))).toEqual([0, 2, 1, 4, 2, 4, 3, 2, 3, 5, 4, 0])
    const w = weightedFromUnweighted(erdosRenyiGraph(6, 0.5, 1), 2.0)
    expect(w.every((row) => row.every(([j, x]) => Number.isInteger(j) && x === 2))).toBe(true)
  })
})
