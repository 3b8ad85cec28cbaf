/**
 * Native GEMM for the WebAssembly backend (issue 21).
 *
 * TensorFlow.js' wasm backend multiplies matrices with XNNPACK compiled to 128-bit WebAssembly SIMD
 * without fused multiply-add: 25–35 GFLOP/s on a core whose native AVX-512 FMA does 150+. The
 * optional Node-API addon in `packages/model/native/` (built by `scripts/build-native.mjs` during
 * `make setup` / `pnpm run build` when a C compiler and Node's headers are present) carries one
 * packed, register-tiled GEMM compiled for AVX-512, AVX2+FMA and the baseline ISA, picked at run
 * time by what the CPU supports. {@link installNativeMatMul} replaces the wasm backend's
 * `BatchMatMul` and `_FusedMatMul` kernels with ones that hand the operands, where they lie in the
 * wasm heap, to that GEMM: no copies, the same tensors, the same autograd (gradients are backend
 * independent and call these kernels too). Cases the GEMM does not cover (non-float32, fused
 * activations other than linear, PReLU weights, general batch broadcasting) go to the original
 * kernel.
 *
 * Without the addon (no compiler at install, Windows, `PLORA_NATIVE_KERNELS=off`) nothing changes:
 * the wasm kernels run as before. Results of the two paths agree to float32 rounding, not bit for
 * bit (different summation order and FMA); each path is deterministic on its own, and worker
 * threads use the main thread's choice ({@link activeNativeKernels}).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import { ModelError, ModelErrorCode } from './errors.js'

/** Values of the native-kernel choice (`PLORA_NATIVE_KERNELS` at the CLI layer). */
export const NATIVE_KERNEL_CHOICES = ['auto', 'off', 'avx512', 'avx2', 'generic'] as const
export type NativeKernelChoice = (typeof NATIVE_KERNEL_CHOICES)[number]

/** The addon's exports (native/plora_kernels.c). */
interface NativeAddon {
  isas(): string[]
  gemm(heap: ArrayBuffer, isa: string, alpha: number, ...dims: number[]): void
}

/** Where the build script puts the addon, relative to this file (the same from `src/` and `dist/`). */
export function nativeAddonPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'build', 'plora_kernels.node')
}

/**
 * Loads the addon at `path`: its instruction sets, or why it cannot be used (missing, not a
 * loadable module, wrong exports). Exported for tests; plora itself loads {@link nativeAddonPath}.
 */
export function probeNativeAddon(path: string): { addon: NativeAddon | null; reason: string } {
  if (!existsSync(path)) {
    return {
      addon: null,
      reason: `not built (${path} is missing: run make setup with a C compiler, see README "Native kernels")`,
    }
  }
  try {
    const loaded = createRequire(import.meta.url)(path) as NativeAddon
    if (typeof loaded.gemm !== 'function' || typeof loaded.isas !== 'function') throw new Error('exports missing')
    return { addon: loaded, reason: '' }
  } catch (e) {
    return { addon: null, reason: `failed to load ${path}: ${(e as Error).message}` }
  }
}

let addon: NativeAddon | null | undefined
let addonReason = ''

function loadAddon(): NativeAddon | null {
  if (addon === undefined) ({ addon, reason: addonReason } = probeNativeAddon(nativeAddonPath()))
  return addon
}

/** What the native kernels can do here: the addon's instruction sets (best first), or why there are none. */
export function nativeKernelsInfo(): { available: boolean; isas: string[]; reason: string } {
  const a = loadAddon()
  return a === null
    ? { available: false, isas: [], reason: addonReason }
    : { available: true, isas: a.isas(), reason: '' }
}

/** The wasm backend's internals the kernels use (tfjs-backend-wasm 4.x). */
interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array }
  dataIdMap: { get(dataId: object): { memoryOffset?: number | null } | undefined }
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo
  disposeData(dataId: object): unknown
}

/** A tensor's first element as a float32 index into the wasm heap, or null where it has none. */
function elementOffset(backend: WasmBackendInternals, t: tf.TensorInfo): number | null {
  const o = backend.dataIdMap.get(t.dataId)?.memoryOffset
  return o === undefined || o === null || o % 4 !== 0 ? null : o / 4
}

