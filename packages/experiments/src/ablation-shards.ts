/**
 * `plora ablation merge` (issue 23 item 3): joins the output folders of a sharded ablation
 * (`runAblation` with `shard` i/n) into what a one-machine run of the same grid writes to `output`:
 * the records in grid order with the adjusted p-values recomputed over the whole grid (a shard's
 * cover its own cells only), `ablation.md` from them, and each cell's adapter folder. Everything is
 * checked before anything is written, staged next to the outputs and then renamed into place.
 */
import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createStagingDir, installDirAtomic, pythonJsonDumps, writeFileAtomic } from '@plora/common'
import {
  ABLATION_JSONL,
  ABLATION_MD,
  type AblationOptions,
  type AblationRecord,
  ablationCellConfig,
  ablationGridCells,
  ablationMarkdown,
  adjustAblationPValues,
  DEFAULT_ABLATION_OPTIONS,
  existingAblationOutputs,
  readAblationRecords,
} from './ablation.js'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { foreignRecord, ShardCells, ShardFileCopier, untimed } from './grid-shards.js'

/** The measured wall-clock fields of an ablation record: the only fields two runs of one cell disagree on. */
export const ABLATION_TIMING_FIELDS: readonly string[] = [
  'train_seconds',
  'inject_remove_ms',
  'inject_remove_trials_ms',
]

/**
 * Not compared between two copies of a cell either: the adjusted p-values (recomputed over the
 * whole grid at merge; a shard's cover its cells only) and the folder size (it holds plora.yml,
 * whose creation time could change its length).
 */
const ADJUSTED_FIELDS = ['p_holm', 'p_bh', 'tests_corrected', 'adapter_dir_bytes']

/** Options of {@link mergeAblationShards}: the grid and settings the shards ran with, and their folders. */
export type MergeAblationOptions = Partial<
  Pick<
    AblationOptions,
    | 'domains'
    | 'ranks'
    | 'schemes'
    | 'samples'
    | 'seed'
    | 'devSize'
    | 'evalSplit'
    | 'baseModel'
    | 'nllOn'
    | 'maxLength'
    | 'training'
    | 'output'
  >
> & {
  /** The shards' output folders, any order. */
  inputs: readonly string[]
}

/** What {@link mergeAblationShards} wrote. */
export interface MergeAblationResult {
  jsonlPath: string
  mdPath: string
  records: AblationRecord[]
  inputs: number
}

const label = (c: { domain: string; rank: number; scheme: string }) => `${c.domain} r=${c.rank} ${c.scheme}`

/**
 * Joins the shard folders into `output`, which must hold no ablation outputs yet (other files stay).
 *
 * @throws ExperimentsError `EXPERIMENTS_SHARD_CELL_MISSING`, `EXPERIMENTS_SHARD_RECORD_FOREIGN`,
 *   `EXPERIMENTS_SHARD_CONFLICT` (a cell two shards hold with different results; timing and
 *   adjusted p-values are not compared), `EXPERIMENTS_OUTPUT_EXISTS`.
 * @example
 * await mergeAblationShards({ domains: ['legal'], ranks: [1, 4], inputs: ['abl_1', 'abl_2'], output: 'results/ablation' })
 */
export async function mergeAblationShards(options: MergeAblationOptions): Promise<MergeAblationResult> {
  const { inputs, ...rest } = options
  const o = { ...DEFAULT_ABLATION_OPTIONS, ...rest }
  if (inputs.length === 0)
    throw new ExperimentsError(ExperimentsErrorCode.InputInvalid, 'ablation merge: no shard folders given', {})
  const present = existingAblationOutputs(o.output)
  if (present.length > 0)
    throw new ExperimentsError(
      ExperimentsErrorCode.OutputExists,
      `ablation merge: ${o.output} already holds ablation outputs (${present.slice(0, 5).join(', ')}); expected a folder without them: remove them or give another --out`,
      { output: o.output, present },
    )
  const cells = ablationGridCells(o)
  const index = new Map(cells.map((c, g) => [JSON.stringify([c.domain, c.rank, c.scheme]), g]))
  const mask = [...ABLATION_TIMING_FIELDS, ...ADJUSTED_FIELDS]
  const gathered = new ShardCells<{ record: AblationRecord; shard: string; where: string }>(
    'ablation',
    cells.map(label),
    (e) => untimed(e.record as never, mask),
  )
  for (const dir of inputs) {
    const path = join(dir, ABLATION_JSONL)
    let records: AblationRecord[]
    try {
      records = await readAblationRecords(path)
    } catch (e) {
      throw foreignRecord('ablation', path, (e as Error).message)
    }
    records.forEach((r, i) => {
      const where = `${path}:${i + 1}`
      const c = r.config
      const g = index.get(JSON.stringify([c.domain, c.rank, c.scheme]))
      if (g === undefined) throw foreignRecord('ablation', where, `cell ${label(c)} is not in this grid`)
      if (pythonJsonDumps(c) !== pythonJsonDumps(ablationCellConfig(o, cells[g]!, c.base_sha256)))
        throw foreignRecord('ablation', where, `cell ${label(c)} was run with other settings`, { config: c })
      gathered.checkBase(c.base_sha256, where)
      gathered.add(g, { record: r, shard: dir, where })
    })
  }
  const found = gathered.complete()
  const records = found.map((f) => f.record)
  adjustAblationPValues(records)
  const jsonlPath = join(o.output, ABLATION_JSONL)
  const mdPath = join(o.output, ABLATION_MD)
  const staging = await createStagingDir(jsonlPath)
  try {
    const copier = new ShardFileCopier('ablation', staging)
    for (const f of found) await copier.copy(f.shard, f.record.adapter_dir, label(f.record.config))
    // Adapter folders first, the records last: a merge stopped midway leaves no ablation.jsonl.
    for (const f of found)
      await installDirAtomic(join(staging, f.record.adapter_dir), join(o.output, f.record.adapter_dir))
    await writeFileAtomic(join(staging, ABLATION_MD), ablationMarkdown(records))
    await writeFileAtomic(join(staging, ABLATION_JSONL), records.map((r) => `${pythonJsonDumps(r)}\n`).join(''))
    await rename(join(staging, ABLATION_MD), mdPath)
    await rename(join(staging, ABLATION_JSONL), jsonlPath)
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return { jsonlPath, mdPath, records, inputs: inputs.length }
}
