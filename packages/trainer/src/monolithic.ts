/**
 * The monolithic baseline (spec pipelines.md §10): one adapter trained on the union of several
 * domains' training pairs, evaluated on the union of their validation splits. Unlike the original
 * it honours the trainer's options (lr, max length, clipping, seed) instead of hard-coding them
 * (§20 item 23), and measures perplexity on the validation split, not an 80/20 tail of train.
 */
import { createRng, deriveSeed } from '@plora/common'
import { loadDomainDataset } from '@plora/datasets'
import { TrainerError, TrainerErrorCode } from './errors.js'
import type { TrainPair } from './examples.js'
import { DEFAULT_TRAIN_OPTIONS, type TrainAdapterOptions, type TrainAdapterResult, trainAdapter } from './train.js'

/** Options of {@link trainMonolithic}: those of `trainAdapter` plus the domain list. */
export type MonolithicOptions = Partial<Omit<TrainAdapterOptions, 'domain' | 'pairs'>> &
  Pick<TrainAdapterOptions, 'output' | 'modelDir'> & {
    /** Domains to mix (at least one). `samples` caps each domain's training pairs. */
    domains: string[]
  }

/** The manifest domain of a monolithic adapter. */
export const MONOLITHIC_DOMAIN = 'monolithic'

/**
 * Trains the monolithic adapter: `samples` pairs per domain, mixed with a seeded shuffle; the
 * manifest has `domain: monolithic` and `dataset_id: a+b+c`.
 */
export async function trainMonolithic(options: MonolithicOptions): Promise<TrainAdapterResult> {
  const { domains, ...rest } = options
  if (domains.length === 0) {
    throw new TrainerError(TrainerErrorCode.OptionsInvalid, 'the monolithic baseline needs at least one domain', {
      domains,
    })
  }
  const o = { ...DEFAULT_TRAIN_OPTIONS, ...rest }
  const train: TrainPair[] = []
  const validation: TrainPair[] = []
  for (const d of domains) {
    const base = { ...o.dataset, logger: o.dataset.logger ?? o.logger }
    train.push(
      ...(
        await loadDomainDataset(d, {
          ...base,
          split: 'train',
          ...(o.samples !== undefined ? { samples: o.samples } : {}),
        })
      ).pairs,
    )
    validation.push(...(await loadDomainDataset(d, { ...base, split: 'validation', samples: o.valSamples })).pairs)
  }
  createRng(deriveSeed(o.seed, 'monolithic-mix')).shuffle(train)
  const result = await trainAdapter({
    ...rest,
    domain: MONOLITHIC_DOMAIN,
    datasetId: domains.join('+'),
    pairs: { train, validation },
  })
  return result
}
