/**
 * The convergence figure of the alternating train–merge study (spec pipelines.md §16.2 figure 12)
 * from `alt_train_merge/convergence.json`: held-out NLL per domain vs cycle (cycle 0 = the base)
 * and `param_delta_fro` per cycle with the chosen α. The original drew only the parameter deltas,
 * with an exponential fit and a "% reduction" that its scale selection produced by construction
 * (§12 [STATS]); here the deltas are shown as measured, beside the held-out NLL that says whether
 * the cycles help.
 */
import { colorScale, DOMAIN_COLORS } from './palette.js'
import { BASE_CONFIG, type Figure, placeholderFigure } from './render.js'

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'
const NAME = 'convergence_analysis'
const TITLE = 'Convergence of alternating train–merge cycles'

/** The parts of `convergence.json` the figure reads (plora's format; the original's has only `param_delta_fro`). */
export interface ConvergenceLike {
  param_delta_fro: number[]
  domains?: string[]
  base?: { heldout_nll: Record<string, number> }
  splits?: { eval?: string }
  cycle_records?: Array<{ cycle: number; alpha: number; accepted: boolean; heldout_nll: Record<string, number> }>
}

/** One point of the NLL panel. */
export interface ConvergenceNllRow {
  cycle: number
  domain: string
  nll: number
  /** `nll` minus the base's (cycle 0) NLL of the domain; null without a base value. */
  delta_vs_base: number | null
}

/** One bar of the parameter-delta panel. */
export interface ConvergenceDeltaRow {
  cycle: number
  /** `c−1→c`. */
  transition: string
  param_delta_fro: number
  /** Chosen merge scale (null in the original's format). */
  alpha: number | null
  accepted: boolean | null
}

/** Whether a parsed JSON value looks like a convergence report. */
export function isConvergenceLike(v: unknown): v is ConvergenceLike {
  const x = v as ConvergenceLike | null
  return (
    typeof x === 'object' &&
    x !== null &&
    Array.isArray(x.param_delta_fro) &&
    x.param_delta_fro.every((d) => typeof d === 'number')
  )
}

/** Held-out NLL per domain and cycle (cycle 0 = the base); non-finite values are left out. */
export function convergenceNllData(r: ConvergenceLike): ConvergenceNllRow[] {
  const rows: ConvergenceNllRow[] = []
  const domains = r.domains ?? Object.keys(r.base?.heldout_nll ?? {})
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
  const add = (cycle: number, nll: Record<string, number>) => {
    for (const domain of domains) {
      const v = nll[domain]
      const b = r.base?.heldout_nll[domain]
      if (finite(v)) rows.push({ cycle, domain, nll: v, delta_vs_base: finite(b) ? v - b : null })
    }
  }
  if (r.base) add(0, r.base.heldout_nll)
  for (const c of r.cycle_records ?? []) add(c.cycle, c.heldout_nll)
  return rows
}

/**
 * `param_delta_fro` per cycle. plora's report numbers cycles 1…C (cycle c: merged c−1 → merged c);
 * the original's list (no cycle records) is one value per transition between its cycles 0…C−1.
 */
export function convergenceDeltaData(r: ConvergenceLike): ConvergenceDeltaRow[] {
  const records = r.cycle_records
  return r.param_delta_fro.map((d, i) => {
    const c = records?.[i]
    const cycle = c?.cycle ?? i + 1
    return {
      cycle,
      transition: `${cycle - 1}→${cycle}`,
      param_delta_fro: d,
      alpha: c ? c.alpha : null,
      accepted: c ? c.accepted : null,
    }
  })
}

/** The figure: NLL per domain vs cycle beside ‖W_c − W_{c−1}‖_F per cycle (a placeholder without data). */
export function convergenceFigure(r: ConvergenceLike | null): Figure {
  if (r === null || r.param_delta_fro.length === 0) {
    return placeholderFigure(
      NAME,
      TITLE,
      'no results/alt_train_merge/convergence.json with cycles (run `make alt-train-merge`)',
    )
  }
  const nll = convergenceNllData(r).filter((x) => x.delta_vs_base !== null)
  const deltas = convergenceDeltaData(r)
  const domains = [...new Set(nll.map((x) => x.domain))]
  const split = r.splits?.eval ?? 'held-out'
  const label = deltas.some((d) => d.alpha !== null)
  const deltaLayers = [
    {
      mark: { type: 'bar' as const, color: '#6B7280' },
      encoding: {
        x: {
          field: 'transition',
          type: 'nominal' as const,
          title: 'cycle (merged c−1 → c)',
          sort: null,
          axis: { labelAngle: 0 },
        },
        y: { field: 'param_delta_fro', type: 'quantitative' as const, title: 'param_delta_fro = ‖W(c) − W(c−1)‖_F' },
        tooltip: [
          { field: 'param_delta_fro', type: 'quantitative' as const, format: '.6f' },
          { field: 'alpha', type: 'quantitative' as const },
        ],
      },
    },
    {
      transform: [{ calculate: label ? "'α = ' + datum.alpha" : "''", as: 'label' }],
      mark: { type: 'text' as const, dy: -8, fontSize: 9 },
      encoding: {
        x: { field: 'transition', type: 'nominal' as const, sort: null },
        y: { field: 'param_delta_fro', type: 'quantitative' as const },
        text: { field: 'label', type: 'nominal' as const },
      },
    },
  ]
  const deltaPanel = {
    width: 260,
    height: 240,
    title: 'Change of the merged weights per cycle',
    data: { name: 'deltas' },
    layer: deltaLayers,
  }
  const nllPanel = {
    width: 300,
    height: 240,
    title: `Held-out NLL − base NLL (${split} split)`,
    data: { name: 'nll' },
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'cycle', type: 'ordinal' as const, title: 'cycle (0 = base)', axis: { labelAngle: 0 } },
      y: { field: 'delta_vs_base', type: 'quantitative' as const, title: 'NLL − base NLL (nats)' },
      color: { field: 'domain', type: 'nominal' as const, scale: colorScale(domains, DOMAIN_COLORS) },
      tooltip: [
        { field: 'domain', type: 'nominal' as const },
        { field: 'cycle', type: 'ordinal' as const },
        { field: 'nll', type: 'quantitative' as const, format: '.4f' },
        { field: 'delta_vs_base', type: 'quantitative' as const, format: '+.5f' },
      ],
    },
  }
  return {
    name: NAME,
    title: TITLE,
    caption:
      nll.length > 0
        ? `Left: mean per-example NLL on the ${split} split of each domain under merged model c minus the base model's (cycle 0); the absolute values are in the data and tooltips. ` +
          'Right: Frobenius norm of the change of the merged weights in each cycle (0 when the line search rejected the merge, α = 0), labelled with the chosen α.'
        : 'Frobenius norm of the change of the merged weights per cycle transition (the original format has no held-out NLL).',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title: TITLE,
      config: BASE_CONFIG,
      datasets: {
        nll: nll as unknown as Array<Record<string, unknown>>,
        deltas: deltas as unknown as Array<Record<string, unknown>>,
      },
      hconcat: nll.length > 0 ? [nllPanel, deltaPanel] : [deltaPanel],
    },
  }
}
