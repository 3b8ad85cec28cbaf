/**
 * A `piscina` worker of the value-add experiment ({@link ./value-add.ts} with `workers` > 1): on
 * its first task it starts its own TensorFlow.js backend (the main thread's), loads the base model,
 * tokenizer and dev sets, then runs each cell it is sent with {@link runValueAddCell} (the code a
 * one-worker run uses) against the NLL cache the task carries, and sends back the record and the
 * NLLs it added; a `baseline` task computes a domain's base NLLs.
 */
import { createLogger } from '@plora/common'
import { type ComputeSetup, initComputeSetup, loadCausalLMFromDir, loadTokenizer } from '@plora/model'
import { loadDevSets } from './dev-sets.js'
import {
  baselineNlls,
  type NllCache,
  runValueAddCell,
  type ValueAddCell,
  type ValueAddCellContext,
  type ValueAddCellOptions,
} from './value-add-cell.js'
import type { ValueAddRecord } from './value-add-records.js'
import { type WorkerReply, workerReply } from './worker-pool.js'

/** A task: a domain's base NLLs, or a cell; each carries the run's settings and the NLL cache so far. */
export type ValueAddWorkerTask = {
  /** The main thread's backend and native-GEMM choice: each worker starts its own, the same. */
  compute: ComputeSetup
  options: ValueAddCellOptions
  baseSha256: string
  cache: NllCache
} & (
  | { kind: 'baseline'; domain: string }
  | { kind: 'cell'; cell: ValueAddCell; config: ValueAddRecord['config']; key: string }
)

/** The result of a task: the record (cells) and the NLLs the task computed. */
export interface ValueAddWorkerResult {
  record?: ValueAddRecord
  added: NllCache
}

let ready: Promise<Omit<ValueAddCellContext, 'cache' | 'added'>> | undefined

async function setUp(task: ValueAddWorkerTask): Promise<Omit<ValueAddCellContext, 'cache' | 'added'>> {
  const o = task.options
  const logger = createLogger({ level: 'warn', name: 'plora:value-add-worker' })
  await initComputeSetup(task.compute, logger)
  const dataset = { ...o.dataset, logger }
  const dev = await loadDevSets('value-add', o.domains, { dataset, split: o.evalSplit, devSize: o.devSize, logger })
  const model = await loadCausalLMFromDir(o.modelDir)
  const tok = await loadTokenizer(o.modelDir)
  return { options: o, dataset, model, tok, dev, baseSha256: task.baseSha256, logger, clock: () => performance.now() }
}

/** Runs one task; errors come back as data so a PloraError keeps its code across the thread. */
export default function runTask(task: ValueAddWorkerTask): Promise<WorkerReply<ValueAddWorkerResult>> {
  return workerReply(async () => {
    ready ??= setUp(task)
    const ctx: ValueAddCellContext = { ...(await ready), cache: task.cache, added: { baseline: {}, adapter: {} } }
    if (task.kind === 'baseline') {
      await baselineNlls(ctx, task.domain)
      return { added: ctx.added }
    }
    const record = await runValueAddCell(ctx, task.cell, task.config, task.key)
    return { record, added: ctx.added }
  })
}
