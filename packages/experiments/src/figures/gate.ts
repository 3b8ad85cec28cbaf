/** Security gate figures: the detectors' ROC curves and the gate's error rates (`gate_eval.json`). */
import type { DetectorName, EvaluationReport } from '../gate-study.js'
import { type RocPoint, rocCurve } from '../roc.js'
import { colorScale } from './palette.js'
import { BASE_CONFIG, type Figure, placeholderFigure } from './render.js'

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'

/** One curve of {@link rocFigure}. */
export interface RocSeries {
  name: string
  points: readonly RocPoint[]
  /** Shown in the legend. */
  auc: number
  /** The operating point (FPR, TPR) at the calibrated threshold, marked with a dot. */
  operating?: { fpr: number; tpr: number }
}

/** One ROC series per detector from an evaluation's members and detector statistics. */
export function rocSeriesOf(r: Pick<EvaluationReport, 'members' | 'detectors'>): RocSeries[] {
  return (Object.keys(r.detectors) as DetectorName[]).flatMap((name) => {
    const d = { name }
    const det = r.detectors[name]
    const score = (kind: 'clean' | 'poisoned') =>
      r.members
        .filter((m) => m.kind === kind)
        .map((m) => m.scores[d.name])
        .filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
    const pos = score('poisoned')
    const neg = score('clean')
    if (pos.length === 0 || neg.length === 0) return []
    return [
      {
        name: d.name,
        points: rocCurve(pos, neg),
        auc: det.auc.all.value,
        operating: { fpr: det.fpr.value, tpr: det.tpr.all.value },
      },
    ]
  })
}

/** The ROC figure of a `gate_eval.json` (placeholder when there is none). */
export function gateRocFigure(r: EvaluationReport | null): Figure {
  const title = 'Security gate detectors on the held-out half'
  if (r === null) return placeholderFigure('gate_roc', title, 'no gate_eval.json (run `plora gate eval`)')
  return rocFigure(rocSeriesOf(r), {
    title,
    subtitle: `${r.population.clean} clean vs ${r.population.poisoned} poisoned adapters, base model ${r.settings.base_model}`,
  })
}

/** The rows a ROC figure is given. */
export function rocData(series: readonly RocSeries[]): {
  curves: Array<{ detector: string; order: number; fpr: number; tpr: number }>
  operating: Array<{ detector: string; fpr: number; tpr: number }>
} {
  const label = (s: RocSeries) => `${s.name} (AUC ${Number.isFinite(s.auc) ? s.auc.toFixed(3) : 'n/a'})`
  return {
    curves: series.flatMap((s) => s.points.map((p, order) => ({ detector: label(s), order, fpr: p.fpr, tpr: p.tpr }))),
    operating: series.flatMap((s) =>
      s.operating && Number.isFinite(s.operating.fpr) && Number.isFinite(s.operating.tpr)
        ? [{ detector: label(s), fpr: s.operating.fpr, tpr: s.operating.tpr }]
        : [],
    ),
  }
}

/**
 * ROC curves (one per detector, points joined in threshold order), the dashed chance line and
 * each detector's calibrated operating point (`results/gate_roc.svg`).
 */
export function rocFigure(series: readonly RocSeries[], o: { title: string; subtitle?: string }): Figure {
  if (series.length === 0 || series.every((s) => s.points.length === 0))
    return placeholderFigure('gate_roc', o.title, 'no scored adapters in gate_eval.json')
  const d = rocData(series)
  const detectors = [...new Set(d.curves.map((c) => c.detector))]
  const color = { field: 'detector', type: 'nominal' as const, scale: colorScale(detectors, {}), title: 'detector' }
  const x = {
    field: 'fpr',
    type: 'quantitative' as const,
    scale: { domain: [0, 1] },
    title: 'false-positive rate (clean adapters rejected)',
  }
  const y = {
    field: 'tpr',
    type: 'quantitative' as const,
    scale: { domain: [0, 1] },
    title: 'true-positive rate (poisoned adapters rejected)',
  }
  return {
    name: 'gate_roc',
    title: o.title,
    caption:
      'ROC curve of each detector on the held-out half (legend: ROC AUC); dashed: chance; dots: the thresholds calibrated on the other half.',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title: o.subtitle === undefined ? o.title : { text: o.title, subtitle: o.subtitle },
      width: 360,
      height: 360,
      config: { ...BASE_CONFIG, legend: { ...BASE_CONFIG.legend, labelLimit: 320 } },
      datasets: {
        curves: d.curves,
        operating: d.operating,
        chance: [
          { fpr: 0, tpr: 0 },
          { fpr: 1, tpr: 1 },
        ],
      },
      layer: [
        {
          data: { name: 'chance' },
          mark: { type: 'line', strokeDash: [4, 4], color: '#999999' },
          encoding: { x, y },
        },
        {
          data: { name: 'curves' },
          mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
          encoding: { x, y, color, order: { field: 'order', type: 'quantitative' } },
        },
        {
          data: { name: 'operating' },
          mark: { type: 'point', filled: true, size: 60, stroke: 'white' },
          encoding: { x, y, color },
        },
      ],
    },
  }
}

