/**
 * The value-add NLL metric (spec pipelines.md §9.4), one float per example, aligned by index.
 *
 * Both modes lay a pair out as `Question: {q}\nAnswer: {a}` with the same tokens
 * (`@plora/model`'s `tokenNlls`: prefix and answer tokenised separately) and differ only in the
 * positions scored:
 * - `answer` (plora's default): the mean NLL of the answer tokens given the prompt — what the
 *   adapter is trained to change;
 * - `all` (the original): the mean NLL over every next-token position, prompt included.
 * Adapters are applied as un-merged side branches, so evaluating one never writes a base weight.
 */
import { type CausalLM, type LoraBranches, type QaPair, type Tokenizer, tokenNlls } from '@plora/model'

/** Which tokens the NLL averages over. */
export type NllOn = 'answer' | 'all'

/** The choices of {@link NllOn}. */
export const NLL_ON_CHOICES: readonly NllOn[] = ['answer', 'all']

/** Options of {@link exampleNlls}. */
export interface ExampleNllOptions {
  nllOn: NllOn
  /** Longest scored sequence (tokens); undefined = the model context. */
  maxLength: number | undefined
  /** Pairs per forward pass. */
  batchSize: number
  lora: LoraBranches | undefined
}

/** Mean token NLL (nats) of each pair under `model` (+ optional LoRA branches): `@plora/model`'s `tokenNlls`. */
export async function exampleNlls(
  model: CausalLM,
  tok: Tokenizer,
  pairs: readonly QaPair[],
  o: ExampleNllOptions,
): Promise<number[]> {
  const r = await tokenNlls(model, tok, pairs, {
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    lora: o.lora,
    scope: o.nllOn,
  })
  return r.map((x) => x.meanNll)
}
