/**
 * The value-add experiment's runner, `run_lora_value_add` of the original (spec pipelines.md
 * §9.1–§9.8, issue 16 items 1, 2, 4, 5), with the defects §9 tags fixed:
 *
 * - **pristine baselines** (§9.6 [BUG, high impact], §20 item 15): adapters are evaluated as
 *   un-merged side branches, so no base weight is ever written while scoring; latency injects
 *   merged and removes with the loader's bit-exact restore. The SHA-256 of every base tensor is
 *   taken when the model is loaded, checked before every baseline, before and after every cell and
 *   at the end (`EXPERIMENTS_BASE_CONTAMINATED` on any change), and recorded in each record;
 *   cross-domain baselines are the same numbers as that domain's in-domain baseline;
 * - **seeds are real** (§9.3 step 2, §20 items 10, 16): the cell seed drives LoRA init, data order
 *   and dropout; every seed trains its own adapter (no reuse of a step-6 adapter for all seeds);
 * - **placebo A** has the trained adapter's config, shapes and per-module ‖ΔW‖_F (§20 item 17);
 *   **placebo B** is trained once per (domain, scheme, seed, its rank) and shared by the cells of
 *   other ranks instead of being retrained per rank folder (§20 item 18); `placeboBRank: 'cell'`
 *   matches each cell's rank;
 * - the NLL is the answer tokens' by default, the original's whole text with `nllOn: 'all'`
 *   (§9.4, §20 item 21); records say which;
 * - cross-domain deltas get the full statistic, not just a mean (§9.3 step 10);
 * - guards exist (§9.10, §20 item 19): a placebo that lowers the NLL significantly after Holm
 *   correction over the run, by at least `placeboMinEffect` nats, aborts
 *   (`EXPERIMENTS_PLACEBO_BEATS_BASELINE`, naming the cell; placebo A by default, see
 *   `placeboGuard`); the
 *   latency guard aborts the run (not just the domain) unless ignored; a dataset failure names the
 *   domain and split (`EXPERIMENTS_DATASET_FAILED`);
 * - resume keys include every setting that changes a result (split, dev size, samples, base model
 *   and its weights' hash, NLL mode, training settings, placebo-B rank), so a changed config never
 *   reuses stale records; NLL caches are keyed the same way and `resume: false` clears them;
 * - each record is added by rewriting the JSONL atomically (temp file + rename), so a kill leaves
 *   the old file or the new one, never a half line; a torn line left by an older writer is dropped.
 */
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  isPloraError,
  type Logger,
  pythonJsonDumps,
  SILENT_LOGGER,
  sha256Hex,
  writeFileAtomic,
  writeJsonAtomic,
} from '@plora/common'
import type { LoadDatasetOptions, SplitName } from '@plora/datasets'
import { baseFingerprint } from '@plora/loader'
import type { PairedStat } from '@plora/metrics'
import { pairedStat } from '@plora/metrics'
import { type CausalLM, currentComputeSetup, loadCausalLMFromDir, loadTokenizer, type Tokenizer } from '@plora/model'
import { loadPeftAdapter, type TargetScheme } from '@plora/peft'
import { loadDevSets } from './dev-sets.js'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { checkShard, type GridShard, inShard, shardLabel } from './grid-shards.js'
import {
  adapterNlls,
  adapterSha,
  baselineNlls,
  checkPristine,
  type NllCache,
  runValueAddCell,
  type ValueAddCell,
  type ValueAddCellContext,
  type ValueAddCellOptions,
  valueAddCellLabel,
} from './value-add-cell.js'
import type { NllOn } from './value-add-nll.js'
import { runValueAddOnPool } from './value-add-pool.js'
import { adjustRunPValues, readValueAddRecords, type StatRecord, type ValueAddRecord } from './value-add-records.js'
import { valueAddMarkdown } from './value-add-report.js'

/** File names under the output folder (the original's). */
export const VALUE_ADD_JSONL = 'value_add.jsonl'
export const VALUE_ADD_MD = 'value_add.md'
export const VALUE_ADD_NLL_CACHE = 'nll_cache.json'
/** plora's run summary (hashes, adjusted p-values, guards, monolithic baseline). */
export const VALUE_ADD_SUMMARY = 'value_add_summary.json'
/** Settings an adapter folder was trained with (reused only when they match). */
export { VALUE_ADD_TRAIN_SIDECAR } from './value-add-cell.js'

