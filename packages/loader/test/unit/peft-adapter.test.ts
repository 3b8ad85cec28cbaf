import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  buildPeftLoraConfig,
  checkAdapterFitsModel,
  loadPeftAdapter,
  moduleScale,
  parsePeftLoraConfig,
  peftTensorKey,
  resolveTargetModules,
  writePeftAdapter,
} from '@plora/peft'
import { readSafetensors, writeSafetensors } from '@plora/safetensors'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFisherScalar } from '../../src/fisher.js'
import { bitEqual, createGpt2Host, createLlamaHost, randomAdapterModules } from '../helpers/fake-host.js'
import { makeTmpDir } from '../helpers/tmp.js'

describe('PEFT adapter folders', () => {
  let tmp: Awaited<ReturnType<typeof makeTmpDir>>
  beforeAll(async () => {
    tmp = await makeTmpDir()
  })
  afterAll(async () => tmp.cleanup())
  const gpt2 = createGpt2Host({ layers: 1, d: 4 })
  afterAll(() => gpt2.dispose())

  it('computes PEFT scaling: alpha/r, alpha/sqrt(r) with rsLoRA, and rank/alpha patterns', () => {
    const base = { peft_type: 'LORA', r: 8, lora_alpha: 16 }
    expect(moduleScale(parsePeftLoraConfig(base), 'x.q_proj')).toBe(2)
    expect(moduleScale(parsePeftLoraConfig({ ...base, use_rslora: true }), 'x.q_proj')).toBeCloseTo(
      16 / Math.sqrt(8),
      12,
    )
    const patterned = parsePeftLoraConfig({
      ...base,
      rank_pattern: { 'layers\\.1\\.self_attn\\.q_proj': 4 },
      alpha_pattern: { 'layers\\.0\\.self_attn\\.q_proj': 2 },
    })
    expect(moduleScale(patterned, 'model.layers.0.self_attn.q_proj')).toBe(2 / 8)
    expect(moduleScale(patterned, 'model.layers.1.self_attn.q_proj')).toBe(16 / 4)
    expect(moduleScale(patterned, 'model.layers.1.self_attn.k_proj')).toBe(2)
    // Two keys on one module: PEFT 0.12 takes the first of both maps (s = 16/4), later PEFT each
    // map's own (s = 2/4). plora refuses rather than pick one (issue 15 point 1).
    const ambiguous = parsePeftLoraConfig({
      ...base,
      rank_pattern: { q_proj: 4 },
      alpha_pattern: { 'layers\\.0\\.self_attn\\.q_proj': 2 },
    })
    expect(() => moduleScale(ambiguous, 'model.layers.0.self_attn.q_proj')).toThrow(
      expect.objectContaining({ code: 'PEFT_CONFIG_INVALID' }),
    )
    expect(moduleScale(ambiguous, 'model.layers.1.self_attn.q_proj')).toBe(4)
  })

  it('rejects invalid configs with PEFT_CONFIG_INVALID', () => {
    for (const bad of [
      {},
      { peft_type: 'LORA', r: 0, lora_alpha: 1 },
      { peft_type: 'IA3', r: 4, lora_alpha: 8 },
      { peft_type: 'LORA', r: 4, lora_alpha: 8, use_dora: true },
    ]) {
      expect(() => parsePeftLoraConfig(bad)).toThrow(expect.objectContaining({ code: 'PEFT_CONFIG_INVALID' }))
    }
  })

  it('round-trips an adapter through PEFT key names and keeps the float32 bits', async () => {
    const targets = resolveTargetModules(gpt2.modules, 'attention')
    const modules = randomAdapterModules(targets.modules, 4, 3, 2)
    const config = buildPeftLoraConfig({
      r: 4,
      loraAlpha: 8,
      targetModules: targets.peftTargetModules,
      fanInFanOut: true,
      baseModelNameOrPath: 'tiny',
    })
    const dir = join(tmp.dir, 'round-trip')
    await writePeftAdapter(dir, { config, modules })
    const raw = await readSafetensors(join(dir, 'adapter_model.safetensors'))
    expect(raw.metadata).toEqual({ format: 'pt' })
    expect(raw.tensors.get(peftTensorKey('transformer.h.0.attn.c_attn', 'A'))!.shape).toEqual([4, 4])
    expect(raw.tensors.get(peftTensorKey('transformer.h.0.attn.c_attn', 'B'))!.shape).toEqual([12, 4])
    const cfgText = await readFile(join(dir, 'adapter_config.json'), 'utf8')
    const keys = Object.keys(JSON.parse(cfgText))
    expect(keys).toEqual([...keys].sort())
    expect(JSON.parse(cfgText)).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      fan_in_fan_out: true,
      target_modules: ['attn.c_proj', 'c_attn'],
    })
    const loaded = await loadPeftAdapter(dir)
    expect([...loaded.modules.keys()]).toEqual(targets.paths)
    for (const m of modules.values()) {
      const l = loaded.modules.get(m.path)!
      expect(bitEqual(l.a, m.a) && bitEqual(l.b, m.b), m.path).toBe(true)
      expect(l.scale).toBe(2)
    }
    checkAdapterFitsModel(loaded, gpt2.modules)
    const llama = createLlamaHost()
    expect(() => checkAdapterFitsModel(loaded, llama.modules)).toThrow(
      expect.objectContaining({ code: 'PEFT_ADAPTER_MODEL_MISMATCH' }),
    )
    llama.dispose()
  })

  it('widens F16 factors and rejects unpaired, non-LoRA and rank-inconsistent tensors', async () => {
    const cfg = JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, fan_in_fan_out: false })
    const write = async (
      name: string,
      tensors: Record<string, { dtype: 'F32' | 'F16'; shape: number[]; data: number[] }>,
    ) => {
      const dir = join(tmp.dir, name)
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'adapter_config.json'), cfg)
      await writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors)
      return dir
    }
    const A = { dtype: 'F16' as const, shape: [2, 3], data: [0.5, -1, 2, 0.25, 1.5, -0.125] }
    const B = { dtype: 'F16' as const, shape: [2, 2], data: [1, 2, 3, 4] }
    const ok = await loadPeftAdapter(
      await write('f16', { [peftTensorKey('m.q_proj', 'A')]: A, [peftTensorKey('m.q_proj', 'B')]: B }),
    )
    expect(Array.from(ok.modules.get('m.q_proj')!.a)).toEqual(A.data)
    const code = { code: 'PEFT_TENSORS_INVALID' }
    await expect(
      loadPeftAdapter(await write('unpaired', { [peftTensorKey('m.q_proj', 'A')]: A })),
    ).rejects.toMatchObject(code)
    await expect(
      loadPeftAdapter(
        await write('extra', {
          [peftTensorKey('m.q_proj', 'A')]: A,
          [peftTensorKey('m.q_proj', 'B')]: B,
          'base_model.model.lm_head.weight': B,
        }),
      ),
    ).rejects.toMatchObject(code)
    const B3 = { dtype: 'F32' as const, shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }
    await expect(
      loadPeftAdapter(
        await write('rank', { [peftTensorKey('m.q_proj', 'A')]: A, [peftTensorKey('m.q_proj', 'B')]: B3 }),
      ),
    ).rejects.toMatchObject(code)
    const garbage = join(tmp.dir, 'garbage')
    await mkdir(garbage)
    await writeFile(join(garbage, 'adapter_config.json'), cfg)
    await writeFile(join(garbage, 'adapter_model.safetensors'), 'dummy-legal-r4')
    await expect(loadPeftAdapter(garbage)).rejects.toMatchObject(code)
    await expect(loadPeftAdapter(join(tmp.dir, 'missing'))).rejects.toMatchObject({ code: 'PEFT_ADAPTER_NOT_FOUND' })
  })

  it('reads the Fisher scalar from JSON or safetensors, else null (§11.4)', async () => {
    const dir = async (name: string) => {
      const d = join(tmp.dir, name)
      await mkdir(d, { recursive: true })
      return d
    }
    const sum = await dir('fisher-sum')
    await writeFile(join(sum, 'fisher_diag.json'), JSON.stringify({ sum: 0, a: 5 }))
    expect(await loadFisherScalar(sum)).toBe(0)
    const values = await dir('fisher-values')
    await writeFile(join(values, 'fisher_diag.json'), JSON.stringify({ a: 1.5, b: 2, c: 'x' }))
    expect(await loadFisherScalar(values)).toBe(3.5)
    const st = await dir('fisher-st')
    await writeSafetensors(join(st, 'fisher_diag.safetensors'), {
      diag: { dtype: 'F32', shape: [3], data: [-1, 2, -3] },
      other: { dtype: 'F32', shape: [1], data: [100] },
    })
    expect(await loadFisherScalar(st)).toBe(6)
    const all = await dir('fisher-all')
    await writeSafetensors(join(all, 'fisher_diag.safetensors'), {
      x: { dtype: 'F32', shape: [2], data: [-1, 2] },
      y: { dtype: 'F32', shape: [1], data: [0.5] },
    })
    expect(await loadFisherScalar(all)).toBe(3.5)
    const zero = await dir('fisher-zero')
    await writeSafetensors(join(zero, 'fisher_diag.safetensors'), { x: { dtype: 'F32', shape: [1], data: [0] } })
    expect(await loadFisherScalar(zero)).toBeNull()
    expect(await loadFisherScalar(await dir('fisher-none'))).toBeNull()
  })
})
