/**
 * Value-add figures from `value_add.jsonl` (spec pipelines.md §16.2 figures 7, 8, 9, 13), with the
 * original's defects fixed: a missing placebo (null) is missing, never 0; error bars are what the
 * caption says; the multiple-comparison line uses the run's own number of tests.
 */
import { bootstrapCiMean } from '@plora/metrics'
import { adjustRunPValues, type StatRecord, type ValueAddRecord } from '../value-add-records.js'
import { colorScale, DOMAIN_COLORS } from './palette.js'
import { BASE_CONFIG, type Figure, placeholderFigure } from './render.js'

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'
const CONDITIONS = { trained: 'Trained', placebo_a: 'Placebo A (random)' } as const
const NO_RECORDS = 'no records in results/value_add/value_add.jsonl (run `make value-add-smoke`)'

function finite(s: Partial<StatRecord> | null | undefined): s is StatRecord {
  return s != null && typeof s.delta_mean === 'number' && Number.isFinite(s.delta_mean)
}

function meanOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length
}

function sdOf(xs: readonly number[]): number {
  if (xs.length < 2) return 0
  const m = meanOf(xs)
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))
}

function domainsOf(records: readonly ValueAddRecord[]): string[] {
  return [...new Set(records.map((r) => r.config.domain))].sort()
}

/** One bar of {@link valueAddSummaryFigure}. */
export interface ValueAddSummaryRow {
  domain: string
  condition: string
  /** Mean of the cells' `delta_mean`. */
  mean: number
  lo: number
  hi: number
  /** Cells with a finite Δ for this condition (null conditions are left out, never counted as 0). */
  cells: number
  /** What [lo, hi] is: a bootstrap CI over cells, or the single cell's paired CI over examples. */
  interval: 'bootstrap over cells' | 'paired CI of the cell'
}

/**
 * Per domain and condition (trained, placebo A): the mean cell Δ and its 95 % interval — the
 * percentile bootstrap of the mean over cells (1000 resamples, seed 42, the original's) when there
 * are at least two cells, else the one cell's own paired bootstrap CI over examples.
 */
export function valueAddSummaryData(records: readonly ValueAddRecord[]): ValueAddSummaryRow[] {
  const rows: ValueAddSummaryRow[] = []
  for (const domain of domainsOf(records)) {
    for (const [key, condition] of Object.entries(CONDITIONS)) {
      const stats = records
        .filter((r) => r.config.domain === domain)
        .map((r) => r[key as keyof typeof CONDITIONS])
        .filter(finite)
      if (stats.length === 0) continue
      const deltas = stats.map((s) => s.delta_mean)
      const mean = meanOf(deltas)
      if (stats.length >= 2) {
        const ci = bootstrapCiMean(deltas, { nResamples: 1000, seed: 42 })
        rows.push({
          domain,
          condition,
          mean,
          lo: ci.lo,
          hi: ci.hi,
          cells: stats.length,
          interval: 'bootstrap over cells',
        })
      } else {
        const [lo, hi] = Array.isArray(stats[0]!.ci) ? stats[0]!.ci : [mean, mean]
        rows.push({ domain, condition, mean, lo, hi, cells: 1, interval: 'paired CI of the cell' })
      }
    }
  }
  return rows
}

function barsWithErrors(
  name: string,
  title: string,
  caption: string,
  rows: readonly object[],
  domains: readonly string[],
  yTitle: string,
): Figure {
  return {
    name,
    title,
    caption,
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      config: BASE_CONFIG,
      datasets: { bars: [...rows] as Array<Record<string, unknown>> },
      data: { name: 'bars' },
      facet: { column: { field: 'domain', type: 'nominal', title: null, sort: [...domains] } },
      spec: {
        width: 180,
        height: 240,
        layer: [
          {
            mark: 'bar',
            encoding: {
              x: { field: 'condition', type: 'nominal', title: null, sort: Object.values(CONDITIONS) },
              y: { field: 'mean', type: 'quantitative', title: yTitle },
              color: {
                field: 'condition',
                type: 'nominal',
                scale: { domain: Object.values(CONDITIONS), range: ['#2E86AB', '#6B7280'] },
              },
              tooltip: [
                { field: 'mean', format: '.4f' },
                { field: 'lo', format: '.4f' },
                { field: 'hi', format: '.4f' },
              ],
            },
          },
          {
            mark: { type: 'errorbar', ticks: true },
            encoding: {
              x: { field: 'condition', type: 'nominal', sort: Object.values(CONDITIONS) },
              y: { field: 'lo', type: 'quantitative', title: yTitle },
              y2: { field: 'hi' },
            },
          },
          {
            mark: { type: 'text', dy: -8, fontSize: 9 },
            encoding: {
              x: { field: 'condition', type: 'nominal', sort: Object.values(CONDITIONS) },
              y: { field: 'hi', type: 'quantitative' },
              text: { field: 'mean', type: 'quantitative', format: '+.4f' },
            },
          },
          { mark: { type: 'rule', color: '#333333' }, encoding: { y: { datum: 0 } } },
        ],
      },
      // Domains differ by orders of magnitude (arithmetic's Δ dwarfs legal's): a shared axis would
      // flatten the small domains' bars and intervals to the zero line.
      resolve: { scale: { y: 'independent' } },
    },
  }
}

