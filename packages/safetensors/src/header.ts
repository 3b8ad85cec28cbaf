/**
 * Strict validation of a safetensors header (spec core.md §0.3; format: 8-byte little-endian u64
 * header length N, N bytes of UTF-8 JSON, then the raw little-endian tensor bytes).
 *
 * Checks, in order: the length prefix (non-zero, at most {@link MAX_HEADER_LENGTH}, inside the
 * file); UTF-8 JSON object starting with `{`; `__metadata__` a map of strings; each tensor entry
 * exactly `{dtype, shape, data_offsets}` with a known dtype, non-negative integer dims and offsets;
 * `product(shape) × dtype size = end − begin`; the ranges, sorted, start at 0, touch end to start
 * (no gap, no overlap) and end exactly at the end of the file (no trailing bytes). This mirrors
 * the reference Rust implementation's rules (which also refuse dims/offsets spelled `2.0`, `2e0` or
 * `-0`, and unpaired `\uD800` surrogate escapes), plus rejecting unknown entry keys and duplicate keys.
 *
 * Nothing here allocates from a size read out of the file before it was checked against the real
 * file size, so a hostile length or shape cannot trigger a huge allocation.
 */
import { DTYPE_SIZE, isSafetensorsDtype, type SafetensorsDtype } from './dtype.js'
import { SafetensorsError, SafetensorsErrorCode } from './errors.js'

/** Largest accepted JSON header, in bytes (the reference implementation's limit: 100 MB). */
export const MAX_HEADER_LENGTH = 100_000_000

/** One tensor as described by the header. */
export interface TensorInfo {
  /** The tensor's key, e.g. `base_model.model.transformer.h.0.attn.c_attn.lora_A.weight`. */
  name: string
  dtype: SafetensorsDtype
  shape: number[]
  /** `[begin, end)` byte range relative to the start of the data section. */
  dataOffsets: [number, number]
  /** Number of elements (product of the shape; 1 for a scalar). */
  elementCount: number
  /** `end − begin`. */
  byteLength: number
}

/** A validated header. */
export interface SafetensorsHeader {
  /** N, the JSON header's byte length. */
  headerLength: number
  /** Absolute file offset of the data section (8 + N). */
  dataStart: number
  /** Byte length of the data section. */
  dataLength: number
  /** The tensors in file (offset) order. */
  tensors: TensorInfo[]
  /** `__metadata__`, or null when absent. */
  metadata: Record<string, string> | null
}

const ENTRY_KEYS = new Set(['dtype', 'shape', 'data_offsets'])
const utf8 = new TextDecoder('utf-8', { fatal: true })

function fail(
  code: SafetensorsErrorCode,
  source: string,
  message: string,
  details: Record<string, unknown> = {},
): never {
  throw new SafetensorsError(code, `${source}: ${message}`, { source, ...details })
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  if (typeof v === 'number') return `the number ${v}`
  return `a ${typeof v}`
}

/**
 * Reads the 8-byte little-endian header length and checks it against the file size. Returns N.
 * `prefix` must hold at least the first 8 bytes of the file.
 */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, source = '<safetensors>'): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    fail(
      SafetensorsErrorCode.FileTooShort,
      source,
      `file is ${fileSize} bytes; expected at least 8 (the header length)`,
      {
        fileSize,
      },
    )
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true)
  if (n === 0n || n > BigInt(MAX_HEADER_LENGTH) || n > BigInt(fileSize - 8)) {
    fail(
      SafetensorsErrorCode.HeaderLengthInvalid,
      source,
      `header length is ${n}; expected 1..${Math.min(MAX_HEADER_LENGTH, fileSize - 8)} (file is ${fileSize} bytes)`,
      { headerLength: n.toString(), fileSize },
    )
  }
  return Number(n)
}

/**
 * The first key that occurs twice in one JSON object of `text` (already known to be valid JSON),
 * or null. `JSON.parse` keeps the last duplicate silently; two readers that disagree on which one
 * wins could see different tensors in the same file, so duplicates are refused outright.
 */
