/**
 * TensorFlow.js backend selection (issue 4 item 1).
 *
 * `auto` tries, in order: the native TensorFlow backend from the optional dependency
 * `@tensorflow/tfjs-node-gpu` (skipped when `forceCpu`), then WebAssembly with SIMD
 * (`@tensorflow/tfjs-backend-wasm`, one thread), then the pure-JS `cpu` backend. The native
 * binding is loaded only through a dynamic `import()` inside try/catch: on machines where its
 * install script could not download libtensorflow, pnpm drops the optional dependency (or leaves
 * it without a binding) and the import fails cleanly. The choice is logged once per process.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type Logger, SILENT_LOGGER } from '@plora/common'
// The `@tensorflow/tfjs` union package registers every kernel's gradient (tfjs-core's Node bundle
// ships none) and the `cpu` backend; its registries are global, so they serve tfjs-core below.
import '@tensorflow/tfjs'
import * as tf from '@tensorflow/tfjs-core'
import { ModelError, ModelErrorCode } from './errors.js'
import { activeNativeKernels, installNativeMatMul, type NativeKernelChoice } from './native-kernels.js'

/** Backend names accepted by {@link initBackend}; `tensorflow` is the native (tfjs-node-gpu) backend. */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const
export type BackendChoice = (typeof BACKEND_CHOICES)[number]

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Which backend to use (`PLORA_BACKEND` at the CLI layer). Default `auto`. */
  backend: BackendChoice
  /** Skip the native GPU backend (`PLORA_FORCE_CPU=1`). Default false. */
  forceCpu: boolean
  /**
   * Native GEMM for the wasm backend's MatMul kernels (`PLORA_NATIVE_KERNELS` at the CLI layer):
   * `auto` (the best instruction set the built addon and the CPU have, else the wasm kernels),
   * `off`, or one ISA (`avx512`, `avx2`, `generic`; an error where it is not available). Default `auto`.
   */
  nativeKernels: NativeKernelChoice
  /** Where the one "backend chosen" line goes. */
  logger: Logger
}

/** Defaults of {@link InitBackendOptions}. */
export const DEFAULT_INIT_BACKEND_OPTIONS: InitBackendOptions = {
  backend: 'auto',
  forceCpu: false,
  nativeKernels: 'auto',
  logger: SILENT_LOGGER,
}

let logged = false
let pending: Promise<string> | undefined
let pendingKey = ''

async function tryNative(): Promise<boolean> {
  try {
    // A computed specifier keeps bundlers and tsc from resolving the optional package.
    const spec = '@tensorflow/tfjs-node-gpu'
    await import(spec)
    return await tf.setBackend('tensorflow')
  } catch {
    return false
  }
}

/** The folder holding the `.wasm` files of the installed `@tensorflow/tfjs-backend-wasm`. */
export function wasmFilesDir(): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')
}

async function tryWasm(): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm')
    // Files come from the npm package on disk, never from a CDN; one thread (no worker pool),
    // which is also what the benchmark targets are stated for.
    wasm.setWasmPaths(`${wasmFilesDir()}/`)
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
    return await tf.setBackend('wasm')
  } catch {
    return false
  }
}

async function selectBackend(o: InitBackendOptions): Promise<string> {
  // Production mode: no debug checks, and no "install tfjs-node" banner on stderr from the cpu
  // backend (the choice is logged by us, once).
  tf.env().set('PROD', true)
  const order: Array<'tensorflow' | 'wasm' | 'cpu'> =
    o.backend === 'auto' ? (o.forceCpu ? ['wasm', 'cpu'] : ['tensorflow', 'wasm', 'cpu']) : [o.backend]
  if (o.backend === 'tensorflow' && o.forceCpu) {
    throw new ModelError(
      ModelErrorCode.BackendInvalid,
      'backend "tensorflow" (native GPU) was requested together with force-cpu: choose one (PLORA_BACKEND or PLORA_FORCE_CPU)',
      { backend: o.backend },
    )
  }
  const tried: string[] = []
  for (const name of order) {
    tried.push(name)
    const ok =
      name === 'tensorflow' ? await tryNative() : name === 'wasm' ? await tryWasm() : await tf.setBackend('cpu')
    if (ok) {
      await tf.ready()
      return tf.getBackend()
    }
  }
  throw new ModelError(
    ModelErrorCode.BackendUnavailable,
    `no TensorFlow.js backend could be initialised: tried ${tried.join(', ')}` +
      (o.backend === 'tensorflow' ? ' (is the optional @tensorflow/tfjs-node-gpu installed with its binding?)' : ''),
    { tried },
  )
}

/**
 * Selects and initialises the TensorFlow.js backend; returns its name (`tensorflow`, `wasm` or
 * `cpu`). Repeated calls with the same choice are cheap and return the active backend.
 *
 * @example
 * ```ts
 * const name = await initBackend({ backend: 'auto', forceCpu: false, logger })
 * ```
 */
export async function initBackend(options: Partial<InitBackendOptions> = {}): Promise<string> {
  const o = { ...DEFAULT_INIT_BACKEND_OPTIONS, ...options }
  if (!(BACKEND_CHOICES as readonly string[]).includes(o.backend)) {
    throw new ModelError(
      ModelErrorCode.BackendInvalid,
      `unknown backend "${String(o.backend)}": expected one of ${BACKEND_CHOICES.join(', ')}`,
      { backend: o.backend },
    )
  }
  const key = `${o.backend}|${o.forceCpu}`
  if (pending === undefined || key !== pendingKey) {
    pendingKey = key
    pending = selectBackend(o)
  }
  let name: string
  try {
    name = await pending
  } catch (e) {
    pending = undefined
    throw e
  }
  // Cheap and idempotent: repeated calls may change the native-kernel choice.
  const native = installNativeMatMul(o.nativeKernels)
  if (!logged) {
    logged = true
    const gemm =
      name !== 'wasm' ? '' : native.isa === 'off' ? ' (MatMul: wasm kernels)' : ` (MatMul: native ${native.isa})`
    o.logger.info(`TensorFlow.js backend: ${name}${gemm}`, {
      requested: o.backend,
      forceCpu: o.forceCpu,
      ...(name === 'wasm'
        ? { nativeKernels: native.isa, ...(native.reason ? { nativeReason: native.reason } : {}) }
        : {}),
    })
  }
  return name
}

/**
 * What another thread needs to compute as this one does: the active backend and native-GEMM
 * choice. Worker pools put it in their tasks; {@link initComputeSetup} replays it in the worker.
 */
export interface ComputeSetup {
  /** `tensorflow`, `wasm` or `cpu` (the active backend's name). */
  backend: string
  /** The instruction set the wasm MatMul kernels use, or `off` ({@link activeNativeKernels}). */
  nativeKernels: string
}

/** This thread's {@link ComputeSetup}. */
export function currentComputeSetup(): ComputeSetup {
  return { backend: tf.getBackend(), nativeKernels: activeNativeKernels() }
}

/** Initialises this thread's backend as {@link currentComputeSetup} described another's. */
export function initComputeSetup(setup: ComputeSetup, logger: Logger = SILENT_LOGGER): Promise<string> {
  return initBackend({
    backend: setup.backend as BackendChoice,
    nativeKernels: setup.nativeKernels as NativeKernelChoice,
    logger,
  })
}
