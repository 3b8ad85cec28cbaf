/**
 * `results/report.html`: one self-contained page (no network: figures are `data:` URIs, styles
 * inline) with the active config, every table plora has, every figure and relative links to the
 * raw files.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { type Logger, SILENT_LOGGER, writeFileAtomic } from '@plora/common'
import { evaluationMarkdown } from '../gate-study.js'
import { valueAddMarkdown } from '../value-add-report.js'
import { allFigures, type FigureInputs, loadFigureInputs, type WrittenFigure, writeFigures } from './index.js'
import { escapeHtml, markdownToHtml } from './markdown.js'
import { topologyComparisonData } from './swarm.js'

/** Options of {@link writeReport}. */
export interface ReportOptions {
  /** The results folder (inputs, and where `report.html` goes). */
  resultsDir: string
  /** Figures folder (default `<resultsDir>/figures`). */
  figuresDir?: string
  /** The active config and where it came from, shown at the top. */
  config?: { path: string; value: unknown } | null
  /** Page title. */
  title?: string
  logger?: Logger
  /** Clock (for the "written at" line). */
  now?: () => Date
}

/** Result of {@link writeReport}. */
export interface ReportResult {
  path: string
  figures: WrittenFigure[]
  /** Section names that had a table. */
  tables: string[]
}

const CSS = `
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1200px;color:#1f2937;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #e5e7eb;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;font-size:.8rem;margin:.6rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #e5e7eb;padding:.2rem .45rem;text-align:left;white-space:nowrap}th{background:#f3f4f6}
figure{margin:1.4rem 0}figure img{max-width:100%;height:auto;border:1px solid #f3f4f6}
figcaption{font-size:.85rem;color:#4b5563;max-width:60rem}.placeholder{color:#6B7280}
pre{background:#f9fafb;border:1px solid #e5e7eb;padding:.6rem;font-size:.75rem;overflow:auto;max-height:24rem}
nav a{margin-right:1rem}code{font-size:.85em}ul.files{columns:2;font-size:.85rem}`

function dataUri(svg: string): string {
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`
}

async function listFiles(dir: string, root: string, skip: ReadonlySet<string>, depth = 0): Promise<string[]> {
  if (!existsSync(dir) || depth > 3) return []
  const out: string[] = []
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name)
    if (skip.has(p)) continue
    const s = await stat(p)
    if (s.isDirectory()) out.push(...(await listFiles(p, root, skip, depth + 1)))
    else out.push(relative(root, p).split(sep).join('/'))
  }
  return out
}

/** The sweep summary table (per topology and N) as Markdown. */
export function sweepSummaryMarkdown(inputs: Pick<FigureInputs, 'sweep'>): string | null {
  const rows = topologyComparisonData(inputs.sweep)
  if (rows.length === 0) return null
  const f = (x: number | null, d = 2) => (x === null ? 'n/a' : x.toFixed(d))
  return [
    '| topology | N | runs | reached 90 % coverage | t_obs mean ± SD | mean λ₂ |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.topology} | ${r.N} | ${r.runs} | ${r.reached} | ${r.t_obs_mean === null ? 'n/a' : `${f(r.t_obs_mean)} ± ${f(r.t_obs_sd)}`} | ${f(r.lambda2_mean, 4)} |`,
    ),
  ].join('\n')
}

/**
 * Writes every figure (SVG + PNG) and `report.html`.
 *
 * @example
 * const { path } = await writeReport({ resultsDir: 'results', config: { path: rt.configPath, value: rt.config } })
 */
