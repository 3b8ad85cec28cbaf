/**
 * Exact, reversible adapter injection (spec core.md §11.2, fixing `[D-11]`, `[D-11b]`).
 *
 * Merged mode writes `W ← W + s·B·A` (Conv1D: `W ← W + s·(B·A)ᵀ = W + Aᵀ·(s·Bᵀ)`) into the model's
 * variables and keeps the *previous tensor itself* (not a float copy, and never `W − ΔW`, which is
 * not exact in floating point) until the injection is removed, when it is assigned back: every
 * base weight is then bit-identical to what it was. Injections form a stack per model; removing
 * one that is not on top undoes the ones above it, removes it, and re-applies them, so nesting,
 * repetition and any removal order are safe. Nothing is cached on the model beyond the active
 * stack, so a later legitimate weight change is never reverted `[D-11b]`.
 *
 * Un-merged mode ({@link createLoraBranches}) builds the side branches the model's forward adds
 * (`scale · x·Aᵀ·Bᵀ`), for training and for evaluating an adapter without touching the weights.
 */
import { sha256Hex } from '@plora/common'
import { activeNativeKernels, nativeGemm } from '@plora/model'
import type { FactoredDelta, LinearModuleInfo, LoraModule } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'
import { LoaderError, LoaderErrorCode } from './errors.js'
import {
  packLeftColumn,
  packRightRow,
  type RankUpdateKernel,
  rankUpdateKernel,
  rankUpdateSupported,
  unpackLeft,
  unpackRight,
  type WasmMemory,
} from './rank-update-wasm.js'

/** The part of `CausalLM` (from `@plora/model`) that inject/remove needs. */
export interface LoraHost {
  /** Parameters keyed by Hugging Face state-dict names; a linear's weight is `<path>.weight`. */
  readonly params: Map<string, tf.Variable>
  linearModules(): LinearModuleInfo[]
}

/** Something that carries LoRA modules (a loaded adapter). */
export interface LoraModuleSource {
  readonly modules: ReadonlyMap<string, LoraModule>
}

/** One module's update as `left · right` in the *stored* weight orientation. */
interface StoredUpdate {
  path: string
  paramName: string
  rows: number
  cols: number
  rank: number
  /** `[rows, rank]` */
  left: Float32Array
  /** `[rank, cols]` */
  right: Float32Array
  /** `left` / `right` are in the fused kernel's tiled layout ({@link packLeft} / {@link packRight}). */
  packed: boolean
}

interface Entry {
  id: number
  label: string
  updates: StoredUpdate[]
  /** Pre-injection tensors of the touched params, alive while the entry is applied. */
  saved: Map<string, tf.Tensor>
  active: boolean
}

interface HostState {
  stack: Entry[]
}

const STATES = new WeakMap<LoraHost, HostState>()
let nextId = 1

function stateOf(host: LoraHost): HostState {
  let s = STATES.get(host)
  if (s === undefined) {
    s = { stack: [] }
    STATES.set(host, s)
  }
  return s
}

/** A handle on an active injection. */
export interface InjectionHandle extends Disposable {
  readonly id: number
  readonly label: string
  /** Module paths this injection changed. */
  readonly paths: readonly string[]
  /** True until {@link InjectionHandle.remove} is called. */
  readonly active: boolean
  /** Restores the weights this injection changed, bit for bit. Idempotent is *not* allowed: a second call throws. */
  remove(): void
}

/** Options of {@link injectAdapters} / {@link injectDeltas}. */
export interface InjectOptions {
  /** Multiplies every delta (e.g. the line search's α). Default 1. */
  coefficient: number
  /** Label for messages and {@link activeInjections}. */
  label: string
}

const DEFAULT_INJECT_OPTIONS: InjectOptions = { coefficient: 1, label: 'adapter' }

function moduleIndex(host: LoraHost): Map<string, LinearModuleInfo> {
  return new Map(host.linearModules().map((m) => [m.path, m]))
}

/** A LoRA module or a factored delta, reduced to `b·a` with scaling folded into `b`. */
interface GenericFactors {
  path: string
  rank: number
  inFeatures: number
  outFeatures: number
  a: ArrayLike<number>
  b: ArrayLike<number>
  scale: number
}

