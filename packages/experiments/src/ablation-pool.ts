/**
 * The worker pool of the rank × scheme ablation (issue 21: grids use all cores). Cells run on
 * `piscina` worker threads, one cell at a time per worker; each worker loads the base model with
 * its own TensorFlow.js backend ({@link ./ablation-worker.ts}) and runs {@link runAblationCell},
 * the code a one-worker run uses, so the records agree apart from the timing fields.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { ComputeSetup } from '@plora/model'
import type { AblationCell, AblationCellOptions, AblationRecord } from './ablation.js'
import type { ExperimentsError } from './errors.js'
import { createJobPool, type PoolJobFailure, poolJobError } from './worker-pool.js'

/** What every task carries (a worker sets itself up from the first it gets). */
export interface AblationWorkerSetup {
  /** The main thread's backend and native-GEMM choice: each worker starts its own, the same. */
  compute: ComputeSetup
  options: AblationCellOptions
  baseSha256: string
}

/**
 * A task: a domain's base NLLs (once per domain, whichever worker is free, instead of once per
 * worker and domain), or a cell with its domain's base NLLs.
 */
export type AblationWorkerTask = AblationWorkerSetup &
  ({ kind: 'baseline'; domain: string } | { kind: 'cell'; cell: AblationCell; baseline: number[] })

/** A worker's result: the record of a cell, or a domain's base NLLs. */
export type AblationWorkerResult = { record: AblationRecord } | { baseline: number[] }

function failure(what: string, why: PoolJobFailure, details: Record<string, unknown>): ExperimentsError {
  return poolJobError(
    'ablation',
    what,
    why,
    details,
    'the finished cells are recorded, rerun with --resume to continue',
  )
}

function label(c: AblationCell): string {
  return `${c.domain} r=${c.rank} ${c.scheme}`
}

function dirOf(options: AblationCellOptions, c: AblationCell): string {
  return join(options.output, `abl_${c.domain}_r${c.rank}_${c.scheme}`)
}

/**
 * Runs the cells `todo` (indices into `cells`) on `workers` threads and calls `finish` (one at a
 * time) as each ends: first each domain's base NLLs (one task per domain with cells to run), then
 * the cells with them. The first failure stops handing out cells; the cells already running finish
 * and are recorded, a failed cell's half-written adapter folder is removed, then it throws an
 * ExperimentsError naming the cell (`EXPERIMENTS_DATASET_FAILED` kept as is, anything else
 * `EXPERIMENTS_WORKER_FAILED`).
 */
export async function runCellsOnPool(p: {
  workers: number
  cells: readonly AblationCell[]
  todo: readonly number[]
  task: AblationWorkerSetup
  clock: () => number
  finish: (k: number, record: AblationRecord, seconds: number) => Promise<void>
}): Promise<void> {
  const pool = await createJobPool<AblationWorkerTask, AblationWorkerResult>(
    new URL('./ablation-worker.js', import.meta.url),
    p.workers,
  )
  try {
    const domains = [...new Set(p.todo.map((k) => p.cells[k]!.domain))]
    const baselines = new Map<string, number[]>()
    await pool.runJobs({
      jobs: domains.map((domain) => ({ task: () => ({ ...p.task, kind: 'baseline', domain }) })),
      done: async (i, r) => {
        if ('baseline' in r) baselines.set(domains[i]!, r.baseline)
        return undefined
      },
      failed: async (i, why) => failure(`the base NLLs of domain ${domains[i]}`, why, { domain: domains[i] }),
    })
    const started = new Map<number, number>()
    await pool.runJobs({
      jobs: p.todo.map((k) => ({
        task: (): AblationWorkerTask => {
          started.set(k, p.clock())
          const cell = p.cells[k]!
          return { ...p.task, kind: 'cell', cell, baseline: baselines.get(cell.domain)! }
        },
      })),
      done: async (i, r) => {
        const k = p.todo[i]!
        if (!('record' in r))
          throw failure(`cell ${label(p.cells[k]!)}`, { kind: 'died', message: 'unexpected reply' }, {})
        await p.finish(k, r.record, (p.clock() - started.get(k)!) / 1000)
        return undefined
      },
      failed: async (i, why) => {
        const c = p.cells[p.todo[i]!]!
        await rm(dirOf(p.task.options, c), { recursive: true, force: true })
        return failure(`cell ${label(c)}`, why, { cell: c })
      },
    })
  } finally {
    await pool.destroy()
  }
}
