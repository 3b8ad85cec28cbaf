/**
 * Seeded fuzzing of the header parser (issue 3 "Done when"): ≥ 10,000 mutated safetensors files,
 * each either accepted (and then self-consistent) or rejected with a SafetensorsError — never an
 * uncaught exception, a hang, or a decoded size beyond the file.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeSafetensors, encodeSafetensors, SafetensorsError, SafetensorsErrorCode } from '../../src/index.js'

const CODES = new Set<string>(Object.values(SafetensorsErrorCode))
const SEED = 20240611

const BASE = encodeSafetensors(
  {
    'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': {
      dtype: 'F32',
      shape: [2, 4],
      data: new Float32Array(8).fill(0.5),
    },
    'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight': {
      dtype: 'F16',
      shape: [6, 2],
      data: new Array(12).fill(1),
    },
    ids: { dtype: 'I64', shape: [3], data: [1n, 2n, 3n] },
    mask: { dtype: 'BOOL', shape: [2], data: [true, false] },
  },
  { format: 'pt' },
)
const BASE_N = Number(new DataView(BASE.buffer).getBigUint64(0, true))
const BASE_HEADER = JSON.parse(Buffer.from(BASE.subarray(8, 8 + BASE_N)).toString('utf8')) as Record<string, unknown>
const BASE_DATA = BASE.subarray(8 + BASE_N)

let accepted = 0
let rejected = 0

/** Parses and checks the outcome; returns nothing, throws (fails the property) on a wrong outcome. */
function check(bytes: Uint8Array): void {
  let r: ReturnType<typeof decodeSafetensors>
  try {
    r = decodeSafetensors(bytes)
  } catch (e) {
    if (!(e instanceof SafetensorsError) || !CODES.has(e.code)) throw new Error(`not a SafetensorsError: ${String(e)}`)
    rejected++
    return
  }
  accepted++
  // Accepted files are self-consistent, and decoding never produced more than 2× the file
  // (F16/BF16 widen to float32), so no size claimed by the file could drive an allocation.
  const h = r.header
  const covered = h.tensors.reduce((s, t) => s + t.byteLength, 0)
  if (covered !== h.dataLength || h.dataStart + h.dataLength !== bytes.byteLength) throw new Error('coverage mismatch')
  let decoded = 0
  for (const [name, t] of r.tensors) {
    decoded += t.data.byteLength
    const n = t.shape.reduce((a, b) => a * b, 1)
    if (t.data.length !== n) throw new Error(`${name}: ${t.data.length} elements for shape ${t.shape}`)
  }
  if (decoded > 2 * bytes.byteLength) throw new Error('decoded more than twice the file size')
}

function withHeader(header: unknown, data: Uint8Array, lengthDelta = 0): Uint8Array {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8')
  const out = new Uint8Array(8 + h.byteLength + data.byteLength)
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, h.byteLength + lengthDelta)), true)
  out.set(h, 8)
  out.set(data, 8 + h.byteLength)
  return out
}

const anyJson = fc.oneof(
  fc.integer({ min: -5, max: 1 << 20 }),
  fc.constantFrom(2 ** 53, 2 ** 64, -0, 1.5, 1e308, Number.MAX_SAFE_INTEGER),
  fc.string({ maxLength: 6 }),
  fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL', 'F8_E5M2', 'f32', ''),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.integer({ min: -2, max: 64 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
)

/** A structured edit of the header object. */
const edit = fc.record({
  tensor: fc.nat(5),
  field: fc.constantFrom(
    'dtype',
    'shape',
    'data_offsets',
    'extra',
    'delete',
    'replace',
    'metadata',
    'offset0',
    'offset1',
    'dim',
  ),
  value: anyJson,
  small: fc.integer({ min: -16, max: 16 }),
})

function applyEdits(edits: Array<{ tensor: number; field: string; value: unknown; small: number }>): unknown {
  const h = structuredClone(BASE_HEADER) as Record<string, Record<string, unknown>>
  const names = Object.keys(h).filter((k) => k !== '__metadata__')
  for (const e of edits) {
    const name = names[e.tensor % names.length]!
    const t = h[name] as Record<string, unknown> | undefined
    switch (e.field) {
      case 'delete':
        delete h[name]
        break
      case 'replace':
        h[name] = e.value as Record<string, unknown>
        break
      case 'metadata':
        h.__metadata__ = e.value as Record<string, unknown>
        break
      case 'extra':
        if (t && typeof t === 'object') t.extra = e.value
        break
      case 'offset0':
      case 'offset1': {
        const o = t?.data_offsets
        if (Array.isArray(o)) o[e.field === 'offset0' ? 0 : 1] = (o[e.field === 'offset0' ? 0 : 1] as number) + e.small
        break
      }
      case 'dim': {
        const s = t?.shape
        if (Array.isArray(s) && s.length > 0) s[0] = (s[0] as number) + e.small
        break
      }
      default:
        if (t && typeof t === 'object') t[e.field] = e.value
    }
  }
  return h
}

describe('safetensors header fuzzing (seeded)', () => {
  it('structured header edits: every outcome is valid or a SafetensorsError', () => {
    fc.assert(
      fc.property(
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: -4, max: 4 }),
        fc.integer({ min: -3, max: 3 }),
        (edits, dataDelta, lengthDelta) => {
          const data =
            dataDelta >= 0
              ? new Uint8Array([...BASE_DATA, ...new Uint8Array(dataDelta)])
              : BASE_DATA.subarray(0, BASE_DATA.byteLength + dataDelta)
          check(withHeader(applyEdits(edits), data))
          check(withHeader(applyEdits(edits), data, lengthDelta))
        },
      ),
      { seed: SEED, numRuns: 3000 },
    )
  })

  it('byte-level mutations of the prefix and header: valid or a SafetensorsError', () => {
    const headerEnd = 8 + BASE_N
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(headerEnd - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('none', 'truncate', 'append', 'splice'),
        fc.nat(BASE.byteLength),
        (flips, tail, cut) => {
          const bytes = new Uint8Array(BASE)
          for (const [at, v] of flips) bytes[at] = v
          let out: Uint8Array = bytes
          if (tail === 'truncate') out = bytes.subarray(0, cut)
          else if (tail === 'append') out = new Uint8Array([...bytes, ...new Uint8Array(cut % 17)])
          else if (tail === 'splice') out = new Uint8Array([...bytes.subarray(0, cut), ...bytes.subarray(cut + 1)])
          check(out)
        },
      ),
      { seed: SEED + 1, numRuns: 5000 },
    )
  })

  it('random text headers: valid or a SafetensorsError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json({ maxDepth: 3 }), fc.string({ maxLength: 40 })), fc.nat(32), (text, dataLen) => {
        check(withHeader(text, new Uint8Array(dataLen)))
      }),
      { seed: SEED + 2, numRuns: 2000 },
    )
  })

  it('ran at least 10,000 mutated files, with both outcomes represented', () => {
    expect(accepted + rejected).toBeGreaterThanOrEqual(10_000)
    expect(accepted).toBeGreaterThan(0)
    expect(rejected).toBeGreaterThan(accepted)
  })
})
