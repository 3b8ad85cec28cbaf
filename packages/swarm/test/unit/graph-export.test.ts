import { UndirectedGraph as Graph } from 'graphology'
import { describe, expect, it } from 'vitest'
import { barabasiAlbertGraph, edgeCount, erdosRenyiGraph, fromGraphology, toGraphology } from '../../src/index.js'

describe('graphology interop', () => {
  it('exports the stored ER(20, .25, 62) graph and reads it back', () => {
    const adj = erdosRenyiGraph(20, 0.25, 62)
    const g = toGraphology(adj, Graph, { weight: 2 })
    expect(g.order).toBe(20)
    expect(g.size).toBe(edgeCount(adj))
    expect(g.getEdgeAttribute(g.edge('n0', `n${adj[0]![0]}`)!, 'weight')).toBe(2)
    expect(fromGraphology(g)).toEqual(adj.map((r) => [...r].sort((a, b) => a - b)))
  })

  it('keeps node identity with prefixed keys (graphology reorders integer-like keys)', () => {
    const adj = barabasiAlbertGraph(30, 2, 5)
    const back = fromGraphology(toGraphology(adj, Graph))
    back.forEach((row, i) => {
      expect(row, `node ${i}`).toEqual([...adj[i]!].sort((a, b) => a - b))
    })
  })
})
