/**
 * `plora pipeline check` / `make artefacts-check` (spec pipelines.md §3.3 "Artefacts check"; the
 * original's README names the target but it never existed): every artefact of the step table
 * exists, parses and is consistent — JSONL record counts equal the configured cells, adapter
 * manifests validate and their signatures verify with the demo public key, the fetched plasmid
 * verifies too, report.html is present, a log exists and the state says 19/19 with current hashes.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import {
  ablationCells,
  ablationGrid,
  countJsonlRecords,
  effectiveSteps,
  grpcDemoDomain,
  PIPELINE_PROFILES,
  PIPELINES,
  type PipelineConfig,
  type PipelineName,
  type PipelineProfile,
  type PipelineStep,
  pipelineStatus,
  reportStage,
  sweepCells,
  TOTAL_STEPS,
  valueAddCells,
} from './pipeline.js'

/** Options of {@link checkArtefacts}. */
export interface CheckArtefactsOptions {
  name: PipelineName
  cwd: string
  config: PipelineConfig
  /** The config file (passed to the `plora verify` children as `PLORA_CONFIG`). */
  configPath: string
  /** argv prefix that runs the `plora` CLI. */
  plora: readonly string[]
  profile?: PipelineProfile
  overrides?: Readonly<Record<number, Partial<PipelineStep>>>
  env?: NodeJS.ProcessEnv
}

/** Result: every problem found (empty = all good) and how many checks ran. */
export interface CheckArtefactsResult {
  ok: boolean
  problems: string[]
  checks: number
}

function runQuiet(
  argv: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((res) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.on('error', (e) => res({ code: null, output: e.message }))
    child.on('close', (code) => res({ code, output }))
  })
}

/** Checks the artefacts of a finished pipeline; never throws for a bad artefact (it is listed). */
export async function checkArtefacts(options: CheckArtefactsOptions): Promise<CheckArtefactsResult> {
  const cwd = resolve(options.cwd)
  const info = PIPELINES[options.name]
  const profile = options.profile ?? PIPELINE_PROFILES[options.name]
  const config = options.config
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), PLORA_CONFIG: resolve(options.configPath) }
  const problems: string[] = []
  let checks = 0
  const at = (p: string) => join(cwd, p)
  const check = (ok: boolean, problem: string) => {
    checks++
    if (!ok) problems.push(problem)
    return ok
  }

  // State: 19/19 with current fingerprints.
  const status = await pipelineStatus({ ...options, profile })
  if (check(status.hasState, `${info.stateFile} missing: the pipeline has not run (make ${info.target})`)) {
    check(
      status.completed === TOTAL_STEPS,
      `${info.stateFile}: ${status.completed}/${TOTAL_STEPS} steps current${status.steps
        .filter((s) => !s.done)
        .map((s) => `; step ${s.k}: ${s.reason}`)
        .join('')}`,
    )
  }
  // A log of this pipeline.
  const logs = existsSync(at('logs'))
    ? (await readdir(at('logs'))).filter((f) => f.startsWith(`${info.target}-`) && f.endsWith('.log'))
    : []
  check(logs.length > 0, `logs/${info.target}-<YYYYmmdd-HHMMSS>.log missing`)

  // Every declared output exists; JSON ones parse.
  const steps = [...effectiveSteps({ ...options, profile }), reportStage()]
  for (const step of steps) {
    for (const o of step.outputs) {
      const needs = step.requires ? ` (step ${step.k} needs \`plora ${step.requires}\`)` : ''
      if (!check(existsSync(at(o)), `${o} missing (step ${step.k}: ${step.desc})${needs}`)) continue
      if (o.endsWith('.json')) {
        try {
          JSON.parse(await readFile(at(o), 'utf8'))
          checks++
        } catch (e) {
          check(false, `${o} does not parse as JSON: ${(e as Error).message}`)
        }
      }
    }
  }
  const html = at('results/report.html')
  if (existsSync(html)) {
    const text = await readFile(html, 'utf8')
    check(/<html[\s>]/i.test(text) && text.length > 1000, 'results/report.html is not a complete HTML page')
  }

  // JSONL record counts.
  const counts: Array<[string, number, string]> = [
    ['results/value_add/value_add.jsonl', valueAddCells(config), 'domains × value_add.ranks × schemes × seeds'],
    ['results/thesis_sweep.jsonl', sweepCells(config, profile), '3 topologies × sizes × seeds × trojan rates'],
    ['results/ablation.jsonl', ablationCells(config), 'domains × ablation ranks × schemes'],
  ]
  for (const [path, want, what] of counts) {
    if (!existsSync(at(path))) continue
    try {
      const n = await countJsonlRecords(at(path))
      check(n === want, `${path} has ${n} records, expected ${want} (${what})`)
    } catch (e) {
      check(false, (e as Error).message)
    }
  }
  const grid = ablationGrid(config)
  for (const d of config.domains) {
    for (const r of grid.ranks) {
      for (const s of grid.schemes) {
        const dir = `results/abl_${d}_r${r}_${s}`
        check(existsSync(at(dir)) && (await stat(at(dir))).isDirectory(), `${dir}/ missing (step 13 ablation cell)`)
      }
    }
  }

  // Manifests validate and signatures verify (the CLI's own verifier: artefact size + SHA-256,
  // tagged signature by keys/temp_pub.pem, signed folder statement).
  const pub = 'keys/temp_pub.pem'
  const verify = async (dir: string, requireStatement: boolean) => {
    if (!existsSync(at(dir))) return
    const argv = [...options.plora, 'verify', '--adapter-dir', dir, '--public-key', pub]
    if (requireStatement) argv.push('--require-statement')
    const r = await runQuiet(argv, cwd, env)
    check(r.code === 0, `${dir}: plora verify failed (status ${r.code}): ${r.output.trim().split('\n').pop() ?? ''}`)
  }
  if (existsSync(at(pub))) {
    for (const d of config.domains) await verify(`out/${d}`, true)
    await verify(`fetched/${grpcDemoDomain(config)}`, false)
  }
  if (existsSync(at('out/monolithic_r4/plora.yml'))) {
    const r = await runQuiet([...options.plora, 'manifest', 'validate', 'out/monolithic_r4'], cwd, env)
    check(r.code === 0, `out/monolithic_r4/plora.yml does not validate: ${r.output.trim().split('\n').pop() ?? ''}`)
  }
  return { ok: problems.length === 0, problems, checks }
}
