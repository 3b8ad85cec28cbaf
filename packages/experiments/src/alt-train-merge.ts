/**
 * Alternating train–merge that really iterates (spec pipelines.md §12, issue 17 item 2), fixing
 * the original's `alternating_train_merge.py` [§12 STATS, §20 item 24]:
 *
 * - cycle c = 1…C trains every domain's LoRA adapter **on top of merged model c−1** (cycle 1 on
 *   the pristine base; merged model c−1 = base + every accepted merged delta of cycles < c), not
 *   on the pristine base each time;
 * - each cycle trains on **fresh data**: the train split of each domain is permuted once by a
 *   seeded RNG and cycle c takes the c-th block of `samples` pairs, so the cycles' training sets are
 *   disjoint and reproducible from the seed (the original re-used the same prefix every cycle);
 * - the cycle's adapters are merged (`weighted_sum`, equal weights 1/n, exact stacked factors, no
 *   re-projection) into the **dense** weights of the model, so only the `.weight` tensors of the
 *   LoRA target modules ever change; embeddings, norms, biases and untargeted linears stay
 *   bit-identical, which is checked after every cycle (the original re-projected every 2-D tensor,
 *   embedding included, to rank r);
 * - the merge scale α is chosen by a **line search on held-out NLL** over a small grid (default
 *   `0, 0.25, 0.5, 0.75, 1`; α = 0 rejects the cycle's merge), scored on `lineSearchSplit`
 *   (default `validation`), which must differ from the reported `evalSplit` (default `test`);
 *   the original minimised the distance to the previous merge, which drifts to the smallest scale;
 * - every cycle reports on `evalSplit` the mean NLL of each domain under the merged model, and
 *   each new adapter's in-domain and cross-domain NLL (as an un-merged branch on model c−1);
 * - `convergence.json` keeps the original's `param_delta_fro` (`‖W_c − W_{c−1}‖_F` over all
 *   tensors, measured on the weights) plus α, the line-search curve, held-out NLL per domain (cycle 0
 *   = the base), train time, data hashes and weight fingerprints.
 *
 * Everything is written into a staging folder and installed atomically at the end; an existing
 * output folder is replaced only with `replace`. The model is restored bit-exactly afterwards.
 */
