/**
 * Domain datasets: source → pairs → split → fixed order → cap → validation
 * (the original's `get_dataset`, spec core.md §15.4, with [D-31] fixed: the cap and every other
 * setting is an explicit option, never class-level state).
 *
 * Embedded and local-file sources are split by the hash of the question (see splits.ts); hub
 * datasets keep their own train/validation/test splits. The cap keeps a prefix of a fixed
 * order and is applied after blank pairs are dropped, so a cap of N yields N pairs when the split
 * has them (the original capped before filtering and could return far fewer).
 */
import { isAbsolute, resolve } from 'node:path'
import { type Logger, SILENT_LOGGER } from '@plora/common'
import { generateArithmeticProblems } from './arithmetic.js'
import { DatasetsError, DatasetsErrorCode } from './errors.js'
import { builderColumns, buildPairs } from './hf-pairs.js'
import { fetchDatasetSplit, type HubOptions } from './hub.js'
import { detectFormat, readLocalRows } from './local-files.js'
import { readParquetRows } from './parquet.js'
import { type DatasetSource, DEFAULT_DOMAIN_SOURCES, type DomainSources, describeSource } from './sources.js'
import {
  capPairs,
  checkSplitFractions,
  DEFAULT_SPLIT_FRACTIONS,
  orderPairs,
  type SplitFractions,
  selectSplit,
} from './splits.js'
import { isSplitName, type QaPair, SPLITS, type SplitName } from './types.js'
import { validateQaPairs } from './validate.js'
import { buildWordnetPairs } from './wordnet-domains.js'

/** Options of {@link loadDomainDataset}. */
export interface LoadDatasetOptions {
  split: SplitName
  /** Keep at most this many pairs (a prefix of the split's fixed order); undefined = all. */
  samples?: number
  /** Domain → source map (default: every domain embedded). */
  sources: DomainSources
  /** Hash-split fractions for embedded and local-file sources. */
  fractions: SplitFractions
  /** Seed of the embedded generators. */
  seed: number
  /** Size of the embedded arithmetic pool (before the split). */
  arithmeticCount: number
  /** Run the data-quality validation (spec core.md §15.3). */
  validate: boolean
  /** Validation errors throw (else they are returned as warnings). */
  strict: boolean
  /** Hub client options (cache folder, endpoint, token, offline…); required for hub sources. */
  hub?: Partial<HubOptions> & { hubCache: string }
  /** Folder that relative local-file paths are resolved against (default: the working directory). */
  baseDir: string
  logger: Logger
}

/** Defaults of {@link LoadDatasetOptions}. */
export const DEFAULT_LOAD_OPTIONS: LoadDatasetOptions = {
  split: 'train',
  sources: DEFAULT_DOMAIN_SOURCES,
  fractions: DEFAULT_SPLIT_FRACTIONS,
  seed: 42,
  arithmeticCount: 4000,
  validate: true,
  strict: true,
  baseDir: '.',
  logger: SILENT_LOGGER,
}

/** The pairs of one domain and split, and where they came from. */
export interface DomainDataset {
  domain: string
  split: SplitName
  source: DatasetSource
  pairs: QaPair[]
  /** Pairs in this split before the cap. */
  available: number
  /** Validation warnings (and dropped-row notes). */
  warnings: string[]
  /** Parquet files read (hub sources). */
  files?: string[]
  /** Hub sources: true when nothing was downloaded. */
  fromCache?: boolean
}

function checkSplit(split: string): SplitName {
  if (!isSplitName(split)) {
    throw new DatasetsError(
      DatasetsErrorCode.SplitInvalid,
      `invalid split "${split}": expected one of ${SPLITS.join(', ')}`,
      { split },
    )
  }
  return split
}

/** The source of `domain`; unknown domains are `DATASETS_DOMAIN_UNKNOWN` listing the known ones. */
export function resolveDomainSource(domain: string, sources: DomainSources = DEFAULT_DOMAIN_SOURCES): DatasetSource {
  const s = Object.hasOwn(sources, domain) ? sources[domain] : undefined
  if (!s) {
    throw new DatasetsError(
      DatasetsErrorCode.DomainUnknown,
      `unknown domain "${domain}": no data source is configured for it (known: ${Object.keys(sources).sort().join(', ')})`,
      { domain, known: Object.keys(sources) },
    )
  }
  return s
}