/** Training settings of the cells' adapters (config `train.*` in the CLI). */
export interface ValueAddTraining {
  epochs: number
  lr: number
  maxLen: number
  dropout: number
  batchSize: number
  /** Validation pairs of the trainer's own perplexity (manifest metrics). */
  valSamples: number
}

/** Options of {@link runValueAdd}. Every value is explicit: the library reads no config. */
export interface ValueAddOptions {
  domains: string[]
  ranks: number[]
  schemes: TargetScheme[]
  seeds: number[]
  /** Training pairs per domain. */
  samples: number
  /** Evaluation pairs per domain (a prefix of the split's fixed order). */
  devSize: number
  output: string
  modelDir: string
  /** Base-model reference recorded in records and manifests (e.g. `embedded`). */
  baseModel: string
  evalSplit: SplitName
  /** Rank of placebo B, or `cell` for the cell's rank. */
  placeboBRank: number | 'cell'
  latencyBudgetMs: number
  ignoreLatencyGuard: boolean
  resume: boolean
  nllOn: NllOn
  /** Longest scored sequence; undefined = the model context (the original: tokenizer maximum). */
  maxLength: number | undefined
  latencyTrials: number
  training: ValueAddTraining
  /** Dataset options (sources, fractions, hub…); split and cap are set here. */
  dataset: Partial<LoadDatasetOptions>
  /** Monolithic adapter folder evaluated beside the per-domain adapters, when it exists. */
  monolithic: string | undefined
  /** Alpha of the placebo guard (Holm-adjusted p below it with CI < 0 aborts). */
  placeboAlpha: number
  /**
   * Smallest NLL improvement (nats) of a placebo that counts as "beating the baseline". A fixed
   * perturbation moves every example the same way, so with hundreds of examples even a 1e-4-nat
   * shift of a norm-matched random adapter is "significant"; the guard is for a placebo that helps
   * materially (the original's contamination showed placebo effects of 0.12 nats). 0 = the bare
   * rule of spec §9.10.
   */
  placeboMinEffect: number
  /**
   * Placebos the guard checks. Default placebo A only: placebo B (shuffled labels) is the
   * domain-adaptation control, whose improvement is expected and reported as
   * `effect_decomposition.domain_adaptation` (spec §9.9 step 5), not an error.
   */
  placeboGuard: ReadonlyArray<'placebo_a' | 'placebo_b'>
  logger: Logger
  /** Called after every cell (done or skipped). */
  onCell: ((p: CellProgress) => void) | undefined
  /** Clock in ms for latency and ETA (default `performance.now`). */
  clock: () => number
  /**
   * Worker threads the cells run on, each with its own backend and model copy (the built package
   * only: Node 20 cannot start workers from `.ts` sources, where the cells run in process). Records
   * are those of a one-worker run apart from the timing fields; latency is measured in the worker.
   */
  workers: number
  /**
   * Run only this shard of the grid: cell g (0-based, domain → rank → scheme → seed order) belongs
   * to shard `g % count + 1`. The placebo guard is not applied to a shard's subset (it runs over the
   * whole grid in {@link mergeValueAddShards}); the latency guard still applies per cell.
   */
  shard: GridShard | undefined
  /**
   * Run no cell: write the report and the summary from the records already in `output`, and fail
   * (`EXPERIMENTS_SHARD_CELL_MISSING`, nothing trained) when a cell of the grid has none with this
   * base model's weights. What {@link mergeValueAddShards} finishes with.
   */
  reportOnly: boolean
}

/** Defaults of {@link ValueAddOptions} (the dry config's values where the config has one). */
export const DEFAULT_VALUE_ADD_OPTIONS: Omit<ValueAddOptions, 'modelDir'> = {
  domains: ['arithmetic', 'legal', 'medical'],
  ranks: [1],
  schemes: ['attention'],
  seeds: [41],
  samples: 32,
  devSize: 256,
  output: 'results/value_add',
  baseModel: 'embedded',
  evalSplit: 'validation',
  placeboBRank: 1,
  latencyBudgetMs: 5000,
  ignoreLatencyGuard: false,
  resume: true,
  nllOn: 'answer',
  maxLength: undefined,
  latencyTrials: 3,
  training: { epochs: 1, lr: 2e-4, maxLen: 128, dropout: 0.1, batchSize: 1, valSamples: 16 },
  dataset: {},
  monolithic: undefined,
  placeboAlpha: 0.01,
  placeboMinEffect: 0.01,
  placeboGuard: ['placebo_a'],
  logger: SILENT_LOGGER,
  onCell: undefined,
  clock: () => performance.now(),
  workers: 1,
  shard: undefined,
  reportOnly: false,
}