/** Figure 7: trained vs placebo A per domain, mean Δ NLL with its 95 % interval. */
export function valueAddSummaryFigure(records: readonly ValueAddRecord[]): Figure {
  const title = 'Value-add: Δ NLL of trained adapters vs placebo A'
  const rows = valueAddSummaryData(records)
  if (rows.length === 0) return placeholderFigure('value_add_summary', title, NO_RECORDS)
  return barsWithErrors(
    'value_add_summary',
    title,
    'Bars: mean over cells (rank × scheme × seed) of Δ NLL = adapted − base (negative = the adapter helps). ' +
      'Error bars: 95 % percentile bootstrap CI of that mean over cells (1000 resamples, seed 42); a domain with one cell ' +
      'shows that cell’s paired bootstrap CI over examples instead. Cells without a placebo are left out, never counted as 0.',
    rows,
    domainsOf(records),
    'Δ NLL (nats/token)',
  )
}

/** One bar of {@link trainedVsPlaceboFigure}: mean ± SD over cells. */
export interface MeanSdRow {
  domain: string
  condition: string
  mean: number
  lo: number
  hi: number
  sd: number
  cells: number
}

/** Figure 9's rows: per domain and condition, mean and SD of the cells' Δ (null placebos left out). */
export function trainedVsPlaceboData(records: readonly ValueAddRecord[]): MeanSdRow[] {
  const rows: MeanSdRow[] = []
  for (const domain of domainsOf(records)) {
    for (const [key, condition] of Object.entries(CONDITIONS)) {
      const d = records
        .filter((r) => r.config.domain === domain)
        .map((r) => r[key as keyof typeof CONDITIONS])
        .filter(finite)
        .map((s) => s.delta_mean)
      if (d.length === 0) continue
      const mean = meanOf(d)
      const sd = sdOf(d)
      rows.push({ domain, condition, mean, sd, lo: mean - sd, hi: mean + sd, cells: d.length })
    }
  }
  return rows
}

/** Figure 9: grouped bars per domain, trained vs placebo A, error bars = SD over cells. */
export function trainedVsPlaceboFigure(records: readonly ValueAddRecord[]): Figure {
  const title = 'Trained vs placebo A (mean ± SD over cells)'
  const rows = trainedVsPlaceboData(records)
  if (rows.length === 0) return placeholderFigure('trained_vs_placebo', title, NO_RECORDS)
  return barsWithErrors(
    'trained_vs_placebo',
    title,
    'Bars: mean Δ NLL over cells; error bars: ± one sample standard deviation over cells (spread, not a confidence ' +
      'interval; 0 with one cell). Cells without a placebo are left out, never counted as 0.',
    rows,
    domainsOf(records),
    'Δ NLL (nats/token)',
  )
}

/** One cell of the transfer heat map. */
export interface TransferCell {
  source: string
  target: string
  mean: number
  cells: number
}

/**
 * Figure 8's cells: source (the adapter's domain) × target (the evaluated domain); the diagonal is
 * the mean trained Δ, off-diagonal the mean `cross_domain[target].delta_mean`. Pairs with no
 * finite value are absent (drawn as "n/a"), never 0.
 */
