/**
 * Pretraining of the embedded base model (issue 5 item 5): the small GPT-2 of `@plora/model` is
 * trained as a causal LM on the general English corpus of `@plora/datasets` (one WordNet 3.1 gloss
 * per line, seeded order) for a fixed number of steps, so LoRA adapters learn domain knowledge on
 * top of a model that already knows English text.
 *
 * Data: lines are tokenised and joined with EOS into one stream, cut into non-overlapping windows
 * of `seqLen + 1` tokens; `steps · batchSize` windows are drawn (the stream cycles if short) and
 * the loss is on every next token. Optimiser: AdamW (λ = 0.01, clip 1.0) with linear warm-up over
 * the first 10 % of steps then cosine decay to 10 % of the peak rate (the GPT-2/nanoGPT recipe).
 * Everything is seeded, so the same steps and seed give the same weights on the same backend.
 */
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  createStagingDir,
  installDirAtomic,
  type ProgressCallback,
  sha256FileHex,
  writeFileAtomic,
  writeJsonAtomic,
} from '@plora/common'
import { loadGeneralCorpus, loadPretrainingCorpus } from '@plora/datasets'
import {
  activeNativeKernels,
  type CausalLM,
  EMBEDDED_BASE_MODEL_SEED,
  EMBEDDED_PRESETS,
  type EmbeddedPreset,
  embeddedAssetDir,
  encodeModelWeights,
  type FloatTensorData,
  loadCausalLMFromDir,
  loadTokenizer,
  readFloatSafetensors,
  type Tokenizer,
  writeEmbeddedBaseModel,
} from '@plora/model'
import * as tf from '@tensorflow/tfjs-core'
import { TrainerError, TrainerErrorCode } from './errors.js'
import type { EncodedExample } from './examples.js'
import { runTrainingLoop, type TrainingLoopResult } from './loop.js'

/** Options of {@link pretrainBaseModel}. */
export interface PretrainOptions {
  /** Optimiser steps (the fixed budget). */
  steps: number
  batchSize: number
  /** Tokens per training window. */
  seqLen: number
  /** Peak learning rate. */
  lr: number
  seed: number
  /** Corpus lines to read (after the seeded shuffle); enough for the budget by default. */
  corpusLines: string[] | undefined
  onProgress: ProgressCallback | undefined
  signal: AbortSignal | undefined
}

/**
 * Default budget: 250 steps of 8 × 64 tokens (≈ 130k tokens) — about two minutes on an idle 2-core
 * machine with the wasm backend, a few minutes under load. lr 1e-3: on this model 3e-3 and 1e-2
 * stalled near the unigram loss (≈ 4.5–4.9 nats after 150–200 steps) while 1e-3 reached 4.06
 * after 200 steps.
 */
export const DEFAULT_PRETRAIN_OPTIONS: PretrainOptions = {
  steps: 250,
  batchSize: 8,
  seqLen: 64,
  lr: 1e-3,
  seed: EMBEDDED_BASE_MODEL_SEED,
  corpusLines: undefined,
  onProgress: undefined,
  signal: undefined,
}

/**
 * Pretraining budget of each embedded preset (`tiny` is {@link DEFAULT_PRETRAIN_OPTIONS}).
 * `small`: 800 steps of 16 × 128 tokens (≈ 1.6M tokens, ≈ 0.4 of its corpus) — ≈ 30 minutes on
 * one core of the wasm backend, run once; the result is committed under `assets/models/`.
 */
export const PRESET_PRETRAIN_OPTIONS: Readonly<
  Record<EmbeddedPreset, Pick<PretrainOptions, 'steps' | 'batchSize' | 'seqLen' | 'lr'>>
> = {
  tiny: { steps: 250, batchSize: 8, seqLen: 64, lr: 1e-3 },
  small: { steps: 800, batchSize: 16, seqLen: 128, lr: 1e-3 },
}

/** Lines of the pretraining corpus the `small` tokenizer is learnt from (≈ 2M characters). */
export const SMALL_TOKENIZER_LINES = 20_000

/** The corpus lines a preset pretrains on (the `tiny` model keeps the plain WordNet glosses). */
export function presetCorpusLines(preset: EmbeddedPreset, seed: number, limit: number): string[] {
  return preset === 'tiny' ? loadGeneralCorpus({ seed, limit }) : loadPretrainingCorpus({ seed, limit })
}

