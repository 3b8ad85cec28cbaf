import type { Command } from 'commander'
import { parseCsvInts, parseEnum, parsePathFlag } from '../flags.js'

interface PipelineFlags {
  config?: string
  skip?: number[]
  only?: number[]
  report: boolean
}

const NAMES = ['dry', 'full'] as const
type Name = (typeof NAMES)[number]

/** The plora checkout this CLI runs from (packages/cli/{dist,src}/commands → four levels up). */
async function repoRoot(): Promise<string> {
  const { fileURLToPath } = await import('node:url')
  return fileURLToPath(new URL('../../../../', import.meta.url))
}

/** The pipeline's config file (`--config`, else config/plora.<name>.yml of the project) and its value. */
async function pipelineConfig(name: Name, file: string | undefined) {
  const { join, resolve } = await import('node:path')
  const { findProjectRoot, loadConfigFile, PRESETS } = await import('@plora/config')
  const path = file ? resolve(file) : join(findProjectRoot(), 'config', PRESETS[name])
  return { path, config: loadConfigFile(path) }
}

function rootOf(cmd: Command): Command {
  let c = cmd
  while (c.parent) c = c.parent
  return c
}

/**
 * `plora pipeline run|status|reset|check dry|full` (spec pipelines.md §3.3; issue 19). Thin: the
 * step table, state and checks are in @plora/experiments. `make dry-run-lite` / `make
 * full-experiment` call `run`.
 */
export function register(program: Command): void {
  const pipeline = program
    .command('pipeline')
    .description(
      'the 19-step research pipelines dry-run-lite (dry) and full-experiment (full): run, status, reset, check',
    )
  const nameArg = (cmd: Command) =>
    cmd.argument('<pipeline>', 'dry (config/plora.dry.yml) or full (config/plora.full.yml)', parseEnum(NAMES))
  const configOpt = (cmd: Command) =>
    cmd.option('--config <file>', 'config file instead of config/plora.<pipeline>.yml (never written)', parsePathFlag)

  configOpt(
    nameArg(
      pipeline
        .command('run')
        .description(
          'run the 19 steps in order, resuming: steps whose config fields, inputs and commands are unchanged since they completed are skipped; log in logs/',
        ),
    ),
  )
    .option(
      '--skip <steps>',
      'comma-separated steps to leave out (not recorded as done)',
      parseCsvInts({ min: 1, max: 19 }),
    )
    .option('--only <steps>', 'run only these steps', parseCsvInts({ min: 1, max: 19 }))
    .option('--no-report', 'do not write figures and results/report.html after step 19')
    .addHelpText(
      'after',
      '\nExit status: 0 all steps done; 1 a step failed (the run stops there and prints\n' +
        '"FAILED at step k. Re-run \'make dry-run-lite\' to resume."). Progress and step output go to stderr\n' +
        'and to logs/<dry-run-lite|full-experiment>-YYYYmmdd-HHMMSS.log.',
    )
    .action(async (name: Name, f: PipelineFlags, cmd: Command) => {
      const ex = await import('@plora/experiments')
      const { join } = await import('node:path')
      const { path, config } = await pipelineConfig(name, f.config)
      const root = await repoRoot()
      const names = new Set(rootOf(cmd).commands.map((c) => c.name()))
      const r = await ex.runPipeline({
        name,
        cwd: process.cwd(),
        repoRoot: root,
        config,
        configPath: path,
        plora: [process.execPath, join(root, 'packages', 'cli', 'bin', 'plora.js')],
        hasCommand: (c) => names.has(c),
        ...(f.skip ? { skip: f.skip } : {}),
        ...(f.only ? { only: f.only } : {}),
        report: f.report,
      })
      if (!r.ok) process.exitCode = 1
      else process.stdout.write(ex.pipelineHeadlines(process.cwd(), config))
    })

  configOpt(
    nameArg(
      pipeline
        .command('status')
        .description('completed steps (with current hashes) and the next one; why stale steps re-run'),
    ),
  ).action(async (name: Name, f: PipelineFlags) => {
    const ex = await import('@plora/experiments')
    const { config } = await pipelineConfig(name, f.config)
    const s = await ex.pipelineStatus({ name, cwd: process.cwd(), config })
    process.stdout.write(`${s.lines.join('\n')}\n`)
  })

  nameArg(pipeline.command('reset').description('delete the state file: the next run starts from step 1')).action(
    async (name: Name) => {
      const ex = await import('@plora/experiments')
      process.stdout.write(`${await ex.resetPipeline(name, process.cwd())}\n`)
    },
  )

  configOpt(
    nameArg(
      pipeline
        .command('check')
        .description(
          'check every artefact of the step table: exists, parses, JSONL counts = configured cells, manifests and signatures verify, report.html',
        ),
    ),
  )
    .addHelpText('after', '\nExit status: 0 everything checks out; 1 otherwise (each problem on its own line).')
    .action(async (name: Name, f: PipelineFlags) => {
      const ex = await import('@plora/experiments')
      const { join } = await import('node:path')
      const { path, config } = await pipelineConfig(name, f.config)
      const root = await repoRoot()
      const r = await ex.checkArtefacts({
        name,
        cwd: process.cwd(),
        config,
        configPath: path,
        plora: [process.execPath, join(root, 'packages', 'cli', 'bin', 'plora.js')],
      })
      if (r.ok) process.stdout.write(`artefacts-check: all ${r.checks} checks passed\n`)
      else {
        process.stdout.write(`artefacts-check: ${r.problems.length} problem(s) in ${r.checks} checks:\n`)
        for (const p of r.problems) process.stdout.write(`  - ${p}\n`)
        process.exitCode = 1
      }
    })
}