export function transferData(records: readonly ValueAddRecord[]): TransferCell[] {
  const acc = new Map<string, number[]>()
  const add = (s: string, t: string, v: number) => {
    const k = JSON.stringify([s, t])
    const list = acc.get(k) ?? []
    list.push(v)
    acc.set(k, list)
  }
  for (const r of records) {
    const s = r.config.domain
    if (finite(r.trained)) add(s, s, r.trained.delta_mean)
    for (const [t, st] of Object.entries(r.cross_domain ?? {})) if (t !== s && finite(st)) add(s, t, st.delta_mean)
  }
  return [...acc.entries()]
    .map(([k, v]) => {
      const [source, target] = JSON.parse(k) as [string, string]
      return { source, target, mean: meanOf(v), cells: v.length }
    })
    .sort((a, b) => a.source.localeCompare(b.source) || a.target.localeCompare(b.target))
}

/** Figure 8: the cross-domain transfer heat map (diverging colours symmetric around 0). */
export function transferFigure(records: readonly ValueAddRecord[]): Figure {
  const title = 'Cross-domain transfer: mean Δ NLL (adapter domain → evaluated domain)'
  const cells = transferData(records)
  if (cells.length === 0) return placeholderFigure('cross_domain_transfer', title, NO_RECORDS)
  const domains = [...new Set(cells.flatMap((c) => [c.source, c.target]))].sort()
  const have = new Set(cells.map((c) => `${c.source}\u0000${c.target}`))
  const missing = domains.flatMap((s) =>
    domains.filter((t) => !have.has(`${s}\u0000${t}`)).map((t) => ({ source: s, target: t, text: 'n/a' })),
  )
  const m = Math.max(1e-9, ...cells.map((c) => Math.abs(c.mean)))
  const x = { field: 'target', type: 'nominal' as const, title: 'evaluated on', sort: domains }
  const y = { field: 'source', type: 'nominal' as const, title: 'adapter trained on', sort: domains }
  return {
    name: 'cross_domain_transfer',
    title,
    caption:
      'Cell: mean over cells of Δ NLL; diagonal = the trained adapter on its own domain, off-diagonal = the same adapter ' +
      'on another domain (cross-domain Δ). Blue = the adapter lowers the NLL. "n/a": no record has that pair (not 0).',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      width: 80 * domains.length,
      height: 80 * domains.length,
      config: BASE_CONFIG,
      datasets: { cells, missing },
      layer: [
        {
          data: { name: 'cells' },
          mark: 'rect',
          encoding: {
            x,
            y,
            color: {
              field: 'mean',
              type: 'quantitative',
              title: 'Δ NLL',
              scale: { scheme: 'redblue', reverse: true, domain: [-m, m] },
            },
          },
        },
        {
          data: { name: 'cells' },
          mark: { type: 'text', fontSize: 11 },
          encoding: { x, y, text: { field: 'mean', type: 'quantitative', format: '+.3f' } },
        },
        {
          data: { name: 'missing' },
          mark: { type: 'text', fontSize: 11, color: '#6B7280' },
          encoding: { x, y, text: { field: 'text', type: 'nominal' } },
        },
      ],
    },
  }
}

/** Figure 13's data. */
export interface RobustnessData {
  deltas: Array<{ condition: string; delta: number }>
  pvalues: Array<{ p: number }>
  /** α and α/m with m = the run's number of tests corrected together (adjustRunPValues). */
  lines: Array<{ label: string; p: number }>
  m: number
  cv: Array<{ group: string; domain: string; cv: number; seeds: number; ok: boolean }>
}

/** Figure 13's rows: Δ histograms, trained p-values with α and α/m, CV of trained Δ across seeds. */
export function robustnessData(records: readonly ValueAddRecord[], alpha = 0.05): RobustnessData {
  const deltas: RobustnessData['deltas'] = []
  for (const r of records) {
    if (finite(r.trained)) deltas.push({ condition: CONDITIONS.trained, delta: r.trained.delta_mean })
    if (finite(r.placebo_a)) deltas.push({ condition: CONDITIONS.placebo_a, delta: r.placebo_a.delta_mean })
  }
  const pvalues = records
    .map((r) => r.trained?.wilcoxon_p)
    .filter((p): p is number => typeof p === 'number' && Number.isFinite(p))
    .map((p) => ({ p }))
  const m = adjustRunPValues(records).m
  const lines = [{ label: `α = ${alpha}`, p: alpha }]
  if (m > 1) lines.push({ label: `Bonferroni α/m, m = ${m}`, p: alpha / m })
  const groups = new Map<string, { domain: string; d: number[] }>()
  for (const r of records) {
    if (!finite(r.trained)) continue
    const g = `${r.config.domain} r${r.config.rank} ${r.config.scheme}`
    const e = groups.get(g) ?? { domain: r.config.domain, d: [] }
    e.d.push(r.trained.delta_mean)
    groups.set(g, e)
  }
  const cv: RobustnessData['cv'] = []
  for (const [group, { domain, d }] of [...groups.entries()].sort()) {
    const mean = meanOf(d)
    if (d.length < 2 || mean === 0) continue
    const v = sdOf(d) / Math.abs(mean)
    cv.push({ group, domain, cv: v, seeds: d.length, ok: v < 0.15 })
  }
  return { deltas, pvalues, lines, m, cv }
}