function toStoredUpdates(host: LoraHost, parts: GenericFactors[], coefficient: number, label: string): StoredUpdate[] {
  const index = moduleIndex(host)
  const byPath = new Map<string, GenericFactors[]>()
  for (const p of parts) byPath.set(p.path, [...(byPath.get(p.path) ?? []), p])
  const updates: StoredUpdate[] = []
  for (const [path, list] of [...byPath.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    const info = index.get(path)
    const paramName = `${path}.weight`
    const param = host.params.get(paramName)
    if (info === undefined || param === undefined) {
      throw new LoaderError(
        LoaderErrorCode.AdapterModelMismatch,
        `${label} targets ${path}, which is not a linear module of this model`,
        {
          path,
          adapter: label,
        },
      )
    }
    for (const f of list) {
      if (f.inFeatures !== info.inFeatures || f.outFeatures !== info.outFeatures) {
        throw new LoaderError(
          LoaderErrorCode.AdapterModelMismatch,
          `${label} has ${path} as ${f.outFeatures}×${f.inFeatures} (out×in) but the model's module is ${info.outFeatures}×${info.inFeatures}`,
          { path, adapter: label, expected: [info.outFeatures, info.inFeatures], found: [f.outFeatures, f.inFeatures] },
        )
      }
    }
    const m = info.outFeatures
    const n = info.inFeatures
    const rank = list.reduce((acc, f) => acc + f.rank, 0)
    // Stored orientation: Linear W is [out, in], ΔW = (s·B)·A; Conv1D W is [in, out], ΔWᵀ = Aᵀ·(s·Bᵀ).
    // Both become one plain 2-D matMul `left · right` (no transposed operand: slow on wasm).
    const rows = info.conv1d ? n : m
    const cols = info.conv1d ? m : n
    const left = new Float32Array(rows * rank)
    const right = new Float32Array(rank * cols)
    // Written straight in the fused kernel's tiled layout when it can take this shape (no second
    // pass to repack on every apply); the tf ops path unpacks.
    const packed = rankUpdateSupported(rows, cols, rank)
    let off = 0
    for (const f of list) {
      const c = f.scale * coefficient
      const r = f.rank
      for (let p = 0; p < r; p++) {
        const k = off + p
        // left[row, k] and right[k, col] for both orientations (see above).
        if (info.conv1d) {
          if (packed) {
            packLeftColumn(left, k, rank, rows, f.a, p * n, 1, 1)
            packRightRow(right, k, rank, cols, f.b, p, r, c)
          } else {
            for (let j = 0; j < n; j++) left[j * rank + k] = f.a[p * n + j]!
            for (let i = 0; i < m; i++) right[k * cols + i] = f.b[i * r + p]! * c
          }
        } else if (packed) {
          packLeftColumn(left, k, rank, rows, f.b, p, r, c)
          packRightRow(right, k, rank, cols, f.a, p * n, 1, 1)
        } else {
          for (let i = 0; i < m; i++) left[i * rank + k] = f.b[i * r + p]! * c
          for (let j = 0; j < n; j++) right[k * cols + j] = f.a[p * n + j]!
        }
      }
      off += r
    }
    const shape = param.shape
    if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) {
      throw new LoaderError(
        LoaderErrorCode.AdapterModelMismatch,
        `${paramName} has shape [${shape.join(', ')}], expected [${rows}, ${cols}] for a ${info.conv1d ? 'Conv1D' : 'Linear'} ${m}×${n} module`,
        { paramName, shape },
      )
    }
    updates.push({ path, paramName, rows, cols, rank, left, right, packed })
  }
  return updates
}

/** The wasm backend's internals that the fused update needs (tfjs-backend-wasm 4.x). */
interface WasmBackendInternals {
  wasm?: { asm?: { memory?: WasmMemory }; HEAPU8?: Uint8Array }
  dataIdMap?: { get(dataId: object): { memoryOffset?: number | null } | undefined }
  makeOutput?(shape: number[], dtype: 'float32'): tf.TensorInfo
  disposeData?(dataId: object): unknown
}

interface FusedPath {
  backend: WasmBackendInternals & Required<Pick<WasmBackendInternals, 'dataIdMap' | 'makeOutput' | 'disposeData'>>
  kernel: RankUpdateKernel
}

/**
 * The fused in-heap update when the active backend is wasm and its heap is reachable; `null`
 * otherwise (any other backend, or another wasm backend build), and the tf ops path is used.
 */
