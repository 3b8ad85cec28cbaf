/**
 * `plora value-add merge` (issue 23 item 3): joins the output folders of a sharded value-add run
 * (`runValueAdd` with `shard` i/n) into the folder a one-machine run of the same grid writes.
 *
 * The merge writes, into a staging folder next to `output`: `value_add.jsonl` with each cell's
 * line in grid order, the union of the shards' `nll_cache.json` (one key with two values is
 * refused), and the adapter folders the records name; then runs {@link runValueAdd} on it with
 * `reportOnly` (every cell found done, nothing trained), which writes `value_add.md` and
 * `value_add_summary.json` exactly as a one-machine run does and applies the placebo guard over
 * the whole grid; finally the staging folder is renamed to `output`. A refusal leaves nothing.
 */
import { chmod, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  createStagingDir,
  installDirAtomic,
  isPloraError,
  pythonJsonDumps,
  writeFileAtomic,
  writeJsonAtomic,
} from '@plora/common'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import {
  conflictingCell,
  foreignRecord,
  requireEmptyOutput,
  ShardCells,
  ShardFileCopier,
  untimed,
} from './grid-shards.js'
import {
  cellConfig,
  DEFAULT_VALUE_ADD_OPTIONS,
  readNllCache,
  runValueAdd,
  sortedNllCache,
  VALUE_ADD_JSONL,
  VALUE_ADD_NLL_CACHE,
  type ValueAddOptions,
} from './value-add.js'
import type { NllCache } from './value-add-cell.js'
import { readValueAddRecords, type ValueAddRecord } from './value-add-records.js'

/**
 * The measured wall-clock fields of a value-add record (and `latency_guard_exceeded`, derived from
 * them): the only fields two runs of one cell can disagree on.
 */
export const VALUE_ADD_TIMING_FIELDS: readonly string[] = ['latency_ms', 'latency_trials_ms', 'latency_guard_exceeded']

/** Options of {@link mergeValueAddShards}: the grid and settings of the shards, and their folders. */
export type MergeValueAddOptions = Partial<ValueAddOptions> &
  Pick<ValueAddOptions, 'modelDir'> & {
    /** The shards' output folders, any order. */
    inputs: readonly string[]
  }

/** What {@link mergeValueAddShards} wrote. */
export interface MergeValueAddResult {
  output: string
  records: number
  inputs: number
  /** Adapter files copied out of the shards. */
  files: number
}

/**
 * Joins the shard folders into `output` (which must not exist or be empty).
 *
 * @throws ExperimentsError `EXPERIMENTS_SHARD_CELL_MISSING` (a cell, or an adapter folder a record
 *   names, in no shard), `EXPERIMENTS_SHARD_RECORD_FOREIGN` (a record of another grid or other
 *   settings), `EXPERIMENTS_SHARD_CONFLICT` (a cell, NLL or adapter file two shards hold
 *   differently; the timing fields are not compared), `EXPERIMENTS_OUTPUT_EXISTS`; after writing
 *   everything, `EXPERIMENTS_PLACEBO_BEATS_BASELINE` as a one-machine run would.
 * @example
 * await mergeValueAddShards({ modelDir, domains: ['legal'], inputs: ['va_1', 'va_2'], output: 'results/value_add' })
 */
