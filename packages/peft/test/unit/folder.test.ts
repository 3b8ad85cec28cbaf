import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PythonRandom } from '@plora/common'
import { encodeSafetensors, type TensorInput } from '@plora/safetensors'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parsePeftLoraConfig } from '../../src/config.js'
import {
  assertUpdateSane,
  checkAdapterFolderFiles,
  decodePeftWeights,
  loadPeftAdapter,
  MAX_PEFT_CONFIG_DEPTH,
  MAX_UPDATE_FROBENIUS,
  parsePeftConfigBytes,
  parsePeftConfigText,
  parsePeftTensorKey,
  peftTensorKey,
  unexpectedWeightFiles,
} from '../../src/folder.js'
import { updateFrobenius } from '../../src/lora-math.js'

const PATH = 'transformer.h.0.attn.c_attn'
const config = parsePeftLoraConfig({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['c_attn'] })

function pair(
  seed: number,
  keyA = peftTensorKey(PATH, 'A'),
  keyB = peftTensorKey(PATH, 'B'),
): Record<string, TensorInput> {
  const rng = new PythonRandom(seed)
  return {
    [keyA]: { dtype: 'F32', shape: [2, 3], data: Float32Array.from({ length: 6 }, () => rng.gauss(0, 1)) },
    [keyB]: { dtype: 'F32', shape: [4, 2], data: Float32Array.from({ length: 8 }, () => rng.gauss(0, 1)) },
  }
}

let tmp: string
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'plora-peft-folder-'))
})
afterAll(async () => rm(tmp, { recursive: true, force: true }))

