/**
 * The ablation figure from `ablation.jsonl` (issue 17 item 1; the original drew none, spec
 * pipelines.md §11): in-domain ΔNLL with its 95 % paired bootstrap CI per rank, one colour per
 * target scheme, one facet per domain with its own y scale (domains differ by orders of magnitude).
 */
import type { AblationRecord } from '../ablation.js'
import { colorScale } from './palette.js'
import { BASE_CONFIG, type Figure, placeholderFigure } from './render.js'

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'
const TITLE = 'Rank × scheme ablation: in-domain ΔNLL'
const SCHEME_ORDER = ['attention', 'mlp', 'all']
/** Scheme colours (Okabe–Ito, colour-vision safe). */
const SCHEME_COLORS: Readonly<Record<string, string>> = { attention: '#0072B2', mlp: '#D55E00', all: '#009E73' }

/** One point of {@link ablationFigure}. */
export interface AblationRow {
  domain: string
  rank: number
  scheme: string
  delta: number
  lo: number
  hi: number
  p_holm: number
  /** Holm-adjusted p < 0.05 and Δ < 0. */
  significant: boolean
}

/** The figure's data: one row per record with a finite ΔNLL, sorted by domain, rank, scheme. */
export function ablationData(records: readonly AblationRecord[]): AblationRow[] {
  const order = (s: string) => {
    const i = SCHEME_ORDER.indexOf(s)
    return i < 0 ? SCHEME_ORDER.length : i
  }
  return records
    .filter((r) => Number.isFinite(r.delta_nll?.delta_mean))
    .map((r) => ({
      domain: r.config.domain,
      rank: r.config.rank,
      scheme: r.config.scheme,
      delta: r.delta_nll.delta_mean,
      lo: r.delta_nll.ci[0],
      hi: r.delta_nll.ci[1],
      p_holm: r.p_holm,
      significant: r.p_holm < 0.05 && r.delta_nll.delta_mean < 0,
    }))
    .sort(
      (a, b) =>
        a.domain.localeCompare(b.domain) ||
        a.rank - b.rank ||
        order(a.scheme) - order(b.scheme) ||
        a.scheme.localeCompare(b.scheme),
    )
}

/** ΔNLL ± CI per rank, coloured by scheme, faceted by domain (independent y); a placeholder without records. */
export function ablationFigure(records: readonly AblationRecord[]): Figure {
  const rows = ablationData(records)
  if (rows.length === 0)
    return placeholderFigure('ablation', TITLE, 'no records in results/ablation.jsonl (run `make ablation`)')
  const domains = [...new Set(rows.map((r) => r.domain))]
  const seen = new Set(rows.map((r) => r.scheme))
  const schemes = [
    ...SCHEME_ORDER.filter((s) => seen.has(s)),
    ...[...seen].filter((s) => !SCHEME_ORDER.includes(s)).sort(),
  ]
  const ranks = [...new Set(rows.map((r) => r.rank))].sort((a, b) => a - b)
  const x = { field: 'rank', type: 'ordinal' as const, title: 'LoRA rank', sort: ranks, axis: { labelAngle: 0 } }
  const xOffset = { field: 'scheme', type: 'nominal' as const, sort: schemes }
  const color = {
    field: 'scheme',
    type: 'nominal' as const,
    title: 'scheme',
    scale: colorScale(schemes, SCHEME_COLORS),
  }
  const yTitle = 'ΔNLL (trained − base, nats)'
  const tooltip = [
    { field: 'domain' },
    { field: 'rank' },
    { field: 'scheme' },
    { field: 'delta', format: '+.4f' },
    { field: 'lo', format: '.4f' },
    { field: 'hi', format: '.4f' },
    { field: 'p_holm', format: '.2e' },
  ]
  return {
    name: 'ablation',
    title: TITLE,
    caption:
      'Mean per-example ΔNLL (trained − base) on the held-out dev set per LoRA rank and target scheme; ' +
      'error bars: 95 % paired bootstrap CI over examples; filled points: Holm-adjusted p < 0.05 (run-wide) ' +
      'and ΔNLL < 0. Each domain has its own y scale.',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title: TITLE,
      config: BASE_CONFIG,
      datasets: { cells: rows as unknown as Array<Record<string, unknown>> },
      data: { name: 'cells' },
      facet: { column: { field: 'domain', type: 'nominal', title: null, sort: domains } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 200,
        height: 220,
        layer: [
          { mark: { type: 'rule', color: '#333333', strokeDash: [4, 3] }, encoding: { y: { datum: 0 } } },
          {
            mark: { type: 'errorbar', ticks: true },
            encoding: {
              x,
              xOffset,
              color,
              y: { field: 'lo', type: 'quantitative', title: yTitle },
              y2: { field: 'hi' },
            },
          },
          {
            mark: { type: 'point', size: 60, strokeWidth: 1.5, filled: false },
            encoding: { x, xOffset, color, y: { field: 'delta', type: 'quantitative', title: yTitle }, tooltip },
          },
          {
            transform: [{ filter: 'datum.significant' }],
            mark: { type: 'point', size: 60, filled: true },
            encoding: { x, xOffset, color, y: { field: 'delta', type: 'quantitative', title: yTitle }, tooltip },
          },
        ],
      },
    },
  }
}
