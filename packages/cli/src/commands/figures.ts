import type { Command } from 'commander'
import { parsePathFlag } from '../flags.js'

interface FiguresFlags {
  results: string
  out?: string
}

/** `plora figures` and `plora report` (spec pipelines.md §16; issue 18). Thin: the work is in @plora/experiments. */
export function register(program: Command): void {
  program
    .command('figures')
    .description(
      'draw every figure of a results folder (value-add, gate, swarm sweep/reports) as SVG and PNG; placeholders where data is missing',
    )
    .option('--results <dir>', 'results folder read', parsePathFlag, 'results')
    .option('--out <dir>', 'figures folder written (default: <results>/figures)', parsePathFlag)
    .action(async (f: FiguresFlags) => {
      const { join } = await import('node:path')
      const ex = await import('@plora/experiments')
      const { loadRuntime } = await import('../runtime.js')
      const rt = await loadRuntime()
      const started = Date.now()
      const inputs = await ex.loadFigureInputs(f.results)
      for (const p of inputs.problems) rt.logger.warn(p)
      const out = f.out ?? join(f.results, 'figures')
      const written = await ex.writeFigures(ex.allFigures(inputs), out, { logger: rt.logger })
      const empty = written.filter((w) => w.placeholder).length
      process.stdout.write(
        `Wrote ${written.length} figures (SVG + PNG, ${empty} placeholders without data) to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      )
    })

  program
    .command('report')
    .description(
      'write every figure and results/report.html: one self-contained page with the active config, tables, figures and links to the raw files',
    )
    .option('--results <dir>', 'results folder read (report.html is written into it)', parsePathFlag, 'results')
    .action(async (f: FiguresFlags) => {
      const ex = await import('@plora/experiments')
      const { loadRuntime } = await import('../runtime.js')
      const rt = await loadRuntime()
      const started = Date.now()
      const r = await ex.writeReport({
        resultsDir: f.results,
        config: { path: rt.configPath, value: rt.config },
        logger: rt.logger,
      })
      process.stdout.write(
        `Wrote ${r.path} (${r.figures.length} figures, tables: ${r.tables.join(', ') || 'none'}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      )
    })
}
