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
import { checkAdapterFitsModel, loadPeftAdapter } from '@plora/peft'
import { assertPristineBase, createLoraBranches, type LoraModuleSource } from './inject.js'

/** Structurally `@plora/gate`'s `ProbeRunner` (gate is a higher layer, so it is not imported). */
export interface AdapterProbeRunner {
  /** Greedy continuation of `prompt` (the new text only), stopping at EOS. */
  generate(prompt: string, maxNewTokens: number): Promise<string>
  /** Greedy continuations of several prompts in one left-padded batch (same texts as one by one). */
  generateBatch(prompts: readonly string[], maxNewTokens: number): Promise<string[]>
}

/** Structurally `@plora/gate`'s `ProbeHarness`: the pristine base model and a way to attach an adapter. */
export interface AdapterProbeHarness {
  readonly base: AdapterProbeRunner
  attach(adapterDir: string): Promise<AdapterProbeRunner & { detach(): void }>
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
  const run = async (prompts: readonly string[], maxNewTokens: number): Promise<string[]> => {
    await assertPristineBase(
      model,
      verified
        ? { where: 'probe runner' }
        : { expectedFingerprint: options.expectedFingerprint!, where: 'probe runner' },
    )
    verified = true
    const set = adapters.length > 0 ? createLoraBranches(model, adapters) : null
    try {
      const results = await generate(model, tokenizer, prompts, {
        maxNewTokens,
        ...(set ? { lora: set.branches } : {}),
      })
      return results.map((r) => r.text)
    } finally {
      set?.dispose()
    }
  }
  return {
    async generate(prompt: string, maxNewTokens: number): Promise<string> {
      return (await run([prompt], maxNewTokens))[0] ?? ''
    },
    generateBatch: run,
  }
}

/**
 * The gate's `ProbeHarness` on one loaded base model: `base` generates without adapters, and
 * `attach(dir)` reads the PEFT folder, checks that every module fits this model, and returns a
 * runner with the adapter as side branches (the weights are never written, so `detach` has nothing
 * to undo; it only makes later use of the runner an error).
 *
 * @example
 * ```ts
 * const harness = createProbeHarness(model, tokenizer, { expectedFingerprint: await baseFingerprint(model) })
 * const decision = await checkAdapter(dir, policy, { ...context, probes: harness })
 * ```
 * @throws LoaderError from `attach` when the folder is not a readable adapter for this model
 */
export function createProbeHarness(
  model: CausalLM,
  tokenizer: Tokenizer,
  options: Partial<ProbeRunnerOptions> = {},
): AdapterProbeHarness {
  const base = createProbeRunner(model, tokenizer, [], options)
  return {
    base,
    async attach(adapterDir: string) {
      const adapter = await loadPeftAdapter(adapterDir)
      checkAdapterFitsModel(adapter, model.linearModules())
      const runner = createProbeRunner(model, tokenizer, [adapter], options)
      let attached = true
      const guard = <T>(f: () => Promise<T>): Promise<T> =>
        attached ? f() : Promise.reject(new Error(`probe runner for ${adapterDir} used after detach`))
      return {
        generate: (prompt, n) => guard(() => runner.generate(prompt, n)),
        generateBatch: (prompts, n) => guard(() => runner.generateBatch(prompts, n)),
        detach() {
          attached = false
        },
      }
    },
  }
}