export async function writeReport(o: ReportOptions): Promise<ReportResult> {
  const logger = o.logger ?? SILENT_LOGGER
  const figuresDir = o.figuresDir ?? join(o.resultsDir, 'figures')
  const inputs = await loadFigureInputs(o.resultsDir)
  const figures = await writeFigures(allFigures(inputs), figuresDir, { logger })
  const page = join(o.resultsDir, 'report.html')
  const relFromPage = (p: string) => relative(o.resultsDir, p).split(sep).join('/')
  const tables: string[] = []
  const sections: string[] = []

  // tables
  const valueAddMdPath = join(o.resultsDir, 'value_add', 'value_add.md')
  const vaMd = existsSync(valueAddMdPath)
    ? await readFile(valueAddMdPath, 'utf8')
    : inputs.valueAdd.length > 0
      ? valueAddMarkdown(inputs.valueAdd)
      : null
  const gateMdPath = join(o.resultsDir, 'gate_eval.md')
  const gateMd = existsSync(gateMdPath)
    ? await readFile(gateMdPath, 'utf8')
    : inputs.gateEval
      ? evaluationMarkdown(inputs.gateEval)
      : null
  const sweepMd = sweepSummaryMarkdown(inputs)
  const mdOf = async (...parts: string[]) => {
    const path = join(o.resultsDir, ...parts)
    return existsSync(path) ? await readFile(path, 'utf8') : null
  }
  const table = (id: string, title: string, md: string | null, base: string, missing: string) => {
    if (md !== null) tables.push(id)
    sections.push(
      `<section id="${id}"><h2>${escapeHtml(title)}</h2>`,
      md === null
        ? `<p class="placeholder">${escapeHtml(missing)}</p>`
        : markdownToHtml(md, { headingShift: 2, linkBase: base }),
      '</section>',
    )
  }
  table('value-add', 'Value-add', vaMd, 'value_add', 'No value-add records (run `make value-add-smoke`).')
  table('gate-eval', 'Security gate evaluation', gateMd, '', 'No gate evaluation (run `make gate-eval`).')
  table('sweep', 'Swarm sweep summary', sweepMd, '', 'No sweep (run `make thesis-sweep`).')
  table('ablation', 'Rank × scheme ablation', await mdOf('ablation.md'), '', 'No ablation (run `make ablation`).')
  table(
    'convergence',
    'Alternating train–merge convergence',
    await mdOf('alt_train_merge', 'convergence.md'),
    'alt_train_merge',
    'No alternating train–merge run (run `make alt-train-merge`).',
  )
  table(
    'adapter-comparison',
    'Per-domain vs monolithic vs merged adapters',
    await mdOf('adapter_comparison.md'),
    '',
    'No adapter comparison (run `make compare-adapters`).',
  )
  table(
    'merge-gate',
    'Re-gating merged adapters',
    await mdOf('merge_gate_study.md'),
    '',
    'No merge re-gating study (run `make merge-gate-study`).',
  )

  // figures
  const figs = figures.map(
    (f) =>
      `<figure id="fig-${f.name}"><img src="${dataUri(f.svgText)}" alt="${escapeHtml(f.title)}">` +
      `<figcaption><strong>${escapeHtml(f.title)}.</strong> ${escapeHtml(f.caption)} ` +
      `<a href="${relFromPage(f.svg)}">SVG</a> · <a href="${relFromPage(f.png)}">PNG</a></figcaption></figure>`,
  )

  // raw files
  const skip = new Set([page, join(o.resultsDir, 'gate_population'), join(o.resultsDir, 'value_add', 'adapters')])
  const files = (await listFiles(o.resultsDir, o.resultsDir, skip)).filter((f) => !f.startsWith('figures/'))

  const config = o.config
    ? `<p>From <code>${escapeHtml(o.config.path)}</code>.</p><pre>${escapeHtml(JSON.stringify(o.config.value, null, 2))}</pre>`
    : '<p class="placeholder">No config given.</p>'
  const problems =
    inputs.problems.length === 0
      ? ''
      : `<section><h2>Input problems</h2><ul>${inputs.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul></section>`
  const title = o.title ?? 'plora results'
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>Written ${escapeHtml((o.now ?? (() => new Date()))().toISOString())} from <code>${escapeHtml(o.resultsDir)}</code>: ${figures.length} figures (${figures.filter((f) => f.placeholder).length} placeholders without data), tables: ${tables.length === 0 ? 'none' : tables.join(', ')}.</p>
<nav><a href="#config">Config</a><a href="#value-add">Value-add</a><a href="#gate-eval">Gate</a><a href="#sweep">Sweep</a><a href="#ablation">Ablation</a><a href="#convergence">Convergence</a><a href="#adapter-comparison">Comparison</a><a href="#merge-gate">Merge gate</a><a href="#figures">Figures</a><a href="#files">Raw files</a></nav>
<section id="config"><h2>Active config</h2>${config}</section>
${sections.join('\n')}
${problems}
<section id="figures"><h2>Figures</h2>
${figs.join('\n')}
</section>
<section id="files"><h2>Raw files</h2><ul class="files">${files.map((f) => `<li><a href="${escapeHtml(f)}">${escapeHtml(f)}</a></li>`).join('')}</ul></section>
</body></html>
`
  await writeFileAtomic(page, html)
  return { path: page, figures, tables }
}
