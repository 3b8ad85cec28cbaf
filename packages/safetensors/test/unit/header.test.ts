import { describe, expect, it } from 'vitest'
import {
  decodeSafetensors,
  encodeSafetensors,
  findDuplicateJsonKey,
  MAX_HEADER_LENGTH,
  parseSafetensorsHeader,
} from '../../src/index.js'

/** A file from raw header text and data bytes (no padding, the exact bytes given). */
function file(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const h = typeof header === 'string' ? Buffer.from(header, 'utf8') : header
  const out = new Uint8Array(8 + h.byteLength + data.byteLength)
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.byteLength), true)
  out.set(h, 8)
  out.set(data, 8 + h.byteLength)
  return out
}
const json = (v: unknown) => JSON.stringify(v)
const code = (bytes: Uint8Array): string => {
  try {
    parseSafetensorsHeader(bytes)
    return 'OK'
  } catch (e) {
    return (e as { code: string }).code
  }
}

describe('header validation', () => {
  it('accepts a minimal valid file and an empty one', () => {
    expect(code(file(json({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }), new Uint8Array(2)))).toBe('OK')
    expect(code(file('{}'))).toBe('OK')
    expect(code(file('{"__metadata__":{"format":"pt"}}   '))).toBe('OK')
  })

  it.each([
    ['file shorter than 8 bytes', new Uint8Array(5), 'SAFETENSORS_FILE_TOO_SHORT'],
    ['header length 0', file(''), 'SAFETENSORS_HEADER_LENGTH_INVALID'],
    ['header length past EOF', file('{}', new Uint8Array(0), 3n), 'SAFETENSORS_HEADER_LENGTH_INVALID'],
    ['header length 2^63', file('{}', new Uint8Array(0), 2n ** 63n), 'SAFETENSORS_HEADER_LENGTH_INVALID'],
    [
      'header length above the limit',
      file('{}', new Uint8Array(0), BigInt(MAX_HEADER_LENGTH + 1)),
      'SAFETENSORS_HEADER_LENGTH_INVALID',
    ],
    ['invalid UTF-8', file(new Uint8Array([0x7b, 0xff, 0x7d])), 'SAFETENSORS_HEADER_JSON_INVALID'],
    ['not starting with {', file(' {}'), 'SAFETENSORS_HEADER_JSON_INVALID'],
    ['not JSON', file('{"a":'), 'SAFETENSORS_HEADER_JSON_INVALID'],
    ['JSON array', file('{}[]'), 'SAFETENSORS_HEADER_JSON_INVALID'],
    ['entry not an object', file(json({ a: 1 })), 'SAFETENSORS_HEADER_ENTRY_INVALID'],
    [
      'unknown entry key',
      file(json({ a: { dtype: 'U8', shape: [0], data_offsets: [0, 0], x: 1 } })),
      'SAFETENSORS_HEADER_ENTRY_INVALID',
    ],
    [
      'unknown dtype',
      file(json({ a: { dtype: 'F8_E4M3', shape: [0], data_offsets: [0, 0] } })),
      'SAFETENSORS_DTYPE_UNSUPPORTED',
    ],
    [
      'lowercase dtype',
      file(json({ a: { dtype: 'f32', shape: [0], data_offsets: [0, 0] } })),
      'SAFETENSORS_DTYPE_UNSUPPORTED',
    ],
    [
      'negative dim',
      file(json({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } })),
      'SAFETENSORS_HEADER_ENTRY_INVALID',
    ],
    [
      'fractional dim',
      file(json({ a: { dtype: 'U8', shape: [1.5], data_offsets: [0, 0] } })),
      'SAFETENSORS_HEADER_ENTRY_INVALID',
    ],
    [
      'shape not a list',
      file(json({ a: { dtype: 'U8', shape: 3, data_offsets: [0, 0] } })),
      'SAFETENSORS_HEADER_ENTRY_INVALID',
    ],
    [
      'offsets of length 3',
      file(json({ a: { dtype: 'U8', shape: [0], data_offsets: [0, 0, 0] } })),
      'SAFETENSORS_HEADER_ENTRY_INVALID',
    ],
    [
      'shape × size ≠ byte range',
      file(json({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }), new Uint8Array(4)),
      'SAFETENSORS_TENSOR_SIZE_MISMATCH',
    ],
    [
      'huge shape on a tiny range (no allocation)',
      file(json({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40, 2 ** 40], data_offsets: [0, 4] } }), new Uint8Array(4)),
      'SAFETENSORS_TENSOR_SIZE_MISMATCH',
    ],
    [
      'offsets past the data',
      file(json({ a: { dtype: 'U8', shape: [8], data_offsets: [0, 8] } }), new Uint8Array(4)),
      'SAFETENSORS_OFFSETS_INVALID',
    ],
    [
      'begin > end',
      file(json({ a: { dtype: 'U8', shape: [0], data_offsets: [2, 1] } }), new Uint8Array(2)),
      'SAFETENSORS_OFFSETS_INVALID',
    ],
    [
      'overlapping tensors',
      file(
        json({
          a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
          b: { dtype: 'U8', shape: [2], data_offsets: [1, 3] },
        }),
        new Uint8Array(3),
      ),
      'SAFETENSORS_OFFSETS_INVALID',
    ],
    [
      'a gap between tensors',
      file(
        json({
          a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
          b: { dtype: 'U8', shape: [1], data_offsets: [2, 3] },
        }),
        new Uint8Array(3),
      ),
      'SAFETENSORS_OFFSETS_INVALID',
    ],
    [
      'trailing bytes',
      file(json({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }), new Uint8Array(2)),
      'SAFETENSORS_OFFSETS_INVALID',
    ],
    ['data with no tensors', file('{}', new Uint8Array(1)), 'SAFETENSORS_OFFSETS_INVALID'],
    [
      'a duplicate tensor name',
      file(
        '{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"\\u0061":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}',
      ),
      'SAFETENSORS_HEADER_JSON_INVALID',
    ],
    [
      'a duplicate entry key',
      file('{"a":{"dtype":"U8","dtype":"F32","shape":[0],"data_offsets":[0,0]}}'),
      'SAFETENSORS_HEADER_JSON_INVALID',
    ],
    ['metadata value not a string', file(json({ __metadata__: { format: 1 } })), 'SAFETENSORS_METADATA_INVALID'],
    ['metadata not an object', file(json({ __metadata__: ['pt'] })), 'SAFETENSORS_METADATA_INVALID'],
  ])('rejects %s', (_what, bytes, expected) => {
    expect(code(bytes)).toBe(expected)
  })

  it('accepts unsorted header entries when their ranges tile the data', () => {
    const h = json({
      b: { dtype: 'U8', shape: [1], data_offsets: [1, 2] },
      a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
    })
    const r = decodeSafetensors(file(h, new Uint8Array([7, 9])))
    expect([...r.tensors.keys()]).toEqual(['a', 'b'])
    expect([...r.tensors.get('b')!.data]).toEqual([9])
  })

  // Found by the mutation run (bench/fuzz): the Rust reference reader refuses these, JSON.parse did not.
  it.each([
    ['2.0', '{"a":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}'],
    ['2e0', '{"a":{"dtype":"U8","shape":[2e0],"data_offsets":[0,2]}}'],
    ['2E+0 in an offset', '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2E+0]}}'],
    ['-0', '{"a":{"dtype":"U8","shape":[2],"data_offsets":[-0,2]}}'],
  ])('refuses a dim or offset spelled %s', (_, h) => {
    expect(code(file(h, new Uint8Array(2)))).toBe('SAFETENSORS_HEADER_ENTRY_INVALID')
  })

  it.each([
    ['a tensor name', '{"a\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'],
    ['a tensor name (low half)', '{"\\udfffa":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'],
    ['a metadata value', '{"__metadata__":{"format":"p\\udc00t"}}'],
    ['a metadata key', '{"__metadata__":{"\\ud83d":"pt"}}'],
  ])('refuses an unpaired surrogate escape in %s', (_, h) => {
    expect(code(file(h))).toBe('SAFETENSORS_HEADER_JSON_INVALID')
  })

  it('keeps numbers inside strings and paired surrogates', () => {
    const h = '{"__metadata__":{"v":"2.0e-1 -0"},"\\ud83d\\ude80 1.5":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'
    expect(code(file(h))).toBe('OK')
  })

  it('finds duplicate keys per object only, honouring escapes and nesting', () => {
    expect(findDuplicateJsonKey('{"a":1,"b":{"a":2},"c":["a","a"],"d":"\\"a\\":"}')).toBeNull()
    expect(findDuplicateJsonKey('{"a":1,"b":{"x":2,"x" :3}}')).toBe('x')
    expect(findDuplicateJsonKey('{"a\\"b":1,"a\\u0022b":2}')).toBe('a"b')
  })

  it('names the file, the tensor and the numbers in its message', () => {
    const bytes = file(json({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 4] } }), new Uint8Array(4))
    expect(() => parseSafetensorsHeader(bytes, 'x.safetensors')).toThrow(
      /x\.safetensors: tensor "w": shape \[3\] × 4 bytes/,
    )
  })

  it('every tensor of an encoded file lies inside the file', () => {
    const bytes = encodeSafetensors({
      a: { dtype: 'F32', shape: [3], data: [1, 2, 3] },
      b: { dtype: 'U8', shape: [5], data: [1, 2, 3, 4, 5] },
    })
    const h = parseSafetensorsHeader(bytes)
    expect(h.tensors.reduce((s, t) => s + t.byteLength, 0)).toBe(bytes.byteLength - h.dataStart)
  })
})
