/**
 * Swarm figures (spec pipelines.md §16.1, §16.2 figures 1–6, 10, 11) from the sweep JSONL
 * (`results/thesis_sweep.jsonl`), the swarm v2 reports (`results/swarm_v2_report_*.json`) and the
 * evaluation summary (`results/summary_v2.json`). A value that is null (a run that never reached
 * coverage, a prediction without λ₂) is missing, never 0.
 */
import { colorScale, DOMAIN_COLORS, TOPOLOGY_COLORS, TOPOLOGY_NAMES } from './palette.js'
import { BASE_CONFIG, type Figure, placeholderFigure } from './render.js'

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'
const NO_SWEEP = 'no results/thesis_sweep.jsonl (run `make thesis-sweep`)'

/** The fields of a sweep line the figures read. */
export interface SweepLine {
  topology: string
  N: number
  seed: number
  lambda2?: number | null
  t_pred?: number | null
  t_obs?: number | null
  trojan_rate?: number
  rounds?: Array<{
    t: number
    coverage: Record<string, number>
    entropy_avg: number
    mutual_information: number
    accepted_count: number
  }>
  gate?: {
    accepted_clean_total?: number | null
    accepted_trojan_total?: number | null
    rejected_clean_total?: number | null
    rejected_trojan_total?: number | null
  }
}

/** One swarm v2 report's rounds (the fields the figures read). */
export interface SwarmReportLike {
  meta?: Record<string, unknown>
  rounds?: Array<{
    t: number
    coverage: Record<string, number>
    entropy_avg: number
    mutual_information: number
    accepted_count?: number
    mi_norm?: number
  }>
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

function meanSd(xs: readonly number[]): { mean: number; sd: number; lo: number; hi: number; n: number } {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / n
  const sd = n < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
  return { mean, sd, lo: mean - sd, hi: mean + sd, n }
}

function topologies(lines: readonly { topology: string }[]): string[] {
  const order = ['er', 'ws', 'ba']
  return [...new Set(lines.map((l) => l.topology))].sort(
    (a, b) => ((order.indexOf(a) + 99) % 99) - ((order.indexOf(b) + 99) % 99) || a.localeCompare(b),
  )
}

function topoColor(lines: readonly { topology: string }[]) {
  return {
    field: 'topology',
    type: 'nominal' as const,
    title: 'topology',
    scale: colorScale(topologies(lines), TOPOLOGY_COLORS),
  }
}

/** One row of the per-round dynamics: a metric's mean ± SD over runs at round t. */
export interface DynamicsRow {
  panel: string
  series: string
  t: number
  mean: number
  sd: number
  lo: number
  hi: number
  n: number
}

/**
 * Per-round mean ± SD over runs of: coverage per domain, average binary entropy, mutual
 * information, accepted offers (lower bound clipped at 0).
 */
export function dynamicsData(
  runs: ReadonlyArray<{ rounds?: SweepLine['rounds'] | SwarmReportLike['rounds'] }>,
): DynamicsRow[] {
  const acc = new Map<string, { panel: string; series: string; t: number; v: number[] }>()
  const add = (panel: string, series: string, t: number, v: unknown) => {
    const x = num(v)
    if (x === null) return
    const k = `${panel}\u0000${series}\u0000${t}`
    const e = acc.get(k) ?? { panel, series, t, v: [] }
    e.v.push(x)
    acc.set(k, e)
  }
  for (const r of runs) {
    for (const round of r.rounds ?? []) {
      for (const [d, c] of Object.entries(round.coverage ?? {})) add('coverage', d, round.t, c)
      add('entropy (bits)', 'entropy', round.t, round.entropy_avg)
      add('mutual information (bits)', 'MI', round.t, round.mutual_information)
      add('accepted offers', 'accepted', round.t, round.accepted_count)
    }
  }
  return [...acc.values()]
    .map((e) => {
      const s = meanSd(e.v)
      return {
        panel: e.panel,
        series: e.series,
        t: e.t,
        ...s,
        lo: e.panel === 'accepted offers' ? Math.max(0, s.lo) : s.lo,
      }
    })
    .sort((a, b) => a.panel.localeCompare(b.panel) || a.series.localeCompare(b.series) || a.t - b.t)
}

function dynamicsSpec(title: string, rows: DynamicsRow[]): Figure['spec'] {
  const series = [...new Set(rows.map((r) => r.series))].sort()
  const colors = colorScale(series, { ...DOMAIN_COLORS, entropy: '#6B7280', MI: '#A23B72', accepted: '#F18F01' })
  const x = { field: 't', type: 'quantitative' as const, title: 'round' }
  return {
    $schema: SCHEMA,
    title,
    config: BASE_CONFIG,
    datasets: { rows },
    data: { name: 'rows' },
    facet: {
      field: 'panel',
      type: 'nominal',
      title: null,
      sort: ['coverage', 'entropy (bits)', 'mutual information (bits)', 'accepted offers'],
    },
    columns: 2,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 260,
      height: 160,
      layer: [
        {
          mark: { type: 'area', opacity: 0.2 },
          encoding: {
            x,
            y: { field: 'lo', type: 'quantitative', title: null },
            y2: { field: 'hi' },
            color: { field: 'series', type: 'nominal', scale: colors, title: null },
          },
        },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative', title: null },
            color: { field: 'series', type: 'nominal', scale: colors, title: null },
          },
        },
      ],
    },
  } as Figure['spec']
}

