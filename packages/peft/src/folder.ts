/**
 * PEFT adapter folders (spec core.md §0.2, §0.3, §11.1): `adapter_config.json` +
 * `adapter_model.safetensors` with keys `base_model.model.<module>.lora_A.weight` (`[r, in]`) and
 * `base_model.model.<module>.lora_B.weight` (`[out, r]`), exactly as PEFT 0.12's
 * `save_pretrained` writes them (adapter name `default` stripped, `__metadata__ = {format: pt}`),
 * so adapters trained by Python PEFT load here and plora's load in PEFT.
 *
 * One rule for every reader (the loader injects, the gate measures; issue 15 points 2, 3, 6):
 * - a tensor key is `base_model.model.<path>.lora_A|lora_B.weight`, or with the un-stripped
 *   default adapter name `.lora_A.default.weight`; any other adapter name, prefix or tensor is
 *   refused, and so is the same factor under both spellings;
 * - every module must be selected by the config's `target_modules` and have the rank its
 *   `rank_pattern` says; factors must be finite, the scaling at most {@link MAX_LORA_SCALE} and
 *   ‖s·B·A‖_F at most {@link MAX_UPDATE_FROBENIUS} (`PEFT_UPDATE_INVALID`);
 * - a folder holds exactly one weights file, `adapter_model.safetensors`: a second one
 *   (`adapter_model.bin`, another `*.safetensors`, a checkpoint) makes the folder refused, so a
 *   gate cannot vet one file while a model runs another.
 */
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isJsonIntegerLiteral, scanJsonText, writeFileAtomic } from '@plora/common'
import { decodeSafetensors, type SafetensorsTensor, toFloat32Array, writeSafetensors } from '@plora/safetensors'
import {
  buildPeftLoraConfig,
  isTargetModule,
  MAX_MODULE_PATH_LENGTH,
  moduleLoraParams,
  type PeftLoraConfig,
  parsePeftLoraConfig,
  serializePeftLoraConfig,
} from './config.js'
import { PeftError, PeftErrorCode } from './errors.js'
import { type FactoredDelta, type LoraModule, updateFrobenius } from './lora-math.js'
import type { LinearModuleInfo } from './targets.js'

/** File names of a PEFT adapter folder. */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json'
/** The adapter weights (the plasmid's artefact): the only weights file a folder may hold. */
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors'
/** Prefix PEFT puts before every module path. */
export const PEFT_KEY_PREFIX = 'base_model.model.'
/** The one adapter name accepted inside tensor keys (PEFT's default, usually stripped). */
export const PEFT_DEFAULT_ADAPTER_NAME = 'default'
/** Largest accepted |LoRA scaling| `s` (PEFT configs in the wild stay below a few hundred). */
export const MAX_LORA_SCALE = 1e4
/** Largest accepted |entry| of a factor. */
export const MAX_FACTOR_ABS = 1e4
/** Largest accepted ‖s·B·A‖_F of one module (far above any trained update, far below float32 overflow). */
export const MAX_UPDATE_FROBENIUS = 1e4
/**
 * Deepest JSON nesting accepted in `adapter_config.json`. PEFT's own fields nest at most 3 deep
 * (`rank_pattern`, `layer_replication`, `loftq_config`); the bound keeps recursive code that walks
 * the value (the serializer, comparisons) from overflowing the stack on a hostile extra field.
 */
export const MAX_PEFT_CONFIG_DEPTH = 32

/**
 * File names that hold model weights in some framework. A folder may hold exactly one of them,
 * {@link ADAPTER_WEIGHTS_FILE}.
 */
export const WEIGHTS_FILE_PATTERN =
  /\.(safetensors|bin|pt|pth|ckpt|pkl|pickle|gguf|ggml|h5|hdf5|msgpack|onnx|npz|npy|joblib|tflite|pb)$/i

/** An adapter loaded into memory. */
export interface LoraAdapter {
  /** The folder it came from (or will be written to); `null` for in-memory adapters. */
  dir: string | null
  config: PeftLoraConfig
  /** LoRA pairs by module path, in path order, each with its PEFT scaling. */
  modules: Map<string, LoraModule>
}

/** The PEFT tensor key of a module's factor. */
export function peftTensorKey(modulePath: string, factor: 'A' | 'B'): string {
  return `${PEFT_KEY_PREFIX}${modulePath}.lora_${factor}.weight`
}