async function folder(name: string, tensors: Record<string, TensorInput>): Promise<string> {
  const dir = join(tmp, name)
  await mkdir(dir)
  await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(config))
  await writeFile(join(dir, 'adapter_model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }))
  return dir
}

describe('tensor keys: one rule for gate and loader (issue 15 point 2)', () => {
  it('accepts the stripped and the default adapter name, nothing else', () => {
    expect(parsePeftTensorKey(`base_model.model.${PATH}.lora_A.weight`)).toEqual({
      path: PATH,
      factor: 'A',
      named: false,
    })
    expect(parsePeftTensorKey(`base_model.model.${PATH}.lora_B.default.weight`)).toEqual({
      path: PATH,
      factor: 'B',
      named: true,
    })
    for (const key of [
      `base_model.model.${PATH}.lora_A.evil.weight`,
      `${PATH}.lora_A.weight`,
      `base_model.model.${PATH}.lora_A.weight.lora_A.weight`,
      `base_model.model.${PATH}.lora_embedding_A.weight`,
      `base_model.model.${PATH}.bias`,
      `base_model.model..lora_A.weight`,
    ]) {
      expect(parsePeftTensorKey(key), key).toBeNull()
    }
  })

  it('refuses a folder with named-adapter tensors, or the same factor under both spellings', async () => {
    const evil = {
      ...pair(1),
      ...pair(2, `base_model.model.${PATH}.lora_A.evil.weight`, `base_model.model.${PATH}.lora_B.evil.weight`),
    }
    await expect(loadPeftAdapter(await folder('evil', evil))).rejects.toMatchObject({ code: 'PEFT_TENSORS_INVALID' })
    const both = { ...pair(1), [`base_model.model.${PATH}.lora_A.default.weight`]: pair(1)[peftTensorKey(PATH, 'A')]! }
    await expect(loadPeftAdapter(await folder('both', both))).rejects.toMatchObject({ code: 'PEFT_TENSORS_INVALID' })
    const named = pair(
      3,
      `base_model.model.${PATH}.lora_A.default.weight`,
      `base_model.model.${PATH}.lora_B.default.weight`,
    )
    expect((await loadPeftAdapter(await folder('default', named))).modules.get(PATH)!.scale).toBe(2)
  })

  it('refuses modules outside target_modules (PEFT would ignore their tensors)', () => {
    const other = pair(
      4,
      peftTensorKey('transformer.h.0.mlp.c_fc', 'A'),
      peftTensorKey('transformer.h.0.mlp.c_fc', 'B'),
    )
    expect(() => decodePeftWeights(config, encodeSafetensors(other))).toThrow(
      expect.objectContaining({ code: 'PEFT_TENSORS_INVALID' }),
    )
  })
})

describe('the adapter folder (issue 15 point 3)', () => {
  it('holds exactly one weights file, adapter_model.safetensors, as a regular file', async () => {
    expect(
      unexpectedWeightFiles(['adapter_model.safetensors', 'plora.yml', 'README.md', 'adapter_config.json']),
    ).toEqual([])
    expect(
      unexpectedWeightFiles(['adapter_model.safetensors', 'adapter_model.bin', 'x.SAFETENSORS', 'w.gguf']),
    ).toEqual(['adapter_model.bin', 'w.gguf', 'x.SAFETENSORS'])
    const dir = await folder('second', pair(5))
    await checkAdapterFolderFiles(dir)
    await copyFile(join(dir, 'adapter_model.safetensors'), join(dir, 'other.safetensors'))
    await expect(loadPeftAdapter(dir)).rejects.toMatchObject({ code: 'PEFT_FOLDER_INVALID' })
    const link = await folder('link', pair(6))
    await rm(join(link, 'adapter_model.safetensors'))
    await symlink(join(dir, 'adapter_model.safetensors'), join(link, 'adapter_model.safetensors'))
    await expect(loadPeftAdapter(link)).rejects.toMatchObject({ code: 'PEFT_FOLDER_INVALID' })
    await expect(loadPeftAdapter(join(tmp, 'missing'))).rejects.toMatchObject({ code: 'PEFT_ADAPTER_NOT_FOUND' })
  })
})

describe('update sanity (issue 15 point 6)', () => {
  const module = (scale: number, a: number[], b: number[]) => ({
    path: PATH,
    rank: 1,
    inFeatures: 2,
    outFeatures: 2,
    a: Float32Array.from(a),
    b: Float32Array.from(b),
    scale,
  })
  const invalid = expect.objectContaining({ code: 'PEFT_UPDATE_INVALID' })

  it('refuses NaN/Inf factors, a huge scaling and an overflowing ‖ΔW‖_F', () => {
    expect(() => assertUpdateSane(module(2, [1, 0], [1, 0]))).not.toThrow()
    expect(() => assertUpdateSane(module(2, [Number.NaN, 0], [1, 0]))).toThrow(invalid)
    expect(() => assertUpdateSane(module(2, [1, 0], [Number.POSITIVE_INFINITY, 0]))).toThrow(invalid)
    expect(() => assertUpdateSane(module(1e30, [1, 0], [1, 0]))).toThrow(invalid)
    expect(() => assertUpdateSane(module(Number.POSITIVE_INFINITY, [1, 0], [1, 0]))).toThrow(invalid)
    expect(() => assertUpdateSane(module(1000, [1000, 0], [1000, 0]))).toThrow(invalid)
    expect(updateFrobenius(module(1000, [1000, 0], [1000, 0]))).toBeGreaterThan(MAX_UPDATE_FROBENIUS)
    expect(updateFrobenius(module(2, [3, 0], [0, 4]))).toBe(24)
  })

  it('refuses a config whose lora_alpha overflows to infinity (1e999 in JSON)', async () => {
    const dir = await folder('inf-alpha', pair(7))
    await writeFile(join(dir, 'adapter_config.json'), '{"peft_type":"LORA","r":2,"lora_alpha":1e999}')
    await expect(loadPeftAdapter(dir)).rejects.toMatchObject({ code: 'PEFT_CONFIG_INVALID' })
  })
})

describe('adapter_config.json read as PEFT reads it (Python json, strict UTF-8)', () => {
  const base = '{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["c_attn"]'
  const invalid = expect.objectContaining({ code: 'PEFT_CONFIG_INVALID' })

  it('refuses bytes that are not UTF-8 and a byte-order mark, in the folder reader', async () => {
    const dir = await folder('utf8', pair(8))
    await loadPeftAdapter(dir)
    const bad: number[][] = [[0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80]]
    for (const b of bad) {
      const bytes = Buffer.concat([
        Buffer.from(`${base},"base_model_name_or_path":"x`),
        Buffer.from(b),
        Buffer.from('"}'),
      ])
      await writeFile(join(dir, 'adapter_config.json'), bytes)
      await expect(loadPeftAdapter(dir), b.join(',')).rejects.toMatchObject({ code: 'PEFT_CONFIG_INVALID' })
    }
    await writeFile(join(dir, 'adapter_config.json'), `\ufeff${base}}`)
    await expect(loadPeftAdapter(dir)).rejects.toMatchObject({ code: 'PEFT_CONFIG_INVALID' })
    expect(() => parsePeftConfigBytes(Uint8Array.of(0x7b, 0xff, 0x7d))).toThrow(invalid)
  })

  it('refuses integer fields spelled as floats (Python reads 4.0 as a float; torch refuses a float rank)', () => {
    for (const r of ['2.0', '2e0', '0.2e1', '2E+0']) {
      expect(() => parsePeftConfigText(`{"peft_type":"LORA","r":${r},"lora_alpha":4}`), r).toThrow(
        expect.objectContaining({ code: 'PEFT_CONFIG_INVALID', details: expect.objectContaining({ field: 'r' }) }),
      )
    }
    expect(() => parsePeftConfigText(`${base},"rank_pattern":{"c_attn":4.0}}`)).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ field: 'rank_pattern.c_attn' }) }),
    )
    // A float where PEFT expects a float is fine; so is a float-looking key or string elsewhere.
    expect(parsePeftConfigText(`${base},"lora_alpha_x":1.0,"alpha_pattern":{"c_attn":8.0}}`).r).toBe(2)
    expect(
      parsePeftConfigText(`{"peft_type":"LORA","r":2,"lora_alpha":4.0,"base_model_name_or_path":"r: 2.0"}`).r,
    ).toBe(2)
  })

  it('refuses nesting deeper than MAX_PEFT_CONFIG_DEPTH before anything walks it (no stack overflow)', () => {
    const deep = (d: number) => `{"fuzz_nest":${'['.repeat(d)}${']'.repeat(d)},${base.slice(1)}}`
    expect(() => parsePeftConfigText(deep(100_000))).toThrow(invalid)
    expect(() => parsePeftConfigText(deep(MAX_PEFT_CONFIG_DEPTH))).toThrow(invalid)
    expect(parsePeftConfigText(deep(MAX_PEFT_CONFIG_DEPTH - 1)).r).toBe(2)
    // Brackets inside strings do not count.
    expect(parsePeftConfigText(`${base},"base_model_name_or_path":"${'['.repeat(1000)}"}`).r).toBe(2)
  })
})