/** Figure 1: swarm dynamics aggregated over every sweep run by round (band = ± SD). */
export function swarmDynamicsFigure(lines: readonly SweepLine[]): Figure {
  const title = 'Swarm dynamics over all sweep runs'
  const rows = dynamicsData(lines)
  if (rows.length === 0) return placeholderFigure('swarm_dynamics', title, NO_SWEEP)
  return {
    name: 'swarm_dynamics',
    title,
    caption: `Mean over ${lines.length} sweep runs per round; bands: ± one SD across runs (accepted offers clipped at 0).`,
    placeholder: false,
    spec: dynamicsSpec(`${title} (${lines.length} experiments)`, rows),
  }
}

/** Figure 3 for one swarm v2 report: coverage, entropy, MI and accepted offers per round. */
export function swarmRunFigure(name: string, report: SwarmReportLike | null): Figure {
  const meta = report?.meta ?? {}
  const title = `Swarm run ${String(meta.topology ?? meta.graph ?? '')} N=${String(meta.N ?? '?')} seed ${String(meta.seed ?? '?')}`
  const rows = report === null ? [] : dynamicsData([report])
  if (rows.length === 0) return placeholderFigure(name, title, 'the report has no rounds')
  return {
    name,
    title,
    caption:
      'One run of `plora swarm sim`: coverage per domain, average binary entropy, mutual information and accepted offers per round.',
    placeholder: false,
    spec: dynamicsSpec(title, rows),
  }
}

/** Figure 2's rows: MI mean ± SD per topology, N and round. */
export function miDecayData(
  lines: readonly SweepLine[],
): Array<{ topology: string; N: number; t: number; mean: number; sd: number; lo: number; hi: number; n: number }> {
  const acc = new Map<string, { topology: string; N: number; t: number; v: number[] }>()
  for (const l of lines)
    for (const r of l.rounds ?? []) {
      const x = num(r.mutual_information)
      if (x === null) continue
      const k = `${l.topology}\u0000${l.N}\u0000${r.t}`
      const e = acc.get(k) ?? { topology: l.topology, N: l.N, t: r.t, v: [] }
      e.v.push(x)
      acc.set(k, e)
    }
  return [...acc.values()]
    .map((e) => ({ topology: e.topology, N: e.N, t: e.t, ...meanSd(e.v) }))
    .sort((a, b) => a.topology.localeCompare(b.topology) || a.N - b.N || a.t - b.t)
}