function fusedPath(): FusedPath | null {
  if (tf.getBackend() !== 'wasm') return null
  const backend = tf.backend() as unknown as WasmBackendInternals
  const memory = backend.wasm?.asm?.memory
  if (
    memory === undefined ||
    backend.wasm?.HEAPU8?.buffer !== memory.buffer ||
    backend.dataIdMap === undefined ||
    typeof backend.makeOutput !== 'function' ||
    typeof backend.disposeData !== 'function'
  ) {
    return null
  }
  const kernel = rankUpdateKernel(memory)
  return kernel === null ? null : { backend: backend as FusedPath['backend'], kernel }
}

/** True when injections on the active backend take the fused wasm path (for tests and benchmarks). */
export function fusedInjectionAvailable(): boolean {
  return fusedPath() !== null
}

/**
 * `v + left·right` computed in one pass over the wasm heap (read W, write the result), or `null` to
 * use tf ops. Factors in the wasm kernel's tiled layout go to that kernel; other shapes go to the
 * native GEMM of `@plora/model` when the wasm backend's MatMul runs on it, instead of tf's matMul +
 * add. Where the wasm kernel applies it is kept: a rank-8 update is bound by memory traffic, not
 * arithmetic, and the native kernel measured slower there (12 × c_attn 768×2304: 16.4 against
 * 14.6 ms, AVX-512).
 */
function fusedUpdate(path: FusedPath, v: tf.Variable, u: StoredUpdate): tf.Tensor | null {
  const isa = u.packed ? 'off' : activeNativeKernels()
  if (v.dtype !== 'float32' || (!u.packed && isa === 'off')) return null
  const { backend, kernel } = path
  const offset = (t: { dataId: object }): number | null => {
    const o = backend.dataIdMap.get(t.dataId)?.memoryOffset
    return o === undefined || o === null || o % 4 !== 0 ? null : o
  }
  const l = tf.tensor1d(u.left)
  const r = tf.tensor1d(u.right)
  try {
    const [w, lo, ro] = [offset(v), offset(l), offset(r)]
    if (w === null || lo === null || ro === null) return null
    const out = backend.makeOutput([u.rows, u.cols], 'float32')
    const o = offset(out)
    if (o === null) {
      backend.disposeData(out.dataId)
      return null
    }
    const { rows, cols, rank } = u
    if (u.packed) {
      kernel(o, w, lo, ro, rows, cols, rank)
    } else {
      // Element offsets; the heap is read after makeOutput, which may have grown it.
      const call = {
        batch: 1,
        m: rows,
        n: cols,
        k: rank,
        a: { off: lo / 4, sb: 0, sr: rank, sc: 1 },
        b: { off: ro / 4, sb: 0, sr: cols, sc: 1 },
        cin: { off: w / 4, sb: 0, sr: cols },
        out: { off: o / 4, sb: 0, sr: cols },
      }
      try {
        nativeGemm(backend.wasm!.HEAPU8!.buffer as ArrayBuffer, call, isa)
      } catch (e) {
        backend.disposeData(out.dataId)
        throw e
      }
    }
    return tf.engine().makeTensorFromTensorInfo(out)
  } finally {
    l.dispose()
    r.dispose()
  }
}

function apply(host: LoraHost, entry: Entry): void {
  const fast = fusedPath()
  for (const u of entry.updates) {
    const v = host.params.get(u.paramName)!
    // A same-shape reshape shares the variable's data buffer (ref-counted) on every backend: the exact
    // pre-injection values stay alive in `saved` after `assign` points the variable at the new
    // buffer. (tf.clone would do too, but wasm's Identity copies: 0.5 ms per 768×2304 weight.)
    entry.saved.set(u.paramName, tf.reshape(v, v.shape))
    // On wasm one fused pass (read W, write W + L·R) replaces matMul + add and their intermediate.
    const next =
      (fast === null ? null : fusedUpdate(fast, v, u)) ??
      tf.tidy(() => {
        const l = tf.tensor2d(u.packed ? unpackLeft(u.left, u.rows, u.rank) : u.left, [u.rows, u.rank])
        const r = tf.tensor2d(u.packed ? unpackRight(u.right, u.rank, u.cols) : u.right, [u.rank, u.cols])
        return tf.add(v, tf.matMul(l, r))
      })
    v.assign(next)
    next.dispose()
  }
  entry.active = true
}

function unapply(host: LoraHost, entry: Entry): void {
  // Reverse order, so a module touched twice ends at its earliest saved value.
  for (const u of [...entry.updates].reverse()) {
    const saved = entry.saved.get(u.paramName)
    if (saved === undefined) continue
    host.params.get(u.paramName)!.assign(saved)
    saved.dispose()
    entry.saved.delete(u.paramName)
  }
  entry.active = false
}

