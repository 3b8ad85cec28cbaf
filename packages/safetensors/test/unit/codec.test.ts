import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bf16ToFloat,
  decodeSafetensors,
  encodeSafetensors,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  readSafetensors,
  SAFETENSORS_DTYPES,
  type TensorInput,
  toFloat32Array,
  writeSafetensors,
} from '../../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-st-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('half and bfloat16 conversion', () => {
  it('round-trips every binary16 bit pattern exactly (NaN stays NaN)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h)
      if (Number.isNaN(x)) {
        expect(Number.isNaN(halfToFloat(floatToHalf(x))), `h=${h}`).toBe(true)
        continue
      }
      if (floatToHalf(x) !== h) expect(floatToHalf(x), `h=0x${h.toString(16)}`).toBe(h)
    }
  })

  it('round-trips every bfloat16 bit pattern exactly', () => {
    for (let b = 0; b < 0x10000; b++) {
      const x = bf16ToFloat(b)
      if (Number.isNaN(x)) continue
      if (floatToBf16(x) !== b) expect(floatToBf16(x), `b=0x${b.toString(16)}`).toBe(b)
    }
  })

  it('rounds half-way cases to even and overflows to infinity', () => {
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00) // tie → even (1.0)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02) // tie → even (up)
    expect(floatToHalf(65520)).toBe(0x7c00) // rounds past the largest half (65504) → +Inf
    expect(floatToHalf(65504)).toBe(0x7bff)
    expect(floatToHalf(2 ** -24)).toBe(0x0001) // smallest subnormal
    expect(floatToHalf(2 ** -26)).toBe(0x0000) // below half the smallest subnormal → 0
    expect(floatToHalf(-0)).toBe(0x8000)
    expect(floatToBf16(1 + 2 ** -8)).toBe(0x3f80) // tie → even
    expect(floatToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82)
    expect(halfToFloat(0x3555)).toBeCloseTo(0.333251953125, 12)
  })
})