/** Learning rate at a step: linear warm-up (10 %) then cosine decay to 10 % of the peak. */
export function warmupCosineLr(peak: number, step: number, total: number): number {
  const warm = Math.max(1, Math.floor(total * 0.1))
  if (step < warm) return (peak * (step + 1)) / warm
  const progress = (step - warm) / Math.max(1, total - warm)
  return peak * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, progress))))
}

/** The pretraining windows: `count` windows of `seqLen` tokens from the EOS-joined stream. */
export function pretrainWindows(
  tok: Tokenizer,
  lines: readonly string[],
  count: number,
  seqLen: number,
): EncodedExample[] {
  const need = count * seqLen + 1
  const eos = tok.eosTokenId ?? tok.padTokenId
  const stream: number[] = []
  for (const line of lines) {
    stream.push(...tok.encode(line), eos)
    if (stream.length >= need) break
  }
  if (stream.length < seqLen + 1) {
    throw new TrainerError(
      TrainerErrorCode.DataInvalid,
      `pretraining corpus has ${stream.length} tokens, fewer than one window of ${seqLen + 1}`,
      {
        tokens: stream.length,
      },
    )
  }
  const windows = Math.floor((stream.length - 1) / seqLen)
  const out: EncodedExample[] = []
  for (let i = 0; i < count; i++) {
    const at = (i % windows) * seqLen
    const ids = stream.slice(at, at + seqLen + 1)
    out.push({ ids, lossMask: new Array<number>(ids.length - 1).fill(1) })
  }
  return out
}

/**
 * Pretrains every parameter of `model` in place on the general corpus.
 *
 * @example
 * ```ts
 * const r = await pretrainBaseModel(model, tok, { steps: 250 })
 * ```
 */
export async function pretrainBaseModel(
  model: CausalLM,
  tok: Tokenizer,
  options: Partial<PretrainOptions> = {},
): Promise<TrainingLoopResult> {
  const o = { ...DEFAULT_PRETRAIN_OPTIONS, ...options }
  for (const [k, v] of [
    ['steps', o.steps],
    ['batchSize', o.batchSize],
    ['seqLen', o.seqLen],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new TrainerError(
        TrainerErrorCode.OptionsInvalid,
        `pretraining ${k} must be a positive integer, found ${v}`,
        { [k]: v },
      )
    }
  }
  // Roughly 4 characters per token for this vocabulary: read about twice what the budget needs.
  const lines =
    o.corpusLines ?? loadGeneralCorpus({ seed: o.seed, limit: Math.ceil((o.steps * o.batchSize * o.seqLen) / 8) + 100 })
  const windows = pretrainWindows(tok, lines, o.steps * o.batchSize, o.seqLen)
  return runTrainingLoop(model, [...model.params.values()], windows, tok.padTokenId, {
    epochs: 1,
    batchSize: o.batchSize,
    seed: o.seed,
    optimizer: { lr: o.lr },
    lrAt: (step, total) => warmupCosineLr(o.lr, step, total),
    task: 'pretrain base model',
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  })
}

/** Marker file a pretrained embedded model carries (absent on the random one). */
export const PRETRAIN_MARKER_FILE = 'plora_pretrain.json'

/** Options of {@link ensurePretrainedBaseModel}. */
export interface EnsurePretrainedOptions extends Partial<Omit<PretrainOptions, 'corpusLines'>> {
  /** The plora cache folder (`PLORA_CACHE_DIR`). */
  cacheDir: string
  /** Which embedded model. Default `tiny`; its budget fills the options not given. */
  preset?: EmbeddedPreset
  /** Where committed preset weights live (default the checkout's `assets/`). */
  assetsDir?: string
  /** Rebuild even when a matching model exists. */
  force?: boolean
  /** Write here instead of the cache folder (`plora base-model init --out`). */
  outDir?: string
}

/** The cache folder of an embedded model for an init seed (for `tiny` seed 0, the one `ensureEmbeddedBaseModel` uses). */
export function embeddedModelDir(cacheDir: string, seed: number, preset: EmbeddedPreset = 'tiny'): string {
  return join(cacheDir, 'models', `${EMBEDDED_PRESETS[preset].name}-seed${seed}`)
}

async function readMarker(dir: string): Promise<Record<string, unknown> | undefined> {
  const p = join(dir, PRETRAIN_MARKER_FILE)
  if (!existsSync(p)) return undefined
  try {
    return JSON.parse(await readFile(p, 'utf8')) as Record<string, unknown>
  } catch {
    return undefined // unreadable marker: rebuild
  }
}

