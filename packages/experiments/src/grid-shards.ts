/**
 * Sharding the experiment grids across machines (issue 23 item 3), as `plora sweep --shard` does:
 * grid cell g (0-based, in the grid's own order) belongs to shard `g % count + 1`; each shard runs
 * into its own folder (resumable like a whole run) and a merge joins the folders in grid order
 * into what a one-machine run writes. This file holds what the value-add, ablation and population
 * merges share: the shard check, the refusals, and copying adapter folders out of the shards with
 * a byte comparison of the ones two shards both wrote.
 *
 * Timing: the records' measured wall-clock fields (value-add `latency_ms`, `latency_trials_ms`;
 * ablation `train_seconds`, `inject_remove_ms`, `inject_remove_trials_ms`) and each adapter
 * manifest's creation time (`plora.yml` `timestamp_unix` and the `plasmid_id` made from it) are the
 * only bytes two runs of the same cell can disagree on. A cell found in two shards is a conflict
 * only when anything else differs.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'

/** Shard `index` of `count` (1 ≤ index ≤ count). */
export interface GridShard {
  index: number
  count: number
}

/** `2/8`. */
export function shardLabel(s: GridShard): string {
  return `${s.index}/${s.count}`
}

/** Fails with `EXPERIMENTS_INPUT_INVALID` unless `s` is i/n with 1 ≤ i ≤ n. */
export function checkShard(what: string, s: GridShard | undefined): void {
  if (s === undefined) return
  const { index, count } = s
  if (!(Number.isSafeInteger(count) && count >= 1 && Number.isSafeInteger(index) && index >= 1 && index <= count))
    throw new ExperimentsError(
      ExperimentsErrorCode.InputInvalid,
      `${what}: shard must be i/n with 1 ≤ i ≤ n, found ${index}/${count}`,
      { shard: s },
    )
}

/** Whether grid cell `g` (0-based, grid order) belongs to shard `s` (every cell without a shard). */
export function inShard(g: number, s: GridShard | undefined): boolean {
  return s === undefined || g % s.count === s.index - 1
}

/** The refusal for grid cells no shard holds (names the first, gives the count). */
export function missingCells(what: string, missing: readonly string[], total: number): ExperimentsError {
  return new ExperimentsError(
    ExperimentsErrorCode.ShardCellMissing,
    `${what} merge: the shards lack ${missing.length} of ${total} grid cells (first: ${missing[0]}); run the missing shards or resume them, with the same grid flags`,
    { missing: missing.length, total, first: missing[0] },
  )
}

/** The refusal for a record that is not a cell of this grid with these settings. */
export function foreignRecord(what: string, where: string, found: string, details = {}): ExperimentsError {
  return new ExperimentsError(
    ExperimentsErrorCode.ShardRecordForeign,
    `${what} merge: ${where}: ${found}; expected only cells of the grid the merge's flags describe (give the flags the shards ran with)`,
    { where, ...details },
  )
}

/** The refusal for a cell that two shards hold with different results. */
export function conflictingCell(what: string, cell: string, a: string, b: string): ExperimentsError {
  return new ExperimentsError(
    ExperimentsErrorCode.ShardConflict,
    `${what} merge: cell ${cell} is in ${a} and in ${b} with different results; remove one of them`,
    { cell, first: a, second: b },
  )
}

/** A copy of `record` without the named (timing) fields, as canonical text for comparisons. */
export function untimed(record: Record<string, unknown>, timing: readonly string[]): string {
  return JSON.stringify(Object.fromEntries(Object.entries(record).filter(([k]) => !timing.includes(k))))
}

/** An adapter manifest (`plora.yml`) with its creation time masked. */
function untimedManifest(text: string): string {
  return text.replace(/^(\s*timestamp_unix:).*$/gm, '$1 T').replace(/^(plasmid_id: .*-)\d+$/gm, '$1T')
}

function filesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesBelow(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort()
}

/**
 * The records of a grid's cells gathered from the shards: one per cell, the base weights the same
 * in every record, a cell held twice only with the same `compareText`, none missing at the end.
 */