describe('encode / decode', () => {
  const all: Record<string, TensorInput> = {
    f64: { dtype: 'F64', shape: [2], data: [Math.PI, -1e300] },
    f32: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6.5]) },
    f16: { dtype: 'F16', shape: [3], data: [0.5, -2, 1024] },
    bf16: { dtype: 'BF16', shape: [2], data: [1.5, -3] },
    i64: { dtype: 'I64', shape: [2], data: [-(2n ** 62n), 7n] },
    i32: { dtype: 'I32', shape: [1], data: [-123456] },
    i16: { dtype: 'I16', shape: [1], data: [-300] },
    i8: { dtype: 'I8', shape: [1], data: [-5] },
    u64: { dtype: 'U64', shape: [1], data: [2n ** 63n] },
    u32: { dtype: 'U32', shape: [1], data: [4e9] },
    u16: { dtype: 'U16', shape: [1], data: [65535] },
    u8: { dtype: 'U8', shape: [2], data: [0, 255] },
    bool: { dtype: 'BOOL', shape: [3], data: [true, false, true] },
    scalar: { dtype: 'F32', shape: [], data: [42] },
    empty: { dtype: 'F32', shape: [0, 5], data: [] },
  }

  it('round-trips every dtype, scalar and empty tensors, and metadata', () => {
    const bytes = encodeSafetensors(all, { format: 'pt' })
    const { tensors, metadata, header } = decodeSafetensors(bytes)
    expect(metadata).toEqual({ format: 'pt' })
    expect([...tensors.keys()].sort()).toEqual(Object.keys(all).sort())
    expect(header.dataStart % 8).toBe(0)
    for (const t of header.tensors) {
      // Largest element size first, so every tensor starts aligned to its element size.
      expect(t.dataOffsets[0] % (t.byteLength === 0 ? 1 : t.byteLength / Math.max(1, t.elementCount)), t.name).toBe(0)
    }
    expect([...tensors.get('f64')!.data]).toEqual([Math.PI, -1e300])
    expect([...tensors.get('f32')!.data]).toEqual([1, 2, 3, 4, 5, 6.5])
    expect(tensors.get('f32')!.shape).toEqual([2, 3])
    expect([...tensors.get('f16')!.data]).toEqual([0.5, -2, 1024])
    expect([...tensors.get('bf16')!.data]).toEqual([1.5, -3])
    expect([...tensors.get('i64')!.data]).toEqual([-(2n ** 62n), 7n])
    expect([...tensors.get('u64')!.data]).toEqual([2n ** 63n])
    expect([...tensors.get('i32')!.data]).toEqual([-123456])
    expect([...tensors.get('i16')!.data]).toEqual([-300])
    expect([...tensors.get('i8')!.data]).toEqual([-5])
    expect([...tensors.get('u32')!.data]).toEqual([4e9])
    expect([...tensors.get('u16')!.data]).toEqual([65535])
    expect([...tensors.get('u8')!.data]).toEqual([0, 255])
    expect([...tensors.get('bool')!.data]).toEqual([1, 0, 1])
    expect(tensors.get('scalar')!.shape).toEqual([])
    expect([...tensors.get('scalar')!.data]).toEqual([42])
    expect(tensors.get('empty')!.data.length).toBe(0)
    expect([...toFloat32Array(tensors.get('i32')!)]).toEqual([-123456])
  })

  it('writes the header as the reference writer does: metadata first, compact JSON, space padding to 8', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: [1] } }, { format: 'pt' })
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true))
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')
    expect(text.trimEnd()).toBe('{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')
    expect((8 + n) % 8).toBe(0)
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/)
  })

  it('raw F16 / BF16 bit patterns pass through a Uint16Array unchanged', () => {
    const bits = new Uint16Array([0x3c00, 0x7e00, 0xfc00])
    const bytes = encodeSafetensors({ h: { dtype: 'F16', shape: [3], data: bits } })
    const h = decodeSafetensors(bytes).tensors.get('h')!.data
    expect(h[0]).toBe(1)
    expect(Number.isNaN(h[1])).toBe(true)
    expect(h[2]).toBe(Number.NEGATIVE_INFINITY)
  })

  it('decodes tensors from an unaligned buffer', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'F64', shape: [2], data: [1.25, 2.5] } })
    const shifted = new Uint8Array(bytes.byteLength + 3).subarray(3)
    shifted.set(bytes)
    expect([...decodeSafetensors(shifted).tensors.get('a')!.data]).toEqual([1.25, 2.5])
  })

  it('rejects writer input whose element count differs from the shape', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } })).toThrow(
      expect.objectContaining({ code: 'SAFETENSORS_TENSOR_INVALID' }),
    )
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: [1] } })).toThrow(
      expect.objectContaining({ code: 'SAFETENSORS_TENSOR_INVALID' }),
    )
    expect(() => encodeSafetensors({ a: { dtype: 'I64', shape: [1], data: [1.5] } })).toThrow(
      expect.objectContaining({ code: 'SAFETENSORS_TENSOR_INVALID' }),
    )
  })

  it('writes atomically and reads back from a path', async () => {
    const path = join(dir, 'adapter_model.safetensors')
    await writeSafetensors(
      path,
      { 'base_model.model.x.lora_A.weight': { dtype: 'F32', shape: [1, 2], data: [3, 4] } },
      { format: 'pt' },
    )
    const r = await readSafetensors(path)
    expect([...r.tensors.get('base_model.model.x.lora_A.weight')!.data]).toEqual([3, 4])
    expect((await readFile(path)).byteLength).toBeGreaterThan(8)
    await expect(readSafetensors(join(dir, 'missing.safetensors'))).rejects.toMatchObject({
      code: 'SAFETENSORS_FILE_READ_FAILED',
    })
  })

  it('covers every advertised dtype', () => {
    for (const d of ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL']) expect(SAFETENSORS_DTYPES).toContain(d)
  })

  it('reads a dummy (non-safetensors) adapter file as a SafetensorsError, not a crash', async () => {
    const path = join(dir, 'dummy.safetensors')
    await writeFile(path, 'dummy-legal-r4')
    await expect(readSafetensors(path)).rejects.toMatchObject({ name: 'SafetensorsError' })
  })
})
