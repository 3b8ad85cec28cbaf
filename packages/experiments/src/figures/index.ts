/**
 * Every figure of a results folder (spec pipelines.md §16): load what plora wrote, build each
 * figure's Vega-Lite specification (a labelled placeholder where the data is missing), render SVG
 * and PNG into `results/figures/`.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Logger, SILENT_LOGGER, writeFileAtomic } from '@plora/common'
import { type AblationRecord, readAblationRecords } from '../ablation.js'
import type { EvaluationReport } from '../gate-study.js'
import { readValueAddRecords, type ValueAddRecord } from '../value-add-records.js'
import { ablationFigure } from './ablation.js'
import { type ConvergenceLike, convergenceFigure, isConvergenceLike } from './convergence.js'
import { gatePerformanceFigure, gateRocFigure } from './gate.js'
import { type Figure, placeholderFigure, renderFigure } from './render.js'
import {
  acceptanceFigure,
  miDecayFigure,
  rq2Figure,
  type SwarmReportLike,
  type SweepLine,
  scalabilityFigure,
  spectralFigure,
  swarmDynamicsFigure,
  swarmGateFigure,
  swarmRunFigure,
  topologyComparisonFigure,
} from './swarm.js'
import { robustnessFigure, trainedVsPlaceboFigure, transferFigure, valueAddSummaryFigure } from './value-add.js'

/** Where the figures read their inputs, relative to the results folder. */
export const FIGURE_INPUTS = {
  valueAdd: 'value_add/value_add.jsonl',
  sweep: 'thesis_sweep.jsonl',
  summary: 'summary_v2.json',
  gateEval: 'gate_eval.json',
  convergence: 'alt_train_merge/convergence.json',
  ablation: 'ablation.jsonl',
} as const

/** What the figures are drawn from (each part absent when its file is). */
export interface FigureInputs {
  valueAdd: ValueAddRecord[]
  sweep: SweepLine[]
  /** `swarm_v2_report_*.json` file stem → report. */
  reports: Array<{ file: string; report: SwarmReportLike }>
  summary: Array<Record<string, unknown>> | null
  gateEval: EvaluationReport | null
  /** `alt_train_merge/convergence.json`, when it has `param_delta_fro`. */
  convergence: ConvergenceLike | null
  /** `ablation.jsonl` records (empty when absent or unreadable). */
  ablation: AblationRecord[]
  /** Files that were present but unreadable, with the reason (drawn as placeholders). */
  problems: string[]
}

async function readJson(path: string, problems: string[]): Promise<unknown> {
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown
  } catch (e) {
    problems.push(`${path}: ${(e as Error).message}`)
    return undefined
  }
}

/** Reads the inputs of every figure from a results folder (missing or bad files → empty parts). */
export async function loadFigureInputs(resultsDir: string): Promise<FigureInputs> {
  const problems: string[] = []
  const valueAdd = (await readValueAddRecords(join(resultsDir, FIGURE_INPUTS.valueAdd), { repair: false })).records
  const sweep: SweepLine[] = []
  const sweepPath = join(resultsDir, FIGURE_INPUTS.sweep)
  if (existsSync(sweepPath)) {
    const lines = (await readFile(sweepPath, 'utf8')).split('\n')
    lines.forEach((l, i) => {
      if (l.trim() === '') return
      try {
        const v = JSON.parse(l) as SweepLine
        if (typeof v?.topology === 'string' && typeof v.N === 'number') sweep.push(v)
      } catch {
        problems.push(`${sweepPath}:${i + 1}: not JSON (line skipped)`)
      }
    })
  }
  const reports: FigureInputs['reports'] = []
  if (existsSync(resultsDir)) {
    for (const f of (await readdir(resultsDir)).filter((x) => /^swarm_v2_report_.*\.json$/.test(x)).sort()) {
      const r = await readJson(join(resultsDir, f), problems)
      if (typeof r === 'object' && r !== null)
        reports.push({ file: f.replace(/\.json$/, ''), report: r as SwarmReportLike })
    }
  }
  const summary = await readJson(join(resultsDir, FIGURE_INPUTS.summary), problems)
  const gate = await readJson(join(resultsDir, FIGURE_INPUTS.gateEval), problems)
  const convergence = await readJson(join(resultsDir, FIGURE_INPUTS.convergence), problems)
  let ablation: AblationRecord[] = []
  try {
    ablation = await readAblationRecords(join(resultsDir, FIGURE_INPUTS.ablation))
  } catch (e) {
    problems.push((e as Error).message)
  }
  return {
    valueAdd,
    sweep,
    reports,
    summary: Array.isArray(summary) ? (summary as Array<Record<string, unknown>>) : null,
    gateEval:
      typeof gate === 'object' && gate !== null && (gate as { schema?: unknown }).schema === 'plora.gate-eval/v1'
        ? (gate as EvaluationReport)
        : null,
    convergence: isConvergenceLike(convergence) ? convergence : null,
    ablation,
    problems,
  }
}