export function findDuplicateJsonKey(text: string): string | null {
  const stack: Array<Set<string> | null> = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x7b /* { */) stack.push(new Set())
    else if (c === 0x5b /* [ */) stack.push(null)
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop()
    else if (c === 0x22 /* " */) {
      let j = i + 1
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1
      const keys = stack.at(-1)
      if (keys) {
        let k = j + 1
        while (k < text.length && /\s/.test(text[k]!)) k++
        if (text[k] === ':') {
          const key = JSON.parse(text.slice(i, j + 1)) as string
          if (keys.has(key)) return key
          keys.add(key)
        }
      }
      i = j
    }
  }
  return null
}

/**
 * The first number literal of `text` (valid JSON) that is not a plain non-negative integer
 * (`2.0`, `2e0`, `-0`), or null. The only numbers a header holds are dims and offsets, which the
 * reference reader (Rust, serde_json into `usize`) refuses in any other spelling; `JSON.parse`
 * would turn `2.0` into 2 and accept a file the reference refuses.
 */
export function findNonIntegerLiteral(text: string): string | null {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      let j = i + 1
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1
      i = j
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i
      while (j < text.length && /[-+.eE0-9]/.test(text[j]!)) j++
      const token = text.slice(i, j)
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return token
      i = j - 1
    }
  }
  return null
}

// An unpaired UTF-16 surrogate (only reachable through a `\uD800`-style escape, since the bytes
// are strict UTF-8). The reference reader refuses it; as a tensor name it could not round-trip.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function checkWellFormed(s: string, source: string, what: string): void {
  if (LONE_SURROGATE.test(s)) {
    fail(
      SafetensorsErrorCode.HeaderJsonInvalid,
      source,
      `${what} ${JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)} holds an unpaired UTF-16 surrogate escape`,
    )
  }
}

function checkNonNegativeInt(v: unknown, source: string, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(
      SafetensorsErrorCode.HeaderEntryInvalid,
      source,
      `${what}: expected a non-negative integer, found ${describe(v)}`,
    )
  }
  return v
}

function parseEntry(name: string, raw: unknown, dataLength: number, source: string): TensorInfo {
  const where = `tensor ${JSON.stringify(name)}`
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(SafetensorsErrorCode.HeaderEntryInvalid, source, `${where}: expected an object, found ${describe(raw)}`, {
      tensor: name,
    })
  }
  const entry = raw as Record<string, unknown>
  for (const k of Object.keys(entry)) {
    if (!ENTRY_KEYS.has(k)) {
      fail(SafetensorsErrorCode.HeaderEntryInvalid, source, `${where}: unknown key ${JSON.stringify(k)}`, {
        tensor: name,
      })
    }
  }
  const { dtype, shape, data_offsets: offsets } = entry
  if (!isSafetensorsDtype(dtype)) {
    fail(
      SafetensorsErrorCode.DtypeUnsupported,
      source,
      `${where}: dtype ${describe(dtype)} is not one of ${Object.keys(DTYPE_SIZE).join(', ')}`,
      { tensor: name },
    )
  }
  if (!Array.isArray(shape)) {
    fail(
      SafetensorsErrorCode.HeaderEntryInvalid,
      source,
      `${where}: shape must be an array, found ${describe(shape)}`,
      {
        tensor: name,
      },
    )
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    fail(
      SafetensorsErrorCode.HeaderEntryInvalid,
      source,
      `${where}: data_offsets must be [begin, end], found ${describe(offsets)}`,
      { tensor: name },
    )
  }
  const dims = shape.map((d, i) => checkNonNegativeInt(d, source, `${where}: shape[${i}]`))
  const begin = checkNonNegativeInt(offsets[0], source, `${where}: data_offsets[0]`)
  const end = checkNonNegativeInt(offsets[1], source, `${where}: data_offsets[1]`)
  if (begin > end || end > dataLength) {
    fail(
      SafetensorsErrorCode.OffsetsInvalid,
      source,
      `${where}: data_offsets [${begin}, ${end}] outside the data section of ${dataLength} bytes`,
      { tensor: name, begin, end, dataLength },
    )
  }
  // The element count can only be trusted once it is shown to fit inside the byte range, so the
  // product is built step by step and abandoned as soon as it exceeds what the range could hold.
  const size = DTYPE_SIZE[dtype]
  const limit = Math.floor((end - begin) / size)
  let count = dims.includes(0) ? 0 : 1
  for (const d of dims) {
    if (count === 0) break
    count *= d
    if (count > limit) break
  }
  if (count * size !== end - begin) {
    fail(
      SafetensorsErrorCode.TensorSizeMismatch,
      source,
      `${where}: shape [${dims.join(', ')}] × ${size} bytes (${dtype}) does not match its byte range of ${end - begin}`,
      { tensor: name, shape: dims, dtype, byteLength: end - begin },
    )
  }
  return { name, dtype, shape: dims, dataOffsets: [begin, end], elementCount: count, byteLength: end - begin }
}