function push(host: LoraHost, updates: StoredUpdate[], label: string): InjectionHandle {
  const state = stateOf(host)
  const entry: Entry = { id: nextId++, label, updates, saved: new Map(), active: false }
  apply(host, entry)
  state.stack.push(entry)
  const remove = (): void => removeEntry(host, entry)
  return {
    id: entry.id,
    label,
    paths: updates.map((u) => u.path),
    get active() {
      return entry.active
    },
    remove,
    [Symbol.dispose]: () => {
      if (entry.active) remove()
    },
  }
}

function removeEntry(host: LoraHost, entry: Entry): void {
  const state = stateOf(host)
  const at = state.stack.indexOf(entry)
  if (at < 0 || !entry.active) {
    throw new LoaderError(
      LoaderErrorCode.InjectionStateInvalid,
      `injection #${entry.id} (${entry.label}) is not active on this model: it was already removed`,
      { id: entry.id, label: entry.label },
    )
  }
  // Undo everything above and including `entry` (top first), then re-apply the ones above it.
  const above = state.stack.slice(at + 1)
  for (const e of [...above].reverse()) unapply(host, e)
  unapply(host, entry)
  state.stack.splice(at)
  for (const e of above) {
    apply(host, e)
    state.stack.push(e)
  }
}

function modulesAsFactors(module: LoraModule): GenericFactors {
  return module
}

function deltaAsFactors(delta: FactoredDelta): GenericFactors {
  return { ...delta, scale: 1 }
}

/**
 * Merges one or more adapters into the model's weights (`W ← W + Σ s·B·A`) until the returned
 * handle is removed; removal restores every touched weight bit for bit.
 *
 * @throws LoaderError `LOADER_ADAPTER_MODEL_MISMATCH` when a target is missing or has other dimensions
 *   (nothing is changed then).
 * @example
 * ```ts
 * const handle = injectAdapters(model, [adapter])
 * try { ... } finally { handle.remove() }
 * ```
 */
export function injectAdapters(
  host: LoraHost,
  adapters: readonly LoraModuleSource[],
  options: Partial<InjectOptions> = {},
): InjectionHandle {
  const o = { ...DEFAULT_INJECT_OPTIONS, ...options }
  const parts = adapters.flatMap((a) => [...a.modules.values()].map(modulesAsFactors))
  return push(host, toStoredUpdates(host, parts, o.coefficient, o.label), o.label)
}

/** Like {@link injectAdapters} for merged factored deltas (`W ← W + coefficient·b·a`). */
export function injectDeltas(
  host: LoraHost,
  deltas: Iterable<FactoredDelta>,
  options: Partial<InjectOptions> = {},
): InjectionHandle {
  const o = { ...DEFAULT_INJECT_OPTIONS, label: 'merged delta', ...options }
  const parts = [...deltas].map(deltaAsFactors)
  return push(host, toStoredUpdates(host, parts, o.coefficient, o.label), o.label)
}

/**
 * Runs `fn` with the adapters injected and removes them afterwards, also when `fn` throws.
 */
export async function withInjectedAdapters<T>(
  host: LoraHost,
  adapters: readonly LoraModuleSource[],
  fn: () => Promise<T> | T,
  options: Partial<InjectOptions> = {},
): Promise<T> {
  const handle = injectAdapters(host, adapters, options)
  try {
    return await fn()
  } finally {
    if (handle.active) handle.remove()
  }
}

/** Labels of the injections active on a model, bottom first. */
export function activeInjections(host: LoraHost): string[] {
  return (STATES.get(host)?.stack ?? []).map((e) => `#${e.id} ${e.label}`)
}

/**
 * SHA-256 over every parameter's name, shape and float32 bytes, in name order: equal fingerprints
 * mean bit-identical weights.
 */
export async function baseFingerprint(host: LoraHost): Promise<string> {
  const names = [...host.params.keys()].sort()
  const parts: string[] = []
  for (const name of names) {
    const v = host.params.get(name)!
    const data = await v.data()
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    parts.push(`${name}|${v.dtype}|${v.shape.join('x')}|${sha256Hex(bytes)}`)
  }
  return sha256Hex(parts.join('\n'))
}

