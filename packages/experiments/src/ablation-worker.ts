/**
 * A `piscina` worker of the ablation ({@link ./ablation-pool.ts}): on its first cell it starts its
 * own TensorFlow.js backend (the main thread's), loads the base model, tokenizer and dev sets, then
 * runs each cell it is sent with {@link runAblationCell} (with the base NLLs the task carries) and
 * checks the base weights unchanged; a `baseline` task computes a domain's base NLLs.
 */
import { createLogger } from '@plora/common'
import { assertPristineBase } from '@plora/loader'
import { initComputeSetup, loadCausalLMFromDir, loadTokenizer } from '@plora/model'
import { type AblationCellContext, cellBaseline, runAblationCell } from './ablation.js'
import type { AblationWorkerResult, AblationWorkerTask } from './ablation-pool.js'
import { loadDevSets } from './dev-sets.js'
import { type WorkerReply, workerReply } from './worker-pool.js'

let ready: Promise<AblationCellContext> | undefined

async function setUp(task: AblationWorkerTask): Promise<AblationCellContext> {
  const o = task.options
  const logger = createLogger({ level: 'warn', name: 'plora:ablation-worker' })
  await initComputeSetup(task.compute, logger)
  const dataset = { ...o.dataset, logger }
  const dev = await loadDevSets('ablation', o.domains, {
    dataset,
    split: o.evalSplit,
    devSize: o.devSize,
    logger,
  })
  const model = await loadCausalLMFromDir(o.modelDir)
  const tok = await loadTokenizer(o.modelDir)
  return {
    options: o,
    dataset,
    model,
    tok,
    dev,
    baselines: new Map(),
    baseSha256: task.baseSha256,
    logger,
    clock: () => performance.now(),
  }
}

/** Runs one task (a cell, or a domain's base NLLs); errors come back as data so a PloraError keeps its code across the thread. */
export default function runCell(task: AblationWorkerTask): Promise<WorkerReply<AblationWorkerResult>> {
  return workerReply(async (): Promise<AblationWorkerResult> => {
    ready ??= setUp(task)
    const ctx = await ready
    if (task.kind === 'baseline') return { baseline: await cellBaseline(ctx, task.domain) }
    ctx.baselines.set(task.cell.domain, task.baseline)
    const record = await runAblationCell(ctx, task.cell)
    await assertPristineBase(ctx.model, {
      expectedFingerprint: task.baseSha256,
      where: `after ablation cell ${task.cell.domain} r=${task.cell.rank} ${task.cell.scheme}`,
    })
    return { record }
  })
}
