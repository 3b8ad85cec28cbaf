import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import '@tensorflow/tfjs-backend-cpu'
import * as wasm from '@tensorflow/tfjs-backend-wasm'
import * as tf from '@tensorflow/tfjs-core'

/**
 * Tests choose the backend themselves (the library never does): WebAssembly (SIMD, one thread),
 * falling back to the pure-JS cpu backend. Both give the same numbers up to float32 rounding.
 */
export async function useTestBackend(): Promise<string> {
  tf.env().set('IS_TEST', true)
  if (tf.getBackend() === 'wasm') return 'wasm'
  try {
    const require = createRequire(import.meta.url)
    wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`)
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
    if (await tf.setBackend('wasm')) return 'wasm'
  } catch {
    // fall through to cpu
  }
  await tf.setBackend('cpu')
  return 'cpu'
}
