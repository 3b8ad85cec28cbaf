/**
 * ROC curves as a standalone SVG figure (`results/gate_roc.svg`, next to the Markdown report).
 *
 * Hand-written rather than a plotting library: the figure is a few polylines, axes and a legend,
 * a self-contained SVG opens in any browser and renders on GitHub, and the charting libraries on
 * npm either need a DOM/canvas (Chart.js, Plotly) or a headless browser to produce a file (Vega's
 * SVG renderer pulls in a whole runtime for this). Each curve joins the `rocCurve` points in
 * threshold order (tied scores give the usual diagonal segment), the chance line is dashed, and each
 * detector's calibrated operating point is marked.
 */
import type { RocPoint } from './roc.js'

/** One curve of {@link rocSvg}. */
export interface RocSeries {
  name: string
  points: readonly RocPoint[]
  /** Shown in the legend. */
  auc: number
  /** The operating point (FPR, TPR) at the calibrated threshold, marked with a dot. */
  operating?: { fpr: number; tpr: number }
}

// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442']

const W = 640
const H = 440
const PLOT = { left: 60, top: 40, size: 340 }

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Plot coordinates of a (FPR, TPR) point. */
export function rocToPlot(fpr: number, tpr: number): { x: number; y: number } {
  return { x: PLOT.left + fpr * PLOT.size, y: PLOT.top + (1 - tpr) * PLOT.size }
}

const f = (v: number) => v.toFixed(1)

/** The SVG text of a ROC figure with one curve per series. */
export function rocSvg(series: readonly RocSeries[], o: { title: string; subtitle?: string }): string {
  const { left, top, size } = PLOT
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${left}" y="18" font-size="14" font-weight="bold">${esc(o.title)}</text>`,
  ]
  if (o.subtitle) out.push(`<text x="${left}" y="33" fill="#555555">${esc(o.subtitle)}</text>`)
  // grid, ticks and axes
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const a = rocToPlot(t, 0)
    const b = rocToPlot(0, t)
    out.push(
      `<line x1="${f(a.x)}" y1="${top}" x2="${f(a.x)}" y2="${top + size}" stroke="#e5e5e5"/>`,
      `<line x1="${left}" y1="${f(b.y)}" x2="${left + size}" y2="${f(b.y)}" stroke="#e5e5e5"/>`,
      `<text x="${f(a.x)}" y="${top + size + 16}" text-anchor="middle">${t}</text>`,
      `<text x="${left - 6}" y="${f(b.y + 4)}" text-anchor="end">${t}</text>`,
    )
  }
  out.push(
    `<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#333333"/>`,
    `<line x1="${left}" y1="${top + size}" x2="${left + size}" y2="${top}" stroke="#999999" stroke-dasharray="4 4"/>`,
    `<text x="${left + size / 2}" y="${top + size + 34}" text-anchor="middle">false-positive rate (clean adapters rejected)</text>`,
    `<text transform="translate(${left - 40} ${top + size / 2}) rotate(-90)" text-anchor="middle">true-positive rate (poisoned adapters rejected)</text>`,
  )
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!
    const pts = s.points.map((p) => rocToPlot(p.fpr, p.tpr))
    // past the palette, colours repeat: dash those curves
    const dash = i >= COLOURS.length ? ' stroke-dasharray="6 3"' : ''
    out.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${pts.map((p) => `${f(p.x)},${f(p.y)}`).join(' ')}"/>`,
    )
    if (s.operating) {
      const p = rocToPlot(s.operating.fpr, s.operating.tpr)
      out.push(`<circle cx="${f(p.x)}" cy="${f(p.y)}" r="4" fill="${colour}" stroke="#ffffff"/>`)
    }
    const ly = top + 8 + i * 18
    const lx = left + size + 14
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 24}" y="${ly + 4}">${esc(s.name)} ${Number.isFinite(s.auc) ? s.auc.toFixed(3) : 'n/a'}</text>`,
    )
  })
  out.push(
    `<text x="${left + size + 14}" y="${top + 8 + series.length * 18 + 6}" fill="#555555">name and ROC AUC;</text>`,
    `<text x="${left + size + 14}" y="${top + 8 + series.length * 18 + 22}" fill="#555555">dots: calibrated thresholds</text>`,
    '</svg>',
    '',
  )
  return out.join('\n')
}
