/**
 * A `piscina` worker of {@link ./population-pool.ts}: on its first task it starts its own
 * TensorFlow.js backend (the main thread's) and loads the base model, then trains each member it
 * is sent with {@link trainMember} and checks the base weights unchanged.
 */
import { createLogger } from '@plora/common'
import { assertPristineBase, baseFingerprint } from '@plora/loader'
import { type CausalLM, initComputeSetup, loadCausalLMFromDir } from '@plora/model'
import { trainMember } from './gate-population.js'
import type { PopulationWorkerTask } from './population-pool.js'
import { type WorkerReply, workerReply } from './worker-pool.js'

let ready: Promise<{ model: CausalLM; fingerprint: string }> | undefined

async function setUp(task: PopulationWorkerTask): Promise<{ model: CausalLM; fingerprint: string }> {
  await initComputeSetup(task.compute, createLogger({ level: 'warn' }))
  const model = await loadCausalLMFromDir(task.modelDir)
  return { model, fingerprint: await baseFingerprint(model) }
}

/** Trains one member; errors come back as data so a PloraError keeps its code across the thread. */
export default function trainOne(task: PopulationWorkerTask): Promise<WorkerReply<true>> {
  return workerReply(async () => {
    ready ??= setUp(task)
    const { model, fingerprint } = await ready
    await trainMember(task.plan, task.member, {
      dir: task.dir,
      modelDir: task.modelDir,
      baseModel: task.baseModel,
      model,
      logger: createLogger({ level: 'warn', name: 'plora:population-worker' }),
    })
    await assertPristineBase(model, {
      expectedFingerprint: fingerprint,
      where: `after population member ${task.member.id}`,
    })
    return true as const
  })
}
