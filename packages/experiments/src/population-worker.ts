/**
 * A `piscina` worker of {@link ./population-pool.ts}: on its first task it starts its own
 * TensorFlow.js backend (the main thread's) and loads the base model, then trains each member it
 * is sent with {@link trainMember} and checks the base weights unchanged.
 */
import { createLogger, isPloraError } from '@plora/common'
import { assertPristineBase, baseFingerprint } from '@plora/loader'
import { type BackendChoice, type CausalLM, initBackend, loadCausalLMFromDir } from '@plora/model'
import { trainMember } from './gate-population.js'
import type { PopulationWorkerReply, PopulationWorkerTask } from './population-pool.js'

let ready: Promise<{ model: CausalLM; fingerprint: string }> | undefined

async function setUp(task: PopulationWorkerTask): Promise<{ model: CausalLM; fingerprint: string }> {
  await initBackend({ backend: task.backend as BackendChoice, logger: createLogger({ level: 'warn' }) })
  const model = await loadCausalLMFromDir(task.modelDir)
  return { model, fingerprint: await baseFingerprint(model) }
}

/** Trains one member. */
export default async function trainOne(task: PopulationWorkerTask): Promise<PopulationWorkerReply> {
  try {
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
    return { ok: true }
  } catch (e) {
    let details: Record<string, unknown> = {}
    try {
      details = structuredClone((e as { details?: Record<string, unknown> }).details ?? {})
    } catch {}
    return {
      error: {
        code: isPloraError(e) ? String(e.code) : undefined,
        message: (e as Error)?.message ?? String(e),
        details,
      },
    }
  }
}