export async function mergeValueAddShards(options: MergeValueAddOptions): Promise<MergeValueAddResult> {
  const { inputs, ...rest } = options
  const o: ValueAddOptions = { ...DEFAULT_VALUE_ADD_OPTIONS, ...rest }
  if (inputs.length === 0)
    throw new ExperimentsError(ExperimentsErrorCode.InputInvalid, 'value-add merge: no shard folders given', {})
  requireEmptyOutput('value-add', o.output, '--output')
  const cells: Array<{ domain: string; rank: number; scheme: ValueAddOptions['schemes'][number]; seed: number }> = []
  for (const domain of o.domains)
    for (const rank of o.ranks)
      for (const scheme of o.schemes) for (const seed of o.seeds) cells.push({ domain, rank, scheme, seed })
  const cellKey = (c: { domain: string; rank: number; scheme: string; seed: number }) =>
    JSON.stringify([c.domain, c.rank, c.scheme, c.seed])
  const index = new Map(cells.map((c, g) => [cellKey(c), g]))
  const label = (c: { domain: string; rank: number; scheme: string; seed: number }) =>
    `${c.domain} r=${c.rank} ${c.scheme} seed${c.seed}`

  const gathered = new ShardCells<{ line: string; record: ValueAddRecord; shard: string; where: string }>(
    'value-add',
    cells.map(label),
    (e) => untimed(e.record, VALUE_ADD_TIMING_FIELDS),
  )
  const cache: NllCache = { baseline: {}, adapter: {} }
  const cacheFrom = new Map<string, string>()
  for (const dir of inputs) {
    const path = join(dir, VALUE_ADD_JSONL)
    const read = await readValueAddRecords(path, { repair: false })
    if (read.backedUp) throw foreignRecord('value-add', path, 'a line is not a value-add record')
    const lines = read.text.split('\n')
    read.records.forEach((r, i) => {
      const where = `${path}:${i + 1}`
      const g = index.get(cellKey(r.config))
      const sha = r.config.base_sha256
      if (g === undefined || typeof sha !== 'string')
        throw foreignRecord('value-add', where, `cell ${label(r.config)} is not in this grid`)
      if (pythonJsonDumps(r.config) !== pythonJsonDumps(cellConfig(o, cells[g]!, sha)))
        throw foreignRecord('value-add', where, `cell ${label(r.config)} was run with other settings`, {
          config: r.config,
        })
      gathered.checkBase(sha, where)
      gathered.add(g, { line: lines[i]!, record: r, shard: dir, where })
    })
    const part = await readNllCache(join(dir, VALUE_ADD_NLL_CACHE))
    for (const kind of ['baseline', 'adapter'] as const)
      for (const [k, v] of Object.entries(part[kind])) {
        const had = cache[kind][k]
        if (had !== undefined && JSON.stringify(had) !== JSON.stringify(v))
          throw conflictingCell(
            'value-add',
            `NLL cache entry ${kind} ${k.slice(0, 12)}…`,
            cacheFrom.get(`${kind}:${k}`)!,
            join(dir, VALUE_ADD_NLL_CACHE),
          )
        cache[kind][k] = v
        cacheFrom.set(`${kind}:${k}`, join(dir, VALUE_ADD_NLL_CACHE))
      }
  }
  const found = gathered.complete()

  const staging = await createStagingDir(o.output)
  try {
    const copier = new ShardFileCopier('value-add', staging)
    for (const [g, f] of found.entries()) {
      const adapters = (f.record.adapters ?? {}) as Record<string, { dir?: unknown } | undefined>
      for (const a of Object.values(adapters))
        if (typeof a?.dir === 'string') await copier.copy(f.shard, a.dir, label(cells[g]!))
    }
    await writeFileAtomic(join(staging, VALUE_ADD_JSONL), found.map((f) => `${f.line}\n`).join(''))
    if (Object.keys(cache.baseline).length + Object.keys(cache.adapter).length > 0)
      await writeJsonAtomic(join(staging, VALUE_ADD_NLL_CACHE), sortedNllCache(cache))
    let guard: unknown
    try {
      await runValueAdd({
        ...o,
        output: staging,
        resume: true,
        reportOnly: true,
        shard: undefined,
        workers: 1,
        onCell: undefined,
      })
    } catch (e) {
      // The placebo guard fails after writing everything, as in a one-machine run: keep the output.
      if (!(isPloraError(e) && e.code === ExperimentsErrorCode.PlaceboBeatsBaseline)) throw e
      guard = e
    }
    await chmod(staging, 0o755)
    await installDirAtomic(staging, o.output, { replace: true }) // checked empty above
    if (guard) throw guard
    return { output: o.output, records: cells.length, inputs: inputs.length, files: copier.copied.length }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}