/** The sample run of figure 3: the first ER, N = 40, trojan-free sweep run. */
function sampleErFigure(sweep: readonly SweepLine[]): Figure {
  const run = sweep.find((l) => l.topology === 'er' && l.N === 40 && (l.trojan_rate ?? 0) === 0)
  const title = 'Sample Erdős-Rényi run (N = 40, no trojans)'
  if (run === undefined) return placeholderFigure('sample_er_n40', title, 'no ER, N = 40, trojan-free run in the sweep')
  const f = swarmRunFigure('sample_er_n40', {
    meta: { topology: 'er', N: 40, seed: run.seed },
    rounds: run.rounds ?? [],
  })
  return { ...f, title }
}

/** Every figure, in report order (placeholders where data is missing). */
export function allFigures(inputs: FigureInputs): Figure[] {
  const s = inputs.sweep
  const r = inputs.gateEval
  return [
    valueAddSummaryFigure(inputs.valueAdd),
    trainedVsPlaceboFigure(inputs.valueAdd),
    transferFigure(inputs.valueAdd),
    robustnessFigure(inputs.valueAdd),
    gateRocFigure(r),
    gatePerformanceFigure(r),
    swarmDynamicsFigure(s),
    miDecayFigure(s),
    sampleErFigure(s),
    spectralFigure(s),
    topologyComparisonFigure(s),
    rq2Figure(s),
    swarmGateFigure(s),
    scalabilityFigure(s),
    acceptanceFigure(inputs.summary),
    ...inputs.reports.map((x) => swarmRunFigure(x.file.replace(/^swarm_v2_report_/, 'swarm_run_'), x.report)),
    convergenceFigure(inputs.convergence),
    ablationFigure(inputs.ablation),
  ]
}

/** A written figure. */
export interface WrittenFigure {
  name: string
  title: string
  caption: string
  placeholder: boolean
  svg: string
  png: string
  /** The SVG text (for inlining in the report). */
  svgText: string
}

/** Renders figures into `outDir` as `<name>.svg` and `<name>.png`. */
export async function writeFigures(
  figures: readonly Figure[],
  outDir: string,
  options: { logger?: Logger } = {},
): Promise<WrittenFigure[]> {
  const logger = options.logger ?? SILENT_LOGGER
  await mkdir(outDir, { recursive: true })
  const out: WrittenFigure[] = []
  for (const f of figures) {
    let fig = f
    let rendered: { svg: string; png: Buffer }
    try {
      rendered = await renderFigure(f)
    } catch (e) {
      // a figure that cannot be drawn is a placeholder saying why, never a crash of the whole set
      logger.warn(`figure ${f.name}: ${(e as Error).message}`)
      fig = placeholderFigure(f.name, f.title, `could not be drawn: ${(e as Error).message}`)
      rendered = await renderFigure(fig)
    }
    const svg = join(outDir, `${f.name}.svg`)
    const png = join(outDir, `${f.name}.png`)
    await writeFileAtomic(svg, rendered.svg)
    await writeFileAtomic(png, rendered.png)
    out.push({
      name: f.name,
      title: fig.title,
      caption: fig.caption,
      placeholder: fig.placeholder,
      svg,
      png,
      svgText: rendered.svg,
    })
  }
  return out
}