/** Progress after one cell. */
export interface CellProgress {
  done: number
  total: number
  label: string
  skipped: boolean
  seconds: number
  /** Estimated seconds left (mean time of the cells run so far × cells left). */
  etaSeconds: number
  record: ValueAddRecord
}

/** What {@link runValueAdd} did. */
export interface ValueAddResult {
  jsonlPath: string
  mdPath: string
  summaryPath: string
  /** Every record of the file (resumed first, then new). */
  records: ValueAddRecord[]
  newRecords: number
  skipped: number
  /** SHA-256 of the base tensors at load and after the last cell (equal, or the run throws). */
  baseSha256Start: string
  baseSha256End: string
  /** Per domain: the baseline NLLs every condition was compared with (in-domain and cross). */
  baselines: Record<string, number[]>
  monolithic: Record<string, PairedStat> | undefined
  /** Worker threads the new cells ran on (1: in process). */
  workers: number
}

/**
 * The cells whose placebo "beats the baseline": ΔNLL ≤ −minEffect, bootstrap CI upper bound < 0 and
 * Holm-adjusted p (over every cell and condition of `records`) < alpha. One text per offender.
 */
export function placeboGuardOffenders(
  records: readonly ValueAddRecord[],
  g: { alpha: number; minEffect: number; conditions: ReadonlyArray<'placebo_a' | 'placebo_b'> },
): string[] {
  const adj = adjustRunPValues(records)
  const offenders: string[] = []
  records.forEach((r, i) => {
    for (const cond of g.conditions) {
      const s = r[cond]
      const p = adj.holm[i]![cond]
      if (s && p !== undefined && s.delta_mean <= -g.minEffect && s.ci[1] < 0 && p < g.alpha) {
        offenders.push(
          `${r.config.domain} r=${r.config.rank} ${r.config.scheme} seed${r.config.seed} ${cond} (ΔNLL ${s.delta_mean.toFixed(4)}, Holm p ${p.toExponential(2)})`,
        )
      }
    }
  })
  return offenders
}

/** The `config` object of a cell's record: what identifies the cell and every setting that changes its result. */
export function cellConfig(
  o: Pick<
    ValueAddOptions,
    'evalSplit' | 'devSize' | 'samples' | 'baseModel' | 'nllOn' | 'maxLength' | 'training' | 'placeboBRank'
  >,
  cell: { domain: string; rank: number; scheme: string; seed: number },
  baseSha256: string,
): Record<string, unknown> & { domain: string; rank: number; scheme: string; seed: number } {
  return {
    domain: cell.domain,
    rank: cell.rank,
    scheme: cell.scheme,
    seed: cell.seed,
    eval_split: o.evalSplit,
    dev_size: o.devSize,
    samples: o.samples,
    base_model: o.baseModel,
    base_sha256: baseSha256,
    nll_on: o.nllOn,
    max_length: o.maxLength ?? null,
    placebo_b_rank: o.placeboBRank === 'cell' ? cell.rank : o.placeboBRank,
    epochs: o.training.epochs,
    lr: o.training.lr,
    train_max_len: o.training.maxLen,
    dropout: o.training.dropout,
    batch_size: o.training.batchSize,
  }
}

/** The resume key of a record: SHA-256 of its whole `config` (older records: of theirs, so never equal). */
export function resumeKey(config: Record<string, unknown>): string {
  return sha256Hex(pythonJsonDumps(config))
}

function invalid(message: string, details: Record<string, unknown>): ExperimentsError {
  return new ExperimentsError(ExperimentsErrorCode.InputInvalid, message, details)
}

function validate(o: ValueAddOptions): void {
  const nonEmpty = (name: string, v: readonly unknown[]) => {
    if (v.length === 0) throw invalid(`value-add: ${name} is empty; expected at least one`, { [name]: v })
    if (new Set(v).size !== v.length) throw invalid(`value-add: ${name} has duplicates: ${v.join(',')}`, { [name]: v })
  }
  nonEmpty('domains', o.domains)
  nonEmpty('ranks', o.ranks)
  nonEmpty('schemes', o.schemes)
  nonEmpty('seeds', o.seeds)
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1)
      throw invalid(`value-add: ${name} must be a positive integer, found ${v}`, { [name]: v })
  }
  for (const r of o.ranks) posInt('rank', r)
  for (const s of o.seeds)
    if (!Number.isSafeInteger(s) || s < 0)
      throw invalid(`value-add: seed ${s} is not a non-negative integer`, { seed: s })
  posInt('samples', o.samples)
  posInt('devSize', o.devSize)
  posInt('latencyTrials', o.latencyTrials)
  posInt('workers', o.workers)
  checkShard('value-add', o.shard)
  if (o.latencyTrials < 3)
    throw invalid(`value-add: latencyTrials must be ≥ 3 (a median), found ${o.latencyTrials}`, {})
  if (o.placeboBRank !== 'cell') posInt('placeboBRank', o.placeboBRank)
  if (!(o.latencyBudgetMs > 0)) throw invalid(`value-add: latencyBudgetMs must be > 0, found ${o.latencyBudgetMs}`, {})
}

