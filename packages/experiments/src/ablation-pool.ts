/**
 * The worker pool of the rank × scheme ablation (issue 21: grids use all cores). Cells run on
 * `piscina` worker threads, one cell at a time per worker; each worker loads the base model with
 * its own TensorFlow.js backend ({@link ./ablation-worker.ts}) and runs {@link runAblationCell},
 * the code a one-worker run uses, so the records agree apart from the timing fields.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { AblationCell, AblationCellOptions, AblationRecord } from './ablation.js'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'

/** What every task carries (a worker sets itself up from the first it gets). */
export interface AblationWorkerSetup {
  /** Name of the main thread's backend (`wasm`, `cpu`, `tensorflow`): each worker starts its own. */
  backend: string
  options: AblationCellOptions
  baseSha256: string
}

/**
 * A task: a domain's base NLLs (once per domain, whichever worker is free, instead of once per
 * worker and domain), or a cell with its domain's base NLLs.
 */
export type AblationWorkerTask = AblationWorkerSetup &
  ({ kind: 'baseline'; domain: string } | { kind: 'cell'; cell: AblationCell; baseline: number[] })

/** A worker's answer: the record or base NLLs, or the task's error (a PloraError keeps its code). */
export type AblationWorkerReply =
  | { record: AblationRecord }
  | { baseline: number[] }
  | { error: { code: string | undefined; message: string; details: Record<string, unknown> } }

type ErrorReply = Extract<AblationWorkerReply, { error: unknown }>['error']

function replyError(what: string, e: ErrorReply, details: Record<string, unknown>): ExperimentsError {
  return e.code === ExperimentsErrorCode.DatasetFailed
    ? new ExperimentsError(e.code, e.message, e.details)
    : new ExperimentsError(
        ExperimentsErrorCode.WorkerFailed,
        `ablation: ${what} failed in a worker thread: ${e.code ? `${e.code}: ` : ''}${e.message}`,
        { ...details, code: e.code, details: e.details },
      )
}

function died(what: string, e: unknown, details: Record<string, unknown>): ExperimentsError {
  return new ExperimentsError(
    ExperimentsErrorCode.WorkerFailed,
    `ablation: the worker thread running ${what} died: ${(e as Error).message}; ` +
      'the finished cells are recorded, rerun with --resume to continue',
    details,
    { cause: e },
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
 * time) as each ends. The first failure stops handing out cells; the cells already running finish
 * and are recorded, the failed cell's half-written adapter folder is removed, then it throws an
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
  const { Piscina } = await import('piscina')
  const pool = new Piscina<AblationWorkerTask, AblationWorkerReply>({
    filename: new URL('./ablation-worker.js', import.meta.url).href,
    minThreads: p.workers,
    maxThreads: p.workers,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
  })
  let next = 0
  let failure: Error | undefined
  let chain: Promise<void> = Promise.resolve()
  const fail = async (c: AblationCell, e: Error) => {
    failure ??= e
    await rm(dirOf(p.task.options, c), { recursive: true, force: true })
  }
  // Base NLLs first, one task per domain with cells to run (queued ahead of every cell).
  const baselines = new Map<string, Promise<number[] | undefined>>()
  for (const d of new Set(p.todo.map((k) => p.cells[k]!.domain))) {
    const what = `the base NLLs of domain ${d}`
    const done = pool.run({ ...p.task, kind: 'baseline', domain: d }).then(
      (reply) => {
        if ('baseline' in reply) return reply.baseline
        failure ??=
          'error' in reply
            ? replyError(what, reply.error, { domain: d })
            : died(what, new Error('unexpected reply'), { domain: d })
        return undefined
      },
      (e: unknown) => {
        failure ??= died(what, e, { domain: d })
        return undefined
      },
    )
    baselines.set(d, done)
  }
  const lane = async () => {
    while (failure === undefined && next < p.todo.length) {
      const k = p.todo[next++]!
      const c = p.cells[k]!
      const baseline = await baselines.get(c.domain)!
      if (baseline === undefined) return
      const t0 = p.clock()
      let reply: AblationWorkerReply
      try {
        reply = await pool.run({ ...p.task, kind: 'cell', cell: c, baseline })
      } catch (e) {
        await fail(c, died(`cell ${label(c)}`, e, { cell: c }))
        return
      }
      if (!('record' in reply)) {
        await fail(
          c,
          'error' in reply
            ? replyError(`cell ${label(c)}`, reply.error, { cell: c })
            : died(`cell ${label(c)}`, new Error('unexpected reply'), { cell: c }),
        )
        return
      }
      const { record } = reply
      const seconds = (p.clock() - t0) / 1000
      chain = chain.then(() => p.finish(k, record, seconds))
      await chain
    }
  }
  try {
    await Promise.all(Array.from({ length: p.workers }, lane))
  } finally {
    await pool.destroy()
  }
  if (failure) throw failure
}