async function loadEmbeddedPool(name: string, o: LoadDatasetOptions): Promise<QaPair[]> {
  if (name === 'arithmetic') {
    return generateArithmeticProblems({ seed: o.seed, count: o.arithmeticCount }).map((p) => ({
      question: p.question,
      answer: p.answer,
    }))
  }
  return buildWordnetPairs(name as 'legal' | 'medical' | 'science', { seed: o.seed })
}

/**
 * Loads one domain's split: its pairs in a fixed order, capped and validated.
 * @example
 * const { pairs } = await loadDomainDataset('legal', { split: 'validation', samples: 64 })
 */
export async function loadDomainDataset(
  domain: string,
  options: Partial<LoadDatasetOptions> = {},
): Promise<DomainDataset> {
  const o: LoadDatasetOptions = { ...DEFAULT_LOAD_OPTIONS, ...options }
  const split = checkSplit(o.split)
  checkSplitFractions(o.fractions)
  const source = resolveDomainSource(domain, o.sources)
  const warnings: string[] = []
  let ordered: QaPair[]
  let files: string[] | undefined
  let fromCache: boolean | undefined

  if (source.type === 'hf') {
    if (!o.hub) {
      throw new DatasetsError(
        DatasetsErrorCode.OptionsInvalid,
        `domain "${domain}" reads the hub dataset ${source.dataset}, but no hub cache folder was given`,
        { domain },
      )
    }
    const got = await fetchDatasetSplit(
      { dataset: source.dataset, revision: source.revision, ...(source.config ? { config: source.config } : {}) },
      split,
      {
        logger: o.logger,
        ...o.hub,
      },
    )
    files = got.files
    fromCache = got.fromCache
    const cols = builderColumns(source.pairs, source)
    const pairs: QaPair[] = []
    for (const f of got.files) {
      const built = buildPairs(source.pairs, await readParquetRows(f, cols), source, o.logger)
      pairs.push(...built.pairs)
      if (built.blank + built.badLabel > 0)
        warnings.push(`${f}: skipped ${built.blank} rows with a blank side and ${built.badLabel} with a bad label`)
    }
    ordered = orderPairs(pairs)
  } else if (source.type === 'file') {
    const path = isAbsolute(source.path) ? source.path : resolve(o.baseDir, source.path)
    const rows = await readLocalRows(path, [source.question, source.answer], source.format ?? detectFormat(path))
    const built = buildPairs('columns', rows, source, o.logger)
    if (built.blank > 0) warnings.push(`${path}: skipped ${built.blank} rows with a blank question or answer`)
    ordered = selectSplit(built.pairs, split, o.fractions)
  } else {
    ordered = selectSplit(await loadEmbeddedPool(source.name, o), split, o.fractions)
  }

  let pairs = capPairs(ordered, o.samples)
  if (o.validate) {
    const v = validateQaPairs(pairs, domain, { strict: o.strict, logger: o.logger })
    pairs = v.pairs
    warnings.push(...v.warnings)
  }
  o.logger.info(`loaded ${pairs.length} ${split} pairs for domain "${domain}" from ${describeSource(source)}`, {
    available: ordered.length,
  })
  return {
    domain,
    split,
    source,
    pairs,
    available: ordered.length,
    warnings,
    ...(files ? { files } : {}),
    ...(fromCache !== undefined ? { fromCache } : {}),
  }
}

/** Just the pairs of {@link loadDomainDataset}. */
export async function loadPairs(domain: string, options: Partial<LoadDatasetOptions> = {}): Promise<QaPair[]> {
  return (await loadDomainDataset(domain, options)).pairs
}

/**
 * Pre-fetches and validates every (split, domain) — the original's `preload_datasets`
 * (spec pipelines.md §15): hub datasets land in the cache, so later runs work offline; a
 * data-quality failure aborts. Returns one summary per (split, domain), splits outermost.
 */
export async function prepareDatasets(
  domains: readonly string[],
  splits: readonly SplitName[],
  options: Partial<Omit<LoadDatasetOptions, 'split'>> = {},
): Promise<DomainDataset[]> {
  const out: DomainDataset[] = []
  for (const split of splits) {
    for (const domain of domains) out.push(await loadDomainDataset(domain, { ...options, split }))
  }
  return out
}