const KEY_RE = /^base_model\.model\.(.+)\.lora_([AB])(\.default)?\.weight$/

/** A parsed LoRA tensor key. */
export interface PeftTensorKey {
  /** Module path without the `base_model.model.` prefix. */
  path: string
  factor: 'A' | 'B'
  /** True for the `.lora_A.default.weight` spelling. */
  named: boolean
}

/**
 * Parses a tensor key by the one rule of this package; null when it is not a LoRA factor of the
 * default adapter (another adapter name, no `base_model.model.` prefix, biases, `modules_to_save`).
 */
export function parsePeftTensorKey(key: string): PeftTensorKey | null {
  const m = KEY_RE.exec(key)
  if (m === null) return null
  const path = m[1]!
  // `.lora_A.evil.weight` would parse as module `<path>.lora_A` … only if the path itself holds a
  // `lora_` segment: refuse those too.
  if (/(^|\.)lora_[AB](\.|$)/.test(path) || path.split('.').some((s) => s === '')) return null
  return { path, factor: m[2] as 'A' | 'B', named: m[3] !== undefined }
}

function tensorsInvalid(where: string, message: string, details: Record<string, unknown> = {}): PeftError {
  return new PeftError(PeftErrorCode.TensorsInvalid, `${where}: ${message}`, { where, ...details })
}

function updateInvalid(where: string, message: string, details: Record<string, unknown> = {}): PeftError {
  return new PeftError(PeftErrorCode.UpdateInvalid, `${where}: ${message}`, { where, ...details })
}

/** Shape-level description of one LoRA pair (from the safetensors header, before any decoding). */
export interface LoraPairShape {
  path: string
  rank: number
  inFeatures: number
  outFeatures: number
  /** Tensor keys of A and B. */
  keyA: string
  keyB: string
}

/**
 * Pairs the tensors of an adapter by the key rule and checks their shapes against the config
 * (rank per module, `target_modules`), without touching tensor data: cheap enough to run on a
 * header before anything else (what the gate does first, issue 15 point 7).
 *
 * @throws PeftError `PEFT_TENSORS_INVALID`, or `PEFT_CONFIG_INVALID` for ambiguous patterns.
 */
export function pairLoraTensors(
  config: PeftLoraConfig,
  shapes: ReadonlyMap<string, { shape: readonly number[] }>,
  where = ADAPTER_WEIGHTS_FILE,
): LoraPairShape[] {
  const pairs = new Map<string, { a?: string; b?: string }>()
  for (const key of shapes.keys()) {
    const parsed = parsePeftTensorKey(key)
    if (parsed === null) {
      throw tensorsInvalid(
        where,
        `tensor "${key}" is not a LoRA factor of the default adapter (expected ${PEFT_KEY_PREFIX}<module>.lora_A|lora_B[.default].weight); other adapter names, modules_to_save and trained biases are not supported`,
        { key },
      )
    }
    if (parsed.path.length > MAX_MODULE_PATH_LENGTH) {
      throw tensorsInvalid(
        where,
        `tensor "${key.slice(0, 80)}…" has a module path over ${MAX_MODULE_PATH_LENGTH} characters`,
      )
    }
    const entry = pairs.get(parsed.path) ?? {}
    const slot = parsed.factor === 'A' ? 'a' : 'b'
    if (entry[slot] !== undefined) {
      throw tensorsInvalid(
        where,
        `module ${parsed.path} has lora_${parsed.factor} twice ("${entry[slot]}" and "${key}")`,
        {
          path: parsed.path,
        },
      )
    }
    entry[slot] = key
    pairs.set(parsed.path, entry)
  }
  const out: LoraPairShape[] = []
  for (const path of [...pairs.keys()].sort()) {
    const { a, b } = pairs.get(path)!
    if (a === undefined || b === undefined) {
      throw tensorsInvalid(
        where,
        `module ${path} has lora_${a === undefined ? 'B' : 'A'} but no lora_${a === undefined ? 'A' : 'B'}`,
        { path },
      )
    }
    const sa = shapes.get(a)!.shape
    const sb = shapes.get(b)!.shape
    if (sa.length !== 2 || sb.length !== 2) {
      throw tensorsInvalid(
        where,
        `module ${path}: lora_A/lora_B must be 2-D, found [${sa.join(', ')}] and [${sb.join(', ')}]`,
        { path },
      )
    }
    const [ra, inFeatures] = sa as [number, number]
    const [outFeatures, rb] = sb as [number, number]
    if (!isTargetModule(config, path)) {
      throw tensorsInvalid(
        where,
        `module ${path} is not selected by target_modules ${JSON.stringify(config.target_modules)} (PEFT would ignore its tensors)`,
        { path },
      )
    }
    const { rank: r } = moduleLoraParams(config, path)
    if (ra !== rb || ra !== r || inFeatures < 1 || outFeatures < 1) {
      throw tensorsInvalid(
        where,
        `module ${path}: rank mismatch, lora_A is [${ra}, ${inFeatures}], lora_B is [${outFeatures}, ${rb}], config r = ${r}`,
        { path },
      )
    }
    out.push({ path, rank: r, inFeatures, outFeatures, keyA: a, keyB: b })
  }
  if (out.length === 0) throw tensorsInvalid(where, 'the file holds no LoRA tensors')
  return out
}

