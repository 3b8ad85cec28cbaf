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
import { type ComputeSetup, currentComputeSetup } from '@plora/model'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import type { PopulationMember, PopulationPlan } from './gate-population.js'
import { createJobPool } from './worker-pool.js'

/** A task of {@link ./population-worker.ts}. */
export interface PopulationWorkerTask {
  /** The main thread's backend and native-GEMM choice: the worker starts the same. */
  compute: ComputeSetup
  plan: PopulationPlan
  member: PopulationMember
  dir: string
  modelDir: string
  baseModel: string
}

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
  const pool = await createJobPool<PopulationWorkerTask, true>(
    new URL('./population-worker.js', import.meta.url),
    p.workers,
  )
  const compute = currentComputeSetup()
  const { plan, dir, modelDir, baseModel } = p
  try {
    await pool.runJobs({
      jobs: p.members.map((member) => ({
        task: () => ({ compute, plan, member, dir, modelDir, baseModel }),
      })),
      done: async (i) => {
        await p.finished(p.members[i]!)
        return undefined
      },
      failed: async (i, why) => {
        const m = p.members[i]!
        await rm(join(p.dir, m.id), { recursive: true, force: true }) // memberDir()
        await rm(join(p.dir, `${m.id}.poison.json`), { force: true })
        const code = why.kind === 'error' ? why.code : undefined
        const message = why.kind === 'error' ? why.message : `the worker thread died: ${why.message}`
        return new ExperimentsError(
          ExperimentsErrorCode.WorkerFailed,
          `gate population: training member ${m.id} failed in a worker thread: ${code ? `${code}: ` : ''}${message}; ` +
            'the members already trained are recorded and reused by the next run',
          { member: m.id, code, details: why.kind === 'error' ? why.details : {} },
        )
      },
      ...(p.signal ? { signal: p.signal } : {}),
    })
  } finally {
    await pool.destroy()
  }
  p.signal?.throwIfAborted()
}
