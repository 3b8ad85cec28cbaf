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
import { join, relative } from 'node:path'
import {
  createStagingDir,
  deriveSeed,
  installDirAtomic,
  isPloraError,
  type Logger,
  pythonJsonDumps,
  SILENT_LOGGER,
  sha256Hex,
  writeFileAtomic,
  writeJsonAtomic,
} from '@plora/common'
import type { LoadDatasetOptions, SplitName } from '@plora/datasets'
import { assertPristineBase, baseFingerprint, createLoraBranches, injectAdapters } from '@plora/loader'
import { type PairedStat, pairedStat } from '@plora/metrics'
import { type CausalLM, loadCausalLMFromDir, loadTokenizer, type Tokenizer } from '@plora/model'
import {
  createPlaceboAdapter,
  type LoraAdapter,
  loadPeftAdapter,
  type TargetScheme,
  writePeftAdapter,
} from '@plora/peft'
import { trainAdapter } from '@plora/trainer'
import { datasetFailed, loadDevSets, median } from './dev-sets.js'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { exampleNlls, type NllOn } from './value-add-nll.js'
import {
  adjustRunPValues,
  effectDecomposition,
  readValueAddRecords,
  type StatRecord,
  type ValueAddRecord,
} from './value-add-records.js'
import { valueAddMarkdown } from './value-add-report.js'

/** File names under the output folder (the original's). */
export const VALUE_ADD_JSONL = 'value_add.jsonl'
export const VALUE_ADD_MD = 'value_add.md'
export const VALUE_ADD_NLL_CACHE = 'nll_cache.json'
/** plora's run summary (hashes, adjusted p-values, guards, monolithic baseline). */
export const VALUE_ADD_SUMMARY = 'value_add_summary.json'
/** Settings an adapter folder was trained with (reused only when they match). */
export const VALUE_ADD_TRAIN_SIDECAR = 'value_add_train.json'

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
  if (o.latencyTrials < 3)
    throw invalid(`value-add: latencyTrials must be ≥ 3 (a median), found ${o.latencyTrials}`, {})
  if (o.placeboBRank !== 'cell') posInt('placeboBRank', o.placeboBRank)
  if (!(o.latencyBudgetMs > 0)) throw invalid(`value-add: latencyBudgetMs must be > 0, found ${o.latencyBudgetMs}`, {})
}

interface NllCache {
  baseline: Record<string, number[]>
  adapter: Record<string, number[]>
}

