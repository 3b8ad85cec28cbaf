/**
 * The rank × scheme ablation (spec pipelines.md §11, issue 17 item 1). The original's
 * `ablation_runner.py` trained one adapter per domain × rank × scheme and recorded only
 * `{domain, rank, scheme, output_dir}` [STUB], deleting `--out` first. plora's records carry what
 * the comparison needs, per cell:
 *
 * - the trainer's validation perplexity before and after training (manifest `metrics`);
 * - the in-domain ΔNLL (trained − base, per example, on the eval split's first `devSize` pairs)
 *   with the value-add paired statistics (bootstrap CI, Wilcoxon p, `@plora/metrics`
 *   `pairedStat`) and the run-wide Holm / Benjamini–Hochberg adjusted p over every cell of the run
 *   (value-add's {@link adjustRunPValues});
 * - trainable parameters (the LoRA factors' entries), adapter bytes on disk, train wall time and
 *   the median inject+remove latency of the loader (merged inject, bit-exact remove);
 *
 * and an `ablation.md` with one table per domain and its best cell. Nothing is deleted without
 * `replace` (only the ablation's own outputs then, never the folder); `resume` keeps the finished
 * cells of a run with the same settings. The base weights are evaluated un-merged and checked
 * unchanged at the end.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isPloraError, type Logger, pythonJsonDumps, SILENT_LOGGER, sha256Hex, writeFileAtomic } from '@plora/common'
import type { LoadDatasetOptions, SplitName } from '@plora/datasets'
import { assertPristineBase, baseFingerprint, createLoraBranches, injectAdapters } from '@plora/loader'
import { type PairedStat, pairedStat } from '@plora/metrics'
import { type CausalLM, currentComputeSetup, loadCausalLMFromDir, loadTokenizer, type Tokenizer } from '@plora/model'
import { type LoraAdapter, loadPeftAdapter, type TargetScheme } from '@plora/peft'
import { trainAdapter } from '@plora/trainer'
import { runCellsOnPool } from './ablation-pool.js'
import { datasetFailed, loadDevSets, median } from './dev-sets.js'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { checkShard, type GridShard, inShard } from './grid-shards.js'
import { exampleNlls, type NllOn } from './value-add-nll.js'
import { adjustRunPValues } from './value-add-records.js'
import { formatE3 } from './value-add-report.js'

/** File names under the output folder. */
export const ABLATION_JSONL = 'ablation.jsonl'
export const ABLATION_MD = 'ablation.md'
/** Adapter folders: `abl_<domain>_r<rank>_<scheme>` (the original's naming). */
export const ABLATION_DIR_RE = /^abl_.+_r\d+_[a-z]+$/
/** Significance level of the best-cell rule (on the Holm-adjusted p). */
export const ABLATION_ALPHA = 0.05

/** The adapter folder name of a cell. */
export function ablationDirName(domain: string, rank: number, scheme: string): string {
  return `abl_${domain}_r${rank}_${scheme}`
}

/** Training settings of every cell. */
export interface AblationTraining {
  epochs: number
  lr: number
  maxLen: number
  dropout: number
  batchSize: number
  /** Validation pairs of the trainer's perplexity before/after. */
  valSamples: number
}

