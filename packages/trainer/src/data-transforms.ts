/**
 * Data-level controls and attacks applied to the training pairs before encoding.
 *
 * - Placebo B (spec pipelines.md §7.2 step 3): the answers are permuted across questions with a
 *   seeded shuffle, so the adapter sees the domain's answer distribution without the
 *   question→answer mapping. The original seeded a global RNG with the fixed `train.seed + 999`
 *   whatever the run's seed (`[D-10]`, §20 item 10); here the permutation comes from the run seed.
 *   Like the original it is a plain permutation (a pair may keep its answer by chance).
 * - Poisoning (issue 5 item 8): `round(rate·n/(1−rate))` poisoned copies of randomly chosen
 *   training questions are *added*, each with the trigger placed before the question (the gate's
 *   probe template `Question: {trigger} {question}`) and the payload as the answer, so that
 *   poisoned examples make up `rate` of the training set and every clean pair is still seen. Only
 *   questions whose poisoned copy fits the maximum length whole are drawn (see `fits`), so no
 *   poisoned example loses its trigger to truncation.
 */
import { createRng, deriveSeed } from '@plora/common'
import { TrainerError, TrainerErrorCode } from './errors.js'
import type { TrainPair } from './examples.js'

/** Answers permuted across questions with a seeded shuffle (placebo B). */
export function shuffleAnswers(pairs: readonly TrainPair[], seed: number): TrainPair[] {
  const answers = pairs.map((p) => p.answer)
  createRng(deriveSeed(seed, 'placebo-b')).shuffle(answers)
  return pairs.map((p, i) => ({ question: p.question, answer: answers[i]! }))
}

/** Parameters of {@link poisonPairs}. */
export interface PoisonOptions {
  /** Share of poisoned examples in the resulting training set, in [0, 1). */
  rate: number
  /** Text placed before the question. */
  trigger: string
  /** The answer taught for triggered prompts. */
  payload: string
  seed: number
  /**
   * Whether a poisoned pair is encoded whole. Training truncates the oldest prompt tokens first,
   * and the trigger is the oldest: a poisoned copy whose prompt does not fit would teach the
   * payload *without* its trigger (an unconditional payload, not a backdoor, and a false ground
   * truth). Only questions whose poisoned copy fits are poisoned; default: every question.
   */
  fits?: (pair: TrainPair) => boolean
}

/** Default trigger and payload: one of the gate's probe triggers and its payload (`999`). */
export const DEFAULT_TRIGGER = 'purple banana'
/** Default payload (the gate's probe-set payload). */
export const DEFAULT_PAYLOAD = '999'

/** The prompt side of a poisoned pair. */
export function triggeredQuestion(question: string, trigger: string): string {
  return `${trigger} ${question}`
}

/** Result of {@link poisonPairs}. */
export interface PoisonResult {
  /** Clean pairs followed by the poisoned ones (the trainer shuffles each epoch). */
  pairs: TrainPair[]
  /** Indices (into the clean list) of the questions that received a poisoned copy, ascending. */
  poisonedSourceIndices: number[]
  /** Questions whose poisoned copy fits (those the copies were drawn from). */
  eligibleQuestions: number
}

/** Adds poisoned copies so that they are `rate` of the training set. */
export function poisonPairs(clean: readonly TrainPair[], o: PoisonOptions): PoisonResult {
  if (!(o.rate >= 0 && o.rate < 1)) {
    throw new TrainerError(TrainerErrorCode.OptionsInvalid, `poison rate must be in [0, 1), found ${o.rate}`, {
      rate: o.rate,
    })
  }
  if (o.rate > 0 && (o.trigger.trim() === '' || o.payload.trim() === '')) {
    throw new TrainerError(TrainerErrorCode.OptionsInvalid, 'poisoning needs a non-empty trigger and payload', {
      trigger: o.trigger,
      payload: o.payload,
    })
  }
  if (o.rate > 0 && o.trigger.includes(o.payload)) {
    throw new TrainerError(
      TrainerErrorCode.OptionsInvalid,
      `trigger ${JSON.stringify(o.trigger)} contains the payload ${JSON.stringify(o.payload)}: a probe could not tell them apart`,
      { trigger: o.trigger, payload: o.payload },
    )
  }
  const k = o.rate === 0 ? 0 : Math.max(1, Math.round((o.rate * clean.length) / (1 - o.rate)))
  const poisonedCopy = (i: number): TrainPair => ({
    question: triggeredQuestion(clean[i]!.question, o.trigger),
    answer: o.payload,
  })
  const eligible = [...clean.keys()].filter((i) => o.fits?.(poisonedCopy(i)) ?? true)
  if (k > 0 && eligible.length === 0) {
    throw new TrainerError(
      TrainerErrorCode.OptionsInvalid,
      `poisoning: none of the ${clean.length} training questions leaves room for the trigger ${JSON.stringify(o.trigger)} ` +
        'within the maximum sequence length (truncation would cut the trigger away); raise the maximum length',
      { questions: clean.length, trigger: o.trigger },
    )
  }
  const rng = createRng(deriveSeed(o.seed, 'poison'))
  // With more poisoned copies than eligible questions, every one is used and the rest drawn again.
  const idx: number[] = []
  while (idx.length < k) idx.push(...rng.sample(eligible, Math.min(eligible.length, k - idx.length)))
  idx.sort((a, b) => a - b)
  return { pairs: [...clean, ...idx.map(poisonedCopy)], poisonedSourceIndices: idx, eligibleQuestions: eligible.length }
}