/**
 * Asserts that no adapter is injected and, when `expectedFingerprint` is given, that the weights
 * are bit-identical to the fingerprinted state (spec §9, fixing `[D-11]`: the check looks at the
 * weights themselves, not at a marker attribute).
 *
 * @throws LoaderError `LOADER_BASE_NOT_PRISTINE`.
 */
export async function assertPristineBase(
  host: LoraHost,
  options: { expectedFingerprint?: string; where?: string } = {},
): Promise<void> {
  const where = options.where ? ` (${options.where})` : ''
  const active = activeInjections(host)
  if (active.length > 0) {
    throw new LoaderError(
      LoaderErrorCode.BaseNotPristine,
      `model is not pristine${where}: ${active.length} adapter injection(s) active: ${active.join(', ')}`,
      { active },
    )
  }
  if (options.expectedFingerprint !== undefined) {
    const found = await baseFingerprint(host)
    if (found !== options.expectedFingerprint) {
      throw new LoaderError(
        LoaderErrorCode.BaseNotPristine,
        `model is not pristine${where}: weight fingerprint ${found.slice(0, 12)}… differs from the expected ${options.expectedFingerprint.slice(0, 12)}…`,
        { expected: options.expectedFingerprint, found },
      )
    }
  }
}

/** LoRA side branches for `CausalLM.forward({ lora })`, with their tensors' owner. */
export interface LoraBranchSet extends Disposable {
  /** Matches `@plora/model`'s `LoraBranches`. */
  readonly branches: ReadonlyMap<string, { a: tf.Tensor2D; b: tf.Tensor2D; scale: number; dropout?: number }>
  /** Disposes the branch tensors. */
  dispose(): void
}

/**
 * Un-merged adapters as side branches (for training, or to evaluate without touching weights).
 * Several adapters on one module are stacked into one branch (`[B_1 s_1 | B_2 s_2]·[A_1; A_2]`,
 * scale 1). The caller owns the tensors: call `dispose()`.
 */
export function createLoraBranches(
  host: LoraHost,
  adapters: readonly LoraModuleSource[],
  options: { dropout?: number } = {},
): LoraBranchSet {
  const index = moduleIndex(host)
  const byPath = new Map<string, LoraModule[]>()
  for (const a of adapters) for (const m of a.modules.values()) byPath.set(m.path, [...(byPath.get(m.path) ?? []), m])
  const branches = new Map<string, { a: tf.Tensor2D; b: tf.Tensor2D; scale: number; dropout?: number }>()
  for (const [path, list] of byPath) {
    const info = index.get(path)
    if (info === undefined) {
      throw new LoaderError(
        LoaderErrorCode.AdapterModelMismatch,
        `adapter targets ${path}, which is not a linear module of this model`,
        { path },
      )
    }
    for (const m of list) {
      if (m.inFeatures !== info.inFeatures || m.outFeatures !== info.outFeatures) {
        throw new LoaderError(
          LoaderErrorCode.AdapterModelMismatch,
          `adapter has ${path} as ${m.outFeatures}×${m.inFeatures} but the model's module is ${info.outFeatures}×${info.inFeatures}`,
          { path },
        )
      }
    }
    const dropout = options.dropout === undefined ? {} : { dropout: options.dropout }
    if (list.length === 1) {
      const m = list[0]!
      branches.set(path, {
        a: tf.tensor2d(m.a, [m.rank, m.inFeatures]),
        b: tf.tensor2d(m.b, [m.outFeatures, m.rank]),
        scale: m.scale,
        ...dropout,
      })
    } else {
      const rank = list.reduce((acc, m) => acc + m.rank, 0)
      const a = new Float32Array(rank * info.inFeatures)
      const b = new Float32Array(info.outFeatures * rank)
      let off = 0
      for (const m of list) {
        a.set(m.a, off * info.inFeatures)
        for (let i = 0; i < info.outFeatures; i++)
          for (let p = 0; p < m.rank; p++) b[i * rank + off + p] = m.b[i * m.rank + p]! * m.scale
        off += m.rank
      }
      branches.set(path, {
        a: tf.tensor2d(a, [rank, info.inFeatures]),
        b: tf.tensor2d(b, [info.outFeatures, rank]),
        scale: 1,
        ...dropout,
      })
    }
  }
  const dispose = (): void => {
    for (const br of branches.values()) {
      br.a.dispose()
      br.b.dispose()
    }
    branches.clear()
  }
  return { branches, dispose, [Symbol.dispose]: dispose }
}