/** One bar of {@link gatePerformanceFigure}. */
export interface GatePerformanceRow {
  verdict: string
  rate: string
  subset: string
  value: number
  lo: number
  hi: number
  n: number
  /** The goal for this rate (target FP or FN). */
  goal: number
}

/** The rows of {@link gatePerformanceFigure}: each error rate with its 95 % interval and goal. */
export function gatePerformanceData(r: EvaluationReport): GatePerformanceRow[] {
  const rows: GatePerformanceRow[] = []
  const families = [
    ['combined', r.combined],
    ['weights only', r.weights_only],
    ['probes only', r.probes_only],
  ] as const
  for (const [verdict, rates] of families) {
    for (const subset of ['all', 'known', 'unknown'] as const) {
      const v = rates[subset]
      if (v === undefined) continue
      for (const [rate, e, goal] of [
        ['FP rate (clean rejected)', v.fpr, r.settings.target_fp],
        ['FN rate (poisoned passed)', v.fnr, r.settings.target_fn],
      ] as const) {
        // a subset without adapters has no rate: missing, not 0
        if (!Number.isFinite(e.value) || e.n === 0) continue
        rows.push({ verdict, rate, subset, value: e.value, lo: e.lo, hi: e.hi, n: e.n, goal })
      }
    }
  }
  return rows
}

/** The gate's FP and FN rates per verdict family and poisoned subset, with the goal lines. */
export function gatePerformanceFigure(r: EvaluationReport | null): Figure {
  const title = 'Security gate performance (held-out half)'
  if (r === null) return placeholderFigure('gate_performance', title, 'no gate_eval.json (run `plora gate eval`)')
  const rows = gatePerformanceData(r)
  if (rows.length === 0) return placeholderFigure('gate_performance', title, 'gate_eval.json has no finite rates')
  return {
    name: 'gate_performance',
    title,
    caption:
      'Bars: observed rate; error bars: exact 95 % Clopper–Pearson interval; red line: the goal (target FP / FN). ' +
      '"known"/"unknown": poisoned adapters whose trigger is / is not in the probe set (FP rates use all clean adapters).',
    placeholder: false,
    spec: {
      $schema: SCHEMA,
      title: { text: title, subtitle: `${r.population.clean} clean vs ${r.population.poisoned} poisoned adapters` },
      config: BASE_CONFIG,
      datasets: { rates: rows },
      facet: {
        row: { field: 'rate', type: 'nominal', title: null },
        column: { field: 'verdict', type: 'nominal', title: null, sort: ['combined', 'weights only', 'probes only'] },
      },
      data: { name: 'rates' },
      spec: {
        width: 150,
        height: 150,
        layer: [
          {
            mark: 'bar',
            encoding: {
              x: { field: 'subset', type: 'nominal', title: null, sort: ['all', 'known', 'unknown'] },
              y: { field: 'value', type: 'quantitative', title: 'rate', scale: { domain: [0, 1] } },
              color: { field: 'subset', type: 'nominal', scale: colorScale(['all', 'known', 'unknown'], {}) },
            },
          },
          {
            mark: { type: 'errorbar', ticks: true },
            encoding: {
              x: { field: 'subset', type: 'nominal', sort: ['all', 'known', 'unknown'] },
              y: { field: 'lo', type: 'quantitative', title: 'rate' },
              y2: { field: 'hi' },
            },
          },
          {
            mark: { type: 'rule', color: '#e74c3c', strokeDash: [4, 3] },
            encoding: { y: { aggregate: 'max', field: 'goal', type: 'quantitative' } },
          },
        ],
      },
    },
  }
}
