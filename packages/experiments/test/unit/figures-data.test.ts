import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { gatePerformanceData, gatePerformanceFigure } from '../../src/figures/gate.js'
import { writeFigures } from '../../src/figures/index.js'
import { DOMAIN_COLORS, TOPOLOGY_COLORS } from '../../src/figures/palette.js'
import {
  acceptanceData,
  dynamicsData,
  miDecayData,
  rq2Figure,
  type SweepLine,
  spectralData,
  swarmGateData,
  swarmGateFigure,
  topologyComparisonData,
  topologyComparisonFigure,
} from '../../src/figures/swarm.js'
import {
  robustnessData,
  trainedVsPlaceboData,
  transferData,
  transferFigure,
  valueAddSummaryData,
  valueAddSummaryFigure,
} from '../../src/figures/value-add.js'
import type { EvaluationReport } from '../../src/gate-study.js'
import { readValueAddRecords, type ValueAddRecord } from '../../src/value-add-records.js'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'figures')
const datasets = (f: { spec: unknown }) => (f.spec as { datasets: Record<string, unknown[]> }).datasets

async function records(): Promise<ValueAddRecord[]> {
  return (await readValueAddRecords(join(FIXTURES, 'value_add.jsonl'), { repair: false })).records
}

describe('value-add figure data (golden)', () => {
  it('summary: mean of cells, bootstrap CI over ≥ 2 cells, the cell CI for one; null placebos left out', async () => {
    const rows = valueAddSummaryData(await records())
    // arithmetic has only a failed cell (trained and placebo null): no bar at all, not a 0 bar
    expect(rows.map((r) => [r.domain, r.condition, r.cells, r.interval])).toEqual([
      ['legal', 'Trained', 2, 'bootstrap over cells'],
      ['legal', 'Placebo A (random)', 1, 'paired CI of the cell'],
      ['medical', 'Trained', 1, 'paired CI of the cell'],
      ['medical', 'Placebo A (random)', 1, 'paired CI of the cell'],
    ])
    const legalTrained = rows[0]!
    expect(legalTrained.mean).toBeCloseTo(-0.25, 12)
    // a percentile bootstrap of the mean of {−0.3, −0.2} lies within the two values
    expect(legalTrained.lo).toBeGreaterThanOrEqual(-0.3)
    expect(legalTrained.hi).toBeLessThanOrEqual(-0.2)
    // legal's placebo A: one finite cell (0.02), the null one is not averaged in as 0 (which would give 0.01)
    expect(rows[1]).toMatchObject({ mean: 0.02, lo: -0.01, hi: 0.05 })
    expect(datasets(valueAddSummaryFigure(await records())).bars).toEqual(rows)
    expect(valueAddSummaryFigure(await records()).caption).toMatch(/bootstrap CI of that mean over cells/)
    // each domain facet gets its own y axis (domains' Δ differ by orders of magnitude)
    expect((valueAddSummaryFigure(await records()).spec as { resolve?: unknown }).resolve).toEqual({
      scale: { y: 'independent' },
    })
  })

  it('trained vs placebo: mean ± sample SD over cells', async () => {
    const rows = trainedVsPlaceboData(await records())
    const legal = rows.find((r) => r.domain === 'legal' && r.condition === 'Trained')!
    expect(legal.mean).toBeCloseTo(-0.25, 12)
    expect(legal.sd).toBeCloseTo(Math.sqrt(0.005), 12)
    expect(legal.lo).toBeCloseTo(-0.25 - Math.sqrt(0.005), 12)
    expect(rows.find((r) => r.domain === 'medical' && r.condition === 'Trained')!.sd).toBe(0)
  })

  it('transfer heat map: diagonal = trained Δ, off-diagonal = cross Δ, missing pairs are n/a not 0', async () => {
    const cells = transferData(await records())
    expect(cells.map((c) => [c.source, c.target, Number(c.mean.toFixed(6)), c.cells])).toEqual([
      ['legal', 'arithmetic', 0.01, 1],
      ['legal', 'legal', -0.25, 2],
      ['legal', 'medical', -0.04, 2],
      ['medical', 'medical', -0.5, 1],
    ])
    const missing = datasets(transferFigure(await records())).missing as Array<{ source: string; target: string }>
    expect(missing).toContainEqual({ source: 'medical', target: 'legal', text: 'n/a' })
    expect(missing).toHaveLength(5)
  })

  it("robustness: the Bonferroni line uses the run's own number of tests, not 81", async () => {
    const d = robustnessData(await records())
    // trained ×3, placebo A ×2, cross-domain ×3 finite p-values
    expect(d.m).toBe(8)
    expect(d.lines).toEqual([
      { label: 'α = 0.05', p: 0.05 },
      { label: 'Bonferroni α/m, m = 8', p: 0.05 / 8 },
    ])
    expect(d.pvalues).toEqual([{ p: 0.001 }, { p: 0.004 }, { p: 0.0001 }])
    expect(d.deltas.filter((x) => x.condition !== 'Trained')).toHaveLength(2)
    expect(d.cv).toHaveLength(1)
    expect(d.cv[0]).toMatchObject({ group: 'legal r4 all', seeds: 2, ok: false })
    expect(d.cv[0]!.cv).toBeCloseTo(Math.sqrt(0.005) / 0.25, 12)
  })
})