/** Options of {@link runAblation}. Every value is explicit: the library reads no config. */
export interface AblationOptions {
  domains: string[]
  ranks: number[]
  schemes: TargetScheme[]
  /** Training pairs per cell. */
  samples: number
  /** Seed of every cell (LoRA init, data order, dropout). */
  seed: number
  /** Evaluation pairs per domain (a prefix of the split's fixed order). */
  devSize: number
  evalSplit: SplitName
  output: string
  modelDir: string
  /** Base-model reference recorded in records and manifests (e.g. `embedded`). */
  baseModel: string
  nllOn: NllOn
  /** Longest scored sequence; undefined = the model context. */
  maxLength: number | undefined
  /** Inject+remove repetitions (median reported, ≥ 3). */
  latencyTrials: number
  training: AblationTraining
  dataset: Partial<LoadDatasetOptions>
  /** Delete the ablation outputs already in `output` (never anything else) and start over. */
  replace: boolean
  /** Keep the finished cells of an earlier run with the same settings. */
  resume: boolean
  logger: Logger
  onCell: ((p: AblationProgress) => void) | undefined
  /** Clock in ms (default `performance.now`). */
  clock: () => number
  /**
   * Worker threads the cells are spread over (default 1: in process). With more, each worker loads
   * the base model with its own TensorFlow.js backend (the one active here) and runs whole cells;
   * the records are written in cell order, as a one-worker run writes them. Needs the built
   * package (Node 20 cannot start workers from `.ts` sources): from sources the cells run in process.
   */
  workers: number
  /**
   * Run only this shard of the grid: cell g (0-based, domain → rank → scheme order) belongs to shard
   * `g % count + 1`. The shard's adjusted p-values cover its own cells; {@link mergeAblationShards}
   * recomputes them over the whole grid.
   */
  shard: GridShard | undefined
}

/** Defaults of {@link AblationOptions} (the dry config's values). */
export const DEFAULT_ABLATION_OPTIONS: Omit<AblationOptions, 'modelDir'> = {
  domains: ['arithmetic', 'legal', 'medical'],
  ranks: [1, 4],
  schemes: ['attention', 'mlp'],
  samples: 32,
  seed: 42,
  devSize: 256,
  evalSplit: 'validation',
  output: 'results',
  baseModel: 'embedded',
  nllOn: 'answer',
  maxLength: undefined,
  latencyTrials: 5,
  training: { epochs: 1, lr: 2e-4, maxLen: 128, dropout: 0.1, batchSize: 1, valSamples: 16 },
  dataset: {},
  replace: false,
  resume: false,
  logger: SILENT_LOGGER,
  onCell: undefined,
  clock: () => performance.now(),
  workers: 1,
  shard: undefined,
}

/** One line of `ablation.jsonl`. */
export interface AblationRecord {
  config: {
    domain: string
    rank: number
    scheme: string
    seed: number
    samples: number
    epochs: number
    lr: number
    train_max_len: number
    dropout: number
    batch_size: number
    val_samples: number
    eval_split: string
    dev_size: number
    base_model: string
    base_sha256: string
    nll_on: string
    max_length: number | null
  }
  /** Adapter folder, relative to the output folder. */
  adapter_dir: string
  adapter_sha256: string
  /** Trainer's validation perplexity before / after training (manifest metrics). */
  val_ppl_before: number
  val_ppl_after: number
  /** In-domain ΔNLL (trained − base) on the eval split's dev set: the value-add paired statistic. */
  delta_nll: PairedStat
  /** Run-wide adjusted p of `delta_nll` over every cell of the file (one family). */
  p_holm: number
  p_bh: number
  /** Tests corrected together. */
  tests_corrected: number
  /** LoRA factor entries (A and B of every module). */
  trainable_params: number
  /** Size of `adapter_model.safetensors` and of the whole adapter folder. */
  adapter_bytes: number
  adapter_dir_bytes: number
  train_seconds: number
  /** Median inject (merged) + remove (bit-exact restore) time of the loaded adapter. */
  inject_remove_ms: number
  inject_remove_trials_ms: number[]
  resume_key: string
}

/** Progress after one cell. */
export interface AblationProgress {
  done: number
  total: number
  label: string
  skipped: boolean
  seconds: number
  etaSeconds: number
  record: AblationRecord
}

/** What {@link runAblation} did. */
export interface AblationResult {
  jsonlPath: string
  mdPath: string
  records: AblationRecord[]
  newRecords: number
  skipped: number
  baseSha256: string
  /** Worker threads the new cells ran on (1: in process). */
  workers: number
}

function invalid(message: string, details: Record<string, unknown>): ExperimentsError {
  return new ExperimentsError(ExperimentsErrorCode.InputInvalid, message, details)
}