import { existsSync, readdirSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  createRng,
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
import { type LoadDatasetOptions, loadDomainDataset, type SplitName } from '@plora/datasets'
import {
  baseFingerprint,
  createDeltaObjective,
  createLoraBranches,
  type InjectionHandle,
  injectDeltas,
  planMerge,
  writeMergedModel,
} from '@plora/loader'
import { type CausalLM, loadCausalLMFromDir, loadTokenizer, type QaPair, type Tokenizer } from '@plora/model'
import { type LoraAdapter, loadPeftAdapter, type TargetScheme } from '@plora/peft'
import { type TrainPair, trainAdapter } from '@plora/trainer'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { exampleNlls, type NllOn } from './value-add-nll.js'

/** File names under the output folder. */
export const CONVERGENCE_JSON = 'convergence.json'
export const CONVERGENCE_MD = 'convergence.md'

/** Training settings of every cycle's adapters (config `train.*` in the CLI). */
export interface AltTrainMergeTraining {
  epochs: number
  lr: number
  maxLen: number
  dropout: number
  batchSize: number
  /** Line-search pairs per domain the trainer's own perplexity (manifest metrics) is measured on. */
  valSamples: number
}

/** Options of {@link runAltTrainMerge}. Every value is explicit: the library reads no config. */
export interface AltTrainMergeOptions {
  domains: string[]
  /** Number of train–merge cycles C. */
  cycles: number
  /** Fresh training pairs per domain and cycle. */
  samples: number
  rank: number
  scheme: TargetScheme
  /** Seeds the data blocks, LoRA init, data order and dropout of every cycle. */
  seed: number
  /** Local folder of the base model. */
  modelDir: string
  /** Base-model reference recorded in the output (e.g. `embedded`). */
  baseModel: string
  output: string
  /** Replace an existing output folder (otherwise `EXPERIMENTS_OUTPUT_EXISTS`). */
  replace: boolean
  /** Candidate merge scales; include 0 to let a cycle's merge be rejected. */
  alphas: number[]
  /** Held-out split the line search scores (never the reported one). */
  lineSearchSplit: SplitName
  /** Line-search pairs per domain (a prefix of the split's fixed order). */
  lineSearchSize: number
  /** Held-out split every cycle is reported on. */
  evalSplit: SplitName
  /** Evaluation pairs per domain (a prefix of the split's fixed order). */
  devSize: number
  nllOn: NllOn
  /** Longest scored sequence; undefined = the model context. */
  maxLength: number | undefined
  training: AltTrainMergeTraining
  /** Dataset options (sources, fractions, hub…); split and cap are set here. */
  dataset: Partial<LoadDatasetOptions>
  /** Also write each cycle's full merged model to `merged_cycle_<c>/` (large; off by default). */
  saveMergedModels: boolean
  logger: Logger
  onProgress: ((e: AltTrainMergeProgress) => void) | undefined
  /** Clock in ms for train and cycle times (default `performance.now`). */
  clock: () => number
}

/** Defaults of {@link AltTrainMergeOptions} (the dry config's `alt_train_merge` values). */
export const DEFAULT_ALT_TRAIN_MERGE_OPTIONS: Omit<AltTrainMergeOptions, 'modelDir'> = {
  domains: ['arithmetic', 'legal', 'medical'],
  cycles: 2,
  samples: 16,
  rank: 1,
  scheme: 'attention',
  seed: 42,
  baseModel: 'embedded',
  output: 'results/alt_train_merge',
  replace: false,
  alphas: [0, 0.25, 0.5, 0.75, 1],
  lineSearchSplit: 'validation',
  lineSearchSize: 32,
  evalSplit: 'test',
  devSize: 64,
  nllOn: 'answer',
  maxLength: undefined,
  training: { epochs: 1, lr: 2e-4, maxLen: 128, dropout: 0.1, batchSize: 1, valSamples: 8 },
  dataset: {},
  saveMergedModels: false,
  logger: SILENT_LOGGER,
  onProgress: undefined,
  clock: () => performance.now(),
}

/** Progress events (the CLI prints one stderr line each). */
export type AltTrainMergeProgress =
  | { status: 'baseline'; nll: Record<string, number>; seconds: number }
  | {
      status: 'trained'
      cycle: number
      cycles: number
      domain: string
      seconds: number
      inDomainNll: number
    }
  | {
      status: 'merged'
      cycle: number
      cycles: number
      alpha: number
      paramDeltaFro: number
      nll: Record<string, number>
      seconds: number
    }

/** One trained adapter of a cycle. */
export interface CycleAdapterRecord {
  domain: string
  /** Folder relative to the output (`cycle_<c>/<domain>`). */
  dir: string
  seed: number
  /** Indices into the seeded permutation of the domain's train split (disjoint across cycles). */
  train_block: [number, number]
  /** SHA-256 of the training pairs (JSON of `[question, answer]` lists). */
  train_data_sha256: string
  train_pairs: number
  train_seconds: number
  train_loss_first_epoch: number
  train_loss_last_epoch: number
  adapter_sha256: string
  /** Mean NLL on `evalSplit` of every domain with this adapter as a branch on model c−1. */
  nll: Record<string, number>
  in_domain_nll: number
  /** Mean over the other domains (null with one domain). */
  cross_domain_nll: number | null
  /** `nll` minus merged model c−1's NLL, per domain (what the adapter changes on the model it trained on). */
  nll_delta: Record<string, number>
  in_domain_delta: number
  cross_domain_delta: number | null
}

/** One cycle of `convergence.json`. */
export interface CycleRecord {
  cycle: number
  /** Fingerprint (SHA-256 of every tensor) of merged model c−1, on which the adapters trained. */
  start_sha256: string
  /** Fingerprint of merged model c. */
  end_sha256: string
  adapters: CycleAdapterRecord[]
  /** The chosen scale (0 = merge rejected). */
  alpha: number
  accepted: boolean
  /** Mean over domains of the mean NLL on `lineSearchSplit`, per candidate α (α = 0: model c−1). */
  line_search: Array<{ alpha: number; nll: number }>
  /** The original's metric: `√Σ‖W_c − W_{c−1}‖²_F` over all tensors (0 when rejected). */
  param_delta_fro: number
  /** ‖Δ‖_F of the cycle's merged delta at α = 1 (factor space). */
  merged_delta_fro_at_1: number
  /** Tensors that differ from the pristine base after this cycle (only LoRA target `.weight`s may). */
  changed_since_base: string[]
  /** Every tensor outside the target modules' weights was bit-identical before and after. */
  non_target_unchanged: true
  /** Mean NLL on `evalSplit` per domain under merged model c. */
  heldout_nll: Record<string, number>
  heldout_nll_mean: number
  train_seconds: number
  cycle_seconds: number
}

/** `convergence.json`. */
export interface ConvergenceReport {
  format: 'plora-alt-train-merge/v1'
  /** The original's list, one value per cycle (cycle c: merged c−1 → merged c). */
  param_delta_fro: number[]
  base_model: string
  base_sha256: string
  domains: string[]
  cycles: number
  samples_per_cycle: number
  rank: number
  scheme: string
  seed: number
  alphas: number[]
  merge: { strategy: 'weighted_sum'; weights: 'equal'; method: 'cat'; reproject_rank: null }
  splits: { train: 'train'; line_search: SplitName; eval: SplitName }
  line_search_size: number
  dev_size: number
  nll_on: NllOn
  max_length: number | null
  training: AltTrainMergeTraining
  /** Cycle 0: the pristine base on `evalSplit` (and on the line-search split). */
  base: { heldout_nll: Record<string, number>; heldout_nll_mean: number; line_search_nll: number }
  cycle_records: CycleRecord[]
  /** The model's weights equal the pristine base again after the run. */
  base_restored: boolean
}

/** What {@link runAltTrainMerge} did. */
export interface AltTrainMergeResult {
  output: string
  jsonPath: string
  mdPath: string
  report: ConvergenceReport
}

function invalid(message: string, details: Record<string, unknown>): ExperimentsError {
  return new ExperimentsError(ExperimentsErrorCode.InputInvalid, `alt-train-merge: ${message}`, details)
}

function validate(o: AltTrainMergeOptions): void {
  if (o.domains.length === 0) throw invalid('domains is empty; expected at least one', {})
  if (new Set(o.domains).size !== o.domains.length)
    throw invalid(`domains has duplicates: ${o.domains.join(',')}`, { domains: o.domains })
  const posInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw invalid(`${name} must be a positive integer, found ${v}`, { [name]: v })
  }
  posInt('cycles', o.cycles)
  posInt('samples', o.samples)
  posInt('rank', o.rank)
  posInt('lineSearchSize', o.lineSearchSize)
  posInt('devSize', o.devSize)
  posInt('training.valSamples', o.training.valSamples)
  if (!Number.isSafeInteger(o.seed) || o.seed < 0)
    throw invalid(`seed must be a non-negative integer, found ${o.seed}`, {})
  if (o.alphas.length === 0) throw invalid('alphas is empty; expected at least one scale', {})
  for (const a of o.alphas)
    if (!(Number.isFinite(a) && a >= 0)) throw invalid(`alpha ${a} is not a finite number ≥ 0`, { alphas: o.alphas })
  if (new Set(o.alphas).size !== o.alphas.length) throw invalid(`alphas has duplicates: ${o.alphas.join(',')}`, {})
  for (const [name, split] of [
    ['lineSearchSplit', o.lineSearchSplit],
    ['evalSplit', o.evalSplit],
  ] as const)
    if (split === 'train') throw invalid(`${name} must be a held-out split (validation or test), found train`, {})
  if (o.lineSearchSplit === o.evalSplit)
    throw invalid(
      `the line search and the report use the same split (${o.evalSplit}); expected two different held-out splits`,
      { lineSearchSplit: o.lineSearchSplit, evalSplit: o.evalSplit },
    )
}