async function readCache(path: string): Promise<NllCache> {
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

/** What an adapter folder is trained with; a folder is reused only when its sidecar says the same. */
function trainSettings(
  o: ValueAddOptions,
  domain: string,
  rank: number,
  scheme: string,
  seed: number,
  shuffle: boolean,
) {
  return {
    domain,
    rank,
    scheme,
    seed,
    shuffle_labels: shuffle,
    samples: o.samples,
    base_model: o.baseModel,
    epochs: o.training.epochs,
    lr: o.training.lr,
    max_len: o.training.maxLen,
    dropout: o.training.dropout,
    batch_size: o.training.batchSize,
  }
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
  const cache = await readCache(cachePath)

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
    const checkPristine = async (where: string) => {
      try {
        await assertPristineBase(model, { expectedFingerprint: baseSha256Start, where })
      } catch (e) {
        throw new ExperimentsError(
          ExperimentsErrorCode.BaseContaminated,
          `value-add: the base model's weights changed (${where}): ${(e as Error).message}`,
          { where },
          { cause: e },
        )
      }
    }
    const nllOpts = { nllOn: o.nllOn, maxLength: o.maxLength, batchSize: 8 }
    const devHash = (d: string) => sha256Hex(pythonJsonDumps(dev.get(d)!.map((p) => [p.prompt, p.answer])))
    const evalKey = (what: string, d: string) =>
      sha256Hex(
        pythonJsonDumps([what, baseSha256Start, d, o.evalSplit, o.devSize, devHash(d), o.nllOn, o.maxLength ?? null]),
      )
    let cacheDirty = false
    const flushCache = async () => {
      if (cacheDirty) await writeJsonAtomic(cachePath, cache)
      cacheDirty = false
    }
    const baselines: Record<string, number[]> = {}
    const baseline = async (d: string): Promise<number[]> => {
      const hit = baselines[d]
      if (hit) return hit
      const key = evalKey('baseline', d)
      let v = cache.baseline[key]
      if (!v || v.length !== dev.get(d)!.length) {
        await checkPristine(`before the baseline of ${d}`)
        v = await exampleNlls(model, tok, dev.get(d)!, { ...nllOpts, lora: undefined })
        cache.baseline[key] = v
        cacheDirty = true
        await flushCache()
      }
      baselines[d] = v
      return v
    }
    const adapterNlls = async (adapter: LoraAdapter, sha: string, d: string): Promise<number[]> => {
      const key = evalKey(`adapter:${sha}`, d)
      const hit = cache.adapter[key]
      if (hit && hit.length === dev.get(d)!.length) return hit
      const set = createLoraBranches(model, [adapter])
      try {
        const v = await exampleNlls(model, tok, dev.get(d)!, { ...nllOpts, lora: set.branches })
        cache.adapter[key] = v
        cacheDirty = true
        return v
      } finally {
        set.dispose()
      }
    }
    const adapterSha = async (dir: string) =>
      sha256Hex(new Uint8Array(await readFile(join(dir, 'adapter_model.safetensors'))))

    const ensureTrained = async (
      dir: string,
      domain: string,
      rank: number,
      scheme: TargetScheme,
      seed: number,
      shuffle: boolean,
    ): Promise<void> => {
      const settings = trainSettings(o, domain, rank, scheme, seed, shuffle)
      const sidecar = join(dir, VALUE_ADD_TRAIN_SIDECAR)
      if (o.resume && existsSync(sidecar)) {
        try {
          if (pythonJsonDumps(JSON.parse(await readFile(sidecar, 'utf8'))) === pythonJsonDumps(settings)) {
            log.info(`reusing ${dir} (trained with the same settings)`)
            return
          }
        } catch {
          // unreadable sidecar: retrain
        }
      }
      try {
        await trainAdapter({
          domain,
          output: dir,
          modelDir: o.modelDir,
          model,
          baseModel: o.baseModel,
          epochs: o.training.epochs,
          samples: o.samples,
          valSamples: o.training.valSamples,
          rank,
          scheme,
          lr: o.training.lr,
          batchSize: o.training.batchSize,
          maxLen: o.training.maxLen,
          seed,
          dropout: o.training.dropout,
          shuffleLabels: shuffle,
          dataset: o.dataset,
          logger: log,
        })
      } catch (e) {
        if (isPloraError(e) && String(e.code).startsWith('DATASETS_'))
          throw datasetFailed('value-add', domain, 'train', e)
        throw e
      }
      await writeJsonAtomic(sidecar, settings)
    }

    const cells: Array<{ domain: string; rank: number; scheme: TargetScheme; seed: number }> = []
    for (const domain of o.domains)
      for (const rank of o.ranks)
        for (const scheme of o.schemes) for (const seed of o.seeds) cells.push({ domain, rank, scheme, seed })

    let newRecords = 0
    let skipped = 0
    let ranSeconds = 0
    let latencyStop: ExperimentsError | undefined
    for (let k = 0; k < cells.length; k++) {
      const c = cells[k]!
      const label = `${c.domain} r=${c.rank} ${c.scheme} seed${c.seed}`
      const config = cellConfig(o, c, baseSha256Start)
      const key = resumeKey(config)
      const t0 = o.clock()
      if (done.has(key)) {
        skipped++
        const rec = records.find((r) => resumeKey(r.config) === key)!
        o.onCell?.({
          done: k + 1,
          total: cells.length,
          label,
          skipped: true,
          seconds: 0,
          etaSeconds: newRecords > 0 ? (ranSeconds / newRecords) * (cells.length - k - 1) : Number.NaN,
          record: rec,
        })
        continue
      }
      await checkPristine(`before cell ${label}`)
      const shaBefore = await baseFingerprint(model)
      const rankRoot = join(o.output, `rank_r${c.rank}`)
      const trainedDir = join(rankRoot, `${c.domain}_${c.scheme}_seed${c.seed}`)
      await ensureTrained(trainedDir, c.domain, c.rank, c.scheme, c.seed, false)
      const trained = await loadPeftAdapter(trainedDir)
      const trainedSha = await adapterSha(trainedDir)
      const base = await baseline(c.domain)
      const trainedStat = pairedStat(base, await adapterNlls(trained, trainedSha, c.domain))

      // Latency: load from disk + inject (merged) + bit-exact remove, median of the trials (§9.6).
      const lat: number[] = []
      for (let t = 0; t < o.latencyTrials; t++) {
        const s = o.clock()
        const a = await loadPeftAdapter(trainedDir)
        const h = injectAdapters(model, [a], { label: `latency ${label}` })
        h.remove()
        lat.push(o.clock() - s)
      }
      await checkPristine(`after the latency trials of ${label}`)
      const latencyMs = median(lat)

      // Placebo A: random direction, the trained adapter's shapes and per-module norms.
      const placeboADir = `${trainedDir}_placebo_random`
      const placebo = createPlaceboAdapter(trained, { seed: deriveSeed(c.seed, 'value-add placebo A', c.domain) })
      const staging = await createStagingDir(placeboADir)
      try {
        await writePeftAdapter(staging, placebo)
        await installDirAtomic(staging, placeboADir, { replace: true })
      } finally {
        await rm(staging, { recursive: true, force: true })
      }
      const placeboASha = await adapterSha(placeboADir)
      const placeboAStat = pairedStat(base, await adapterNlls(placebo, placeboASha, c.domain))

      // Placebo B: label-shuffled training, in its own rank's folder (shared by the other ranks' cells).
      const pbRank = o.placeboBRank === 'cell' ? c.rank : o.placeboBRank
      const placeboBDir = join(o.output, `rank_r${pbRank}`, `${c.domain}_${c.scheme}_seed${c.seed}_placebo_shuffle`)
      await ensureTrained(placeboBDir, c.domain, pbRank, c.scheme, c.seed, true)
      const placeboB = await loadPeftAdapter(placeboBDir)
      const placeboBSha = await adapterSha(placeboBDir)
      const placeboBStat = pairedStat(base, await adapterNlls(placeboB, placeboBSha, c.domain))

      const cross: Record<string, PairedStat> = {}
      for (const other of o.domains) {
        if (other === c.domain) continue
        cross[other] = pairedStat(await baseline(other), await adapterNlls(trained, trainedSha, other))
      }
      await flushCache()
      await checkPristine(`after cell ${label}`)
      const shaAfter = await baseFingerprint(model)
      const exceeded = latencyMs > o.latencyBudgetMs
      const record: ValueAddRecord = {
        config: config as ValueAddRecord['config'],
        trained: trainedStat,
        placebo_a: placeboAStat,
        placebo_b: placeboBStat,
        cross_domain: cross,
        latency_ms: latencyMs,
        latency_guard_exceeded: exceeded,
        status: 'ok',
        nll_on: o.nllOn,
        effect_decomposition: effectDecomposition(trainedStat.delta_mean, placeboBStat.delta_mean),
        latency_trials_ms: lat,
        base_weights: {
          sha256_run_start: baseSha256Start,
          sha256_before_cell: shaBefore,
          sha256_after_cell: shaAfter,
          pristine: shaBefore === baseSha256Start && shaAfter === baseSha256Start,
        },
        adapters: {
          trained: { dir: relative(o.output, trainedDir), sha256: trainedSha },
          placebo_a: { dir: relative(o.output, placeboADir), sha256: placeboASha },
          placebo_b: { dir: relative(o.output, placeboBDir), sha256: placeboBSha, rank: pbRank },
        },
        resume_key: key,
      }
      text += `${pythonJsonDumps(record)}\n`
      await writeFileAtomic(jsonlPath, text)
      records.push(record)
      done.add(key)
      newRecords++
      const seconds = (o.clock() - t0) / 1000
      ranSeconds += seconds
      const left = cells.slice(k + 1).filter((x) => !done.has(resumeKey(cellConfig(o, x, baseSha256Start)))).length
      o.onCell?.({
        done: k + 1,
        total: cells.length,
        label,
        skipped: false,
        seconds,
        etaSeconds: (ranSeconds / newRecords) * left,
        record,
      })
      if (exceeded) {
        log.warn(`${label}: latency ${latencyMs.toFixed(1)} ms exceeds the budget of ${o.latencyBudgetMs} ms`)
        if (!o.ignoreLatencyGuard) {
          latencyStop = new ExperimentsError(
            ExperimentsErrorCode.LatencyGuardExceeded,
            `value-add: cell ${label}: inject+remove latency ${latencyMs.toFixed(1)} ms exceeds the budget of ${o.latencyBudgetMs} ms (pass --ignore-latency-guard to only flag it)`,
            { cell: c, latencyMs, budgetMs: o.latencyBudgetMs },
          )
          break
        }
      }
    }

    let monolithic: Record<string, PairedStat> | undefined
    let monolithicError: string | undefined
    if (o.monolithic !== undefined && existsSync(join(o.monolithic, 'adapter_model.safetensors'))) {
      // Found by default at out/monolithic_r4: one made for another base model is reported, not fatal.
      try {
        const mono = await loadPeftAdapter(o.monolithic)
        const sha = await adapterSha(o.monolithic)
        const stats: Record<string, PairedStat> = {}
        for (const d of o.domains) stats[d] = pairedStat(await baseline(d), await adapterNlls(mono, sha, d))
        monolithic = stats
        await flushCache()
      } catch (e) {
        if (!isPloraError(e)) throw e
        monolithicError = `${o.monolithic}: ${e.message} [${e.code}]`
        log.warn(`monolithic baseline not evaluated: ${monolithicError}`)
      }
    }
    await checkPristine('at the end of the run')
    const baseSha256End = await baseFingerprint(model)

    await writeFileAtomic(mdPath, valueAddMarkdown(records, { monolithic: monolithic as Record<string, StatRecord> }))
    const adj = adjustRunPValues(records)
    const offenders = placeboGuardOffenders(records, {
      alpha: o.placeboAlpha,
      minEffect: o.placeboMinEffect,
      conditions: o.placeboGuard,
    })
    await writeJsonAtomic(summaryPath, {
      format: 'plora-value-add-summary/v1',
      records: records.length,
      new_records: newRecords,
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
        offenders,
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
    }
  } finally {
    model.dispose()
  }
}
