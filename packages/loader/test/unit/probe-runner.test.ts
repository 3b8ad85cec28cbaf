/**
 * The gate's probe runner on the embedded base model (a real GPT-2 folder with a byte-level BPE
 * tokenizer, written by @plora/model): the adapter acts through side branches, the weights stay
 * untouched, and the output equals greedy generation on the merged model.
 */
import { join } from 'node:path'
import {
  type CausalLM,
  generate,
  loadCausalLMFromDir,
  loadTokenizer,
  type Tokenizer,
  writeEmbeddedBaseModel,
} from '@plora/model'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { baseFingerprint, injectAdapters } from '../../src/inject.js'
import { createProbeRunner } from '../../src/probe-runner.js'
import { resolveTargetModules } from '../../src/targets.js'
import { randomAdapterModules } from '../helpers/fake-host.js'
import { makeTmpDir } from '../helpers/tmp.js'

describe('createProbeRunner', () => {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  let model: CausalLM
  let tok: Tokenizer
  beforeAll(async () => {
    tmp = await makeTmpDir()
    const dir = await writeEmbeddedBaseModel(join(tmp.dir, 'base'), { seed: 3 })
    model = await loadCausalLMFromDir(dir)
    tok = await loadTokenizer(dir)
  })
  afterAll(async () => {
    model.dispose()
    await tmp.cleanup()
  })

  it('generates with the adapter as side branches, matching the merged model, without touching weights or leaking', async () => {
    const targets = resolveTargetModules(model.linearModules(), 'attention')
    // Large factors, so the adapter visibly changes the greedy continuation.
    const adapter = { modules: randomAdapterModules(targets.modules, 4, 9, 8) }
    const fingerprint = await baseFingerprint(model)
    const numTensors = tf.memory().numTensors
    const base = createProbeRunner(model, tok, [], { expectedFingerprint: fingerprint })
    const withAdapter = createProbeRunner(model, tok, [adapter], { expectedFingerprint: fingerprint })
    const prompt = 'Question: what is 2 + 3?\nAnswer:'
    const baseText = await base.generate(prompt, 6)
    const adapterText = await withAdapter.generate(prompt, 6)
    expect(tf.memory().numTensors).toBe(numTensors)
    expect(await baseFingerprint(model)).toBe(fingerprint)
    const handle = injectAdapters(model, [adapter])
    const [merged] = await generate(model, tok, [prompt], { maxNewTokens: 6 })
    // While a merged injection is active the runner refuses: the base is not pristine.
    await expect(base.generate(prompt, 2)).rejects.toMatchObject({ code: 'LOADER_BASE_NOT_PRISTINE' })
    handle.remove()
    expect(adapterText).toBe(merged!.text)
    expect(adapterText).not.toBe(baseText)
  })

  it('verifies the weight fingerprint on first use', async () => {
    const runner = createProbeRunner(model, tok, [], { expectedFingerprint: '0'.repeat(64) })
    await expect(runner.generate('hello', 1)).rejects.toMatchObject({ code: 'LOADER_BASE_NOT_PRISTINE' })
  })
})