/** Figure 2: MI decay by topology, one line per N (band = ± SD over seeds / trojan rates). */
export function miDecayFigure(lines: readonly SweepLine[]): Figure {
  const title = 'Mutual information decay by topology'
  const rows = miDecayData(lines)
  if (rows.length === 0) return placeholderFigure('mi_decay_by_topology', title, NO_SWEEP)
  const x = { field: 't', type: 'quantitative' as const, title: 'round' }
  const color = { field: 'N', type: 'ordinal' as const, title: 'N', scale: { scheme: 'viridis' } }
  return {
    name: 'mi_decay_by_topology',
    title,
    caption: 'Mean MI per round over the runs of each (topology, N); bands: ± one SD across runs.',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      config: BASE_CONFIG,
      datasets: { rows },
      data: { name: 'rows' },
      transform: [
        {
          lookup: 'topology',
          from: {
            data: { values: Object.entries(TOPOLOGY_NAMES).map(([topology, name]) => ({ topology, name })) },
            key: 'topology',
            fields: ['name'],
          },
          default: null,
        },
        { calculate: 'datum.name || datum.topology', as: 'panel' },
      ],
      facet: {
        column: {
          field: 'panel',
          type: 'nominal',
          title: null,
          sort: topologies(rows).map((t) => TOPOLOGY_NAMES[t] ?? t),
        },
      },
      spec: {
        width: 220,
        height: 180,
        layer: [
          {
            mark: { type: 'area', opacity: 0.15 },
            encoding: { x, y: { field: 'lo', type: 'quantitative', title: 'MI (bits)' }, y2: { field: 'hi' }, color },
          },
          { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color } },
        ],
      },
    } as Figure['spec'],
  }
}

/** One sweep run for the spectral figures. */
export interface SpectralRow {
  topology: string
  N: number
  seed: number
  trojan_rate: number | null
  lambda2: number | null
  t_pred: number | null
  t_obs: number | null
  /** t_obs / t_pred; null unless both are positive numbers. */
  ratio: number | null
}

/** Per-run spectral rows (efficiency ratio null when t_pred ≤ 0 or t_obs is missing). */
export function spectralData(lines: readonly SweepLine[]): SpectralRow[] {
  return lines.map((l) => {
    const tp = num(l.t_pred)
    const to = num(l.t_obs)
    return {
      topology: l.topology,
      N: l.N,
      seed: l.seed,
      trojan_rate: num(l.trojan_rate),
      lambda2: num(l.lambda2),
      t_pred: tp,
      t_obs: to,
      ratio: tp !== null && tp > 0 && to !== null ? to / tp : null,
    }
  })
}

