/**
 * The gate's behavioural-probe runner (spec core.md §5.7, fixing `[D-04]`'s mutated "base"):
 * `@plora/gate` declares `interface ProbeRunner { generate(prompt, maxNewTokens): Promise<string> }`
 * and this module implements it on a loaded model. The adapter is applied as un-merged LoRA side
 * branches for each call, so the model's weights are never written: the same model object serves
 * as the pristine base (no adapters) and as base + adapter. Before every generation the runner
 * asserts that no merged injection is active; a caller-supplied weight fingerprint is verified on
 * the first call (hashing every weight per probe would dominate the probe's cost).
 */
import { type CausalLM, generate, type Tokenizer } from '@plora/model'
import { assertPristineBase, createLoraBranches, type LoraModuleSource } from './inject.js'

/** Structurally `@plora/gate`'s `ProbeRunner` (gate is a higher layer, so it is not imported). */
export interface AdapterProbeRunner {
  /** Greedy continuation of `prompt` (the new text only), stopping at EOS. */
  generate(prompt: string, maxNewTokens: number): Promise<string>
}

/** Options of {@link createProbeRunner}. */
export interface ProbeRunnerOptions {
  /** `baseFingerprint()` of the pristine model: verified on the first generation when given. */
  expectedFingerprint: string | undefined
}

/**
 * A probe runner for `adapters` on `model` (no adapters = the base model).
 *
 * @example
 * ```ts
 * const runner = createProbeRunner(model, tokenizer, [await loadPeftAdapter(dir)])
 * const decision = await checkAdapter(dir, policy, { ...context, probeRunner: runner })
 * ```
 */
export function createProbeRunner(
  model: CausalLM,
  tokenizer: Tokenizer,
  adapters: readonly LoraModuleSource[],
  options: Partial<ProbeRunnerOptions> = {},
): AdapterProbeRunner {
  let verified = options.expectedFingerprint === undefined
  return {
    async generate(prompt: string, maxNewTokens: number): Promise<string> {
      await assertPristineBase(
        model,
        verified
          ? { where: 'probe runner' }
          : { expectedFingerprint: options.expectedFingerprint!, where: 'probe runner' },
      )
      verified = true
      const set = adapters.length > 0 ? createLoraBranches(model, adapters) : null
      try {
        const [result] = await generate(model, tokenizer, [prompt], {
          maxNewTokens,
          ...(set ? { lora: set.branches } : {}),
        })
        return result?.text ?? ''
      } finally {
        set?.dispose()
      }
    },
  }
}