const round = (t: number, cov: number, mi: number, acc: number) => ({
  t,
  coverage: { legal: cov, medical: cov / 2 },
  entropy_avg: 0.5,
  mutual_information: mi,
  accepted_count: acc,
})
const gate = (ac: number, at: number, rc: number, rt: number) => ({
  accepted_clean_total: ac,
  accepted_trojan_total: at,
  rejected_clean_total: rc,
  rejected_trojan_total: rt,
})
const SWEEP: SweepLine[] = [
  {
    topology: 'er',
    N: 10,
    seed: 1,
    lambda2: 0.4,
    t_pred: 4,
    t_obs: 2,
    trojan_rate: 0,
    rounds: [round(0, 0.2, 1, 4), round(1, 1, 0.2, 2)],
    gate: gate(10, 0, 0, 0),
  },
  {
    topology: 'er',
    N: 10,
    seed: 2,
    lambda2: 0.6,
    t_pred: 2,
    t_obs: 3,
    trojan_rate: 0.3,
    rounds: [round(0, 0.4, 0.6, 2), round(1, 1, 0.4, 0)],
    gate: gate(8, 1, 2, 3),
  },
  {
    topology: 'ba',
    N: 20,
    seed: 1,
    lambda2: 0.3,
    t_pred: 0,
    t_obs: null,
    trojan_rate: 0,
    rounds: [round(0, 0.1, 1.2, 1)],
  },
]