export class ShardCells<E extends { where: string }> {
  readonly found: Array<E | undefined>
  readonly #what: string
  readonly #labels: readonly string[]
  readonly #compareText: (e: E) => string
  #base: { sha: string; where: string } | undefined
  /** `labels[g]` names grid cell g in messages; `compareText` is a record without its timing fields. */
  constructor(what: string, labels: readonly string[], compareText: (e: E) => string) {
    this.#what = what
    this.#labels = labels
    this.#compareText = compareText
    this.found = new Array<E | undefined>(labels.length)
  }

  /** Refuses a record whose base weights differ from the first record's. */
  checkBase(sha: string, where: string): void {
    this.#base ??= { sha, where }
    if (sha !== this.#base.sha)
      throw foreignRecord(
        this.#what,
        where,
        `base weights ${sha.slice(0, 12)}… differ from ${this.#base.sha.slice(0, 12)}… of ${this.#base.where}`,
      )
  }

  /** Files `entry` as cell `g`; a second copy must compare equal. */
  add(g: number, entry: E): void {
    const seen = this.found[g]
    if (seen === undefined) this.found[g] = entry
    else if (this.#compareText(seen) !== this.#compareText(entry))
      throw conflictingCell(this.#what, this.#labels[g]!, seen.where, entry.where)
  }

  /** Every cell's entry, in grid order; refuses missing cells (names the first, gives the count). */
  complete(): E[] {
    const missing = this.#labels.filter((_, g) => this.found[g] === undefined)
    if (missing.length > 0) throw missingCells(this.#what, missing, this.#labels.length)
    return this.found as E[]
  }
}

/**
 * Copies files out of shard folders into a staging folder, each relative path once: a path a
 * second shard also has must hold the same bytes (an adapter manifest: apart from its creation
 * time), else the merge is refused as a conflict.
 */
export class ShardFileCopier {
  readonly #from = new Map<string, string>()
  readonly #what: string
  readonly #staging: string
  constructor(what: string, staging: string) {
    this.#what = what
    this.#staging = staging
  }

  /** Copies `rel` (a file or a folder, relative to `shardDir`); fails when it is absent. */
  async copy(shardDir: string, rel: string, cell: string): Promise<void> {
    const src = join(shardDir, rel)
    if (!existsSync(src))
      throw new ExperimentsError(
        ExperimentsErrorCode.ShardCellMissing,
        `${this.#what} merge: ${src} is missing (cell ${cell} is recorded in ${shardDir} without it); resume that shard`,
        { path: src, cell },
      )
    const files = statSync(src).isDirectory() ? filesBelow(src).map((f) => join(rel, f)) : [rel]
    for (const f of files) await this.#copyFile(shardDir, f, cell)
  }

  async #copyFile(shardDir: string, rel: string, cell: string): Promise<void> {
    const src = join(shardDir, rel)
    const seen = this.#from.get(rel)
    if (seen === undefined) {
      await mkdir(dirname(join(this.#staging, rel)), { recursive: true })
      await copyFile(src, join(this.#staging, rel))
      this.#from.set(rel, src)
      return
    }
    const [a, b] = [await readFile(seen), await readFile(src)]
    const same = rel.endsWith('plora.yml')
      ? untimedManifest(a.toString('utf8')) === untimedManifest(b.toString('utf8'))
      : a.equals(b)
    if (!same) throw conflictingCell(this.#what, `${cell} (file ${rel})`, seen, src)
  }

  /** Relative paths copied so far. */
  get copied(): string[] {
    return [...this.#from.keys()]
  }
}

/** Fails with `EXPERIMENTS_OUTPUT_EXISTS` when `dir` exists and is not empty (a merge never overwrites). */
export function requireEmptyOutput(what: string, dir: string, flag: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new ExperimentsError(
      ExperimentsErrorCode.OutputExists,
      `${what} merge: ${dir} exists and is not empty; expected a new folder: remove it or give another ${flag}`,
      { output: dir },
    )
}
