/**
 * `plora net-it` computation on a 20-agent, 50-round history (issue 9 benchmark) with the CLI's
 * defaults: 200 bootstrap resamples, permutations raised to ⌈tests/α⌉ (3,800 for the 190 MI
 * pairs, 7,600 for the 380 TE pairs). The BH correction is inlined (the CLI passes @plora/metrics').
 */
import { createRng } from '@plora/common'
import { bench, describe } from 'vitest'
import { computeNetIt, type FdrCorrection, type HistorySnapshot } from '../../src/index.js'

const DOMAINS = ['arithmetic', 'legal', 'medical']

/** Push–pull-like diffusion: each round every agent copies one domain from a random peer (p = 0.25). */
function history(nAgents: number, rounds: number, seed: number): HistorySnapshot[] {
  const rng = createRng(seed)
  const held = Array.from({ length: nAgents }, (_, a) => new Set([DOMAINS[a % 3]!]))
  const out: HistorySnapshot[] = []
  for (let t = 0; t < rounds; t++) {
    for (let a = 0; a < nAgents; a++) {
      if (rng.random() < 0.25) {
        const peer = held[rng.randbelow(nAgents)]!
        const d = [...peer][rng.randbelow(peer.size)]!
        held[a]!.add(d)
      }
      // occasional churn so the series are not all monotone
      if (rng.random() < 0.1 && held[a]!.size > 1) held[a]!.delete([...held[a]!].at(-1)!)
    }
    out.push(Object.fromEntries(held.map((s, a) => [String(a), [...s].sort()])))
  }
  return out
}

const bh: FdrCorrection = (p, alpha) => {
  const m = p.length
  const order = p.map((_, i) => i).sort((a, b) => p[a]! - p[b]! || a - b)
  let k = 0
  order.forEach((i, r) => {
    if (p[i]! <= (alpha * (r + 1)) / m) k = r + 1
  })
  const threshold = k > 0 ? p[order[k - 1]!]! : 0
  return { threshold, rejected: p.map((v) => k > 0 && v <= threshold) }
}

const h = history(20, 50, 42)
describe('net-it', () => {
  bench(
    '20 agents × 50 rounds (nBoot 200, adaptive permutations)',
    () => {
      computeNetIt(h, {}, { fdr: bh })
    },
    { iterations: 2, time: 0, warmupIterations: 0 },
  )
})