function maxAbs(x: Float32Array): number {
  let m = 0
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]!)
    if (!(v <= m)) m = v // NaN propagates (NaN <= m is false)
  }
  return m
}

/**
 * Refuses a module whose update is not a sane finite number: NaN/Inf or huge factor entries, a
 * scaling beyond {@link MAX_LORA_SCALE}, or ‖s·B·A‖_F beyond {@link MAX_UPDATE_FROBENIUS}
 * (computed in float64; the cheap bound |s|·‖A‖_F·‖B‖_F first, the exact norm only above it).
 *
 * @throws PeftError `PEFT_UPDATE_INVALID`
 */
export function assertUpdateSane(module: LoraModule, where = ADAPTER_WEIGHTS_FILE): void {
  const { path, scale } = module
  if (!Number.isFinite(scale) || Math.abs(scale) > MAX_LORA_SCALE) {
    throw updateInvalid(where, `module ${path}: LoRA scaling ${scale} is not finite or exceeds ${MAX_LORA_SCALE}`, {
      path,
      scale,
    })
  }
  const ma = maxAbs(module.a)
  const mb = maxAbs(module.b)
  if (!Number.isFinite(ma) || !Number.isFinite(mb)) {
    throw updateInvalid(where, `module ${path}: lora_A or lora_B contains NaN or infinite values`, { path })
  }
  if (ma > MAX_FACTOR_ABS || mb > MAX_FACTOR_ABS) {
    throw updateInvalid(
      where,
      `module ${path}: a factor entry of magnitude ${Math.max(ma, mb)} exceeds ${MAX_FACTOR_ABS}`,
      {
        path,
      },
    )
  }
  // |s|·‖A‖_F·‖B‖_F ≥ ‖s·B·A‖_F costs O(r·(in+out)); the exact norm is needed only above the limit.
  let na = 0
  for (let i = 0; i < module.a.length; i++) na += module.a[i]! * module.a[i]!
  let nb = 0
  for (let i = 0; i < module.b.length; i++) nb += module.b[i]! * module.b[i]!
  if (Math.abs(scale) * Math.sqrt(na) * Math.sqrt(nb) <= MAX_UPDATE_FROBENIUS) return
  const fro = updateFrobenius(module)
  if (!Number.isFinite(fro) || fro > MAX_UPDATE_FROBENIUS) {
    throw updateInvalid(where, `module ${path}: ‖s·B·A‖_F = ${fro} exceeds ${MAX_UPDATE_FROBENIUS}`, {
      path,
      frobenius: fro,
    })
  }
}

/**
 * Builds the LoRA modules of an adapter from its config and decoded tensors, by the rules of
 * {@link pairLoraTensors} and {@link assertUpdateSane}.
 *
 * @throws PeftError `PEFT_TENSORS_INVALID`, `PEFT_UPDATE_INVALID`, `PEFT_CONFIG_INVALID`.
 */
export function loraModulesFromTensors(
  config: PeftLoraConfig,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  where = ADAPTER_WEIGHTS_FILE,
): Map<string, LoraModule> {
  const modules = new Map<string, LoraModule>()
  for (const p of pairLoraTensors(config, tensors, where)) {
    let a: Float32Array
    let b: Float32Array
    try {
      a = toFloat32Array(tensors.get(p.keyA)!)
      b = toFloat32Array(tensors.get(p.keyB)!)
    } catch (e) {
      throw tensorsInvalid(where, `module ${p.path}: factors are not numeric (${(e as Error).message})`, {
        path: p.path,
      })
    }
    const m: LoraModule = {
      path: p.path,
      rank: p.rank,
      inFeatures: p.inFeatures,
      outFeatures: p.outFeatures,
      a,
      b,
      scale: moduleLoraParams(config, p.path).scale,
    }
    assertUpdateSane(m, where)
    modules.set(p.path, m)
  }
  return modules
}

