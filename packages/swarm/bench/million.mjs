#!/usr/bin/env node
/**
 * Issue 23 item 4: the swarm simulator at 10⁶ agents on one machine — wall time per phase and peak
 * resident memory. Each case runs in a child process of its own (so its peak RSS is its own) through
 * the library that `plora swarm v2` calls, with the report written to a temp folder and deleted.
 *
 *   node packages/swarm/bench/million.mjs [--agents 1000000] [--rounds 30] [--cases er,er-history,complete]
 *
 * Cases: `er` — Erdős–Rényi, mean degree 10, push-pull, security on (the real gate on synthetic
 * adapters, 30 % trojans), λ2 computed, report written, no history; `er-history` — the same with the
 * history file (one snapshot per agent and round); `complete` — the implicit K_n (no edge lists),
 * push-pull. Prints one line per case; no thresholds.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: a } = parseArgs({
  options: {
    agents: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '30' },
    cases: { type: 'string', default: 'er,er-history,complete' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
})
const N = Number(a.agents)
const ROUNDS = Number(a.rounds)

if (a.child) {
  const swarm = await import('../dist/index.js')
  const gate = await import('@plora/gate')
  const kind = a.child
  const t = {}
  const mark = (k, t0) => {
    t[k] = (performance.now() - t0) / 1000
  }
  const p = 1e-5 * (1e6 / N) // mean degree 10
  let lambda2 = null
  if (kind !== 'complete') {
    let t0 = performance.now()
    const g = swarm.erdosRenyiGraph(N, p, 42)
    mark('graph_s', t0)
    t0 = performance.now()
    lambda2 = swarm.fiedler(g, { normalized: true }).lambda2
    mark('lambda2_s', t0)
  }
  const policy = gate.parsePolicy({
    base_model: 'plora/synthetic-base',
    allowed_ranks: [4],
    allowed_targets: [...gate.ATTENTION_SUFFIXES],
    // as `plora swarm v2 --security on` without a policy file: synthetic adapters have no clean
    // reference population, so the within-adapter module z is the weight detector
    require_weight_reference: false,
  })
  const t0 = performance.now()
  const r = await swarm.runSwarmV2({
    agents: N,
    rounds: ROUNDS,
    graph: kind === 'complete' ? 'complete' : 'er',
    graphP: p,
    protocol: 'push-pull',
    seed: 42,
    trojanRate: 0.3,
    adapters: 'synthetic',
    policy,
    rank: 4,
    syntheticBaseModel: 'plora/synthetic-base',
    reportDir: a.out,
    history: kind === 'er-history',
    spectral: kind !== 'complete',
  })
  mark('run_s', t0)
  const f = r.report.final
  const bytes = (p) => (p ? statSync(p).size : 0)
  process.stdout.write(
    `${JSON.stringify({
      case: kind,
      agents: N,
      ...t,
      lambda2,
      rounds_run: f.rounds_run,
      coverage: f.coverage,
      offers: f.offers,
      accepted: f.accepted_offers,
      rejected_trojan: f.gate.rejected_trojan_total,
      false_negatives: f.gate.false_negatives,
      report_mb: bytes(r.reportPath) / 2 ** 20,
      history_mb: bytes(r.historyPath) / 2 ** 20,
      peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    })}\n`,
  )
  process.exit(0)
}

for (const kind of a.cases.split(',')) {
  const out = mkdtempSync(join(tmpdir(), 'plora-million-'))
  const t0 = performance.now()
  const c = spawnSync(
    process.execPath,
    [
      new URL(import.meta.url).pathname,
      '--child',
      kind,
      '--out',
      out,
      '--agents',
      String(N),
      '--rounds',
      String(ROUNDS),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  )
  const wall = (performance.now() - t0) / 1000
  rmSync(out, { recursive: true, force: true })
  if (c.status !== 0) {
    process.stderr.write(c.stderr)
    process.exit(1)
  }
  const r = JSON.parse(c.stdout.trim().split('\n').pop())
  const cov = Object.values(r.coverage)
    .map((x) => x.toFixed(5))
    .join('/')
  const phases = [
    r.graph_s !== undefined ? `graph ${r.graph_s.toFixed(1)} s` : null,
    r.lambda2_s !== undefined ? `λ2 ${r.lambda2_s.toFixed(1)} s (${r.lambda2.toFixed(4)})` : null,
    `runSwarmV2 ${r.run_s.toFixed(1)} s`,
  ].filter(Boolean)
  console.log(
    `[bench] ${kind}: N=${r.agents.toLocaleString('en')} push-pull, security on: process ${wall.toFixed(1)} s wall; ${phases.join(', ')}; ` +
      `${r.rounds_run} rounds, coverage ${cov}, offers ${r.offers.toLocaleString('en')}, accepted ${r.accepted.toLocaleString('en')}, ` +
      `trojan offers rejected ${r.rejected_trojan.toLocaleString('en')}, FN ${r.false_negatives}; report ${r.report_mb.toFixed(0)} MiB, ` +
      `history ${r.history_mb.toFixed(0)} MiB; peak RSS ${r.peak_rss_mib.toFixed(0)} MiB`,
  )
}
