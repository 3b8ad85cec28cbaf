/**
 * One value-add cell (spec pipelines.md §9.3): train the adapter and placebo B (or reuse them),
 * score the trained adapter, placebo A and placebo B against the base, the trained adapter on the
 * other domains, and the inject + remove latency. The same code runs in process (one worker) and on
 * each worker thread of {@link ./value-add-pool.ts}, so a pool run records what a one-worker run
 * records apart from the timing fields.
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
  sha256Hex,
  writeJsonAtomic,
} from '@plora/common'
import type { LoadDatasetOptions } from '@plora/datasets'
import { assertPristineBase, baseFingerprint, createLoraBranches, injectAdapters } from '@plora/loader'
import { type PairedStat, pairedStat } from '@plora/metrics'
import type { CausalLM, Tokenizer } from '@plora/model'
import {
  createPlaceboAdapter,
  type LoraAdapter,
  loadPeftAdapter,
  type TargetScheme,
  writePeftAdapter,
} from '@plora/peft'
import { trainAdapter } from '@plora/trainer'
import { datasetFailed, type loadDevSets, median } from './dev-sets.js'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import type { ValueAddOptions } from './value-add.js'
import { exampleNlls } from './value-add-nll.js'
import { effectDecomposition, type ValueAddRecord } from './value-add-records.js'

/** Sidecar of a trained folder: the settings it was trained with (reused only when equal). */
export const VALUE_ADD_TRAIN_SIDECAR = 'value_add_train.json'

/** A cell of the grid. */
export interface ValueAddCell {
  domain: string
  rank: number
  scheme: TargetScheme
  seed: number
}

/** The settings a cell reads: {@link ValueAddOptions} without the callbacks (structured-cloneable). */
export type ValueAddCellOptions = Omit<
  ValueAddOptions,
  'logger' | 'onCell' | 'clock' | 'dataset' | 'workers' | 'shard' | 'reportOnly'
> & {
  dataset: Omit<Partial<LoadDatasetOptions>, 'logger'>
}

/** Per-example NLLs by evaluation key (`nll_cache.json`). */
export interface NllCache {
  baseline: Record<string, number[]>
  adapter: Record<string, number[]>
}

/** What {@link runValueAddCell} works with: in process, or one per worker thread. */
export interface ValueAddCellContext {
  options: ValueAddCellOptions
  /** Dataset options with this thread's logger. */
  dataset: Partial<LoadDatasetOptions>
  model: CausalLM
  tok: Tokenizer
  dev: Awaited<ReturnType<typeof loadDevSets>>
  /** SHA-256 of the base tensors when the run started. */
  baseSha256: string
  cache: NllCache
  /** The entries this context put into `cache` (what a worker sends back). */
  added: NllCache
  logger: Logger
  clock: () => number
}

/** `legal r=4 attention seed41`. */
export function valueAddCellLabel(c: ValueAddCell): string {
  return `${c.domain} r=${c.rank} ${c.scheme} seed${c.seed}`
}

/** The folder of a cell's trained adapter. */
export function trainedDirOf(o: Pick<ValueAddOptions, 'output'>, c: ValueAddCell): string {
  return join(o.output, `rank_r${c.rank}`, `${c.domain}_${c.scheme}_seed${c.seed}`)
}

/** The rank of a cell's placebo B. */
export function placeboBRankOf(o: Pick<ValueAddOptions, 'placeboBRank'>, c: ValueAddCell): number {
  return o.placeboBRank === 'cell' ? c.rank : o.placeboBRank
}

/** The folder of a cell's placebo B, shared by the cells of other ranks when its rank is fixed. */
export function placeboBDirOf(o: Pick<ValueAddOptions, 'output' | 'placeboBRank'>, c: ValueAddCell): string {
  return join(o.output, `rank_r${placeboBRankOf(o, c)}`, `${c.domain}_${c.scheme}_seed${c.seed}_placebo_shuffle`)
}