/**
 * Parses `adapter_config.json` text.
 * @throws PeftError `PEFT_CONFIG_INVALID`
 */
export function parsePeftConfigText(text: string, where = ADAPTER_CONFIG_FILE): PeftLoraConfig {
  // Bound the nesting before anything walks the value recursively (an extra field nested 100,000
  // deep parses, then overflows the stack of the serializer).
  const { tooDeepAt } = scanJsonText(text, { maxDepth: MAX_PEFT_CONFIG_DEPTH })
  if (tooDeepAt !== null) {
    throw new PeftError(
      PeftErrorCode.ConfigInvalid,
      `${where} nests deeper than ${MAX_PEFT_CONFIG_DEPTH} levels (at character ${tooDeepAt})`,
      { where, offset: tooDeepAt },
    )
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new PeftError(
      PeftErrorCode.ConfigInvalid,
      `${where} is not valid JSON: ${(e as Error).message}`,
      { where },
      {
        cause: e,
      },
    )
  }
  // PEFT reads the file with Python's json: `"r": 4.0` is a float there (torch refuses a float
  // rank) although JSON.parse gives 4. Integer fields must be spelled as integers.
  let literal: { text: string; field: string } | null = null
  scanJsonText(text, {
    onNumber: (lit, path) => {
      if (literal !== null || isJsonIntegerLiteral(lit)) return
      if ((path.length === 1 && path[0] === 'r') || (path.length === 2 && path[0] === 'rank_pattern'))
        literal = { text: lit, field: path.map(String).join('.') }
    },
  })
  const found = literal as { text: string; field: string } | null
  if (found !== null) {
    throw new PeftError(
      PeftErrorCode.ConfigInvalid,
      `${where}: ${found.field}: expected an integer literal, found ${found.text} (Python reads a float; PEFT/torch refuse it)`,
      { where, field: found.field, literal: found.text },
    )
  }
  return parsePeftLoraConfig(raw, where)
}

/**
 * Decodes `adapter_config.json` bytes as Python does (strict UTF-8, a byte-order mark is not
 * skipped: `json.load` raises on both) and parses them.
 * @throws PeftError `PEFT_CONFIG_INVALID`
 */
export function parsePeftConfigBytes(bytes: Uint8Array, where = ADAPTER_CONFIG_FILE): PeftLoraConfig {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch (e) {
    throw new PeftError(
      PeftErrorCode.ConfigInvalid,
      `${where} is not UTF-8 text (invalid byte sequence)`,
      { where },
      { cause: e },
    )
  }
  return parsePeftConfigText(text, where)
}

/**
 * Decodes `adapter_model.safetensors` bytes into LoRA modules (the gate reads the bytes once,
 * hashes them and hands the same bytes here).
 * @throws PeftError `PEFT_TENSORS_INVALID`, `PEFT_UPDATE_INVALID`, `PEFT_CONFIG_INVALID`.
 */
export function decodePeftWeights(
  config: PeftLoraConfig,
  bytes: Uint8Array,
  where = ADAPTER_WEIGHTS_FILE,
): Map<string, LoraModule> {
  let tensors: ReadonlyMap<string, SafetensorsTensor>
  try {
    tensors = decodeSafetensors(bytes, where).tensors
  } catch (e) {
    throw new PeftError(
      PeftErrorCode.TensorsInvalid,
      `${where} is not a readable safetensors file: ${(e as Error).message}`,
      { where },
      { cause: e },
    )
  }
  return loraModulesFromTensors(config, tensors, where)
}

/**
 * Side files with a weights-like name that an adapter folder may hold because nothing loads them
 * into a model: the merge's Fisher diagonal (spec core.md §11.4, read only for a scalar weight).
 */
export const ADAPTER_SIDECAR_FILES: readonly string[] = ['fisher_diag.safetensors']

/**
 * The weights files of a folder other than {@link ADAPTER_WEIGHTS_FILE} (by {@link WEIGHTS_FILE_PATTERN}),
 * ignoring {@link ADAPTER_SIDECAR_FILES}.
 */
