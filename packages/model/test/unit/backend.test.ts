import { createLogger } from '@plora/common'
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { initBackend } from '../../src/index.js'

async function nativeLoads(): Promise<boolean> {
  try {
    const spec = '@tensorflow/tfjs-node-gpu'
    await import(spec)
    return true
  } catch {
    return false
  }
}

describe('initBackend', () => {
  it('picks the native backend when it loads, else wasm, and logs the choice once', async () => {
    const lines: string[] = []
    const logger = createLogger({ level: 'info', write: (l) => lines.push(l) })
    const name = await initBackend({ backend: 'auto', logger })
    expect(name).toBe((await nativeLoads()) ? 'tensorflow' : 'wasm')
    expect(tf.getBackend()).toBe(name)
    await initBackend({ backend: 'auto', logger })
    await initBackend({ backend: 'cpu', logger })
    expect(lines.filter((l) => l.includes('TensorFlow.js backend')).length).toBe(1)
  })

  it('skips the GPU backend with forceCpu and honours an explicit choice', async () => {
    expect(await initBackend({ backend: 'auto', forceCpu: true })).toBe('wasm')
    expect(await initBackend({ backend: 'cpu' })).toBe('cpu')
    expect(await initBackend({ backend: 'wasm' })).toBe('wasm')
  })

  it('rejects unknown names, and the native backend when it cannot load', async () => {
    await expect(initBackend({ backend: 'webgpu' as 'cpu' })).rejects.toMatchObject({ code: 'MODEL_BACKEND_INVALID' })
    await expect(initBackend({ backend: 'tensorflow', forceCpu: true })).rejects.toMatchObject({
      code: 'MODEL_BACKEND_INVALID',
    })
    if (!(await nativeLoads())) {
      await expect(initBackend({ backend: 'tensorflow' })).rejects.toMatchObject({ code: 'MODEL_BACKEND_UNAVAILABLE' })
    }
  })
})
