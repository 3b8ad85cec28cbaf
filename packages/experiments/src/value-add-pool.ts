/**
 * The worker pool of the value-add experiment (issue 21: grids use all cores). Each domain's base
 * NLLs are computed first (one task per domain not in the cache), then the cells, one at a time per
 * worker; cells that share a placebo-B folder (a fixed `placeboBRank` shared across ranks) never
 * run at the same time, so one trains it and the others reuse or retrain it as a one-worker run
 * would. Each task carries the NLL cache so far and sends back what it added.
 */
import type { ExperimentsError } from './errors.js'
import { type NllCache, placeboBDirOf, type ValueAddCell, valueAddCellLabel } from './value-add-cell.js'
import type { ValueAddRecord } from './value-add-records.js'
import type { ValueAddWorkerResult, ValueAddWorkerTask } from './value-add-worker.js'
import { createJobPool, type PoolJobFailure, poolJobError } from './worker-pool.js'

type Setup = Pick<ValueAddWorkerTask, 'compute' | 'options' | 'baseSha256'>

function failure(what: string, why: PoolJobFailure, details: Record<string, unknown>): ExperimentsError {
  return poolJobError('value-add', what, why, details, 'the finished cells are recorded, rerun to continue')
}

/**
 * Runs the cells `todo` (indices into `cells`) on `workers` threads: `merge` takes each task's new
 * NLLs, `finish` each record (one at a time, completion order; `'stop'` hands out no more cells).
 * The first failure stops handing out cells; the running ones finish and are recorded, then it
 * throws an ExperimentsError naming the cell (`EXPERIMENTS_DATASET_FAILED` kept as is, anything
 * else `EXPERIMENTS_WORKER_FAILED`).
 */
export async function runValueAddOnPool(p: {
  workers: number
  cells: readonly ValueAddCell[]
  todo: readonly number[]
  setup: Setup
  cache: NllCache
  configOf: (c: ValueAddCell) => ValueAddRecord['config']
  /** The resume key of a config (value-add.ts `resumeKey`). */
  keyOf: (config: ValueAddRecord['config']) => string
  clock: () => number
  merge: (added: NllCache) => Promise<void>
  finish: (k: number, record: ValueAddRecord, seconds: number) => Promise<'stop' | undefined>
}): Promise<void> {
  const pool = await createJobPool<ValueAddWorkerTask, ValueAddWorkerResult>(
    new URL('./value-add-worker.js', import.meta.url),
    p.workers,
  )
  const snapshot = (): NllCache => ({ baseline: p.cache.baseline, adapter: p.cache.adapter })
  const domains = p.setup.options.domains
  try {
    // Base NLLs first, one task per domain (a cached one returns at once), then the cells.
    await pool.runJobs({
      jobs: domains.map((domain) => ({ task: () => ({ ...p.setup, cache: snapshot(), kind: 'baseline', domain }) })),
      done: async (_i, r) => {
        await p.merge(r.added)
        return undefined
      },
      failed: async (i, why) => failure(`the base NLLs of domain ${domains[i]}`, why, { domain: domains[i] }),
    })
    const started = new Map<number, number>()
    await pool.runJobs({
      jobs: p.todo.map((k) => {
        const cell = p.cells[k]!
        const config = p.configOf(cell)
        return {
          exclusive: placeboBDirOf(p.setup.options, cell),
          task: (): ValueAddWorkerTask => {
            started.set(k, p.clock())
            return { ...p.setup, cache: snapshot(), kind: 'cell', cell, config, key: p.keyOf(config) }
          },
        }
      }),
      done: async (i, r) => {
        const k = p.todo[i]!
        await p.merge(r.added)
        return p.finish(k, r.record!, (p.clock() - started.get(k)!) / 1000)
      },
      failed: async (i, why) => {
        const cell = p.cells[p.todo[i]!]!
        return failure(`cell ${valueAddCellLabel(cell)}`, why, { cell })
      },
    })
  } finally {
    await pool.destroy()
  }
}