/** What an adapter folder is trained with; a folder is reused only when its sidecar says the same. */
function trainSettings(
  o: ValueAddCellOptions,
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

function nllOptions(o: ValueAddCellOptions) {
  return { nllOn: o.nllOn, maxLength: o.maxLength, batchSize: 8 }
}

function devHash(ctx: ValueAddCellContext, d: string): string {
  return sha256Hex(pythonJsonDumps(ctx.dev.get(d)!.map((p) => [p.prompt, p.answer])))
}

/** The NLL cache key of `what` (`baseline` or `adapter:<sha>`) on domain `d`. */
function evalKey(ctx: ValueAddCellContext, what: string, d: string): string {
  const o = ctx.options
  return sha256Hex(
    pythonJsonDumps([what, ctx.baseSha256, d, o.evalSplit, o.devSize, devHash(ctx, d), o.nllOn, o.maxLength ?? null]),
  )
}

/** Fails with `EXPERIMENTS_BASE_CONTAMINATED` when a base tensor changed since the run started. */
export async function checkPristine(ctx: ValueAddCellContext, where: string): Promise<void> {
  try {
    await assertPristineBase(ctx.model, { expectedFingerprint: ctx.baseSha256, where })
  } catch (e) {
    throw new ExperimentsError(
      ExperimentsErrorCode.BaseContaminated,
      `value-add: the base model's weights changed (${where}): ${(e as Error).message}`,
      { where },
      { cause: e },
    )
  }
}

/** The base model's per-example NLLs on domain `d`'s dev set (from the cache, else computed and cached). */
export async function baselineNlls(ctx: ValueAddCellContext, d: string): Promise<number[]> {
  const key = evalKey(ctx, 'baseline', d)
  const hit = ctx.cache.baseline[key]
  if (hit && hit.length === ctx.dev.get(d)!.length) return hit
  await checkPristine(ctx, `before the baseline of ${d}`)
  const v = await exampleNlls(ctx.model, ctx.tok, ctx.dev.get(d)!, { ...nllOptions(ctx.options), lora: undefined })
  ctx.cache.baseline[key] = v
  ctx.added.baseline[key] = v
  return v
}

/** An adapter's per-example NLLs on domain `d` (an un-merged side branch; cached by the adapter's SHA-256). */
export async function adapterNlls(
  ctx: ValueAddCellContext,
  adapter: LoraAdapter,
  sha: string,
  d: string,
): Promise<number[]> {
  const key = evalKey(ctx, `adapter:${sha}`, d)
  const hit = ctx.cache.adapter[key]
  if (hit && hit.length === ctx.dev.get(d)!.length) return hit
  const set = createLoraBranches(ctx.model, [adapter])
  try {
    const v = await exampleNlls(ctx.model, ctx.tok, ctx.dev.get(d)!, { ...nllOptions(ctx.options), lora: set.branches })
    ctx.cache.adapter[key] = v
    ctx.added.adapter[key] = v
    return v
  } finally {
    set.dispose()
  }
}

/** SHA-256 of a folder's adapter weights. */
export async function adapterSha(dir: string): Promise<string> {
  return sha256Hex(new Uint8Array(await readFile(join(dir, 'adapter_model.safetensors'))))
}

async function ensureTrained(
  ctx: ValueAddCellContext,
  dir: string,
  c: ValueAddCell,
  rank: number,
  shuffle: boolean,
): Promise<void> {
  const o = ctx.options
  const settings = trainSettings(o, c.domain, rank, c.scheme, c.seed, shuffle)
  const sidecar = join(dir, VALUE_ADD_TRAIN_SIDECAR)
  if (o.resume && existsSync(sidecar)) {
    try {
      if (pythonJsonDumps(JSON.parse(await readFile(sidecar, 'utf8'))) === pythonJsonDumps(settings)) {
        ctx.logger.info(`reusing ${dir} (trained with the same settings)`)
        return
      }
    } catch {
      // unreadable sidecar: retrain
    }
  }
  try {
    await trainAdapter({
      domain: c.domain,
      output: dir,
      modelDir: o.modelDir,
      model: ctx.model,
      baseModel: o.baseModel,
      epochs: o.training.epochs,
      samples: o.samples,
      valSamples: o.training.valSamples,
      rank,
      scheme: c.scheme,
      lr: o.training.lr,
      batchSize: o.training.batchSize,
      maxLen: o.training.maxLen,
      seed: c.seed,
      dropout: o.training.dropout,
      shuffleLabels: shuffle,
      dataset: ctx.dataset,
      logger: ctx.logger,
    })
  } catch (e) {
    if (isPloraError(e) && String(e.code).startsWith('DATASETS_'))
      throw datasetFailed('value-add', c.domain, 'train', e)
    throw e
  }
  await writeJsonAtomic(sidecar, settings)
}

/**
 * Runs cell `c` and returns its record (`config` and `resume_key` as given). Every domain's
 * baseline must be in `ctx.cache` or is computed here. Checks the base weights unchanged before and
 * after; the NLLs it computes are added to `ctx.cache` (and `ctx.added`).
 */
export async function runValueAddCell(
  ctx: ValueAddCellContext,
  c: ValueAddCell,
  config: ValueAddRecord['config'],
  key: string,
): Promise<ValueAddRecord> {
  const o = ctx.options
  const label = valueAddCellLabel(c)
  await checkPristine(ctx, `before cell ${label}`)
  const shaBefore = await baseFingerprint(ctx.model)
  const trainedDir = trainedDirOf(o, c)
  await ensureTrained(ctx, trainedDir, c, c.rank, false)
  const trained = await loadPeftAdapter(trainedDir)
  const trainedSha = await adapterSha(trainedDir)
  const base = await baselineNlls(ctx, c.domain)
  const trainedStat = pairedStat(base, await adapterNlls(ctx, trained, trainedSha, c.domain))

  // Latency: load from disk + inject (merged) + bit-exact remove, median of the trials (§9.6).
  const lat: number[] = []
  for (let t = 0; t < o.latencyTrials; t++) {
    const s = ctx.clock()
    const a = await loadPeftAdapter(trainedDir)
    const h = injectAdapters(ctx.model, [a], { label: `latency ${label}` })
    h.remove()
    lat.push(ctx.clock() - s)
  }
  await checkPristine(ctx, `after the latency trials of ${label}`)
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
  const placeboAStat = pairedStat(base, await adapterNlls(ctx, placebo, placeboASha, c.domain))

  // Placebo B: label-shuffled training, in its own rank's folder (shared by the other ranks' cells).
  const pbRank = placeboBRankOf(o, c)
  const placeboBDir = placeboBDirOf(o, c)
  await ensureTrained(ctx, placeboBDir, c, pbRank, true)
  const placeboB = await loadPeftAdapter(placeboBDir)
  const placeboBSha = await adapterSha(placeboBDir)
  const placeboBStat = pairedStat(base, await adapterNlls(ctx, placeboB, placeboBSha, c.domain))

  const cross: Record<string, PairedStat> = {}
  for (const other of o.domains) {
    if (other === c.domain) continue
    cross[other] = pairedStat(await baselineNlls(ctx, other), await adapterNlls(ctx, trained, trainedSha, other))
  }
  await checkPristine(ctx, `after cell ${label}`)
  const shaAfter = await baseFingerprint(ctx.model)
  return {
    config,
    trained: trainedStat,
    placebo_a: placeboAStat,
    placebo_b: placeboBStat,
    cross_domain: cross,
    latency_ms: latencyMs,
    latency_guard_exceeded: latencyMs > o.latencyBudgetMs,
    status: 'ok',
    nll_on: o.nllOn,
    effect_decomposition: effectDecomposition(trainedStat.delta_mean, placeboBStat.delta_mean),
    latency_trials_ms: lat,
    base_weights: {
      sha256_run_start: ctx.baseSha256,
      sha256_before_cell: shaBefore,
      sha256_after_cell: shaAfter,
      pristine: shaBefore === ctx.baseSha256 && shaAfter === ctx.baseSha256,
    },
    adapters: {
      trained: { dir: relative(o.output, trainedDir), sha256: trainedSha },
      placebo_a: { dir: relative(o.output, placeboADir), sha256: placeboASha },
      placebo_b: { dir: relative(o.output, placeboBDir), sha256: placeboBSha, rank: pbRank },
    },
    resume_key: key,
  }
}