/** Figure 13: statistical robustness (Δ histograms, p-values with the run's own Bonferroni line, CV). */
export function robustnessFigure(records: readonly ValueAddRecord[]): Figure {
  const title = 'Statistical robustness of the value-add run'
  const d = robustnessData(records)
  if (d.deltas.length === 0) return placeholderFigure('statistical_robustness', title, NO_RECORDS)
  const panels: Array<Record<string, unknown>> = [
    {
      title: 'Δ NLL per cell',
      width: 220,
      height: 200,
      data: { name: 'deltas' },
      mark: { type: 'bar', opacity: 0.7 },
      encoding: {
        x: { field: 'delta', bin: { maxbins: 20 }, type: 'quantitative', title: 'Δ NLL' },
        y: { aggregate: 'count', type: 'quantitative', stack: null, title: 'cells' },
        color: {
          field: 'condition',
          type: 'nominal',
          scale: { domain: Object.values(CONDITIONS), range: ['#2E86AB', '#6B7280'] },
        },
      },
    },
    {
      title: `Trained Wilcoxon p (m = ${d.m} tests in this run)`,
      width: 220,
      height: 200,
      layer: [
        {
          data: { name: 'pvalues' },
          mark: 'bar',
          encoding: {
            x: { field: 'p', bin: { maxbins: 20, extent: [0, 1] }, type: 'quantitative', title: 'p (uncorrected)' },
            y: { aggregate: 'count', type: 'quantitative', title: 'cells' },
            color: { value: '#2E86AB' },
          },
        },
        {
          data: { name: 'lines' },
          mark: { type: 'rule', strokeDash: [4, 3] },
          encoding: {
            x: { field: 'p', type: 'quantitative' },
            color: { field: 'label', type: 'nominal', title: 'threshold', scale: { range: ['#e74c3c', '#A23B72'] } },
          },
        },
      ],
    },
  ]
  if (d.cv.length > 0)
    panels.push({
      title: 'CV of trained Δ across seeds (target 0.15)',
      width: 220,
      height: 200,
      layer: [
        {
          data: { name: 'cv' },
          mark: 'bar',
          encoding: {
            y: { field: 'group', type: 'nominal', title: null },
            x: { field: 'cv', type: 'quantitative', title: 'SD / |mean|' },
            color: {
              field: 'ok',
              type: 'nominal',
              title: 'CV < 0.15',
              scale: { domain: [true, false], range: ['#2ecc71', '#e74c3c'] },
            },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 3], color: '#333333' }, encoding: { x: { datum: 0.15 } } },
      ],
    })
  return {
    name: 'statistical_robustness',
    title,
    caption:
      `Left: per-cell Δ NLL of trained adapters and placebo A (null placebos left out). Middle: uncorrected trained ` +
      `Wilcoxon p-values with α = 0.05 and the Bonferroni threshold α/m for this run's m = ${d.m} tests ` +
      '(trained, placebos and cross-domain deltas corrected together; the report uses Holm/BH). ' +
      'Right: coefficient of variation of the trained Δ across seeds per (domain, rank, scheme), shown when a group has ≥ 2 seeds.',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title,
      config: BASE_CONFIG,
      datasets: { deltas: d.deltas, pvalues: d.pvalues, lines: d.lines, cv: d.cv },
      hconcat: panels,
      resolve: { scale: { color: 'independent' } },
    } as unknown as Figure['spec'],
  }
}

/** Domain colours for the domains present (exported for the swarm figures). */
export function domainColorScale(domains: readonly string[]) {
  return colorScale(domains, DOMAIN_COLORS)
}