export function unexpectedWeightFiles(names: Iterable<string>): string[] {
  return [...names]
    .filter((n) => n !== ADAPTER_WEIGHTS_FILE && !ADAPTER_SIDECAR_FILES.includes(n) && WEIGHTS_FILE_PATTERN.test(n))
    .sort()
}

/** @throws PeftError `PEFT_FOLDER_INVALID` when `names` hold a weights file besides {@link ADAPTER_WEIGHTS_FILE}. */
function assertOneWeightsFile(dir: string, names: Iterable<string>): void {
  const extra = unexpectedWeightFiles(names)
  if (extra.length > 0) {
    throw new PeftError(
      PeftErrorCode.FolderInvalid,
      `${dir} holds weights files besides ${ADAPTER_WEIGHTS_FILE}: ${extra.join(', ')} (an adapter folder has exactly one)`,
      { dir, extra },
    )
  }
}

/**
 * Checks which files make up the adapter folder: `adapter_config.json` and
 * `adapter_model.safetensors` are regular files, and no second weights file is present (other
 * files — `plora.yml`, `README.md`, signatures, attestations — are the caller's business).
 *
 * @throws PeftError `PEFT_ADAPTER_NOT_FOUND` (no folder, config or weights), `PEFT_FOLDER_INVALID`.
 */
export async function checkAdapterFolderFiles(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (e) {
    throw new PeftError(
      PeftErrorCode.AdapterNotFound,
      `no PEFT adapter in ${dir}: cannot list the folder`,
      { dir },
      {
        cause: e,
      },
    )
  }
  assertOneWeightsFile(dir, names)
  for (const name of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) {
    if (!names.includes(name)) {
      throw new PeftError(PeftErrorCode.AdapterNotFound, `no PEFT adapter in ${dir}: ${name} is missing`, { dir, name })
    }
    const st = await lstat(join(dir, name))
    if (!st.isFile()) {
      throw new PeftError(PeftErrorCode.FolderInvalid, `${join(dir, name)} is not a regular file`, { dir, name })
    }
  }
}

/**
 * What `plora verify` (and anyone who checks a signed artefact before loading) must hold: the
 * manifest's artefact is the file the loader reads ({@link ADAPTER_WEIGHTS_FILE}) and the folder
 * holds no second weights file ({@link unexpectedWeightFiles}). Otherwise a verifier would vouch
 * for one file while the model runs another (issue 15 point 3). The rest of the folder is
 * {@link checkAdapterFolderFiles}' business, at load time.
 *
 * @throws PeftError `PEFT_FOLDER_INVALID`, `PEFT_ADAPTER_NOT_FOUND` (the folder cannot be listed).
 */
export async function assertArtefactIsLoaded(dir: string, artefactFilename: string): Promise<void> {
  if (artefactFilename !== ADAPTER_WEIGHTS_FILE) {
    throw new PeftError(
      PeftErrorCode.FolderInvalid,
      `${dir}: the manifest names "${artefactFilename}" as the artefact, but the loader reads ${ADAPTER_WEIGHTS_FILE}`,
      { dir, expected: ADAPTER_WEIGHTS_FILE, found: artefactFilename },
    )
  }
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (e) {
    throw new PeftError(PeftErrorCode.AdapterNotFound, `cannot list the adapter folder ${dir}`, { dir }, { cause: e })
  }
  assertOneWeightsFile(dir, names)
}

/**
 * Loads a PEFT LoRA adapter folder.
 *
 * @throws PeftError `PEFT_ADAPTER_NOT_FOUND`, `PEFT_FOLDER_INVALID`, `PEFT_CONFIG_INVALID`,
 *   `PEFT_TENSORS_INVALID`, `PEFT_UPDATE_INVALID`.
 * @example
 * ```ts
 * const adapter = await loadPeftAdapter('out/legal')
 * const handle = injectAdapters(model, [adapter])
 * ```
 */
export async function loadPeftAdapter(dir: string): Promise<LoraAdapter> {
  await checkAdapterFolderFiles(dir)
  const configPath = join(dir, ADAPTER_CONFIG_FILE)
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE)
  const config = parsePeftConfigBytes(new Uint8Array(await readFile(configPath)), configPath)
  const bytes = new Uint8Array(await readFile(weightsPath))
  return { dir, config, modules: decodePeftWeights(config, bytes, weightsPath) }
}

