/**
 * Tensor bytes ↔ typed arrays, and the whole-file encoder.
 *
 * Written here rather than taken from npm: the `safetensors` package there is a read-only parser
 * without the validation this project needs (bounds, overlap, trailing bytes, dtype/shape
 * agreement), and there is no maintained writer. The format is small enough to implement with care.
 */
import { endianness } from 'node:os'
import {
  bf16ToFloat,
  DTYPE_SIZE,
  type DtypeArrayMap,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  isSafetensorsDtype,
  type SafetensorsDtype,
  type TensorArray,
} from './dtype.js'
import { SafetensorsError, SafetensorsErrorCode } from './errors.js'

// Tensor bytes are little-endian and are copied straight into typed arrays.
if (endianness() !== 'LE') throw new Error('@plora/safetensors requires a little-endian host')

/** A decoded tensor. */
export interface SafetensorsTensor<D extends SafetensorsDtype = SafetensorsDtype> {
  dtype: D
  shape: number[]
  /** Elements in row-major order (F16/BF16 widened to float32). */
  data: DtypeArrayMap[D]
}

/** What the writer accepts for one tensor. */
export interface TensorInput {
  dtype: SafetensorsDtype
  shape: readonly number[]
  /**
   * Row-major elements. Any numeric typed array or plain array is converted to `dtype`; for
   * F16/BF16 a `Uint16Array` is taken as the raw 16-bit patterns. I64/U64 take bigint arrays
   * (or numbers). BOOL takes booleans or 0/1.
   */
  data: ArrayLike<number> | ArrayLike<bigint> | ArrayLike<boolean>
}

/** Copies `bytes` (any alignment) into a new, aligned typed array of `dtype`. */
export function decodeTensorBytes<D extends SafetensorsDtype>(dtype: D, bytes: Uint8Array): DtypeArrayMap[D] {
  const size = DTYPE_SIZE[dtype]
  const n = bytes.byteLength / size
  const copy = (ctor: new (n: number) => TensorArray): TensorArray => {
    const out = new ctor(n)
    new Uint8Array(out.buffer).set(bytes)
    return out
  }
  let out: TensorArray
  switch (dtype) {
    case 'F64':
      out = copy(Float64Array)
      break
    case 'F32':
      out = copy(Float32Array)
      break
    case 'F16':
    case 'BF16': {
      const raw = copy(Uint16Array) as Uint16Array
      const conv = dtype === 'F16' ? halfToFloat : bf16ToFloat
      const f = new Float32Array(n)
      for (let i = 0; i < n; i++) f[i] = conv(raw[i]!)
      out = f
      break
    }
    case 'I64':
      out = copy(BigInt64Array)
      break
    case 'I32':
      out = copy(Int32Array)
      break
    case 'I16':
      out = copy(Int16Array)
      break
    case 'I8':
      out = copy(Int8Array)
      break
    case 'U64':
      out = copy(BigUint64Array)
      break
    case 'U32':
      out = copy(Uint32Array)
      break
    case 'U16':
      out = copy(Uint16Array)
      break
    default:
      out = copy(Uint8Array)
  }
  return out as DtypeArrayMap[D]
}

/** A float32 copy of any numeric tensor (integers converted, F16/BF16 already widened). */
export function toFloat32Array(tensor: SafetensorsTensor): Float32Array {
  if (tensor.data instanceof Float32Array) return tensor.data
  const out = new Float32Array(tensor.data.length)
  for (let i = 0; i < out.length; i++) out[i] = Number(tensor.data[i])
  return out
}

function invalid(name: string, message: string): never {
  throw new SafetensorsError(SafetensorsErrorCode.TensorInvalid, `tensor ${JSON.stringify(name)}: ${message}`, {
    tensor: name,
  })
}