/**
 * Validates the JSON header bytes against a data section of `dataLength` bytes and returns the
 * tensor table in offset order. Every defect raises a {@link SafetensorsError} naming it.
 */
export function parseHeaderJson(
  headerBytes: Uint8Array,
  headerLength: number,
  dataLength: number,
  source = '<safetensors>',
): SafetensorsHeader {
  let text: string
  try {
    text = utf8.decode(headerBytes)
  } catch (e) {
    return fail(SafetensorsErrorCode.HeaderJsonInvalid, source, 'header is not valid UTF-8', { cause: String(e) })
  }
  if (!text.startsWith('{')) {
    fail(
      SafetensorsErrorCode.HeaderJsonInvalid,
      source,
      `header must start with "{", found ${describe(text.slice(0, 1))}`,
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    fail(SafetensorsErrorCode.HeaderJsonInvalid, source, `header is not valid JSON (${(e as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    fail(SafetensorsErrorCode.HeaderJsonInvalid, source, `header must be a JSON object, found ${describe(parsed)}`)
  }
  const dup = findDuplicateJsonKey(text)
  if (dup !== null) {
    fail(
      SafetensorsErrorCode.HeaderJsonInvalid,
      source,
      `header has the key ${JSON.stringify(dup)} twice in one object`,
      {
        key: dup,
      },
    )
  }
  const literal = findNonIntegerLiteral(text)
  if (literal !== null) {
    fail(
      SafetensorsErrorCode.HeaderEntryInvalid,
      source,
      `header holds the number ${literal}; dims and offsets must be written as plain non-negative integers`,
      { literal },
    )
  }
  let metadata: Record<string, string> | null = null
  const tensors: TensorInfo[] = []
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        fail(SafetensorsErrorCode.MetadataInvalid, source, `__metadata__ must be an object, found ${describe(raw)}`)
      }
      metadata = {}
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        checkWellFormed(k, source, '__metadata__ key')
        if (typeof v !== 'string') {
          fail(
            SafetensorsErrorCode.MetadataInvalid,
            source,
            `__metadata__.${k}: expected a string, found ${describe(v)}`,
            { key: k },
          )
        }
        checkWellFormed(v, source, `__metadata__.${k}`)
        metadata[k] = v
      }
      continue
    }
    checkWellFormed(name, source, 'tensor name')
    tensors.push(parseEntry(name, raw, dataLength, source))
  }
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1])
  let cursor = 0
  for (const t of tensors) {
    if (t.dataOffsets[0] !== cursor) {
      const kind = t.dataOffsets[0] < cursor ? 'overlaps the previous tensor' : 'leaves a gap after the previous tensor'
      fail(
        SafetensorsErrorCode.OffsetsInvalid,
        source,
        `tensor ${JSON.stringify(t.name)}: data_offsets [${t.dataOffsets.join(', ')}] ${kind} (expected begin ${cursor})`,
        { tensor: t.name, expected: cursor, found: t.dataOffsets[0] },
      )
    }
    cursor = t.dataOffsets[1]
  }
  if (cursor !== dataLength) {
    fail(
      SafetensorsErrorCode.OffsetsInvalid,
      source,
      `tensors cover ${cursor} bytes but the data section holds ${dataLength} (trailing bytes)`,
      { covered: cursor, dataLength },
    )
  }
  return { headerLength, dataStart: 8 + headerLength, dataLength, tensors, metadata }
}

/** Validates the header of a complete safetensors file held in memory. */
export function parseSafetensorsHeader(bytes: Uint8Array, source = '<safetensors>'): SafetensorsHeader {
  const n = parseHeaderLength(bytes, bytes.byteLength, source)
  return parseHeaderJson(bytes.subarray(8, 8 + n), n, bytes.byteLength - 8 - n, source)
}