/**
 * Checks an adapter against a model's linear modules: every target exists with the same
 * dimensions. (Which weight layout applies comes from the module type, as in PEFT.)
 *
 * @throws PeftError `PEFT_ADAPTER_MODEL_MISMATCH`.
 */
export function checkAdapterFitsModel(adapter: LoraAdapter, modules: readonly LinearModuleInfo[]): void {
  const index = new Map(modules.map((m) => [m.path, m]))
  const name = adapter.dir ?? 'adapter'
  for (const m of adapter.modules.values()) {
    const info = index.get(m.path)
    if (info === undefined) {
      throw new PeftError(
        PeftErrorCode.AdapterModelMismatch,
        `${name} targets ${m.path}, which is not a linear module of this model`,
        { path: m.path },
      )
    }
    if (info.inFeatures !== m.inFeatures || info.outFeatures !== m.outFeatures) {
      throw new PeftError(
        PeftErrorCode.AdapterModelMismatch,
        `${name}: ${m.path} is ${m.outFeatures}×${m.inFeatures} (out×in) in the adapter but ${info.outFeatures}×${info.inFeatures} in the model`,
        { path: m.path },
      )
    }
    // fan_in_fan_out is not checked: PEFT itself overrides it per module type (true for GPT-2
    // Conv1D, false for Linear, with a warning), and the factors' shapes do not depend on it.
  }
}

/**
 * Writes an adapter as a PEFT folder: `adapter_model.safetensors` (F32, PEFT key names,
 * `{format: pt}` metadata) and `adapter_config.json` (PEFT's sorted keys), each atomically.
 * The weights are written first, so a folder with a config always has its weights.
 */
export async function writePeftAdapter(dir: string, adapter: Pick<LoraAdapter, 'config' | 'modules'>): Promise<void> {
  const tensors: Array<[string, { dtype: 'F32'; shape: number[]; data: Float32Array }]> = []
  for (const m of adapter.modules.values()) {
    tensors.push([peftTensorKey(m.path, 'A'), { dtype: 'F32', shape: [m.rank, m.inFeatures], data: m.a }])
    tensors.push([peftTensorKey(m.path, 'B'), { dtype: 'F32', shape: [m.outFeatures, m.rank], data: m.b }])
  }
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt' })
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), serializePeftLoraConfig(adapter.config))
}

/** Options of {@link adapterFromDeltas}. */
export interface AdapterFromDeltasOptions {
  baseModelNameOrPath: string | null
  fanInFanOut: boolean
  /** PEFT `target_modules`; default: the leaf names of the delta paths. */
  targetModules?: readonly string[]
}

/**
 * Turns merged factored deltas into a PEFT adapter with one rank `r` = the largest delta rank
 * (smaller deltas padded with zero factors, which adds nothing) and `lora_alpha = r`, so `s = 1`
 * and `ΔW = B·A` exactly as the deltas say.
 */
export function adapterFromDeltas(
  deltas: ReadonlyMap<string, FactoredDelta>,
  options: AdapterFromDeltasOptions,
): LoraAdapter {
  const list = [...deltas.values()].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))
  if (list.length === 0) {
    throw new PeftError(
      PeftErrorCode.DeltasEmpty,
      'cannot write an adapter without modules (the merge produced no delta)',
      {},
    )
  }
  const r = Math.max(...list.map((d) => d.rank))
  const modules = new Map<string, LoraModule>()
  for (const d of list) {
    const a = new Float32Array(r * d.inFeatures)
    a.set(d.a)
    const b = new Float32Array(d.outFeatures * r)
    for (let i = 0; i < d.outFeatures; i++) for (let p = 0; p < d.rank; p++) b[i * r + p] = d.b[i * d.rank + p]!
    modules.set(d.path, { path: d.path, rank: r, inFeatures: d.inFeatures, outFeatures: d.outFeatures, a, b, scale: 1 })
  }
  const targets =
    options.targetModules ?? [...new Set(list.map((d) => d.path.slice(d.path.lastIndexOf('.') + 1)))].sort()
  const config = buildPeftLoraConfig({
    r,
    loraAlpha: r,
    targetModules: targets,
    fanInFanOut: options.fanInFanOut,
    baseModelNameOrPath: options.baseModelNameOrPath,
  })
  return { dir: null, config, modules }
}