/** Figure 4 (and 6): λ₂ vs t_obs, t_pred vs t_obs with y = x, and the t_obs/t_pred histogram. */
export function spectralFigure(lines: readonly SweepLine[]): Figure {
  const title = 'Spectral convergence: predicted vs observed diffusion time'
  const rows = spectralData(lines).filter((r) => r.t_pred !== null && r.t_pred > 0)
  const ratios = rows.filter((r) => r.ratio !== null)
  if (rows.length === 0)
    return placeholderFigure(
      'spectral_convergence',
      title,
      lines.length === 0 ? NO_SWEEP : 'no sweep run has t_pred > 0',
    )
  const within = ratios.filter((r) => r.ratio! <= 1.5).length
  const pct = ratios.length === 0 ? null : (100 * within) / ratios.length
  const color = topoColor(rows)
  const maxT = Math.max(1, ...rows.flatMap((r) => [r.t_pred ?? 0, r.t_obs ?? 0]))
  return {
    name: 'spectral_convergence',
    title,
    caption:
      `Each point is a sweep run. t_obs = rounds until every domain reaches 90 % coverage (runs that never did are left out: ` +
      `${rows.length - ratios.length} of ${rows.length}); t_pred from λ₂ of the normalised Laplacian. ` +
      `Right: t_obs / t_pred with lines at 1.0 and 1.5${pct === null ? '' : `; ${pct.toFixed(0)} % of runs within 1.5`}.`,
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title: {
        text: title,
        subtitle: pct === null ? 'no run reached coverage' : `${pct.toFixed(0)} % of runs within 1.5 × prediction`,
      },
      config: BASE_CONFIG,
      datasets: { runs: rows, diagonal: [{ v: 0 }, { v: maxT }], ratioLines: [{ r: 1 }, { r: 1.5 }] },
      hconcat: [
        {
          width: 200,
          height: 180,
          data: { name: 'runs' },
          transform: [{ filter: 'datum.t_obs != null && datum.lambda2 != null' }],
          mark: { type: 'point', filled: true },
          encoding: {
            x: { field: 'lambda2', type: 'quantitative', title: 'λ₂' },
            y: { field: 't_obs', type: 'quantitative', title: 't_obs (rounds)' },
            color,
          },
        },
        {
          width: 200,
          height: 180,
          layer: [
            {
              data: { name: 'diagonal' },
              mark: { type: 'line', strokeDash: [4, 4], color: '#999999' },
              encoding: {
                x: { field: 'v', type: 'quantitative', title: 't_pred' },
                y: { field: 'v', type: 'quantitative', title: 't_obs' },
              },
            },
            {
              data: { name: 'runs' },
              transform: [{ filter: 'datum.t_obs != null' }],
              mark: { type: 'point', filled: true },
              encoding: {
                x: { field: 't_pred', type: 'quantitative' },
                y: { field: 't_obs', type: 'quantitative' },
                color,
              },
            },
          ],
        },
        {
          width: 200,
          height: 180,
          layer: [
            {
              data: { name: 'runs' },
              transform: [{ filter: 'datum.ratio != null' }],
              mark: 'bar',
              encoding: {
                x: {
                  field: 'ratio',
                  bin: { maxbins: 20, extent: [0, Math.max(1.6, ...ratios.map((r) => r.ratio!))] },
                  type: 'quantitative',
                  title: 't_obs / t_pred',
                },
                y: { aggregate: 'count', type: 'quantitative', title: 'runs' },
                color: { value: '#2E86AB' },
              },
            },
            {
              data: { name: 'ratioLines' },
              mark: { type: 'rule', strokeDash: [4, 3], color: '#e74c3c' },
              encoding: { x: { field: 'r', type: 'quantitative' } },
            },
          ],
        },
      ],
    } as Figure['spec'],
  }
}

/** Figure 5's per-(topology, N) aggregate. */
export function topologyComparisonData(lines: readonly SweepLine[]): Array<{
  topology: string
  N: number
  runs: number
  t_obs_mean: number | null
  t_obs_sd: number | null
  t_obs_lo: number | null
  t_obs_hi: number | null
  /** Runs that reached 90 % coverage (t_obs is their mean). */
  reached: number
  lambda2_mean: number | null
}> {
  const groups = new Map<string, SpectralRow[]>()
  for (const r of spectralData(lines)) {
    const k = `${r.topology}\u0000${r.N}`
    groups.set(k, [...(groups.get(k) ?? []), r])
  }
  return [...groups.values()]
    .map((g) => {
      const t = g.map((r) => r.t_obs).filter((x): x is number => x !== null)
      const l = g.map((r) => r.lambda2).filter((x): x is number => x !== null)
      const ts = t.length === 0 ? null : meanSd(t)
      return {
        topology: g[0]!.topology,
        N: g[0]!.N,
        runs: g.length,
        t_obs_mean: ts?.mean ?? null,
        t_obs_sd: ts?.sd ?? null,
        t_obs_lo: ts === null ? null : Math.max(0, ts.lo),
        t_obs_hi: ts?.hi ?? null,
        reached: t.length,
        lambda2_mean: l.length === 0 ? null : meanSd(l).mean,
      }
    })
    .sort((a, b) => a.topology.localeCompare(b.topology) || a.N - b.N)
}

