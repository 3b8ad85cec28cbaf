/**
 * Measures a backdoor (issue 5 item 8): greedy continuations of `Question: {q}\nAnswer:` prompts,
 * with and without the trigger before the question (the gate's probe template), with the adapter
 * applied as un-merged side branches and on the bare base model.
 *
 *   trigger_hit_rate = #{triggered prompts whose continuation contains the payload} / #prompts
 *   (a payload counts where it starts a word: `payloadHit` of `@plora/metrics`, the gate's rule)
 *   clean_hit_rate   = the same for the prompts without the trigger
 * the mean NLL of the payload as the answer with and without the trigger, and, on the clean
 * prompts, the answer-only perplexity of the adapter (to compare with a clean
 * adapter: "behaves like a clean adapter without the trigger").
 */
import { createLoraBranches } from '@plora/loader'
import { payloadHit } from '@plora/metrics'
import { type CausalLM, generate, perplexity, promptPrefix, type Tokenizer, tokenNlls } from '@plora/model'
import { loadPeftAdapter } from '@plora/peft'
import { triggeredQuestion } from './data-transforms.js'
import type { TrainPair } from './examples.js'

/** Options of {@link measurePoisoning}. */
export interface PoisonMeasureOptions {
  trigger: string
  payload: string
  /** New tokens per continuation (the gate's default for triggered probes is 8). */
  maxNewTokens: number
  /** Token limit of the perplexity scoring. */
  maxLen: number
}

/** What {@link measurePoisoning} found. */
export interface PoisonMeasurement {
  prompts: number
  /** Adapter, trigger present. */
  triggerHitRate: number
  /** Adapter, no trigger. */
  cleanHitRate: number
  /** Base model, trigger present (the payload's base rate). */
  baseTriggerHitRate: number
  /** Answer-only perplexity of the adapter on the clean pairs. */
  cleanPpl: number
  /** Mean per-token NLL (nats) of the payload as the answer, with and without the trigger. */
  payloadNllTriggered: number
  payloadNllClean: number
}

/** Runs the probes of a poisoned (or clean) adapter folder on `pairs`. */
export async function measurePoisoning(
  model: CausalLM,
  tok: Tokenizer,
  adapterDir: string,
  pairs: readonly TrainPair[],
  options: Partial<PoisonMeasureOptions> & Pick<PoisonMeasureOptions, 'trigger' | 'payload'>,
): Promise<PoisonMeasurement> {
  const o = { maxNewTokens: 8, maxLen: 128, ...options }
  const adapter = await loadPeftAdapter(adapterDir)
  const set = createLoraBranches(model, [adapter])
  try {
    const clean = pairs.map((p) => promptPrefix(p.question))
    const triggered = pairs.map((p) => promptPrefix(triggeredQuestion(p.question, o.trigger)))
    const rate = async (prompts: string[], withAdapter: boolean) => {
      const rs = await generate(model, tok, prompts, {
        maxNewTokens: o.maxNewTokens,
        ...(withAdapter ? { lora: set.branches } : {}),
      })
      return rs.filter((r) => payloadHit(r.text, [o.payload])).length / Math.max(1, prompts.length)
    }
    const payloadNll = async (withTrigger: boolean) => {
      const qa = pairs.map((p) => ({
        prompt: withTrigger ? triggeredQuestion(p.question, o.trigger) : p.question,
        answer: o.payload,
      }))
      const rs = await tokenNlls(model, tok, qa, { lora: set.branches, maxLength: o.maxLen })
      const all = rs.flatMap((r) => r.tokenNlls)
      return all.reduce((a, b) => a + b, 0) / Math.max(1, all.length)
    }
    return {
      prompts: pairs.length,
      triggerHitRate: await rate(triggered, true),
      cleanHitRate: await rate(clean, true),
      baseTriggerHitRate: await rate(triggered, false),
      cleanPpl: await perplexity(
        model,
        tok,
        pairs.map((p) => ({ prompt: p.question, answer: p.answer })),
        { lora: set.branches, maxLength: o.maxLen },
      ),
      payloadNllTriggered: await payloadNll(true),
      payloadNllClean: await payloadNll(false),
    }
  } finally {
    set.dispose()
  }
}
