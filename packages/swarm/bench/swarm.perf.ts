/**
 * Swarm benchmarks (issue 8 "Done when"): prints the figures; no thresholds are asserted.
 * - 100,000 agents, ER with mean degree 10, 3 domains, up to 20 rounds, security on (real gate)
 *   with synthetic adapters — target < 10 s wall;
 * - λ2 (normalized, Lanczos) of that graph — target < 5 s.
 * Run: `pnpm --filter @plora/swarm bench` (or `npx vitest run --config packages/swarm/bench/vitest.config.ts`).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ATTENTION_SUFFIXES, parsePolicy } from '@plora/gate'
import { expect, it } from 'vitest'
import { erdosRenyiGraph, fiedler, runSwarmV2 } from '../src/index.js'

const N = 100_000
const P = 10 / (N - 1)

it('100k-agent swarm, security on, synthetic adapters', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-bench-'))
  try {
    const policy = parsePolicy({
      base_model: 'plora/synthetic-base',
      allowed_ranks: [4],
      allowed_targets: [...ATTENTION_SUFFIXES],
    })
    const t0 = performance.now()
    const r = await runSwarmV2({
      agents: N,
      rounds: 20,
      graph: 'er',
      graphP: P,
      seed: 42,
      trojanRate: 0.3,
      adapters: 'synthetic',
      policy,
      reportDir: dir,
      spectral: false,
    })
    const wall = (performance.now() - t0) / 1000
    const f = r.report.final as Record<string, unknown>
    console.log(
      `[bench] swarm v2 N=${N} ER mean degree 10, 3 domains, ≤20 rounds, security on (synthetic): ${wall.toFixed(2)} s wall ` +
        `(rounds run ${f.rounds_run}, offers ${f.offers}, accepted ${f.accepted_offers}, gate evaluations ${r.gateEvaluations}, target < 10 s)`,
    )
    expect(r.simulation.accepted).toBeGreaterThan(0)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

it('λ2 of the 100k ER graph', () => {
  const t0 = performance.now()
  const g = erdosRenyiGraph(N, P, 42)
  const tg = (performance.now() - t0) / 1000
  const t1 = performance.now()
  const f = fiedler(g, { normalized: true })
  const wall = (performance.now() - t1) / 1000
  console.log(
    `[bench] λ2 (normalized Laplacian, Lanczos) of ER n=${N} mean degree 10: ${f.lambda2} in ${wall.toFixed(2)} s ` +
      `(${f.iterations} iterations, residual ${f.residual.toExponential(2)}; graph generation ${tg.toFixed(2)} s; target < 5 s)`,
  )
  expect(f.lambda2).toBeGreaterThan(0)
  // The same with a looser eigenvalue tolerance (error bound 1e-7 instead of 1e-10).
  const t2 = performance.now()
  const loose = fiedler(g, { normalized: true, tol: 1e-7 })
  console.log(
    `[bench] λ2 with tol 1e-7: ${loose.lambda2} in ${((performance.now() - t2) / 1000).toFixed(2)} s (${loose.iterations} iterations; ` +
      `|Δ| vs tol 1e-10 = ${Math.abs(loose.lambda2 - f.lambda2).toExponential(2)})`,
  )
})
