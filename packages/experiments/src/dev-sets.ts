/**
 * What the experiment runners share: the evaluation (dev) sets loaded before any training, the
 * error that names a domain and split that cannot be loaded, and the median of latency trials.
 */
import type { Logger } from '@plora/common'
import { type LoadDatasetOptions, loadDomainDataset, type SplitName } from '@plora/datasets'
import type { QaPair } from '@plora/model'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'

/** `EXPERIMENTS_DATASET_FAILED` naming the experiment, the domain and the split. */
export function datasetFailed(who: string, domain: string, split: string, e: unknown): ExperimentsError {
  const why = e instanceof Error ? e.message : String(e)
  return new ExperimentsError(
    ExperimentsErrorCode.DatasetFailed,
    `${who}: cannot load the ${split} split of domain "${domain}": ${why}`,
    { domain, split },
    { cause: e },
  )
}

/**
 * Each domain's first `devSize` pairs of `split` (the split's fixed order), as prompt/answer pairs.
 *
 * @throws ExperimentsError `EXPERIMENTS_DATASET_FAILED` for a split that cannot be loaded or is empty.
 */
export async function loadDevSets(
  who: string,
  domains: readonly string[],
  o: { dataset: Partial<LoadDatasetOptions>; split: SplitName; devSize: number; logger: Logger },
): Promise<Map<string, QaPair[]>> {
  const dev = new Map<string, QaPair[]>()
  for (const d of domains) {
    let pairs: QaPair[]
    try {
      const ds = await loadDomainDataset(d, { ...o.dataset, split: o.split, samples: o.devSize })
      for (const w of ds.warnings) o.logger.warn(w)
      pairs = ds.pairs.map((p) => ({ prompt: p.question, answer: p.answer }))
    } catch (e) {
      throw datasetFailed(who, d, o.split, e)
    }
    if (pairs.length === 0) throw datasetFailed(who, d, o.split, new Error('the split has no pairs'))
    dev.set(d, pairs)
  }
  return dev
}

/** The median (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
