/**
 * The worker pool that trains a gate population (issue 20 item 3: "trained once with worker
 * threads and reused"). Members run on `piscina` worker threads, one at a time per worker; each
 * worker loads the base model with its own TensorFlow.js backend ({@link ./population-worker.ts})
 * and runs {@link trainMember}, the code a one-thread run uses. The first failure stops handing
 * out members; those already training finish and are recorded, the failed member's half-written
 * folder is removed, then it throws an ExperimentsError naming the member.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import type { PopulationMember, PopulationPlan } from './gate-population.js'

/** A task of {@link ./population-worker.ts}. */
export interface PopulationWorkerTask {
  backend: string
  plan: PopulationPlan
  member: PopulationMember
  dir: string
  modelDir: string
  baseModel: string
}

/** A worker's answer: done, or the error as data (a PloraError keeps its code across the thread). */
export type PopulationWorkerReply =
  | { ok: true }
  | { error: { code: string | undefined; message: string; details: Record<string, unknown> } }

/** Trains `members` on `workers` threads; `finished` is called (one at a time) as each ends. */
export async function trainMembersOnPool(p: {
  plan: PopulationPlan
  members: readonly PopulationMember[]
  workers: number
  dir: string
  modelDir: string
  baseModel: string
  finished: (m: PopulationMember) => Promise<void>
  signal?: AbortSignal
}): Promise<void> {
  const { Piscina } = await import('piscina')
  const pool = new Piscina<PopulationWorkerTask, PopulationWorkerReply>({
    filename: new URL('./population-worker.js', import.meta.url).href,
    minThreads: p.workers,
    maxThreads: p.workers,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.POSITIVE_INFINITY,
  })
  let next = 0
  let failure: Error | undefined
  let chain: Promise<void> = Promise.resolve()
  const backend = tf.getBackend()
  const lane = async () => {
    while (failure === undefined && next < p.members.length && !p.signal?.aborted) {
      const m = p.members[next++]!
      let reply: PopulationWorkerReply
      try {
        reply = await pool.run({
          backend,
          plan: p.plan,
          member: m,
          dir: p.dir,
          modelDir: p.modelDir,
          baseModel: p.baseModel,
        })
      } catch (e) {
        reply = { error: { code: undefined, message: `the worker thread died: ${(e as Error).message}`, details: {} } }
      }
      if ('error' in reply) {
        failure ??= new ExperimentsError(
          ExperimentsErrorCode.WorkerFailed,
          `gate population: training member ${m.id} failed in a worker thread: ` +
            `${reply.error.code ? `${reply.error.code}: ` : ''}${reply.error.message}; ` +
            'the members already trained are recorded and reused by the next run',
          { member: m.id, code: reply.error.code, details: reply.error.details },
        )
        await rm(join(p.dir, m.id), { recursive: true, force: true }) // memberDir()
        await rm(join(p.dir, `${m.id}.poison.json`), { force: true })
        return
      }
      chain = chain.then(() => p.finished(m))
      await chain
    }
  }
  try {
    await Promise.all(Array.from({ length: p.workers }, lane))
  } finally {
    await pool.destroy()
  }
  if (failure) throw failure
  p.signal?.throwIfAborted()
}
