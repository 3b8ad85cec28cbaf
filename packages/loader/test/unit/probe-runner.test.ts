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
import { buildPeftLoraConfig, resolveTargetModules, writePeftAdapter } from '@plora/peft'
import * as tf from '@tensorflow/tfjs-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { baseFingerprint, injectAdapters } from '../../src/inject.js'
import { createProbeHarness, createProbeRunner } from '../../src/probe-runner.js'
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

  it('batches prompts with the same continuations as one by one', async () => {
    const runner = createProbeRunner(model, tok, [])
    const prompts = ['Question: what is a writ?\nAnswer:', 'Hi', 'Question: 2+2?\nAnswer:']
    const one = [] as string[]
    for (const p of prompts) one.push(await runner.generate(p, 5))
    expect(await runner.generateBatch(prompts, 5)).toEqual(one)
  })
})

describe('createProbeHarness', () => {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  let model: CausalLM
  let tok: Tokenizer
  beforeAll(async () => {
    tmp = await makeTmpDir()
    const dir = await writeEmbeddedBaseModel(join(tmp.dir, 'base'), { seed: 4 })
    model = await loadCausalLMFromDir(dir)
    tok = await loadTokenizer(dir)
  })
  afterAll(async () => {
    model.dispose()
    await tmp.cleanup()
  })

  it('attaches a PEFT folder as side branches, detaches, and refuses an adapter for another model', async () => {
    const targets = resolveTargetModules(model.linearModules(), 'attention')
    const modules = randomAdapterModules(targets.modules, 4, 11, 8)
    const adapterDir = join(tmp.dir, 'adapter')
    await writePeftAdapter(adapterDir, {
      config: buildPeftLoraConfig({
        r: 4,
        loraAlpha: 32,
        targetModules: targets.peftTargetModules,
        fanInFanOut: true,
        baseModelNameOrPath: null,
      }),
      modules,
    })
    const fingerprint = await baseFingerprint(model)
    const numTensors = tf.memory().numTensors
    const harness = createProbeHarness(model, tok, { expectedFingerprint: fingerprint })
    const prompt = 'Question: what is a tort?\nAnswer:'
    const attached = await harness.attach(adapterDir)
    const withAdapter = await attached.generate(prompt, 6)
    expect(await attached.generateBatch([prompt], 6)).toEqual([withAdapter])
    attached.detach()
    await expect(attached.generate(prompt, 1)).rejects.toThrow(/after detach/)
    const handle = injectAdapters(model, [{ modules }])
    const [merged] = await generate(model, tok, [prompt], { maxNewTokens: 6 })
    handle.remove()
    expect(withAdapter).toBe(merged!.text)
    expect(await harness.base.generate(prompt, 6)).not.toBe(withAdapter)
    expect(await baseFingerprint(model)).toBe(fingerprint)
    expect(tf.memory().numTensors).toBe(numTensors)

    // An adapter whose modules do not fit this model is refused at attach time.
    const wrong = join(tmp.dir, 'wrong')
    const bogus = new Map(
      [...modules].map(([p, m]) => [p.replace('.h.0.', '.h.9.'), { ...m, path: m.path.replace('.h.0.', '.h.9.') }]),
    )
    await writePeftAdapter(wrong, {
      config: buildPeftLoraConfig({
        r: 4,
        loraAlpha: 32,
        targetModules: targets.peftTargetModules,
        fanInFanOut: true,
        baseModelNameOrPath: null,
      }),
      modules: bogus,
    })
    await expect(harness.attach(wrong)).rejects.toMatchObject({ code: 'PEFT_ADAPTER_MODEL_MISMATCH' })
  })
})