/** `nll_cache.json` as written: keys sorted, so the file does not depend on the order cells ran in. */
export function sortedNllCache(cache: NllCache): NllCache {
  const sorted = (r: Record<string, number[]>) =>
    Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return { baseline: sorted(cache.baseline), adapter: sorted(cache.adapter) }
}

/** Reads `nll_cache.json` (absent or unreadable: empty). */
export async function readNllCache(path: string): Promise<NllCache> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as Partial<NllCache>
    if (typeof v === 'object' && v && typeof v.baseline === 'object' && typeof v.adapter === 'object') {
      return { baseline: v.baseline ?? {}, adapter: v.adapter ?? {} }
    }
  } catch {
    // absent or unreadable: start empty (§9.2 step 5)
  }
  return { baseline: {}, adapter: {} }
}

/**
 * Runs the value-add experiment: every domain × rank × scheme × seed cell not already in the JSONL
 * (same full config), one record appended per cell, then the Markdown report and the summary.
 *
 * @throws ExperimentsError `EXPERIMENTS_INPUT_INVALID`, `EXPERIMENTS_DATASET_FAILED`,
 *   `EXPERIMENTS_BASE_CONTAMINATED`, `EXPERIMENTS_LATENCY_GUARD_EXCEEDED` (after writing the cell
 *   and the report), `EXPERIMENTS_PLACEBO_BEATS_BASELINE` (after writing everything).
 * @example
 * ```ts
 * await initBackend({ backend: 'auto' })
 * const r = await runValueAdd({ modelDir, domains: ['legal'], ranks: [1], schemes: ['attention'], seeds: [41] })
 * console.log(r.mdPath)
 * ```
 */