/** Encodes one tensor's elements as little-endian bytes of its dtype. */
export function encodeTensorData(name: string, t: TensorInput): Uint8Array {
  if (!isSafetensorsDtype(t.dtype)) invalid(name, `unsupported dtype ${String(t.dtype)}`)
  let count = 1
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) invalid(name, `shape [${t.shape.join(', ')}] has a bad dimension ${d}`)
    count *= d
  }
  if (t.data.length !== count) {
    invalid(name, `shape [${t.shape.join(', ')}] needs ${count} elements, found ${t.data.length}`)
  }
  const src = t.data as ArrayLike<unknown>
  const num = (i: number): number => {
    const v = src[i]
    return typeof v === 'boolean' ? Number(v) : Number(v as number | bigint)
  }
  const big = (i: number): bigint => {
    const v = src[i]
    if (typeof v === 'bigint') return v
    const x = Number(v)
    if (!Number.isInteger(x)) invalid(name, `element ${i} (${String(v)}) is not an integer`)
    return BigInt(x)
  }
  let arr: TensorArray
  switch (t.dtype) {
    case 'F64':
      arr = Float64Array.from({ length: count }, (_, i) => num(i))
      break
    case 'F32':
      arr = src instanceof Float32Array ? src : Float32Array.from({ length: count }, (_, i) => num(i))
      break
    case 'F16':
    case 'BF16': {
      if (src instanceof Uint16Array) {
        arr = src
        break
      }
      const conv = t.dtype === 'F16' ? floatToHalf : floatToBf16
      const u = new Uint16Array(count)
      for (let i = 0; i < count; i++) u[i] = conv(num(i))
      arr = u
      break
    }
    case 'I64':
      arr = BigInt64Array.from({ length: count }, (_, i) => big(i))
      break
    case 'U64':
      arr = BigUint64Array.from({ length: count }, (_, i) => big(i))
      break
    case 'I32':
      arr = Int32Array.from({ length: count }, (_, i) => num(i))
      break
    case 'I16':
      arr = Int16Array.from({ length: count }, (_, i) => num(i))
      break
    case 'I8':
      arr = Int8Array.from({ length: count }, (_, i) => num(i))
      break
    case 'U32':
      arr = Uint32Array.from({ length: count }, (_, i) => num(i))
      break
    case 'U16':
      arr = Uint16Array.from({ length: count }, (_, i) => num(i))
      break
    case 'U8':
      arr = Uint8Array.from({ length: count }, (_, i) => num(i))
      break
    case 'BOOL':
      arr = Uint8Array.from({ length: count }, (_, i) => (num(i) ? 1 : 0))
      break
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)
}

/** Tensors given to the encoder: a record, a map or a list of `[name, tensor]` pairs. */
export type TensorsInput =
  | Readonly<Record<string, TensorInput>>
  | ReadonlyMap<string, TensorInput>
  | ReadonlyArray<readonly [string, TensorInput]>

function entriesOf(tensors: TensorsInput): Array<readonly [string, TensorInput]> {
  if (Array.isArray(tensors)) return [...(tensors as ReadonlyArray<readonly [string, TensorInput]>)]
  if (tensors instanceof Map) return [...(tensors as ReadonlyMap<string, TensorInput>).entries()]
  return Object.entries(tensors as Readonly<Record<string, TensorInput>>)
}

/**
 * Encodes tensors (and optional string metadata, e.g. PEFT's `{format: 'pt'}`) as a safetensors
 * file. Layout: `__metadata__` first in the header, tensors ordered by element size (largest
 * first) then name, so every tensor starts aligned to its element size; the header is padded
 * with spaces to a multiple of 8, as the reference writer does.
 */
export function encodeSafetensors(
  tensors: TensorsInput,
  metadata?: Readonly<Record<string, string>> | null,
): Uint8Array {
  const entries = entriesOf(tensors)
  const seen = new Set<string>()
  for (const [name] of entries) {
    if (typeof name !== 'string' || name === '__metadata__') invalid(String(name), 'reserved or non-string name')
    if (seen.has(name)) invalid(name, 'duplicate name')
    seen.add(name)
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError(SafetensorsErrorCode.MetadataInvalid, `metadata ${k}: expected a string`, { key: k })
      }
    }
  }
  entries.sort(([an, a], [bn, b]) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype] || (an < bn ? -1 : an > bn ? 1 : 0))
  const header: Record<string, unknown> = {}
  if (metadata) header.__metadata__ = { ...metadata }
  const blobs: Uint8Array[] = []
  let offset = 0
  for (const [name, t] of entries) {
    const bytes = encodeTensorData(name, t)
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] }
    blobs.push(bytes)
    offset += bytes.byteLength
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8')
  const pad = (8 - ((8 + json.byteLength) % 8)) % 8
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)])
  const out = new Uint8Array(8 + json.byteLength + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true)
  out.set(json, 8)
  let at = 8 + json.byteLength
  for (const b of blobs) {
    out.set(b, at)
    at += b.byteLength
  }
  return out
}