/** Figure 5: t_obs mean ± SD and λ₂ by N × topology, and the efficiency-ratio box plot. */
export function topologyComparisonFigure(lines: readonly SweepLine[]): Figure {
  const title = 'Topology comparison'
  const rows = topologyComparisonData(lines)
  if (rows.length === 0) return placeholderFigure('topology_comparison', title, NO_SWEEP)
  const color = topoColor(rows)
  const x = { field: 'N', type: 'ordinal' as const, title: 'N (agents)' }
  return {
    name: 'topology_comparison',
    title,
    caption:
      'Left: mean t_obs of the runs that reached 90 % coverage, error bars ± one SD (clipped at 0); middle: mean λ₂; right: t_obs / t_pred per run by topology (box: quartiles, whiskers 1.5 IQR).',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      config: BASE_CONFIG,
      datasets: { groups: rows, runs: spectralData(lines).filter((r) => r.ratio !== null) },
      hconcat: [
        {
          width: 220,
          height: 180,
          data: { name: 'groups' },
          transform: [{ filter: 'datum.t_obs_mean != null' }],
          layer: [
            {
              mark: 'bar',
              encoding: {
                x,
                xOffset: { field: 'topology', sort: topologies(rows) },
                y: { field: 't_obs_mean', type: 'quantitative', title: 't_obs (rounds)' },
                color,
              },
            },
            {
              mark: { type: 'errorbar', ticks: true },
              encoding: {
                x,
                xOffset: { field: 'topology', sort: topologies(rows) },
                y: { field: 't_obs_lo', type: 'quantitative', title: 't_obs (rounds)' },
                y2: { field: 't_obs_hi' },
              },
            },
          ],
        },
        {
          width: 220,
          height: 180,
          data: { name: 'groups' },
          transform: [{ filter: 'datum.lambda2_mean != null' }],
          mark: 'bar',
          encoding: {
            x,
            xOffset: { field: 'topology', sort: topologies(rows) },
            y: { field: 'lambda2_mean', type: 'quantitative', title: 'mean λ₂' },
            color,
          },
        },
        {
          width: 160,
          height: 180,
          data: { name: 'runs' },
          mark: { type: 'boxplot', extent: 1.5 },
          encoding: {
            x: { field: 'topology', type: 'nominal', title: null },
            y: { field: 'ratio', type: 'quantitative', title: 't_obs / t_pred' },
            color,
          },
        },
      ],
    } as Figure['spec'],
  }
}

/** Figure 10's rows: gate FP/FN rates of the sweep per topology and per N (null when no offers of that kind). */
export function swarmGateData(lines: readonly SweepLine[]): {
  rates: Array<{ by: 'topology' | 'N'; group: string; rate: 'FP rate' | 'FN rate'; value: number; offers: number }>
  counts: Array<{ offer: 'clean' | 'trojan'; outcome: 'correct' | 'error'; count: number }>
} {
  const sums = new Map<string, { ac: number; at: number; rc: number; rt: number }>()
  const tot = { ac: 0, at: 0, rc: 0, rt: 0 }
  for (const l of lines) {
    const g = l.gate
    if (!g) continue
    const v = {
      ac: num(g.accepted_clean_total) ?? 0,
      at: num(g.accepted_trojan_total) ?? 0,
      rc: num(g.rejected_clean_total) ?? 0,
      rt: num(g.rejected_trojan_total) ?? 0,
    }
    for (const k of [`topology\u0000${l.topology}`, `N\u0000${l.N}`]) {
      const s = sums.get(k) ?? { ac: 0, at: 0, rc: 0, rt: 0 }
      s.ac += v.ac
      s.at += v.at
      s.rc += v.rc
      s.rt += v.rt
      sums.set(k, s)
    }
    tot.ac += v.ac
    tot.at += v.at
    tot.rc += v.rc
    tot.rt += v.rt
  }
  const rates: ReturnType<typeof swarmGateData>['rates'] = []
  for (const [k, s] of sums) {
    const [by, group] = k.split('\u0000') as ['topology' | 'N', string]
    if (s.ac + s.rc > 0) rates.push({ by, group, rate: 'FP rate', value: s.rc / (s.ac + s.rc), offers: s.ac + s.rc })
    if (s.at + s.rt > 0) rates.push({ by, group, rate: 'FN rate', value: s.at / (s.at + s.rt), offers: s.at + s.rt })
  }
  rates.sort(
    (a, b) =>
      a.by.localeCompare(b.by) ||
      a.group.localeCompare(b.group, undefined, { numeric: true }) ||
      a.rate.localeCompare(b.rate),
  )
  const counts: ReturnType<typeof swarmGateData>['counts'] = [
    { offer: 'clean', outcome: 'correct', count: tot.ac },
    { offer: 'clean', outcome: 'error', count: tot.rc },
    { offer: 'trojan', outcome: 'correct', count: tot.rt },
    { offer: 'trojan', outcome: 'error', count: tot.at },
  ]
  return { rates, counts: tot.ac + tot.at + tot.rc + tot.rt === 0 ? [] : counts }
}