/** One GEMM on a heap, `out = cin + alpha·A·B`: operands as element offsets and (batch, row, column) strides. */
export interface GemmCall {
  batch: number
  m: number
  n: number
  k: number
  a: { off: number; sb: number; sr: number; sc: number }
  b: { off: number; sb: number; sr: number; sc: number }
  /** Addend (bias row: `sr = 0, sb = 0`; an existing matrix: its strides); absent = 0. */
  cin?: { off: number; sb: number; sr: number }
  out: { off: number; sb: number; sr: number }
  /** Scale of the product (`out = cin + alpha·A·B`); default 1. */
  alpha?: number
}

/**
 * Runs `out = cin + alpha·A·B` on `heap` with the addon (the ISA named, or the best one). Throws a
 * {@link ModelError} `MODEL_BACKEND_UNAVAILABLE` when there is no addon or ISA, `MODEL_INPUT_INVALID`
 * when an operand would reach outside the heap (the addon checks every bound before it touches memory).
 */
export function nativeGemm(heap: ArrayBuffer, call: GemmCall, isa = 'auto'): void {
  const a = loadAddon()
  if (a === null) {
    throw new ModelError(ModelErrorCode.BackendUnavailable, `native kernels unavailable: ${addonReason}`, {})
  }
  const c = call.cin ?? { off: -1, sb: 0, sr: 0 }
  try {
    a.gemm(
      heap,
      isa,
      call.alpha ?? 1,
      call.batch,
      call.m,
      call.n,
      call.k,
      call.a.off,
      call.a.sb,
      call.a.sr,
      call.a.sc,
      call.b.off,
      call.b.sb,
      call.b.sr,
      call.b.sc,
      c.off,
      c.sb,
      c.sr,
      call.out.off,
      call.out.sb,
      call.out.sr,
    )
  } catch (e) {
    const code = (e as { code?: string }).code
    throw new ModelError(
      code === 'PLORA_NATIVE_ISA' ? ModelErrorCode.BackendUnavailable : ModelErrorCode.InputInvalid,
      `native GEMM (${isa}, batch ${call.batch}, ${call.m}×${call.k}·${call.k}×${call.n}) rejected its arguments: ${(e as Error).message}`,
      { code, isa },
    )
  }
}

let active: { isa: string } | null = null

/** The instruction set the wasm backend's MatMul kernels use in this thread, or `off`. */
export function activeNativeKernels(): string {
  return active?.isa ?? 'off'
}

interface MatMulPlan {
  batch: number
  m: number
  n: number
  k: number
  outShape: number[]
  aSb: number
  bSb: number
}

/** Shapes of a (possibly batched, possibly transposed) matMul, or null where the GEMM does not apply. */
export function planMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulPlan | null {
  const ra = aShape.length
  const rb = bShape.length
  if (ra < 2 || rb < 2) return null
  const [a0, a1] = [aShape[ra - 2]!, aShape[ra - 1]!]
  const [b0, b1] = [bShape[rb - 2]!, bShape[rb - 1]!]
  const m = transposeA ? a1 : a0
  const k = transposeA ? a0 : a1
  const kb = transposeB ? b1 : b0
  const n = transposeB ? b0 : b1
  if (k !== kb) return null
  const outerA = aShape.slice(0, -2)
  const outerB = bShape.slice(0, -2)
  let outer: number[]
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB)
  } catch {
    return null
  }
  const batchA = outerA.reduce((p, d) => p * d, 1)
  const batchB = outerB.reduce((p, d) => p * d, 1)
  const batch = outer.reduce((p, d) => p * d, 1)
  // Only broadcasts that are a plain repeat of one side (or none) map onto one batch stride.
  if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return null
  if (batch * m * n * k === 0) return null
  return {
    batch,
    m,
    n,
    k,
    outShape: [...outer, m, n],
    aSb: batchA === 1 ? 0 : a0 * a1,
    bSb: batchB === 1 ? 0 : b0 * b1,
  }
}

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo | undefined>
  backend: unknown
  attrs?: Record<string, unknown>
}

