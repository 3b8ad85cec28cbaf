/** Core data types shared by every source of `@plora/datasets`. */

/** The three dataset splits. */
export const SPLITS = ['train', 'validation', 'test'] as const
/** A dataset split name. */
export type SplitName = (typeof SPLITS)[number]

/** One supervised example: the prompt side and the target side of `Question: {q}\nAnswer: {a}`. */
export interface QaPair {
  question: string
  answer: string
}

/** True when `s` is a split name. */
export function isSplitName(s: string): s is SplitName {
  return (SPLITS as readonly string[]).includes(s)
}
