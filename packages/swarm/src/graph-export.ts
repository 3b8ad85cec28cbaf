/**
 * Interop with graphology (spec swarm.md §17.2), for export and graph analytics. The simulation
 * keeps `number[][]` as its canonical structure because graphology orders the neighbours of
 * integer-like keys numerically, not by insertion; nodes are therefore keyed `n0`, `n1`, … with
 * their index as an attribute. The Graph class is passed in (as graphology's own generators take
 * it), so this package has no runtime dependency on graphology.
 */
import type { Adjacency } from './graph.js'

/** The part of a graphology `Graph` used here. */
export interface GraphologyLike {
  addNode(key: string, attributes?: Record<string, unknown>): unknown
  mergeEdge(source: string, target: string, attributes?: Record<string, unknown>): unknown
  forEachNode(callback: (key: string, attributes: Record<string, unknown>) => void): void
  forEachNeighbor(node: string, callback: (neighbor: string, attributes: Record<string, unknown>) => void): void
  readonly order: number
  readonly size: number
}

/**
 * An undirected simple graphology graph of `adj` (duplicates merged, self-loops dropped), with an
 * optional edge `weight` attribute (REC §3.4: weights as edge attributes).
 *
 * @example
 * import { UndirectedGraph } from 'graphology'
 * const g = toGraphology(erdosRenyiGraph(20, 0.25, 42), UndirectedGraph)
 * g.size // 44 undirected edges
 */
export function toGraphology<G extends GraphologyLike>(
  adj: Adjacency,
  GraphClass: new (options: { type: 'undirected'; multi: false; allowSelfLoops: false }) => G,
  options: { weight?: number } = {},
): G {
  const g = new GraphClass({ type: 'undirected', multi: false, allowSelfLoops: false })
  adj.forEach((_, i) => {
    g.addNode(`n${i}`, { index: i })
  })
  const attrs = options.weight === undefined ? undefined : { weight: options.weight }
  adj.forEach((row, u) => {
    for (const v of row) if (v !== u) g.mergeEdge(`n${u}`, `n${v}`, attrs)
  })
  return g
}

/** Adjacency lists (ascending) from a graph made by {@link toGraphology} (nodes carry `index`). */
export function fromGraphology(g: GraphologyLike): Adjacency {
  const index = new Map<string, number>()
  g.forEachNode((key, attrs) => {
    index.set(key, typeof attrs.index === 'number' ? attrs.index : index.size)
  })
  const adj: Adjacency = Array.from({ length: index.size }, () => [])
  for (const [key, i] of index) {
    g.forEachNeighbor(key, (nb) => {
      adj[i]!.push(index.get(nb)!)
    })
    adj[i]!.sort((a, b) => a - b)
  }
  return adj
}
