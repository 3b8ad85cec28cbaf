/**
 * Vega-Lite → SVG (vega's headless renderer: no browser, no canvas) → PNG (resvg). The one way
 * plora draws a figure.
 */
import { Resvg } from '@resvg/resvg-js'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

/** A figure: a file stem, a title and caption for the report, and its Vega-Lite specification. */
export interface Figure {
  /** File stem under `results/figures/` (`<name>.svg`, `<name>.png`). */
  name: string
  title: string
  /** What the marks and error bars mean (shown under the figure in the report). */
  caption: string
  /**
   * The specification. Its data is in `spec.datasets` (named tables the layers refer to), so a
   * golden test can check exactly what the figure is given.
   */
  spec: TopLevelSpec
  /** True when the data was missing and this is a labelled placeholder. */
  placeholder: boolean
}

/** The SVG text of a Vega-Lite specification, rendered headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec, { logger: vega.logger(vega.Error) }).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** A PNG of an SVG (white background, `scale` × the SVG's pixel size). */
export function svgToPng(svg: string, scale = 2): Buffer {
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
  return r.render().asPng()
}

/** SVG and PNG of a figure. */
export async function renderFigure(f: Figure): Promise<{ svg: string; png: Buffer }> {
  const svg = await renderSvg(f.spec)
  return { svg, png: svgToPng(svg) }
}

/** Base settings of every figure (font sizes after the original's rcParams, §16.3). */
export const BASE_CONFIG = {
  font: 'DejaVu Sans, sans-serif',
  background: 'white',
  axis: { labelFontSize: 9, titleFontSize: 11, gridOpacity: 0.3 },
  legend: { labelFontSize: 9, titleFontSize: 10 },
  title: { fontSize: 14, anchor: 'start' as const },
  header: { labelFontSize: 11, titleFontSize: 11 },
  view: { stroke: '#dddddd' },
}

/** A labelled placeholder: the figure's title and why there is nothing to draw. */
export function placeholderFigure(name: string, title: string, reason: string): Figure {
  return {
    name,
    title,
    caption: `No data: ${reason}`,
    placeholder: true,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: title, subtitle: 'No data available' },
      width: 480,
      height: 200,
      config: BASE_CONFIG,
      datasets: { message: [{ text: `No data: ${reason}` }] },
      data: { name: 'message' },
      mark: { type: 'text', fontSize: 13, color: '#6B7280' },
      encoding: { text: { field: 'text', type: 'nominal' } },
    },
  }
}