function validate(o: AblationOptions): void {
  const list = (name: string, v: readonly unknown[]) => {
    if (v.length === 0) throw invalid(`ablation: ${name} is empty; expected at least one`, { [name]: v })
    if (new Set(v).size !== v.length) throw invalid(`ablation: ${name} has duplicates: ${v.join(',')}`, { [name]: v })
  }
  list('domains', o.domains)
  list('ranks', o.ranks)
  list('schemes', o.schemes)
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1)
      throw invalid(`ablation: ${name} must be a positive integer, found ${v}`, { [name]: v })
  }
  for (const r of o.ranks) posInt('rank', r)
  for (const s of o.schemes)
    if (!['attention', 'mlp', 'all'].includes(s))
      throw invalid(`ablation: scheme "${s}" is not one of attention, mlp, all`, { scheme: s })
  posInt('samples', o.samples)
  posInt('devSize', o.devSize)
  if (!Number.isSafeInteger(o.seed) || o.seed < 0)
    throw invalid(`ablation: seed must be a non-negative integer, found ${o.seed}`, { seed: o.seed })
  if (!Number.isInteger(o.latencyTrials) || o.latencyTrials < 3)
    throw invalid(`ablation: latencyTrials must be an integer ≥ 3 (a median), found ${o.latencyTrials}`, {})
  posInt('workers', o.workers)
  checkShard('ablation', o.shard)
  if (o.replace && o.resume)
    throw invalid('ablation: replace and resume exclude each other (replace deletes what resume keeps)', {})
}

/** The ablation outputs already in `dir` (file and folder names). */
export function existingAblationOutputs(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((n) => n === ABLATION_JSONL || n === ABLATION_MD || ABLATION_DIR_RE.test(n))
    .sort()
}

function dirBytes(dir: string): number {
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return total
}

/** Trainable parameters of an adapter: the entries of every LoRA factor. */
export function trainableParams(adapter: Pick<LoraAdapter, 'modules'>): number {
  let n = 0
  for (const m of adapter.modules.values()) n += m.a.length + m.b.length
  return n
}

/** Recomputes the run-wide adjusted p-values of every record (in place) over the file's cells. */
export function adjustAblationPValues(records: AblationRecord[]): void {
  const adj = adjustRunPValues(records.map((r) => ({ config: r.config, trained: r.delta_nll })))
  records.forEach((r, i) => {
    r.p_holm = adj.holm[i]!.trained ?? Number.NaN
    r.p_bh = adj.bh[i]!.trained ?? Number.NaN
    r.tests_corrected = adj.m
  })
}

/** The best cell of a domain: lowest ΔNLL among the cells that improve (Δ < 0) with Holm p < alpha. */
export function bestAblationCell(
  records: readonly AblationRecord[],
  domain: string,
  alpha = ABLATION_ALPHA,
): AblationRecord | undefined {
  let best: AblationRecord | undefined
  for (const r of records) {
    if (r.config.domain !== domain || !(r.p_holm < alpha) || !(r.delta_nll.delta_mean < 0)) continue
    if (best === undefined || r.delta_nll.delta_mean < best.delta_nll.delta_mean) best = r
  }
  return best
}

/** `%+.4f` (ablation effects of small models are often below a milli-nat). */
function signed4(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  return x > 0 ? `+${x.toFixed(4)}` : x.toFixed(4)
}