function runPlanned(
  backend: WasmBackendInternals,
  plan: MatMulPlan,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  bias: tf.TensorInfo | undefined,
  isa: string,
): tf.TensorInfo | null {
  const ao = elementOffset(backend, a)
  const bo = elementOffset(backend, b)
  const co = bias === undefined ? -1 : elementOffset(backend, bias)
  if (ao === null || bo === null || co === null) return null
  const out = backend.makeOutput(plan.outShape, 'float32')
  const oo = elementOffset(backend, out)
  if (oo === null) {
    backend.disposeData(out.dataId)
    return null
  }
  const { m, n, k } = plan
  nativeGemm(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    {
      batch: plan.batch,
      m,
      n,
      k,
      // Stored [.., m, k] (or [.., k, m] transposed) and [.., k, n] (or [.., n, k]), row-major.
      a: { off: ao, sb: plan.aSb, sr: transposeA ? 1 : k, sc: transposeA ? m : 1 },
      b: { off: bo, sb: plan.bSb, sr: transposeB ? 1 : n, sc: transposeB ? k : 1 },
      ...(co === -1 ? {} : { cin: { off: co, sb: 0, sr: 0 } }),
      out: { off: oo, sb: m * n, sr: n },
    },
    isa,
  )
  return out
}

/**
 * Replaces the wasm backend's `BatchMatMul` and `_FusedMatMul` kernels by native-GEMM ones
 * (idempotent). `choice` `auto` takes the best ISA the addon and CPU have; a named ISA must be
 * available; `off` restores the original kernels. Returns the ISA in use, or `off`, with the reason
 * when the native kernels are not used.
 */
export function installNativeMatMul(choice: NativeKernelChoice): { isa: string; reason: string } {
  if (!(NATIVE_KERNEL_CHOICES as readonly string[]).includes(choice)) {
    throw new ModelError(
      ModelErrorCode.BackendInvalid,
      `unknown native-kernel choice "${String(choice)}": expected one of ${NATIVE_KERNEL_CHOICES.join(', ')}`,
      { choice },
    )
  }
  if (choice === 'off' || tf.getBackend() !== 'wasm') {
    restore()
    return { isa: 'off', reason: choice === 'off' ? 'off by choice' : `backend is ${tf.getBackend()}, not wasm` }
  }
  const info = nativeKernelsInfo()
  if (!info.available) {
    if (choice !== 'auto') {
      throw new ModelError(ModelErrorCode.BackendUnavailable, `native kernels "${choice}" requested: ${info.reason}`, {
        choice,
      })
    }
    restore()
    return { isa: 'off', reason: info.reason }
  }
  const orig = originals()
  const isa = choice === 'auto' ? info.isas[0]! : choice
  if (!info.isas.includes(isa)) {
    throw new ModelError(
      ModelErrorCode.BackendUnavailable,
      `native kernels "${isa}" requested, but this build and CPU offer only: ${info.isas.join(', ')}`,
      { choice, isas: info.isas },
    )
  }
  const bmm = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
    const transposeA = Boolean(args.attrs?.transposeA)
    const transposeB = Boolean(args.attrs?.transposeB)
    const plan =
      a.dtype === 'float32' && b.dtype === 'float32' ? planMatMul(a.shape, b.shape, transposeA, transposeB) : null
    const out =
      plan === null
        ? null
        : runPlanned(args.backend as WasmBackendInternals, plan, a, b, transposeA, transposeB, undefined, isa)
    return out ?? (orig.bmm.kernelFunc(args as never) as tf.TensorInfo)
  }
  const fused = (args: KernelArgs): tf.TensorInfo => {
    const { a, b, bias, preluActivationWeights } = args.inputs
    const transposeA = Boolean(args.attrs?.transposeA)
    const transposeB = Boolean(args.attrs?.transposeB)
    const activation = args.attrs?.activation ?? 'linear'
    let out: tf.TensorInfo | null = null
    if (
      a !== undefined &&
      b !== undefined &&
      a.dtype === 'float32' &&
      b.dtype === 'float32' &&
      activation === 'linear' &&
      preluActivationWeights == null &&
      (bias == null || (bias.dtype === 'float32' && bias.shape.length === 1))
    ) {
      const plan = planMatMul(a.shape, b.shape, transposeA, transposeB)
      if (plan !== null && (bias == null || bias.shape[0] === plan.n)) {
        out = runPlanned(
          args.backend as WasmBackendInternals,
          plan,
          a,
          b,
          transposeA,
          transposeB,
          bias ?? undefined,
          isa,
        )
      }
    }
    return out ?? (orig.fused.kernelFunc(args as never) as tf.TensorInfo)
  }
  replace('BatchMatMul', bmm, orig.bmm)
  replace('_FusedMatMul', fused, orig.fused)
  active = { isa }
  return { isa, reason: '' }
}