export async function runValueAdd(
  options: Partial<ValueAddOptions> & Pick<ValueAddOptions, 'modelDir'>,
): Promise<ValueAddResult> {
  const o: ValueAddOptions = { ...DEFAULT_VALUE_ADD_OPTIONS, ...options }
  validate(o)
  const log = o.logger
  const jsonlPath = join(o.output, VALUE_ADD_JSONL)
  const mdPath = join(o.output, VALUE_ADD_MD)
  const cachePath = join(o.output, VALUE_ADD_NLL_CACHE)
  const summaryPath = join(o.output, VALUE_ADD_SUMMARY)
  if (!o.resume) {
    // --no-resume starts over: records and NLL caches (the original kept the caches, §20 item 19).
    await rm(jsonlPath, { force: true })
    await rm(cachePath, { force: true })
  }
  const existing = await readValueAddRecords(jsonlPath, { logger: log })
  let text = existing.text
  const records: ValueAddRecord[] = [...existing.records]
  if (!existsSync(jsonlPath)) await writeFileAtomic(jsonlPath, '')
  const done = new Set(records.map((r) => resumeKey(r.config)))
  const cache = await readNllCache(cachePath)

  // Dev sets first: a dataset failure stops the run before any training (§9.2 step 6).
  const dev = await loadDevSets('value-add', o.domains, {
    dataset: o.dataset,
    split: o.evalSplit,
    devSize: o.devSize,
    logger: log,
  })

  const model: CausalLM = await loadCausalLMFromDir(o.modelDir)
  const tok: Tokenizer = await loadTokenizer(o.modelDir)
  try {
    const baseSha256Start = await baseFingerprint(model)
    const { logger: _l, ...dataset } = o.dataset
    const { logger: _lg, onCell: _oc, clock: _c, dataset: _d, workers: _w, shard: _s, reportOnly: _ro, ...rest } = o
    const cellOptions: ValueAddCellOptions = { ...rest, dataset }
    const ctx: ValueAddCellContext = {
      options: cellOptions,
      dataset: o.dataset,
      model,
      tok,
      dev,
      baseSha256: baseSha256Start,
      cache,
      added: { baseline: {}, adapter: {} },
      logger: log,
      clock: o.clock,
    }
    const flushCache = async () => {
      if (Object.keys(ctx.added.baseline).length + Object.keys(ctx.added.adapter).length === 0) return
      await writeJsonAtomic(cachePath, sortedNllCache(cache))
      ctx.added = { baseline: {}, adapter: {} }
    }
    const baselines: Record<string, number[]> = {}
    const baseline = async (d: string): Promise<number[]> => {
      baselines[d] ??= await baselineNlls(ctx, d)
      await flushCache()
      return baselines[d]
    }

    const cells: ValueAddCell[] = []
    for (const domain of o.domains)
      for (const rank of o.ranks)
        for (const scheme of o.schemes) for (const seed of o.seeds) cells.push({ domain, rank, scheme, seed })

    // Records: the resumed ones (file order), then the new ones in cell order, whichever worker
    // finished first, so a pool run writes what a one-worker run writes.
    const resumedText = text
    const resumedRecords = [...records]
    const fresh = new Array<ValueAddRecord | undefined>(cells.length)
    let newRecords = 0
    let skipped = 0
    let finished = 0
    let ranSeconds = 0
    let latencyStop: ExperimentsError | undefined
    const todo: number[] = []
    const total = cells.filter((_, k) => inShard(k, o.shard)).length
    cells.forEach((c, k) => {
      if (!inShard(k, o.shard)) return
      const key = resumeKey(cellConfig(o, c, baseSha256Start))
      if (!done.has(key)) {
        todo.push(k)
        return
      }
      skipped++
      finished++
      o.onCell?.({
        done: finished,
        total,
        label: valueAddCellLabel(c),
        skipped: true,
        seconds: 0,
        etaSeconds: Number.NaN,
        record: records.find((r) => resumeKey(r.config) === key)!,
      })
    })
    if (o.reportOnly && todo.length > 0) {
      const first = valueAddCellLabel(cells[todo[0]!]!)
      throw new ExperimentsError(
        ExperimentsErrorCode.ShardCellMissing,
        `value-add: ${jsonlPath} has no record of ${todo.length} of ${cells.length} cells (first: ${first}) with these settings and this base model's weights (sha256 ${baseSha256Start.slice(0, 12)}…); expected every cell done`,
        { missing: todo.length, total: cells.length, first },
      )
    }
    if (o.shard)
      log.info(`value-add: shard ${shardLabel(o.shard)}: the placebo guard runs over the whole grid at merge`)
    const fromSources = import.meta.url.endsWith('.ts')
    if (o.workers > 1 && fromSources)
      log.warn(
        `value-add: ${o.workers} workers asked for, but running from TypeScript sources: the cells run in process`,
      )
    const workers = fromSources ? 1 : Math.max(1, Math.min(o.workers, todo.length))
    const finish = async (k: number, record: ValueAddRecord, seconds: number): Promise<'stop' | undefined> => {
      const c = cells[k]!
      fresh[k] = record
      const added = fresh.filter((r): r is ValueAddRecord => r !== undefined)
      text = resumedText + added.map((r) => `${pythonJsonDumps(r)}\n`).join('')
      await writeFileAtomic(jsonlPath, text)
      records.splice(0, records.length, ...resumedRecords, ...added)
      done.add(resumeKey(record.config))
      newRecords++
      finished++
      ranSeconds += seconds
      o.onCell?.({
        done: finished,
        total,
        label: valueAddCellLabel(c),
        skipped: false,
        seconds,
        // cells left × mean cell time, spread over the workers
        etaSeconds: ((ranSeconds / newRecords) * (todo.length - newRecords)) / workers,
        record,
      })
      const latencyMs = record.latency_ms ?? Number.NaN // set by runValueAddCell
      if (!record.latency_guard_exceeded) return undefined
      const label = valueAddCellLabel(c)
      log.warn(`${label}: latency ${latencyMs.toFixed(1)} ms exceeds the budget of ${o.latencyBudgetMs} ms`)
      if (o.ignoreLatencyGuard) return undefined
      latencyStop ??= new ExperimentsError(
        ExperimentsErrorCode.LatencyGuardExceeded,
        `value-add: cell ${label}: inject+remove latency ${latencyMs.toFixed(1)} ms exceeds the budget of ${o.latencyBudgetMs} ms (pass --ignore-latency-guard to only flag it)`,
        { cell: c, latencyMs, budgetMs: o.latencyBudgetMs },
      )
      return 'stop'
    }
    const configOf = (c: ValueAddCell) => cellConfig(o, c, baseSha256Start) as ValueAddRecord['config']
    if (workers === 1) {
      for (const k of todo) {
        const c = cells[k]!
        const t0 = o.clock()
        const config = configOf(c)
        const record = await runValueAddCell(ctx, c, config, resumeKey(config))
        await flushCache()
        if ((await finish(k, record, (o.clock() - t0) / 1000)) === 'stop') break
      }
    } else {
      await runValueAddOnPool({
        workers,
        cells,
        todo,
        setup: { compute: currentComputeSetup(), options: cellOptions, baseSha256: baseSha256Start },
        cache,
        configOf,
        keyOf: resumeKey,
        clock: o.clock,
        merge: async (added) => {
          Object.assign(cache.baseline, added.baseline)
          Object.assign(cache.adapter, added.adapter)
          Object.assign(ctx.added.baseline, added.baseline)
          Object.assign(ctx.added.adapter, added.adapter)
          await flushCache()
        },
        finish,
      })
    }
    // Every domain's baseline (cached by the cells) for the result, when a cell ran.
    if (todo.length > 0) for (const d of o.domains) await baseline(d)

    let monolithic: Record<string, PairedStat> | undefined
    let monolithicError: string | undefined
    if (o.monolithic !== undefined && existsSync(join(o.monolithic, 'adapter_model.safetensors'))) {
      // Found by default at out/monolithic_r4: one made for another base model is reported, not fatal.
      try {
        const mono = await loadPeftAdapter(o.monolithic)
        const sha = await adapterSha(o.monolithic)
        const stats: Record<string, PairedStat> = {}
        for (const d of o.domains) stats[d] = pairedStat(await baseline(d), await adapterNlls(ctx, mono, sha, d))
        monolithic = stats
        await flushCache()
      } catch (e) {
        if (!isPloraError(e)) throw e
        monolithicError = `${o.monolithic}: ${e.message} [${e.code}]`
        log.warn(`monolithic baseline not evaluated: ${monolithicError}`)
      }
    }
    await checkPristine(ctx, 'at the end of the run')
    const baseSha256End = await baseFingerprint(model)

    await writeFileAtomic(mdPath, valueAddMarkdown(records, { monolithic: monolithic as Record<string, StatRecord> }))
    const adj = adjustRunPValues(records)
    // A shard holds a subset of the grid: its Holm family is not the run's, so the guard waits for the merge.
    const offenders = o.shard
      ? []
      : placeboGuardOffenders(records, {
          alpha: o.placeboAlpha,
          minEffect: o.placeboMinEffect,
          conditions: o.placeboGuard,
        })
    // Results only: nothing here says how many cells this invocation ran (a fresh and a resumed
    // run of the same grid, or a merge of its shards, write the same summary).
    await writeJsonAtomic(summaryPath, {
      format: 'plora-value-add-summary/v1',
      records: records.length,
      ...(o.shard ? { shard: shardLabel(o.shard) } : {}),
      base_model: o.baseModel,
      base_sha256_start: baseSha256Start,
      base_sha256_end: baseSha256End,
      base_pristine: baseSha256Start === baseSha256End,
      nll_on: o.nllOn,
      tests_corrected: adj.m,
      adjusted_p: records.map((r, i) => ({ config: r.config, holm: adj.holm[i], bh: adj.bh[i] })),
      placebo_guard: {
        alpha: o.placeboAlpha,
        min_effect_nats: o.placeboMinEffect,
        conditions: o.placeboGuard,
        ...(o.shard ? { applied: 'at merge (this is one shard of the grid)', offenders: null } : { offenders }),
      },
      monolithic: monolithic ?? null,
      ...(monolithicError ? { monolithic_error: monolithicError } : {}),
    })
    if (latencyStop) throw latencyStop
    if (offenders.length > 0) {
      throw new ExperimentsError(
        ExperimentsErrorCode.PlaceboBeatsBaseline,
        `value-add: a placebo lowers the NLL significantly after Holm correction in cell ${offenders.join('; ')}`,
        { offenders },
      )
    }
    return {
      jsonlPath,
      mdPath,
      summaryPath,
      records,
      newRecords,
      skipped,
      baseSha256Start,
      baseSha256End,
      baselines,
      monolithic,
      workers,
    }
  } finally {
    model.dispose()
  }
}