function bytesText(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`
}

/** `ablation.md`: one table per domain (sorted), cells in record order, then the best cell. Ends with one `\n`. */
export function ablationMarkdown(records: readonly AblationRecord[]): string {
  const out: string[] = ['# Rank × scheme ablation', '']
  const first = records[0]
  if (first) {
    const c = first.config
    out.push(
      `ΔNLL = trained − base, mean over ${first.delta_nll.n} ${c.eval_split} pairs per domain (NLL on ${c.nll_on} tokens); ` +
        `95 % paired bootstrap CI; Wilcoxon p, Holm-adjusted over the run's ${first.tests_corrected} cells. ` +
        `${c.samples} training pairs, ${c.epochs} epoch(s), seed ${c.seed}, base ${c.base_model}.`,
      '',
    )
  }
  const domains = [...new Set(records.map((r) => r.config.domain))].sort()
  for (const d of domains) {
    out.push(`## Domain: ${d}`, '')
    out.push(
      '| rank | scheme | params | adapter | val ppl before → after | ΔNLL | 95% CI | p | Holm p | train s | inject+remove ms |',
    )
    out.push('|---:|---|---:|---:|---|---:|---|---:|---:|---:|---:|')
    for (const r of records.filter((x) => x.config.domain === d)) {
      const s = r.delta_nll
      out.push(
        `| ${r.config.rank} | ${r.config.scheme} | ${r.trainable_params} | ${bytesText(r.adapter_bytes)} | ` +
          `${r.val_ppl_before.toFixed(3)} → ${r.val_ppl_after.toFixed(3)} | ${signed4(s.delta_mean)} | ` +
          `[${s.ci[0].toFixed(4)}, ${s.ci[1].toFixed(4)}] | ${formatE3(s.wilcoxon_p)} | ${formatE3(r.p_holm)} | ` +
          `${r.train_seconds.toFixed(1)} | ${r.inject_remove_ms.toFixed(2)} |`,
      )
    }
    const best = bestAblationCell(records, d)
    out.push(
      '',
      best
        ? `Best cell: rank ${best.config.rank}, ${best.config.scheme} (ΔNLL ${signed4(best.delta_nll.delta_mean)}, Holm p ${formatE3(best.p_holm)}).`
        : `Best cell: none significant (no cell lowers the NLL with Holm p < ${ABLATION_ALPHA}).`,
      '',
    )
  }
  return `${out.join('\n').trimEnd()}\n`
}

/** The cells of the grid in grid order: domain → rank → scheme. */
export function ablationGridCells(o: Pick<AblationOptions, 'domains' | 'ranks' | 'schemes'>): AblationCell[] {
  const cells: AblationCell[] = []
  for (const domain of o.domains)
    for (const rank of o.ranks) for (const scheme of o.schemes) cells.push({ domain, rank, scheme })
  return cells
}

/** The `config` of a cell's record (what identifies the cell and every setting that changes it). */
export function ablationCellConfig(
  o: Pick<
    AblationCellOptions,
    'seed' | 'samples' | 'training' | 'evalSplit' | 'devSize' | 'baseModel' | 'nllOn' | 'maxLength'
  >,
  c: { domain: string; rank: number; scheme: string },
  baseSha256: string,
): AblationRecord['config'] {
  return {
    domain: c.domain,
    rank: c.rank,
    scheme: c.scheme,
    seed: o.seed,
    samples: o.samples,
    epochs: o.training.epochs,
    lr: o.training.lr,
    train_max_len: o.training.maxLen,
    dropout: o.training.dropout,
    batch_size: o.training.batchSize,
    val_samples: o.training.valSamples,
    eval_split: o.evalSplit,
    dev_size: o.devSize,
    base_model: o.baseModel,
    base_sha256: baseSha256,
    nll_on: o.nllOn,
    max_length: o.maxLength ?? null,
  }
}

function isAblationRecord(v: unknown): v is AblationRecord {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Partial<AblationRecord>
  return typeof r.config?.domain === 'string' && typeof r.resume_key === 'string' && typeof r.delta_nll === 'object'
}

/** Reads `ablation.jsonl` (blank lines skipped; a line that is not a record is an error naming it). */
export async function readAblationRecords(path: string): Promise<AblationRecord[]> {
  if (!existsSync(path)) return []
  const out: AblationRecord[] = []
  const lines = (await readFile(path, 'utf8')).split('\n')
  lines.forEach((line, i) => {
    if (line.trim() === '') return
    let v: unknown
    try {
      v = JSON.parse(line)
    } catch {
      v = undefined
    }
    if (!isAblationRecord(v))
      throw new ExperimentsError(
        ExperimentsErrorCode.InputInvalid,
        `${path}:${i + 1}: not an ablation record (expected JSON with config, delta_nll and resume_key)`,
        { path, line: i + 1 },
      )
    out.push(v)
  })
  return out
}

