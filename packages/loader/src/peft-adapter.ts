/**
 * PEFT adapter folders (spec core.md §0.2, §0.3, §11.1): `adapter_config.json` +
 * `adapter_model.safetensors` with keys `base_model.model.<module>.lora_A.weight` (`[r, in]`) and
 * `base_model.model.<module>.lora_B.weight` (`[out, r]`), exactly as PEFT 0.12's
 * `save_pretrained` writes them (adapter name `default` stripped, `__metadata__ = {format: pt}`),
 * so adapters trained by Python PEFT load here and plora's load in PEFT.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '@plora/common'
import { readSafetensors, type SafetensorsTensor, toFloat32Array, writeSafetensors } from '@plora/safetensors'
import {
  buildPeftLoraConfig,
  moduleRank,
  moduleScale,
  type PeftLoraConfig,
  parsePeftLoraConfig,
  serializePeftLoraConfig,
} from './adapter-config.js'
import { LoaderError, LoaderErrorCode } from './errors.js'
import type { FactoredDelta, LoraModule } from './lora-math.js'
import type { LinearModuleInfo } from './targets.js'

/** File names of a PEFT adapter folder. */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json'
/** The adapter weights (the plasmid's artefact). */
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors'
/** Prefix PEFT puts before every module path. */
export const PEFT_KEY_PREFIX = 'base_model.model.'

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

// `<prefix><path>.lora_A.weight`, also accepting the un-stripped adapter name (`.lora_A.default.weight`).
const KEY_RE = /^(.*)\.lora_([AB])(?:\.[A-Za-z0-9_-]+)?\.weight$/

function tensorsInvalid(where: string, message: string, details: Record<string, unknown> = {}): LoaderError {
  return new LoaderError(LoaderErrorCode.AdapterTensorsInvalid, `${where}: ${message}`, { where, ...details })
}

/**
 * Builds the LoRA modules of an adapter from its config and decoded tensors.
 *
 * @throws LoaderError `LOADER_ADAPTER_TENSORS_INVALID` for non-LoRA keys, unpaired A/B, non-2-D
 *   tensors, or ranks that disagree between A, B and the config.
 */
export function loraModulesFromTensors(
  config: PeftLoraConfig,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  where = ADAPTER_WEIGHTS_FILE,
): Map<string, LoraModule> {
  const pairs = new Map<string, { a?: SafetensorsTensor; b?: SafetensorsTensor }>()
  for (const [key, t] of tensors) {
    const match = KEY_RE.exec(key)
    if (match === null) {
      throw tensorsInvalid(
        where,
        `tensor "${key}" is not a LoRA factor (expected ${PEFT_KEY_PREFIX}<module>.lora_A|lora_B.weight); modules_to_save and trained biases are not supported`,
        { key },
      )
    }
    const path = match[1]!.startsWith(PEFT_KEY_PREFIX) ? match[1]!.slice(PEFT_KEY_PREFIX.length) : match[1]!
    const entry = pairs.get(path) ?? {}
    if (match[2] === 'A') entry.a = t
    else entry.b = t
    pairs.set(path, entry)
  }
  const modules = new Map<string, LoraModule>()
  for (const path of [...pairs.keys()].sort()) {
    const { a, b } = pairs.get(path)!
    if (a === undefined || b === undefined) {
      throw tensorsInvalid(
        where,
        `module ${path} has lora_${a === undefined ? 'B' : 'A'} but no lora_${a === undefined ? 'A' : 'B'}`,
        { path },
      )
    }
    if (a.shape.length !== 2 || b.shape.length !== 2) {
      throw tensorsInvalid(
        where,
        `module ${path}: lora_A/lora_B must be 2-D, found [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
        { path },
      )
    }
    const [ra, inFeatures] = a.shape as [number, number]
    const [outFeatures, rb] = b.shape as [number, number]
    const r = moduleRank(config, path)
    if (ra !== rb || ra !== r) {
      throw tensorsInvalid(
        where,
        `module ${path}: rank mismatch, lora_A is [${ra}, ${inFeatures}], lora_B is [${outFeatures}, ${rb}], config r = ${r}`,
        {
          path,
        },
      )
    }
    modules.set(path, {
      path,
      rank: r,
      inFeatures,
      outFeatures,
      a: toFloat32Array(a),
      b: toFloat32Array(b),
      scale: moduleScale(config, path),
    })
  }
  if (modules.size === 0) throw tensorsInvalid(where, 'the file holds no LoRA tensors')
  return modules
}

/**
 * Loads a PEFT LoRA adapter folder.
 *
 * @throws LoaderError `LOADER_ADAPTER_NOT_FOUND`, `LOADER_ADAPTER_CONFIG_INVALID`, `LOADER_ADAPTER_TENSORS_INVALID`.
 * @example
 * ```ts
 * const adapter = await loadPeftAdapter('out/legal')
 * const handle = injectAdapters(model, [adapter])
 * ```
 */
export async function loadPeftAdapter(dir: string): Promise<LoraAdapter> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE)
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE)
  let configText: string
  try {
    configText = await readFile(configPath, 'utf8')
  } catch (e) {
    throw new LoaderError(
      LoaderErrorCode.AdapterNotFound,
      `no PEFT adapter in ${dir}: cannot read ${ADAPTER_CONFIG_FILE}`,
      { dir },
      { cause: e },
    )
  }
  let raw: unknown
  try {
    raw = JSON.parse(configText)
  } catch (e) {
    throw new LoaderError(
      LoaderErrorCode.AdapterConfigInvalid,
      `${configPath} is not valid JSON: ${(e as Error).message}`,
      { path: configPath },
      { cause: e },
    )
  }
  const config = parsePeftLoraConfig(raw, configPath)
  try {
    await stat(weightsPath)
  } catch (e) {
    throw new LoaderError(
      LoaderErrorCode.AdapterNotFound,
      `no adapter weights in ${dir}: ${ADAPTER_WEIGHTS_FILE} is missing`,
      { dir },
      { cause: e },
    )
  }
  let contents: Awaited<ReturnType<typeof readSafetensors>>
  try {
    contents = await readSafetensors(weightsPath)
  } catch (e) {
    throw new LoaderError(
      LoaderErrorCode.AdapterTensorsInvalid,
      `${weightsPath} is not a readable safetensors file: ${(e as Error).message}`,
      { path: weightsPath },
      { cause: e },
    )
  }
  return { dir, config, modules: loraModulesFromTensors(config, contents.tensors, weightsPath) }
}

/**
 * Checks an adapter against a model's linear modules: every target exists with the same
 * dimensions. (Which weight layout applies comes from the module type, as in PEFT.)
 *
 * @throws LoaderError `LOADER_ADAPTER_MODEL_MISMATCH`.
 */
export function checkAdapterFitsModel(adapter: LoraAdapter, modules: readonly LinearModuleInfo[]): void {
  const index = new Map(modules.map((m) => [m.path, m]))
  const name = adapter.dir ?? 'adapter'
  for (const m of adapter.modules.values()) {
    const info = index.get(m.path)
    if (info === undefined) {
      throw new LoaderError(
        LoaderErrorCode.AdapterModelMismatch,
        `${name} targets ${m.path}, which is not a linear module of this model`,
        { path: m.path },
      )
    }
    if (info.inFeatures !== m.inFeatures || info.outFeatures !== m.outFeatures) {
      throw new LoaderError(
        LoaderErrorCode.AdapterModelMismatch,
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
    throw new LoaderError(
      LoaderErrorCode.MergeOptionsInvalid,
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
