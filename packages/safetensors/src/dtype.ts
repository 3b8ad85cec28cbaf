/**
 * The safetensors dtype map and element codecs.
 *
 * Half precision (IEEE 754 binary16, "F16") and bfloat16 ("BF16", the top 16 bits of a binary32)
 * have no typed array in Node 20, so they are widened to `Float32Array` on read and narrowed with
 * round-to-nearest-even on write. References: IEEE 754-2008 §3.6; the safetensors format
 * description (https://github.com/huggingface/safetensors, "Format").
 */

/** Every dtype this codec reads and writes (names as in the safetensors header). */
export const SAFETENSORS_DTYPES = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
] as const
/** A safetensors dtype name. */
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number]

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
}

/** True when `s` names a supported dtype. */
export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s)
}

/** The typed array a tensor of each dtype decodes to (F16/BF16 widen to float32). */
export interface DtypeArrayMap {
  F64: Float64Array
  F32: Float32Array
  F16: Float32Array
  BF16: Float32Array
  I64: BigInt64Array
  I32: Int32Array
  I16: Int16Array
  I8: Int8Array
  U64: BigUint64Array
  U32: Uint32Array
  U16: Uint16Array
  U8: Uint8Array
  BOOL: Uint8Array
}
/** Any decoded tensor array. */
export type TensorArray = DtypeArrayMap[SafetensorsDtype]

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** binary16 bits → number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/** number → binary16 bits, rounding to nearest even (via binary32, as numpy/torch do for float32 input). */
export function floatToHalf(x: number): number {
  f32[0] = x
  const bits = u32[0]!
  const sign = (bits >>> 16) & 0x8000
  const exp = (bits >>> 23) & 0xff
  let mant = bits & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0) // Inf or (quiet) NaN
  // Unbiased exponent re-biased for binary16.
  const e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00 // overflow → ±Inf
  if (e <= 0) {
    // Subnormal half (or underflow to zero): shift the full significand, round to nearest even.
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    const rest = mant & ((1 << shift) - 1)
    let out = mant >>> shift
    if (rest > half || (rest === half && out & 1)) out += 1
    return sign | out
  }
  let out = (e << 10) | (mant >>> 13)
  const rest = mant & 0x1fff
  // A carry out of the mantissa correctly bumps the exponent (up to Inf).
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out += 1
  return sign | out
}

/** bfloat16 bits → number (exact). */
export function bf16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16
  return f32[0]!
}

/** number → bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function floatToBf16(x: number): number {
  f32[0] = x
  const bits = u32[0]!
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return ((bits >>> 16) | 0x40) & 0xffff
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1)
  return (rounded >>> 16) & 0xffff
}
