/**
 * A `piscina` pool for grid experiments (issue 21: grids use all cores): jobs run one at a time per
 * worker thread, each worker with its own TensorFlow.js backend and model (set up by the worker
 * module on its first task). Errors cross the thread as data ({@link workerReply}) so a
 * `PloraError` keeps its code. Jobs that name the same `exclusive` key never run at the same time
 * (they share an output folder); the others are handed out in the order given.
 */
import { isPloraError } from '@plora/common'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'

/** What a worker sends back: the job's result, or its error as data. */
export type WorkerReply<R> =
  | { ok: R }
  | { error: { code: string | undefined; message: string; details: Record<string, unknown> } }

/** Runs `f` and turns a throw into an error reply (used by the worker modules). */
export async function workerReply<R>(f: () => Promise<R>): Promise<WorkerReply<R>> {
  try {
    return { ok: await f() }
  } catch (e) {
    const err = e as Error
    let details: Record<string, unknown> = {}
    if (isPloraError(e)) {
      try {
        details = structuredClone((e as { details?: Record<string, unknown> }).details ?? {})
      } catch {
        details = {}
      }
    }
    return {
      error: { code: isPloraError(e) ? String(e.code) : undefined, message: err?.message ?? String(e), details },
    }
  }
}

/** A job: makes its task when handed out (so it can carry state finished by then), with an optional key it must not share with a running job. */
export interface PoolJob<T> {
  task: () => T
  exclusive?: string
}

/** Why a job did not return a result: its error reply, or the thread dying. */
export type PoolJobFailure =
  | { kind: 'error'; code: string | undefined; message: string; details: Record<string, unknown> }
  | { kind: 'died'; message: string }

/** A pool of worker threads running one worker module; {@link JobPool.runJobs} may be called several times (phases). */
export interface JobPool<T, R> {
  /**
   * Runs `jobs`. `done` is called one at a time, in completion order; it may return `'stop'` to
   * hand out no more jobs. The first failure (`failed` turns it into the error to throw) also stops
   * handing out jobs; the running ones finish (and are passed to `done`, or to `failed` — called for
   * every failing job, so each can clean up — ), then the first error is thrown.
   */
  runJobs(p: {
    jobs: ReadonlyArray<PoolJob<T>>
    done: (index: number, result: R) => Promise<'stop' | undefined>
    failed: (index: number, why: PoolJobFailure) => Promise<Error>
    /** Aborting hands out no more jobs (the running ones finish); the caller decides what to throw. */
    signal?: AbortSignal
  }): Promise<void>
  destroy(): Promise<void>
}

/** Starts `workers` threads of the worker module `filename` (its default export answers a task with a {@link WorkerReply}). */
export async function createJobPool<T, R>(filename: URL, workers: number): Promise<JobPool<T, R>> {
  const { Piscina } = await import('piscina')
  const pool = new Piscina<T, WorkerReply<R>>({
    filename: filename.href,
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
  })
  const runJobs: JobPool<T, R>['runJobs'] = async (p) => {
    const pending = p.jobs.map((_, i) => i)
    const busy = new Set<string>()
    let failure: Error | undefined
    let stopped = false
    let chain: Promise<unknown> = Promise.resolve()
    // Lanes waiting for an exclusive key to free up sleep on `changed`, woken when any job ends.
    let wake: () => void = () => {}
    let changed = new Promise<void>((r) => {
      wake = r
    })
    const signal = () => {
      const w = wake
      changed = new Promise<void>((r) => {
        wake = r
      })
      w()
    }
    const lane = async () => {
      while (failure === undefined && !stopped && !p.signal?.aborted && pending.length > 0) {
        const at = pending.findIndex((i) => {
          const key = p.jobs[i]!.exclusive
          return key === undefined || !busy.has(key)
        })
        if (at < 0) {
          await changed
          continue
        }
        const i = pending.splice(at, 1)[0]!
        const key = p.jobs[i]!.exclusive
        if (key !== undefined) busy.add(key)
        try {
          let reply: WorkerReply<R>
          try {
            reply = await pool.run(p.jobs[i]!.task())
          } catch (e) {
            const err = await p.failed(i, { kind: 'died', message: (e as Error).message })
            failure ??= err
            return
          }
          if ('error' in reply) {
            const err = await p.failed(i, { kind: 'error', ...reply.error })
            failure ??= err
            return
          }
          const result = reply.ok
          const next = chain.then(() => p.done(i, result))
          chain = next.catch(() => undefined)
          if ((await next) === 'stop') stopped = true
        } catch (e) {
          failure ??= e as Error
          return
        } finally {
          if (key !== undefined) busy.delete(key)
          signal()
        }
      }
    }
    await Promise.all(Array.from({ length: workers }, lane))
    if (failure) throw failure
  }
  return { runJobs, destroy: () => pool.destroy() }
}

/**
 * The error a grid throws for a failed job `what` of `experiment`: a dataset failure keeps its
 * code and message; anything else is `EXPERIMENTS_WORKER_FAILED` naming the job, the worker's code
 * and message (or that the thread died), and `hint` (what the user can do).
 */
export function poolJobError(
  experiment: string,
  what: string,
  why: PoolJobFailure,
  details: Record<string, unknown>,
  hint: string,
): ExperimentsError {
  if (why.kind === 'error' && why.code === ExperimentsErrorCode.DatasetFailed)
    return new ExperimentsError(why.code, why.message, why.details)
  return why.kind === 'error'
    ? new ExperimentsError(
        ExperimentsErrorCode.WorkerFailed,
        `${experiment}: ${what} failed in a worker thread: ${why.code ? `${why.code}: ` : ''}${why.message}; ${hint}`,
        { ...details, code: why.code, details: why.details },
      )
    : new ExperimentsError(
        ExperimentsErrorCode.WorkerFailed,
        `${experiment}: the worker thread running ${what} died: ${why.message}; ${hint}`,
        details,
      )
}