/** A cell of the grid. */
export interface AblationCell {
  domain: string
  rank: number
  scheme: TargetScheme
}

/** The settings a cell reads: {@link AblationOptions} without the callbacks (structured-cloneable). */
export type AblationCellOptions = Omit<
  AblationOptions,
  'logger' | 'onCell' | 'clock' | 'workers' | 'dataset' | 'shard'
> & {
  dataset: Omit<Partial<LoadDatasetOptions>, 'logger'>
}

/** What {@link runAblationCell} works with: in process, or one per worker thread. */
export interface AblationCellContext {
  options: AblationCellOptions
  dataset: Partial<LoadDatasetOptions>
  model: CausalLM
  tok: Tokenizer
  dev: Awaited<ReturnType<typeof loadDevSets>>
  /** Base NLLs per domain, filled on first use. */
  baselines: Map<string, number[]>
  baseSha256: string
  logger: Logger
  clock: () => number
}

/** `legal r=4 mlp`. */
export function cellLabel(c: AblationCell): string {
  return `${c.domain} r=${c.rank} ${c.scheme}`
}

function nllOptions(o: AblationCellOptions) {
  return { nllOn: o.nllOn, maxLength: o.maxLength, batchSize: 8 }
}

/** The base model's per-example NLLs on domain `d`'s dev set (computed once per context). */
export async function cellBaseline(ctx: AblationCellContext, d: string): Promise<number[]> {
  let v = ctx.baselines.get(d)
  if (!v) {
    v = await exampleNlls(ctx.model, ctx.tok, ctx.dev.get(d)!, { ...nllOptions(ctx.options), lora: undefined })
    ctx.baselines.set(d, v)
  }
  return v
}

/**
 * Trains and evaluates one cell into `<output>/abl_<d>_r<r>_<scheme>/` and returns its record (the
 * run-wide adjusted p-values still NaN). The same code runs in process and in the worker threads.
 */
export async function runAblationCell(ctx: AblationCellContext, c: AblationCell): Promise<AblationRecord> {
  const o = ctx.options
  const { model, tok, logger: log } = ctx
  const nllOpts = nllOptions(o)
  const dev = ctx.dev
  const clock = ctx.clock
  const name = ablationDirName(c.domain, c.rank, c.scheme)
  const dir = join(o.output, name)
  const tTrain = clock()
  let trained: Awaited<ReturnType<typeof trainAdapter>>
  try {
    trained = await trainAdapter({
      domain: c.domain,
      output: dir,
      modelDir: o.modelDir,
      model,
      baseModel: o.baseModel,
      epochs: o.training.epochs,
      samples: o.samples,
      valSamples: o.training.valSamples,
      rank: c.rank,
      scheme: c.scheme,
      lr: o.training.lr,
      batchSize: o.training.batchSize,
      maxLen: o.training.maxLen,
      seed: o.seed,
      dropout: o.training.dropout,
      dataset: ctx.dataset,
      logger: log,
    })
  } catch (e) {
    if (isPloraError(e) && String(e.code).startsWith('DATASETS_')) throw datasetFailed('ablation', c.domain, 'train', e)
    throw e
  }
  const trainSeconds = (clock() - tTrain) / 1000
  const adapter = await loadPeftAdapter(dir)
  const base = await cellBaseline(ctx, c.domain)
  const set = createLoraBranches(model, [adapter])
  let after: number[]
  try {
    after = await exampleNlls(model, tok, dev.get(c.domain)!, { ...nllOpts, lora: set.branches })
  } finally {
    set.dispose()
  }
  const lat: number[] = []
  for (let t = 0; t < o.latencyTrials; t++) {
    const s = clock()
    injectAdapters(model, [adapter], { label: `ablation latency ${cellLabel(c)}` }).remove()
    lat.push(clock() - s)
  }
  const m = trained.manifest
  const record: AblationRecord = {
    config: ablationCellConfig(o, c, ctx.baseSha256),
    adapter_dir: name,
    adapter_sha256: m.artifacts.sha256,
    val_ppl_before: m.metrics.val_ppl_before,
    val_ppl_after: m.metrics.val_ppl_after,
    delta_nll: pairedStat(base, after),
    p_holm: Number.NaN,
    p_bh: Number.NaN,
    tests_corrected: 0,
    trainable_params: trainableParams(adapter),
    adapter_bytes: m.artifacts.size_bytes,
    adapter_dir_bytes: dirBytes(dir),
    train_seconds: trainSeconds,
    inject_remove_ms: median(lat),
    inject_remove_trials_ms: lat,
    resume_key: sha256Hex(pythonJsonDumps(ablationCellConfig(o, c, ctx.baseSha256))),
  }
  return record
}