/** Figure 10: the swarm gate's FP/FN rates by topology and by N, and correct/error counts. */
export function swarmGateFigure(lines: readonly SweepLine[]): Figure {
  const title = 'Security gate in the swarm sweep'
  const d = swarmGateData(lines)
  if (d.counts.length === 0)
    return placeholderFigure(
      'security_gate_performance',
      title,
      lines.length === 0 ? NO_SWEEP : 'the sweep gated no offers',
    )
  const rateColor = {
    field: 'rate',
    type: 'nominal' as const,
    scale: { domain: ['FP rate', 'FN rate'], range: ['#3498db', '#e74c3c'] },
  }
  const panel = (by: 'topology' | 'N') => ({
    width: 200,
    height: 180,
    title: `by ${by}`,
    layer: [
      {
        data: { name: 'rates' },
        transform: [{ filter: `datum.by === '${by}'` }],
        mark: 'bar',
        encoding: {
          x: { field: 'group', type: 'nominal', title: by, sort: null },
          xOffset: { field: 'rate' },
          y: { field: 'value', type: 'quantitative', title: 'rate', scale: { domain: [0, 1] } },
          color: rateColor,
        },
      },
      { mark: { type: 'rule', strokeDash: [4, 3], color: '#333333' }, encoding: { y: { datum: 0.1 } } },
    ],
  })
  return {
    name: 'security_gate_performance',
    title,
    caption:
      'FP rate = clean offers rejected / clean offers gated; FN rate = trojan offers accepted / trojan offers gated, summed over the sweep runs of each group (a group without offers of a kind has no bar, not 0). Dashed: 0.10. Right: all offers, correct vs erroneous verdicts.',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      config: BASE_CONFIG,
      datasets: { rates: d.rates, counts: d.counts },
      hconcat: [
        panel('topology'),
        panel('N'),
        {
          width: 140,
          height: 180,
          title: 'verdicts',
          data: { name: 'counts' },
          mark: 'bar',
          encoding: {
            x: { field: 'offer', type: 'nominal', title: null },
            y: { field: 'count', type: 'quantitative', title: 'offers' },
            color: {
              field: 'outcome',
              type: 'nominal',
              scale: { domain: ['correct', 'error'], range: ['#2ecc71', '#e74c3c'] },
            },
          },
        },
      ],
      resolve: { scale: { color: 'independent' } },
    } as Figure['spec'],
  }
}

/** Figure 11: scalability — t_obs and λ₂ against N (log x) per topology. */
export function scalabilityFigure(lines: readonly SweepLine[]): Figure {
  const title = 'Scalability'
  const rows = topologyComparisonData(lines)
  if (rows.length === 0) return placeholderFigure('scalability_analysis', title, NO_SWEEP)
  const color = topoColor(rows)
  const x = {
    field: 'N',
    type: 'quantitative' as const,
    title: 'N (agents, log scale)',
    scale: { type: 'log' as const },
  }
  return {
    name: 'scalability_analysis',
    title,
    caption: 'Mean t_obs (runs that reached 90 % coverage) and mean λ₂ per (topology, N), N on a log axis.',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      config: BASE_CONFIG,
      datasets: { groups: rows },
      hconcat: [
        {
          width: 240,
          height: 180,
          data: { name: 'groups' },
          transform: [{ filter: 'datum.t_obs_mean != null' }],
          mark: { type: 'line', point: true },
          encoding: { x, y: { field: 't_obs_mean', type: 'quantitative', title: 't_obs (rounds)' }, color },
        },
        {
          width: 240,
          height: 180,
          data: { name: 'groups' },
          transform: [{ filter: 'datum.lambda2_mean != null' }],
          mark: { type: 'line', point: true },
          encoding: { x, y: { field: 'lambda2_mean', type: 'quantitative', title: 'λ₂' }, color },
        },
      ],
    } as Figure['spec'],
  }
}