type KernelConfig = ReturnType<typeof tf.getKernel> & object

let saved: { bmm: KernelConfig; fused: KernelConfig } | undefined

function originals(): { bmm: KernelConfig; fused: KernelConfig } {
  if (saved === undefined) {
    const bmm = tf.getKernel('BatchMatMul', 'wasm')
    const fused = tf.getKernel('_FusedMatMul', 'wasm')
    if (bmm === undefined || fused === undefined) {
      throw new ModelError(
        ModelErrorCode.BackendUnavailable,
        'the wasm backend registers no BatchMatMul/_FusedMatMul kernel (is @tensorflow/tfjs-backend-wasm loaded?)',
        {},
      )
    }
    saved = { bmm, fused }
  }
  return saved
}

function replace(name: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo, original: KernelConfig): void {
  tf.unregisterKernel(name, 'wasm')
  // The original setup stays, so a re-initialised backend still prepares the fallback kernel.
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: kernelFunc as never,
    ...(original.setupFunc === undefined ? {} : { setupFunc: original.setupFunc }),
  })
}

function restore(): void {
  if (active === null || saved === undefined) return
  for (const k of [saved.bmm, saved.fused]) {
    tf.unregisterKernel(k.kernelName, 'wasm')
    tf.registerKernel(k)
  }
  active = null
}

/** An operand of {@link gemmToNewTensor}: a float32 tensor and element addressing from its first element. */
export interface TensorOperand {
  t: tf.TensorInfo
  off: number
  sb: number
  sr: number
  sc: number
}

/** One GEMM of {@link gemmToNewTensor}, `out = alpha·A·B` (over a batch) into part of the new tensor. */
export interface TensorGemm {
  batch: number
  m: number
  n: number
  k: number
  alpha?: number
  a: TensorOperand
  b: TensorOperand
  out: { off: number; sb: number; sr: number }
}

/**
 * A new float32 tensor of `shape`, filled by native GEMMs on the wasm heap; the calls together
 * must write every element (the memory is not cleared). Records no gradient: for the forward and
 * gradient functions of custom ops, where strided operands replace transposes and slices. Only
 * while {@link activeNativeKernels} is not `off`.
 */
export function gemmToNewTensor(shape: number[], calls: readonly TensorGemm[]): tf.Tensor {
  if (active === null) {
    throw new ModelError(ModelErrorCode.BackendUnavailable, 'native kernels are not active on the wasm backend', {})
  }
  const backend = tf.backend() as unknown as WasmBackendInternals
  const base = (t: tf.TensorInfo): number => {
    const o = t.dtype === 'float32' ? elementOffset(backend, t) : null
    if (o === null) {
      throw new ModelError(
        ModelErrorCode.InputInvalid,
        'native GEMM operand is not a float32 tensor on the wasm heap',
        {
          shape: t.shape,
          dtype: t.dtype,
        },
      )
    }
    return o
  }
  const out = backend.makeOutput(shape, 'float32')
  try {
    const o = base(out)
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer
    for (const c of calls) {
      nativeGemm(
        heap,
        {
          batch: c.batch,
          m: c.m,
          n: c.n,
          k: c.k,
          alpha: c.alpha ?? 1,
          a: { off: base(c.a.t) + c.a.off, sb: c.a.sb, sr: c.a.sr, sc: c.a.sc },
          b: { off: base(c.b.t) + c.b.off, sb: c.b.sb, sr: c.b.sr, sc: c.b.sc },
          out: { off: o + c.out.off, sb: c.out.sb, sr: c.out.sr },
        },
        active.isa,
      )
    }
  } catch (e) {
    backend.disposeData(out.dataId)
    throw e
  }
  return tf.engine().makeTensorFromTensorInfo(out)
}