/**
 * The training block of `cycle` (1-based) for a domain: the train split permuted by a seeded RNG
 * (`deriveSeed(seed, 'alt-train-merge data', domain)`), pairs `[(c−1)·samples, c·samples)`. Blocks
 * of different cycles are disjoint.
 */
export function cycleTrainBlock<T>(
  pairs: readonly T[],
  o: { seed: number; domain: string; cycle: number; samples: number },
): { pairs: T[]; block: [number, number] } {
  const order = createRng(deriveSeed(o.seed, 'alt-train-merge data', o.domain)).shuffle([...pairs.keys()])
  const block: [number, number] = [(o.cycle - 1) * o.samples, o.cycle * o.samples]
  return { pairs: order.slice(block[0], block[1]).map((i) => pairs[i]!), block }
}

/** The training seed of a domain's adapter in a cycle (fits a 31-bit integer). */
export function cycleTrainSeed(seed: number, cycle: number, domain: string): number {
  return deriveSeed(seed, 'alt-train-merge train', cycle, domain) % 2_147_483_647
}

function mean(xs: readonly number[]): number {
  const f = xs.filter((x) => Number.isFinite(x))
  return f.length === 0 ? Number.NaN : f.reduce((a, b) => a + b, 0) / f.length
}

function pairsSha(pairs: readonly TrainPair[]): string {
  return sha256Hex(pythonJsonDumps(pairs.map((p) => [p.question, p.answer])))
}