describe('swarm figure data (golden)', () => {
  it('dynamics: per-round mean ± SD over runs, accepted offers clipped at 0', () => {
    const rows = dynamicsData(SWEEP)
    const acc0 = rows.find((r) => r.panel === 'accepted offers' && r.t === 0)!
    expect(acc0.mean).toBeCloseTo(7 / 3, 12)
    expect(acc0.n).toBe(3)
    const acc1 = rows.find((r) => r.panel === 'accepted offers' && r.t === 1)!
    expect(acc1).toMatchObject({ mean: 1, n: 2 })
    expect(acc1.lo).toBe(0) // 1 − √2 clipped
    const mi1 = rows.find((r) => r.series === 'MI' && r.t === 1)!
    expect(mi1.mean).toBeCloseTo(0.3, 12)
    expect(mi1.sd).toBeCloseTo(Math.sqrt(0.02), 12)
    expect(rows.find((r) => r.series === 'medical' && r.t === 0)!.mean).toBeCloseTo((0.1 + 0.2 + 0.05) / 3, 12)
  })

  it('MI decay groups by topology and N', () => {
    expect(miDecayData(SWEEP).map((r) => [r.topology, r.N, r.t, r.n])).toEqual([
      ['ba', 20, 0, 1],
      ['er', 10, 0, 2],
      ['er', 10, 1, 2],
    ])
  })

  it('spectral rows: ratio t_obs/t_pred only when t_pred > 0 and t_obs exists (never 0 for missing)', () => {
    expect(spectralData(SWEEP).map((r) => r.ratio)).toEqual([0.5, 1.5, null])
  })

  it('topology comparison: t_obs over the runs that reached coverage, λ₂ over all', () => {
    const rows = topologyComparisonData(SWEEP)
    expect(rows).toEqual([
      {
        topology: 'ba',
        N: 20,
        runs: 1,
        t_obs_mean: null,
        t_obs_sd: null,
        t_obs_lo: null,
        t_obs_hi: null,
        reached: 0,
        lambda2_mean: 0.3,
      },
      expect.objectContaining({ topology: 'er', N: 10, runs: 2, t_obs_mean: 2.5, reached: 2, lambda2_mean: 0.5 }),
    ])
    expect(datasets(topologyComparisonFigure(SWEEP)).groups).toEqual(rows)
  })

  it('RQ2 adds t_obs by N over the runs that reached coverage to the spectral panels', () => {
    const d = datasets(rq2Figure(SWEEP))
    expect(d.groups).toEqual(topologyComparisonData(SWEEP).filter((g) => g.t_obs_mean !== null))
    // the spectral panels only get runs with t_pred > 0
    expect((d.runs as Array<{ topology: string }>).map((r) => r.topology)).toEqual(['er', 'er'])
    expect(rq2Figure([]).placeholder).toBe(true)
  })

  it('swarm gate: FP = rejected clean / clean, FN = accepted trojan / trojan, per group; no offers → no rate', () => {
    const d = swarmGateData(SWEEP)
    expect(d.rates).toEqual([
      { by: 'N', group: '10', rate: 'FN rate', value: 0.25, offers: 4 },
      { by: 'N', group: '10', rate: 'FP rate', value: 0.1, offers: 20 },
      { by: 'topology', group: 'er', rate: 'FN rate', value: 0.25, offers: 4 },
      { by: 'topology', group: 'er', rate: 'FP rate', value: 0.1, offers: 20 },
    ])
    expect(d.counts).toEqual([
      { offer: 'clean', outcome: 'correct', count: 18 },
      { offer: 'clean', outcome: 'error', count: 2 },
      { offer: 'trojan', outcome: 'correct', count: 3 },
      { offer: 'trojan', outcome: 'error', count: 1 },
    ])
    expect(swarmGateFigure([]).placeholder).toBe(true)
  })

  it('acceptance vs t_pred drops records with a null value instead of plotting them at 0', () => {
    const d = acceptanceData([
      { predicted_t_all: 3, accepted_offers: 5, topology: 'erdos_renyi' },
      { predicted_t_all: null, accepted_offers: 2 },
    ])
    expect(d).toEqual({ points: [{ predicted_t_all: 3, accepted_offers: 5, topology: 'erdos_renyi' }], dropped: 1 })
  })
})

describe('gate performance data (golden)', () => {
  it('keeps finite rates with their intervals and goals, leaves out empty subsets, and renders', async () => {
    const e = (value: number, n: number) => ({ value, lo: value / 2, hi: Math.min(1, value * 2), n })
    const rates = { fpr: e(0.1, 20), fnr: e(0.2, 10) }
    const empty = { fpr: e(0.1, 20), fnr: { value: Number.NaN, lo: Number.NaN, hi: Number.NaN, n: 0 } }
    const r = {
      settings: { target_fp: 0.05, target_fn: 0.1 },
      population: { clean: 20, poisoned: 10 },
      combined: { all: rates, known: rates, unknown: empty },
      weights_only: { all: rates, known: rates, unknown: empty },
      probes_only: { all: rates, known: rates, unknown: empty },
    } as unknown as EvaluationReport
    const rows = gatePerformanceData(r)
    expect(rows).toHaveLength(3 * 5)
    expect(rows.filter((x) => x.subset === 'unknown').map((x) => x.rate)).toEqual([
      'FP rate (clean rejected)',
      'FP rate (clean rejected)',
      'FP rate (clean rejected)',
    ])
    expect(rows.filter((x) => x.rate.startsWith('FN')).every((x) => x.goal === 0.1)).toBe(true)
    const written = await writeFigures([gatePerformanceFigure(r)], mkdtempSync(join(tmpdir(), 'plora-gate-fig-')))
    expect(written[0]!.placeholder).toBe(false)
    expect(rows[0]).toEqual({
      verdict: 'combined',
      rate: 'FP rate (clean rejected)',
      subset: 'all',
      value: 0.1,
      lo: 0.05,
      hi: 0.2,
      n: 20,
      goal: 0.05,
    })
  })
})

describe('palette', () => {
  it("has the original's per-domain and per-topology colours", () => {
    expect(DOMAIN_COLORS).toEqual({ arithmetic: '#F18F01', legal: '#A23B72', medical: '#2E86AB' })
    expect(TOPOLOGY_COLORS).toEqual({ er: '#2ecc71', ws: '#3498db', ba: '#e74c3c' })
  })
})
