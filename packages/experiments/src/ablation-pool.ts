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

/** What the main thread sends a worker with each cell. */
export interface AblationWorkerTask {
  /** Name of the main thread's backend (`wasm`, `cpu`, `tensorflow`): each worker starts its own. */
  backend: string
  options: AblationCellOptions
  baseSha256: string
  cell: AblationCell
}

/** A worker's answer: the record, or the error of the cell (a PloraError keeps its code). */
export type AblationWorkerReply =
  | { record: AblationRecord }
  | { error: { code: string | undefined; message: string; details: Record<string, unknown> } }

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
  task: Omit<AblationWorkerTask, 'cell'>
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
  const lane = async () => {
    while (failure === undefined && next < p.todo.length) {
      const k = p.todo[next++]!
      const c = p.cells[k]!
      const t0 = p.clock()
      let reply: AblationWorkerReply
      try {
        reply = await pool.run({ ...p.task, cell: c })
      } catch (e) {
        await fail(
          c,
          new ExperimentsError(
            ExperimentsErrorCode.WorkerFailed,
            `ablation: the worker thread running cell ${label(c)} died: ${(e as Error).message}; ` +
              'the finished cells are recorded, rerun with --resume to continue',
            { cell: c },
            { cause: e },
          ),
        )
        return
      }
      if ('error' in reply) {
        const { code, message, details } = reply.error
        await fail(
          c,
          code === ExperimentsErrorCode.DatasetFailed
            ? new ExperimentsError(code, message, details)
            : new ExperimentsError(
                ExperimentsErrorCode.WorkerFailed,
                `ablation: cell ${label(c)} failed in a worker thread: ${code ? `${code}: ` : ''}${message}`,
                { cell: c, code, details },
              ),
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