async function tensorHashes(model: CausalLM): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const [name, v] of model.params) {
    const d = await v.data()
    out.set(name, sha256Hex(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)))
  }
  return out
}

function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a'
}

function signed(x: number): string {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(5)}` : 'n/a'
}

/** The Markdown of `convergence.md`: the convergence table and the per-adapter table. */
export function convergenceMarkdown(r: ConvergenceReport): string {
  const lines: string[] = [
    '# Alternating train–merge – convergence',
    '',
    `${r.cycles} cycle(s) × ${r.domains.length} domain(s), ${r.samples_per_cycle} fresh training pairs per domain and cycle, ` +
      `rank ${r.rank} (${r.scheme}), seed ${r.seed}, base ${r.base_model}. Cycle c trains on merged model c−1 and merges ` +
      `the cycle's adapters (equal weights, exact) at the α of a line search on the ${r.splits.line_search} split ` +
      `(${r.line_search_size} pairs per domain; α ∈ {${r.alphas.join(', ')}}, 0 = rejected). NLL: mean per-example ` +
      `${r.nll_on}-token NLL (nats) on the ${r.splits.eval} split (${r.dev_size} pairs per domain).`,
    '',
    `| cycle | α | ‖ΔW‖_F | ${r.domains.map((d) => `NLL ${d}`).join(' | ')} | mean NLL | line-search NLL | train s |`,
    `|---|---|---|${r.domains.map(() => '---|').join('')}---|---|---|`,
    `| 0 (base) | – | – | ${r.domains.map((d) => fmt(r.base.heldout_nll[d]!)).join(' | ')} | ${fmt(r.base.heldout_nll_mean)} | ${fmt(r.base.line_search_nll)} | – |`,
  ]
  for (const c of r.cycle_records) {
    const ls = c.line_search.find((x) => x.alpha === c.alpha)?.nll ?? Number.NaN
    lines.push(
      `| ${c.cycle} | ${c.alpha}${c.accepted ? '' : ' (rejected)'} | ${fmt(c.param_delta_fro, 6)} | ${r.domains.map((d) => fmt(c.heldout_nll[d]!)).join(' | ')} | ${fmt(c.heldout_nll_mean)} | ${fmt(ls)} | ${c.train_seconds.toFixed(1)} |`,
    )
  }
  lines.push(
    '',
    '## Adapters per cycle (branch on merged model c−1)',
    '',
    'ΔNLL: the adapter (as a branch) minus merged model c−1, on the same examples; cross-domain: mean over the other domains.',
    '',
    '| cycle | adapter | in-domain NLL | in-domain ΔNLL | cross-domain NLL | cross-domain ΔNLL | train pairs | train s |',
    '|---|---|---|---|---|---|---|---|',
  )
  for (const c of r.cycle_records)
    for (const a of c.adapters)
      lines.push(
        `| ${c.cycle} | ${a.domain} | ${fmt(a.in_domain_nll)} | ${signed(a.in_domain_delta)} | ${a.cross_domain_nll === null ? '–' : fmt(a.cross_domain_nll)} | ${a.cross_domain_delta === null ? '–' : signed(a.cross_domain_delta)} | ${a.train_pairs} | ${a.train_seconds.toFixed(1)} |`,
      )
  lines.push(
    '',
    '## Line search (mean NLL on the line-search split)',
    '',
    `| cycle | ${r.alphas.map((a) => `α=${a}`).join(' | ')} |`,
    `|---|${r.alphas.map(() => '---|').join('')}`,
  )
  for (const c of r.cycle_records) lines.push(`| ${c.cycle} | ${c.line_search.map((x) => fmt(x.nll)).join(' | ')} |`)
  // A line search whose winner is the grid's largest α has not bracketed its minimum.
  const top = Math.max(...r.alphas)
  const atEdge = r.cycle_records.filter((c) => c.alpha === top && top > 0).map((c) => c.cycle)
  if (atEdge.length > 0)
    lines.push(
      '',
      `Note: in cycle(s) ${atEdge.join(', ')} the largest α of the grid (${top}) won, so the line search did not ` +
        'bracket a minimum: the best scale may be larger (extend `--alphas`, e.g. `0,0.5,1,1.5,2`).',
    )
  lines.push(
    '',
    `Only LoRA target weights changed in every cycle (other tensors bit-identical: ${r.cycle_records.every((c) => c.non_target_unchanged) ? 'yes' : 'NO'}); ` +
      `base weights restored after the run: ${r.base_restored ? 'yes' : 'NO'}.`,
    '',
  )
  return lines.join('\n')
}

