import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
/**
 * Interop: adapters written by an independent Python script (see test/fixtures/peft-python/README.md)
 * load here and give `W + s·B·A` for every target.
 */
import { fileURLToPath } from 'node:url'
import type { LinearModuleInfo } from '@plora/peft'
import { loadPeftAdapter } from '@plora/peft'
import { readSafetensors } from '@plora/safetensors'
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { injectAdapters, type LoraHost } from '../../src/inject.js'
import { bitEqual, maxAbsDiff } from '../helpers/fake-host.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/peft-python/', import.meta.url))

async function hostFromBase(
  dir: string,
  conv1d: boolean,
): Promise<LoraHost & { dispose(): void; modules: LinearModuleInfo[] }> {
  const { tensors } = await readSafetensors(`${dir}/base_weights.safetensors`)
  const params = new Map<string, tf.Variable>()
  const modules: LinearModuleInfo[] = []
  for (const [name, t] of tensors) {
    const [r, c] = t.shape as [number, number]
    params.set(name, tf.variable(tf.tensor2d(t.data as Float32Array, [r, c])))
    modules.push({
      path: name.replace(/\.weight$/, ''),
      inFeatures: conv1d ? r : c,
      outFeatures: conv1d ? c : r,
      conv1d,
    })
  }
  return {
    params,
    modules,
    linearModules: () => modules,
    dispose: () => {
      for (const v of params.values()) v.dispose()
    },
  }
}

/**
 * The fixture folders also hold the base and expected weights, which an adapter folder may not
 * (one weights file per folder, issue 15 point 3): load a copy holding only the adapter's two files.
 */
async function loadFixtureAdapter(name: string) {
  const dir = await mkdtemp(join(tmpdir(), 'plora-peft-fixture-'))
  try {
    for (const f of ['adapter_config.json', 'adapter_model.safetensors'])
      await copyFile(`${FIXTURES}${name}/${f}`, join(dir, f))
    return await loadPeftAdapter(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('PEFT adapters written by Python', () => {
  for (const [name, conv1d] of [
    ['gpt2', true],
    ['llama', false],
  ] as const) {
    it(`${name}: loading gives W + s·B·A for every target, and removal restores W exactly`, async () => {
      const dir = `${FIXTURES}${name}`
      const adapter = await loadFixtureAdapter(name)
      expect(adapter.config.fan_in_fan_out).toBe(conv1d)
      const host = await hostFromBase(dir, conv1d)
      const { tensors: expected } = await readSafetensors(`${dir}/expected_merged.safetensors`)
      expect([...adapter.modules.keys()].map((p) => `${p}.weight`).sort()).toEqual([...expected.keys()].sort())
      const before = new Map([...host.params].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]))
      const handle = injectAdapters(host, [adapter])
      for (const [key, t] of expected) {
        expect(maxAbsDiff(host.params.get(key)!.dataSync(), t.data as Float32Array), key).toBeLessThan(1e-5)
      }
      handle.remove()
      for (const [key, v] of host.params)
        expect(bitEqual(v.dataSync() as Float32Array, before.get(key)!), key).toBe(true)
      host.dispose()
    })
  }

  it('applies rsLoRA and rank/alpha patterns as PEFT does', async () => {
    const adapter = await loadFixtureAdapter('llama')
    expect(adapter.modules.get('model.layers.0.self_attn.q_proj')!.scale).toBeCloseTo(16 / 2, 12)
    expect(adapter.modules.get('model.layers.0.self_attn.v_proj')!.rank).toBe(2)
    expect(adapter.modules.get('model.layers.0.self_attn.v_proj')!.scale).toBeCloseTo(3 / Math.SQRT2, 12)
  })
})