/**
 * Runs the ablation: for every domain × rank × scheme, trains an adapter into
 * `<output>/abl_<d>_r<r>_<scheme>/` (a PEFT folder with `plora.yml`), evaluates it and rewrites
 * `ablation.jsonl` (atomically, adjusted p-values over the file) and `ablation.md`.
 *
 * @throws ExperimentsError `EXPERIMENTS_OUTPUT_EXISTS` when `output` holds ablation outputs and
 *   neither `replace` nor `resume` is set (or `resume` finds records of other settings);
 *   `EXPERIMENTS_INPUT_INVALID`, `EXPERIMENTS_DATASET_FAILED`, `EXPERIMENTS_BASE_CONTAMINATED`.
 * @example
 * ```ts
 * await initBackend({ backend: 'auto' })
 * const r = await runAblation({ modelDir, domains: ['legal'], ranks: [1, 4], schemes: ['attention', 'mlp'] })
 * console.log(r.mdPath)
 * ```
 */
export async function runAblation(
  options: Partial<AblationOptions> & Pick<AblationOptions, 'modelDir'>,
): Promise<AblationResult> {
  const o: AblationOptions = { ...DEFAULT_ABLATION_OPTIONS, ...options }
  validate(o)
  const log = o.logger
  const jsonlPath = join(o.output, ABLATION_JSONL)
  const mdPath = join(o.output, ABLATION_MD)

  const present = existingAblationOutputs(o.output)
  if (present.length > 0 && !o.replace && !o.resume) {
    throw new ExperimentsError(
      ExperimentsErrorCode.OutputExists,
      `ablation: ${o.output} already holds ablation outputs (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', …' : ''}); ` +
        'expected a folder without them: pass --replace to delete and rewrite them, --resume to keep the finished cells, or another --out',
      { output: o.output, present },
    )
  }

  // Dev sets first: a dataset failure stops the run before anything is deleted or trained.
  const dev = await loadDevSets('ablation', o.domains, {
    dataset: o.dataset,
    split: o.evalSplit,
    devSize: o.devSize,
    logger: log,
  })

  const model: CausalLM = await loadCausalLMFromDir(o.modelDir)
  const tok: Tokenizer = await loadTokenizer(o.modelDir)
  try {
    const baseSha256 = await baseFingerprint(model)
    const cells = ablationGridCells(o).filter((_, g) => inShard(g, o.shard))
    const keyOf = (c: (typeof cells)[number]) => sha256Hex(pythonJsonDumps(ablationCellConfig(o, c, baseSha256)))
    const planned = new Set(cells.map(keyOf))

    let records: AblationRecord[] = []
    if (o.replace) {
      for (const name of present) await rm(join(o.output, name), { recursive: true, force: true })
      if (present.length > 0) log.info(`ablation: --replace removed ${present.length} earlier output(s) of ${o.output}`)
    } else if (o.resume) {
      records = await readAblationRecords(jsonlPath)
      const foreign = records.filter((r) => !planned.has(r.resume_key))
      if (foreign.length > 0) {
        const f = foreign[0]!.config
        throw new ExperimentsError(
          ExperimentsErrorCode.OutputExists,
          `ablation: ${jsonlPath} holds ${foreign.length} record(s) of other settings or cells (first: ${f.domain} r=${f.rank} ${f.scheme}); ` +
            'expected only cells of this run to resume: pass --replace to start over, or another --out',
          { output: o.output, foreign: foreign.length },
        )
      }
    }
    const done = new Map(records.map((r) => [r.resume_key, r]))

    const { logger: _l, ...dataset } = o.dataset
    const cellOptions: AblationCellOptions = {
      domains: o.domains,
      ranks: o.ranks,
      schemes: o.schemes,
      samples: o.samples,
      seed: o.seed,
      devSize: o.devSize,
      evalSplit: o.evalSplit,
      output: o.output,
      modelDir: o.modelDir,
      baseModel: o.baseModel,
      nllOn: o.nllOn,
      maxLength: o.maxLength,
      latencyTrials: o.latencyTrials,
      training: o.training,
      dataset,
      replace: o.replace,
      resume: o.resume,
    }
    const ctx: AblationCellContext = {
      options: cellOptions,
      dataset: o.dataset,
      model,
      tok,
      dev,
      baselines: new Map(),
      baseSha256,
      logger: log,
      clock: o.clock,
    }
    // Records: the resumed ones (file order), then the new ones in cell order, whichever worker
    // finished first, so a pool run writes what a one-worker run writes.
    const resumed = records
    const fresh = new Array<AblationRecord | undefined>(cells.length)
    const write = async () => {
      records = [...resumed, ...fresh.filter((r): r is AblationRecord => r !== undefined)]
      adjustAblationPValues(records)
      await writeFileAtomic(jsonlPath, records.map((r) => `${pythonJsonDumps(r)}\n`).join(''))
      await writeFileAtomic(mdPath, ablationMarkdown(records))
    }

    let skipped = 0
    let finished = 0
    const todo: number[] = []
    cells.forEach((c, k) => {
      const hit = done.get(keyOf(c))
      if (!hit) {
        todo.push(k)
        return
      }
      skipped++
      finished++
      o.onCell?.({
        done: finished,
        total: cells.length,
        label: cellLabel(c),
        skipped: true,
        seconds: 0,
        etaSeconds: Number.NaN,
        record: hit,
      })
    })
    let newRecords = 0
    let ranSeconds = 0
    const fromSources = import.meta.url.endsWith('.ts')
    if (o.workers > 1 && fromSources)
      log.warn(
        `ablation: ${o.workers} workers asked for, but running from TypeScript sources: the cells run in process`,
      )
    const workers = fromSources ? 1 : Math.max(1, Math.min(o.workers, todo.length))
    const finish = async (k: number, record: AblationRecord, seconds: number) => {
      fresh[k] = record
      done.set(record.resume_key, record)
      await write()
      newRecords++
      finished++
      ranSeconds += seconds
      o.onCell?.({
        done: finished,
        total: cells.length,
        label: cellLabel(cells[k]!),
        skipped: false,
        seconds,
        // cells left × mean cell time, spread over the workers
        etaSeconds: ((ranSeconds / newRecords) * (todo.length - newRecords)) / workers,
        record,
      })
    }
    if (workers === 1) {
      for (const k of todo) {
        const t0 = o.clock()
        const record = await runAblationCell(ctx, cells[k]!)
        await finish(k, record, (o.clock() - t0) / 1000)
      }
    } else {
      await runCellsOnPool({
        workers,
        cells,
        todo,
        task: { compute: currentComputeSetup(), options: cellOptions, baseSha256 },
        clock: o.clock,
        finish,
      })
    }
    if (newRecords === 0) await write()
    try {
      await assertPristineBase(model, { expectedFingerprint: baseSha256, where: 'at the end of the ablation' })
    } catch (e) {
      throw new ExperimentsError(
        ExperimentsErrorCode.BaseContaminated,
        `ablation: the base model's weights changed during the run: ${(e as Error).message}`,
        {},
        { cause: e },
      )
    }
    return { jsonlPath, mdPath, records, newRecords, skipped, baseSha256, workers }
  } finally {
    model.dispose()
  }
}