function datasetFailed(domain: string, split: string, e: unknown): ExperimentsError {
  const why = e instanceof Error ? e.message : String(e)
  return new ExperimentsError(
    ExperimentsErrorCode.DatasetFailed,
    `alt-train-merge: cannot load the ${split} split of domain "${domain}": ${why}`,
    { domain, split },
    { cause: e },
  )
}

/**
 * Runs the alternating train–merge study and writes `<output>/{convergence.json, convergence.md,
 * cycle_<c>/<domain>/}` (and `merged_cycle_<c>/` with `saveMergedModels`).
 *
 * @throws ExperimentsError `EXPERIMENTS_INPUT_INVALID`, `EXPERIMENTS_OUTPUT_EXISTS`,
 *   `EXPERIMENTS_DATASET_FAILED`, `EXPERIMENTS_BASE_CONTAMINATED` (a non-target tensor changed, or
 *   the base was not restored); trainer and loader errors pass through.
 * @example
 * ```ts
 * await initBackend({ backend: 'auto' })
 * const r = await runAltTrainMerge({ modelDir, domains: ['legal', 'medical'], cycles: 3 })
 * console.log(r.report.param_delta_fro)
 * ```
 */
export async function runAltTrainMerge(
  options: Partial<AltTrainMergeOptions> & Pick<AltTrainMergeOptions, 'modelDir'>,
): Promise<AltTrainMergeResult> {
  const o: AltTrainMergeOptions = { ...DEFAULT_ALT_TRAIN_MERGE_OPTIONS, ...options }
  validate(o)
  const log = o.logger
  if (existsSync(o.output) && readdirSync(o.output).length > 0 && !o.replace) {
    throw new ExperimentsError(
      ExperimentsErrorCode.OutputExists,
      `alt-train-merge: ${o.output} exists and is not empty; expected a new folder (pass --replace to replace it)`,
      { output: o.output },
    )
  }

  // Data first, so a dataset failure stops the run before any training.
  const load = async (d: string, split: SplitName, samples?: number): Promise<QaPair[]> => {
    try {
      const ds = await loadDomainDataset(d, { ...o.dataset, split, ...(samples !== undefined ? { samples } : {}) })
      for (const w of ds.warnings) log.warn(w)
      if (ds.pairs.length === 0) throw new Error('the split has no pairs')
      return ds.pairs.map((p) => ({ prompt: p.question, answer: p.answer }))
    } catch (e) {
      throw datasetFailed(d, split, e)
    }
  }
  const trainAll = new Map<string, TrainPair[]>()
  const lsPairs = new Map<string, QaPair[]>()
  const evalPairs = new Map<string, QaPair[]>()
  for (const d of o.domains) {
    const train = (await load(d, 'train')).map((p) => ({ question: p.prompt, answer: p.answer }))
    if (train.length < o.cycles * o.samples) {
      throw invalid(
        `domain "${d}" has ${train.length} training pairs; ${o.cycles} cycles × ${o.samples} fresh pairs need ${o.cycles * o.samples}`,
        { domain: d, available: train.length, needed: o.cycles * o.samples },
      )
    }
    trainAll.set(d, train)
    lsPairs.set(d, await load(d, o.lineSearchSplit, o.lineSearchSize))
    evalPairs.set(d, await load(d, o.evalSplit, o.devSize))
  }

  const staging = await createStagingDir(o.output)
  const model: CausalLM = await loadCausalLMFromDir(o.modelDir)
  const handles: InjectionHandle[] = []
  try {
    const tok: Tokenizer = await loadTokenizer(o.modelDir)
    const baseSha = await baseFingerprint(model)
    const nllOpts = { nllOn: o.nllOn, maxLength: o.maxLength, batchSize: 8 }
    const domainNll = async (pairs: QaPair[], lora?: ReturnType<typeof createLoraBranches>) =>
      mean(await exampleNlls(model, tok, pairs, { ...nllOpts, lora: lora?.branches }))
    const heldout = async (lora?: ReturnType<typeof createLoraBranches>) => {
      const out: Record<string, number> = {}
      for (const d of o.domains) out[d] = await domainNll(evalPairs.get(d)!, lora)
      return out
    }
    const lineSearchNll = async () => {
      const per: number[] = []
      for (const d of o.domains) per.push(await domainNll(lsPairs.get(d)!))
      return mean(per)
    }

    const t0 = o.clock()
    const baseHeldout = await heldout()
    const baseLs = await lineSearchNll()
    o.onProgress?.({ status: 'baseline', nll: baseHeldout, seconds: (o.clock() - t0) / 1000 })
    const pristineHashes = await tensorHashes(model)

    const cycleRecords: CycleRecord[] = []
    let previous = baseHeldout
    for (let c = 1; c <= o.cycles; c++) {
      const tc = o.clock()
      const startSha = await baseFingerprint(model)
      const adapters: LoraAdapter[] = []
      const adapterRecords: CycleAdapterRecord[] = []
      let trainSeconds = 0
      for (const d of o.domains) {
        const { pairs, block } = cycleTrainBlock(trainAll.get(d)!, {
          seed: o.seed,
          domain: d,
          cycle: c,
          samples: o.samples,
        })
        const dir = join(staging, `cycle_${c}`, d)
        const seed = cycleTrainSeed(o.seed, c, d)
        const ts = o.clock()
        let trained: Awaited<ReturnType<typeof trainAdapter>>
        try {
          trained = await trainAdapter({
            domain: d,
            output: dir,
            modelDir: o.modelDir,
            // The model as it is now: merged model c−1 (trainAdapter never writes its weights).
            model,
            baseModel: c === 1 ? o.baseModel : `${o.baseModel}+alt_train_merge_cycle_${c - 1}`,
            epochs: o.training.epochs,
            rank: o.rank,
            scheme: o.scheme,
            lr: o.training.lr,
            batchSize: o.training.batchSize,
            maxLen: o.training.maxLen,
            seed,
            dropout: o.training.dropout,
            valSamples: o.training.valSamples,
            pairs: {
              train: pairs,
              validation: lsPairs
                .get(d)!
                .slice(0, o.training.valSamples)
                .map((p) => ({ question: p.prompt, answer: p.answer })),
            },
            logger: log,
          })
        } catch (e) {
          if (isPloraError(e) && String(e.code).startsWith('DATASETS_')) throw datasetFailed(d, 'train', e)
          throw e
        }
        const seconds = (o.clock() - ts) / 1000
        trainSeconds += seconds
        const adapter = await loadPeftAdapter(dir)
        adapters.push(adapter)
        const set = createLoraBranches(model, [adapter])
        let nll: Record<string, number>
        try {
          nll = await heldout(set)
        } finally {
          set.dispose()
        }
        const others = o.domains.filter((x) => x !== d)
        const delta: Record<string, number> = {}
        for (const e of o.domains) delta[e] = nll[e]! - previous[e]!
        adapterRecords.push({
          domain: d,
          dir: `cycle_${c}/${d}`,
          seed,
          train_block: block,
          train_data_sha256: pairsSha(pairs),
          train_pairs: pairs.length,
          train_seconds: seconds,
          train_loss_first_epoch: trained.training.firstEpochLoss,
          train_loss_last_epoch: trained.training.lastEpochLoss,
          adapter_sha256: sha256Hex(new Uint8Array(await readFile(join(dir, 'adapter_model.safetensors')))),
          nll,
          in_domain_nll: nll[d]!,
          cross_domain_nll: others.length === 0 ? null : mean(others.map((x) => nll[x]!)),
          nll_delta: delta,
          in_domain_delta: delta[d]!,
          cross_domain_delta: others.length === 0 ? null : mean(others.map((x) => delta[x]!)),
        })
        o.onProgress?.({ status: 'trained', cycle: c, cycles: o.cycles, domain: d, seconds, inDomainNll: nll[d]! })
      }
      if ((await baseFingerprint(model)) !== startSha) {
        throw new ExperimentsError(
          ExperimentsErrorCode.BaseContaminated,
          `alt-train-merge: training cycle ${c}'s adapters changed the weights of merged model ${c - 1}`,
          { cycle: c },
        )
      }

      // Merge the cycle's adapters: equal weights, the exact stacked factors (no re-projection).
      const plan = planMerge(
        adapters.map((a, i) => ({ name: a.dir ?? o.domains[i]!, modules: a.modules })),
        { strategy: 'weighted_sum', weights: null, method: 'cat', reprojectRank: null },
      )
      const objective = createDeltaObjective(model, plan.deltas, lineSearchNll)
      const curve: Array<{ alpha: number; nll: number }> = []
      for (const alpha of o.alphas) curve.push({ alpha, nll: await objective(alpha) })
      // Smallest NLL; ties go to the smaller α (the more conservative merge).
      const best = curve.reduce((b, x) => (x.nll < b.nll || (x.nll === b.nll && x.alpha < b.alpha) ? x : b))
      const before = new Map<string, Float32Array>()
      for (const path of plan.deltas.keys()) {
        const name = `${path}.weight`
        before.set(name, Float32Array.from(await model.params.get(name)!.data()))
      }
      if (best.alpha > 0) {
        handles.push(
          injectDeltas(model, plan.deltas.values(), { coefficient: best.alpha, label: `alt-train-merge cycle ${c}` }),
        )
      }
      // ‖W_c − W_{c−1}‖_F measured on the weights; every other tensor must be bit-identical.
      let sq = 0
      for (const [name, prev] of before) {
        const now = await model.params.get(name)!.data()
        for (let i = 0; i < prev.length; i++) sq += (now[i]! - prev[i]!) ** 2
      }
      const hashes = await tensorHashes(model)
      const changed = [...hashes].filter(([n, h]) => h !== pristineHashes.get(n)).map(([n]) => n)
      const stray = changed.filter((n) => !before.has(n))
      if (stray.length > 0) {
        throw new ExperimentsError(
          ExperimentsErrorCode.BaseContaminated,
          `alt-train-merge: cycle ${c}'s merge changed tensors outside the LoRA target weights: ${stray.slice(0, 5).join(', ')}`,
          { cycle: c, tensors: stray },
        )
      }
      const merged = await heldout()
      const record: CycleRecord = {
        cycle: c,
        start_sha256: startSha,
        end_sha256: await baseFingerprint(model),
        adapters: adapterRecords,
        alpha: best.alpha,
        accepted: best.alpha > 0,
        line_search: curve,
        param_delta_fro: Math.sqrt(sq),
        merged_delta_fro_at_1: plan.normAfter,
        changed_since_base: changed.sort(),
        non_target_unchanged: true,
        heldout_nll: merged,
        heldout_nll_mean: mean(o.domains.map((d) => merged[d]!)),
        train_seconds: trainSeconds,
        cycle_seconds: (o.clock() - tc) / 1000,
      }
      cycleRecords.push(record)
      previous = merged
      if (o.saveMergedModels) await writeMergedModel(join(staging, `merged_cycle_${c}`), model, new Map())
      o.onProgress?.({
        status: 'merged',
        cycle: c,
        cycles: o.cycles,
        alpha: best.alpha,
        paramDeltaFro: record.param_delta_fro,
        nll: merged,
        seconds: record.cycle_seconds,
      })
    }

    for (const h of handles.reverse()) h.remove()
    handles.length = 0
    const endSha = await baseFingerprint(model)
    if (endSha !== baseSha) {
      throw new ExperimentsError(
        ExperimentsErrorCode.BaseContaminated,
        `alt-train-merge: the base weights were not restored after the run (fingerprint ${endSha.slice(0, 12)}… vs ${baseSha.slice(0, 12)}…)`,
        {},
      )
    }
    const report: ConvergenceReport = {
      format: 'plora-alt-train-merge/v1',
      param_delta_fro: cycleRecords.map((c) => c.param_delta_fro),
      base_model: o.baseModel,
      base_sha256: baseSha,
      domains: o.domains,
      cycles: o.cycles,
      samples_per_cycle: o.samples,
      rank: o.rank,
      scheme: o.scheme,
      seed: o.seed,
      alphas: o.alphas,
      merge: { strategy: 'weighted_sum', weights: 'equal', method: 'cat', reproject_rank: null },
      splits: { train: 'train', line_search: o.lineSearchSplit, eval: o.evalSplit },
      line_search_size: o.lineSearchSize,
      dev_size: o.devSize,
      nll_on: o.nllOn,
      max_length: o.maxLength ?? null,
      training: o.training,
      base: {
        heldout_nll: baseHeldout,
        heldout_nll_mean: mean(o.domains.map((d) => baseHeldout[d]!)),
        line_search_nll: baseLs,
      },
      cycle_records: cycleRecords,
      base_restored: true,
    }
    await writeJsonAtomic(join(staging, CONVERGENCE_JSON), report)
    await writeFileAtomic(join(staging, CONVERGENCE_MD), convergenceMarkdown(report))
    await installDirAtomic(staging, o.output, { replace: o.replace })
    return {
      output: o.output,
      jsonPath: join(o.output, CONVERGENCE_JSON),
      mdPath: join(o.output, CONVERGENCE_MD),
      report,
    }
  } finally {
    for (const h of handles.reverse()) if (h.active) h.remove()
    model.dispose()
    await rm(staging, { recursive: true, force: true })
  }
}