/**
 * The embedded base model, pretrained for `steps` steps, in the plora cache — created on first use
 * and reused after. It lives in the folder `ensureEmbeddedBaseModel` of `@plora/model` returns, so
 * every command that resolves `embedded` gets the pretrained weights; a `plora_pretrain.json` marker
 * records the budget (`steps: 0` keeps the random initialisation, and no marker is written).
 * The folder is built in a staging folder and installed atomically. Call `initBackend` first.
 *
 * @example
 * ```ts
 * const dir = await ensurePretrainedBaseModel({ cacheDir: env.cacheDir, onProgress })
 * ```
 */
export async function ensurePretrainedBaseModel(options: EnsurePretrainedOptions): Promise<string> {
  const preset = options.preset ?? 'tiny'
  const o = { ...DEFAULT_PRETRAIN_OPTIONS, ...PRESET_PRETRAIN_OPTIONS[preset], ...options }
  const want = { preset, steps: o.steps, batch_size: o.batchSize, seq_len: o.seqLen, lr: o.lr, seed: o.seed }
  const matches = (m: Record<string, unknown> | undefined) =>
    m !== undefined && Object.entries(want).every(([k, v]) => (m[k] ?? 'tiny') === v)
  if (!o.force && o.outDir === undefined) {
    // Committed weights (issue 20): used in place, never copied, when they are this very budget.
    const asset = embeddedAssetDir(preset, o.assetsDir)
    if (asset && matches(await readMarker(asset))) return asset
  }
  const dir = o.outDir ?? embeddedModelDir(o.cacheDir, o.seed, preset)
  const marker = await readMarker(dir)
  if (!o.force && existsSync(join(dir, 'config.json'))) {
    if (o.steps === 0 && marker === undefined) return dir
    if (matches(marker)) return dir
  }
  const staging = await createStagingDir(dir)
  const modelDir = join(staging, 'model')
  try {
    const linesNeeded = Math.ceil((o.steps * o.batchSize * o.seqLen) / 8) + 100
    const lines = presetCorpusLines(
      preset,
      o.seed,
      Math.max(linesNeeded, preset === 'small' ? SMALL_TOKENIZER_LINES : 0),
    )
    await writeEmbeddedBaseModel(modelDir, {
      preset,
      seed: o.seed,
      ...(preset === 'small' ? { tokenizerText: lines.slice(0, SMALL_TOKENIZER_LINES).join('\n') } : {}),
    })
    if (o.steps > 0) {
      const model = await loadCausalLMFromDir(modelDir)
      try {
        const tok = await loadTokenizer(modelDir)
        const r = await pretrainBaseModel(model, tok, { ...o, corpusLines: lines })
        // Same tensor names and order as the random file, new values.
        const file = join(modelDir, 'model.safetensors')
        const weights = new Map<string, FloatTensorData>()
        for (const [name, t] of await readFloatSafetensors(file)) {
          const v = model.params.get(name)
          weights.set(name, v ? { data: new Float32Array(await v.data()), shape: t.shape } : t)
        }
        await writeFileAtomic(file, encodeModelWeights(weights))
        const files: Record<string, string> = {}
        for (const f of ['model.safetensors', 'tokenizer.json', 'config.json']) {
          files[f] = await sha256FileHex(join(modelDir, f))
        }
        await writeJsonAtomic(join(modelDir, PRETRAIN_MARKER_FILE), {
          ...want,
          corpus:
            preset === 'tiny'
              ? 'WordNet 3.1 glosses (@plora/datasets loadGeneralCorpus)'
              : 'WordNet 3.1 glosses without the legal/medical/science domain synsets, a quarter as Question/Answer, plus arithmetic facts (@plora/datasets loadPretrainingCorpus)',
          rebuild: `plora base-model init --preset ${preset} --seed ${o.seed} --steps ${o.steps} --out <dir> (PLORA_BACKEND=${tf.getBackend()} PLORA_NATIVE_KERNELS=${activeNativeKernels()}; batch ${o.batchSize}, sequence ${o.seqLen}, lr ${o.lr})`,
          backend: tf.getBackend(),
          native_kernels: activeNativeKernels(),
          tokens: r.tokens,
          first_loss: r.firstEpochLoss,
          final_loss: r.lastLoss,
          sha256: files,
        })
      } finally {
        model.dispose()
      }
    }
    await installDirAtomic(modelDir, dir, { replace: true })
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return dir
}