/** §16.1's rows: one point per summary record with both values (nulls left out, not 0). */
export function acceptanceData(summary: ReadonlyArray<Record<string, unknown>>): {
  points: Array<{ predicted_t_all: number; accepted_offers: number; topology: string }>
  dropped: number
} {
  const points = summary.flatMap((s) => {
    const x = num(s.predicted_t_all)
    const y = num(s.accepted_offers)
    return x === null || y === null
      ? []
      : [{ predicted_t_all: x, accepted_offers: y, topology: String(s.topology ?? s.graph ?? 'unknown') }]
  })
  return { points, dropped: summary.length - points.length }
}

/** §16.1: acceptance vs predicted diffusion time (from `results/summary_v2.json`). */
export function acceptanceFigure(summary: ReadonlyArray<Record<string, unknown>> | null): Figure {
  const title = 'Acceptance vs Predicted Diffusion Time'
  const d = acceptanceData(summary ?? [])
  if (d.points.length === 0)
    return placeholderFigure(
      'acceptance_vs_tpred',
      title,
      summary === null ? 'no results/summary_v2.json (run `plora swarm eval`)' : 'no summary record has both values',
    )
  return {
    name: 'acceptance_vs_tpred',
    title,
    caption: `One point per swarm summary record; ${d.dropped} record(s) without predicted_t_all or accepted_offers are left out (the original plotted them at 0).`,
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      width: 360,
      height: 260,
      config: BASE_CONFIG,
      datasets: { points: d.points },
      data: { name: 'points' },
      mark: { type: 'point', filled: true, size: 60 },
      encoding: {
        x: { field: 'predicted_t_all', type: 'quantitative' },
        y: { field: 'accepted_offers', type: 'quantitative' },
        color: topoColor(d.points),
      },
    },
  }
}

/**
 * Figure 6 (RQ2 spectral analysis): figure 4's three panels (λ₂ vs t_obs, theory vs observation,
 * ratio histogram) plus mean t_obs by N per topology.
 */
export function rq2Figure(lines: readonly SweepLine[]): Figure {
  const base = spectralFigure(lines)
  const title = 'RQ2: spectral analysis of diffusion time'
  if (base.placeholder)
    return { ...placeholderFigure('rq2_spectral_analysis', title, base.caption.replace(/^No data: /, '')) }
  const groups = topologyComparisonData(lines).filter((g) => g.t_obs_mean !== null)
  const spec = base.spec as unknown as { datasets: Record<string, unknown[]>; hconcat: unknown[]; title: unknown }
  return {
    name: 'rq2_spectral_analysis',
    title,
    caption: `${base.caption} Last panel: mean t_obs of the runs that reached coverage, by N and topology.`,
    placeholder: false,
    spec: {
      ...spec,
      title: { text: title, subtitle: (spec.title as { subtitle?: string }).subtitle ?? '' },
      datasets: { ...spec.datasets, groups },
      hconcat: [
        ...spec.hconcat,
        {
          width: 200,
          height: 180,
          data: { name: 'groups' },
          mark: 'bar',
          encoding: {
            x: { field: 'N', type: 'ordinal', title: 'N (agents)' },
            xOffset: { field: 'topology', sort: topologies(groups) },
            y: { field: 't_obs_mean', type: 'quantitative', title: 'mean t_obs (rounds)' },
            color: topoColor(groups),
          },
        },
      ],
    } as unknown as Figure['spec'],
  }
}
