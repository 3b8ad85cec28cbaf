/**
 * Where a domain's data comes from: an embedded generator, a Hugging Face hub dataset (parquet),
 * or a local JSONL/CSV/parquet file. The config maps each domain to one of these (validated here
 * with zod, at the boundary); `parseSourceSpec` reads the compact `--source` form of the CLI.
 */
import { z } from 'zod'
import { DatasetsError, DatasetsErrorCode } from './errors.js'

/** Names of the embedded (offline, shipped with npm packages) sources. */
export const EMBEDDED_SOURCES = ['arithmetic', 'legal', 'medical', 'science'] as const
export type EmbeddedSourceName = (typeof EMBEDDED_SOURCES)[number]

/** Pair builders for hub datasets: the original's three (spec core.md §15.1) and plain columns. */
export const HF_PAIR_BUILDERS = ['aqua_rat', 'case_hold', 'medmcqa', 'columns'] as const
export type HfPairBuilder = (typeof HF_PAIR_BUILDERS)[number]

const column = z.string().min(1)

/** An embedded source: `{type: embedded, name: legal}`. */
export const EmbeddedSourceSchema = z.strictObject({
  type: z.literal('embedded'),
  name: z.enum(EMBEDDED_SOURCES),
})

/**
 * A Hugging Face hub dataset read from its parquet files: `dataset` is the repo id, `config` the
 * subset (a folder of the repo, e.g. `raw`, `case_hold`), `revision` a branch/tag/commit. Its own
 * train/validation/test splits are used as they are.
 */
export const HfSourceSchema = z.strictObject({
  type: z.literal('hf'),
  dataset: z.string().regex(/^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/, 'a repo id such as "deepmind/aqua_rat"'),
  config: z.string().min(1).optional(),
  revision: z.string().min(1).default('main'),
  pairs: z.enum(HF_PAIR_BUILDERS).default('columns'),
  question: column.default('question'),
  answer: column.default('answer'),
})

/** A local file; rows are split by the hash of their question. */
export const FileSourceSchema = z.strictObject({
  type: z.literal('file'),
  path: z.string().min(1),
  format: z.enum(['jsonl', 'csv', 'parquet']).optional(),
  question: column.default('question'),
  answer: column.default('answer'),
})

/** Any data source. */
export const DatasetSourceSchema = z.discriminatedUnion('type', [
  EmbeddedSourceSchema,
  HfSourceSchema,
  FileSourceSchema,
])
export type EmbeddedSource = z.infer<typeof EmbeddedSourceSchema>
export type HfSource = z.infer<typeof HfSourceSchema>
export type FileSource = z.infer<typeof FileSourceSchema>
export type DatasetSource = z.infer<typeof DatasetSourceSchema>

/** The domain → source map of a config (`data.sources`). */
export const DomainSourcesSchema = z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), DatasetSourceSchema)
export type DomainSources = Readonly<Record<string, DatasetSource>>

/** The default map: every domain offline, from the embedded generators (dry runs, tests). */
export const DEFAULT_DOMAIN_SOURCES: DomainSources = {
  arithmetic: { type: 'embedded', name: 'arithmetic' },
  legal: { type: 'embedded', name: 'legal' },
  medical: { type: 'embedded', name: 'medical' },
  science: { type: 'embedded', name: 'science' },
}

/** The original's Hugging Face datasets and pair construction (spec core.md §15.1). */
export const HF_DOMAIN_SOURCES: DomainSources = {
  arithmetic: hf('deepmind/aqua_rat', 'raw', 'aqua_rat'),
  legal: hf('lex_glue', 'case_hold', 'case_hold'),
  medical: hf('openlifescienceai/medmcqa', undefined, 'medmcqa'),
}

function hf(dataset: string, config: string | undefined, pairs: HfPairBuilder): HfSource {
  return {
    type: 'hf',
    dataset,
    ...(config ? { config } : {}),
    revision: 'main',
    pairs,
    question: 'question',
    answer: 'answer',
  }
}

/** Validates a `data.sources` map (e.g. from the config); errors name the domain and field. */
export function parseDomainSources(value: unknown, where = 'data.sources'): DomainSources {
  const r = DomainSourcesSchema.safeParse(value)
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; ')
    throw new DatasetsError(DatasetsErrorCode.SourceInvalid, `invalid dataset sources: ${issues}`, { where })
  }
  return r.data
}

/** The pair builder the original used for a known repo id, else `columns`. */
export function defaultPairBuilder(dataset: string): HfPairBuilder {
  const name = dataset.split('/').pop()
  if (name === 'aqua_rat') return 'aqua_rat'
  if (name === 'lex_glue') return 'case_hold'
  if (name === 'medmcqa') return 'medmcqa'
  return 'columns'
}

/**
 * Parses the compact source form used on the command line:
 * `embedded:legal`, `hf:deepmind/aqua_rat:raw[@revision]`, `hf:org/name[?question=q&answer=a]`,
 * `file:data/x.jsonl[?question=q&answer=a]`.
 */
export function parseSourceSpec(spec: string): DatasetSource {
  const m = /^(embedded|hf|file):(.+)$/.exec(spec.trim())
  const fail = (why: string): never => {
    throw new DatasetsError(
      DatasetsErrorCode.SourceInvalid,
      `invalid source "${spec}": ${why} (expected embedded:<name>, hf:<org/name>[:<config>][@<revision>] or file:<path>)`,
      { spec },
    )
  }
  if (!m) return fail('unknown kind')
  const kind = m[1]!
  let rest = m[2]!
  const q = rest.indexOf('?')
  const params = new URLSearchParams(q >= 0 ? rest.slice(q + 1) : '')
  if (q >= 0) rest = rest.slice(0, q)
  const cols = {
    ...(params.get('question') ? { question: params.get('question')! } : {}),
    ...(params.get('answer') ? { answer: params.get('answer')! } : {}),
  }
  let raw: Record<string, unknown>
  if (kind === 'embedded') raw = { type: 'embedded', name: rest }
  else if (kind === 'file') raw = { type: 'file', path: rest, ...cols }
  else {
    let revision: string | undefined
    const at = rest.lastIndexOf('@')
    if (at > 0) {
      revision = rest.slice(at + 1)
      rest = rest.slice(0, at)
    }
    const parts = rest.split(':')
    if (parts.length > 2) fail('too many ":"')
    const dataset = parts[0]!
    raw = {
      type: 'hf',
      dataset,
      ...(parts[1] ? { config: parts[1] } : {}),
      ...(revision ? { revision } : {}),
      pairs: params.get('pairs') ?? defaultPairBuilder(dataset),
      ...cols,
    }
  }
  const r = DatasetSourceSchema.safeParse(raw)
  if (!r.success) fail(r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; '))
  return r.data!
}

/** A one-line description of a source for logs and `plora data` output. */
export function describeSource(source: DatasetSource): string {
  switch (source.type) {
    case 'embedded':
      return `embedded:${source.name}`
    case 'hf':
      return `hf:${source.dataset}${source.config ? `:${source.config}` : ''}${source.revision !== 'main' ? `@${source.revision}` : ''}`
    case 'file':
      return `file:${source.path}`
  }
}
