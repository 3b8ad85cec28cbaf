/**
 * Safetensors corpus: files from the real writer (F32/F16/BF16/I64 tensors, PEFT key names),
 * structure-aware mutations of the length prefix, header JSON, offsets, dtypes and shapes, plus
 * hostile writer inputs. The oracle is an independent reference validator written from the format
 * description (huggingface/safetensors "Format" and its Rust reader's rules, plus plora's two
 * documented extra refusals: unknown entry keys and duplicate JSON keys).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { attempt, type Corpus, int, type Mutant, pick, type Verdict, verdictOf } from './engine.js'
import { byteMutation, concat, dec, enc, flipBits } from './mutate.js'
import {
  decodeSafetensors,
  encodeSafetensors,
  openSafetensors,
  type Rng,
  readSafetensors,
  SAFETENSORS_DTYPES,
} from './targets.js'

const SIZE: Record<string, number> = {
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
const MAX_HEADER = 100_000_000

// ---------------------------------------------------------------------------------------------
// Reference validator (independent of the package: own JSON parser, BigInt arithmetic).

type JVal = null | boolean | string | JNum | JVal[] | JObj
interface JNum {
  num: string
}
interface JObj {
  pairs: Array<[string, JVal]>
}
const isObj = (v: JVal): v is JObj => typeof v === 'object' && v !== null && 'pairs' in v
const isNum = (v: JVal): v is JNum => typeof v === 'object' && v !== null && 'num' in v

class RefReject extends Error {}
const no = (why: string): never => {
  throw new RefReject(why)
}

/** Strict RFC 8259 parser keeping number literals and key order; depth-limited (a valid header nests 4 deep). */
function parseJson(text: string, maxDepth: number): JVal {
  let i = 0
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++
  }
  const str = (): string => {
    if (text[i] !== '"') no(`expected string at ${i}`)
    i++
    let out = ''
    for (;;) {
      if (i >= text.length) no('unterminated string')
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        i++
        break
      }
      if (c < 0x20) no(`raw control char 0x${c.toString(16)} in string`)
      if (c === 0x5c) {
        const e = text[i + 1]
        i += 2
        if (e === 'u') {
          const h = text.slice(i, i + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(h)) no('bad \\u escape')
          out += String.fromCharCode(Number.parseInt(h, 16))
          i += 4
        } else {
          const m: Record<string, string> = {
            '"': '"',
            '\\': '\\',
            '/': '/',
            b: '\b',
            f: '\f',
            n: '\n',
            r: '\r',
            t: '\t',
          }
          if (e === undefined || !(e in m)) no(`bad escape \\${e}`)
          out += m[e!]
        }
        continue
      }
      out += text[i]
      i++
    }
    // Rust's serde_json (the reference reader) refuses unpaired surrogate escapes.
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(out)) no('lone surrogate')
    return out
  }
  const value = (depth: number): JVal => {
    if (depth > maxDepth) no('nested deeper than any valid header')
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const pairs: Array<[string, JVal]> = []
      const seen = new Set<string>()
      ws()
      if (text[i] === '}') {
        i++
        return { pairs }
      }
      for (;;) {
        ws()
        const k = str()
        if (seen.has(k)) no(`duplicate key ${JSON.stringify(k)}`)
        seen.add(k)
        ws()
        if (text[i] !== ':') no('expected :')
        i++
        pairs.push([k, value(depth + 1)])
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') {
          i++
          return { pairs }
        }
        no('expected , or }')
      }
    }
    if (c === '[') {
      i++
      const out: JVal[] = []
      ws()
      if (text[i] === ']') {
        i++
        return out
      }
      for (;;) {
        out.push(value(depth + 1))
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') {
          i++
          return out
        }
        no('expected , or ]')
      }
    }
    if (c === '"') return str()
    for (const [lit, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(lit, i)) {
        i += lit.length
        return v
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400))
    if (!m) no(`unexpected ${JSON.stringify(c)} at ${i}`)
    i += m![0].length
    return { num: m![0] }
  }
  const v = value(1)
  ws()
  if (i !== text.length) no('trailing characters after the JSON value')
  return v
}

/** A JSON integer literal (no fraction/exponent) in [0, 2^53). */
function uint(v: JVal, what: string): bigint {
  if (!isNum(v) || !/^-?(0|[1-9][0-9]*)$/.test(v.num)) no(`${what} is not an integer literal`)
  const n = BigInt((v as JNum).num)
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) no(`${what} out of range`)
  return n
}

export interface RefTensor {
  name: string
  dtype: string
  shape: number[]
  begin: number
  end: number
}

/** Reference verdict for a whole file: the tensors (offset order) or the reason it is invalid. */
export function referenceCheck(
  file: Uint8Array,
): { ok: true; tensors: RefTensor[]; dataStart: number } | { ok: false; why: string } {
  try {
    if (file.byteLength < 8) no('shorter than 8 bytes')
    const n = new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true)
    if (n === 0n || n > BigInt(MAX_HEADER) || n > BigInt(file.byteLength - 8)) no(`header length ${n} out of range`)
    const hl = Number(n)
    let text: string
    try {
      text = dec.decode(file.subarray(8, 8 + hl))
    } catch {
      return no('header not UTF-8')
    }
    if (text[0] !== '{') no('header does not start with {')
    const root = parseJson(text, 4)
    if (!isObj(root)) no('header not an object')
    const dataLength = BigInt(file.byteLength - 8 - hl)
    const tensors: Array<RefTensor & { b: bigint; e: bigint }> = []
    for (const [name, v] of (root as JObj).pairs) {
      if (name === '__metadata__') {
        if (!isObj(v)) no('__metadata__ not an object')
        for (const [, mv] of (v as JObj).pairs) if (typeof mv !== 'string') no('__metadata__ value not a string')
        continue
      }
      if (!isObj(v)) no(`${name}: entry not an object`)
      const o = new Map((v as JObj).pairs)
      if (o.size !== 3 || !o.has('dtype') || !o.has('shape') || !o.has('data_offsets')) no(`${name}: entry keys`)
      const dtype = o.get('dtype')
      if (typeof dtype !== 'string' || !(dtype in SIZE)) no(`${name}: dtype`)
      const shape = o.get('shape')
      if (!Array.isArray(shape)) no(`${name}: shape not an array`)
      const dims = (shape as JVal[]).map((d) => uint(d, `${name}: dim`))
      const off = o.get('data_offsets')
      if (!Array.isArray(off) || off.length !== 2) no(`${name}: data_offsets not a pair`)
      const b = uint((off as JVal[])[0]!, `${name}: begin`)
      const e = uint((off as JVal[])[1]!, `${name}: end`)
      if (b > e || e > dataLength) no(`${name}: offsets out of range`)
      const count = dims.reduce((a, d) => a * d, 1n)
      if (count * BigInt(SIZE[dtype as string]!) !== e - b) no(`${name}: shape × dtype size ≠ byte range`)
      tensors.push({ name, dtype: dtype as string, shape: dims.map(Number), begin: Number(b), end: Number(e), b, e })
    }
    tensors.sort((x, y) => (x.b < y.b ? -1 : x.b > y.b ? 1 : x.e < y.e ? -1 : x.e > y.e ? 1 : 0))
    let cursor = 0n
    for (const t of tensors) {
      if (t.b !== cursor) no(`${t.name}: gap or overlap`)
      cursor = t.e
    }
    if (cursor !== dataLength) no('trailing bytes after the last tensor')
    return { ok: true, tensors, dataStart: 8 + hl }
  } catch (e) {
    if (e instanceof RefReject) return { ok: false, why: e.message }
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// Seeds from the real writer.

type TensorSpec = { dtype: string; shape: number[]; data: ArrayLike<number> | ArrayLike<bigint> }

function seedTensors(rng: Rng): { tensors: Array<[string, TensorSpec]>; metadata: Record<string, string> | null } {
  const tensors: Array<[string, TensorSpec]> = []
  const r = pick(rng, [
    [3, 1],
    [3, 2],
    [2, 4],
    [1, 8],
  ] as const)
  const dts = ['F32', 'F16', 'BF16', 'I64'] as const
  const mk = (dtype: string, shape: number[]): TensorSpec => {
    const n = shape.reduce((a, b) => a * b, 1)
    if (dtype === 'I64') return { dtype, shape, data: Array.from({ length: n }, () => BigInt(int(rng, -1000, 1000))) }
    return { dtype, shape, data: Array.from({ length: n }, () => rng.gauss(0, 1)) }
  }
  for (let l = 0, n = int(rng, 1, 3); l < n; l++) {
    const path = `base_model.model.transformer.h.${l}.attn.c_attn`
    const inF = int(rng, 1, 12)
    const outF = int(rng, 1, 12)
    tensors.push([`${path}.lora_A.weight`, mk(rng.choice(dts), [r, inF])])
    tensors.push([`${path}.lora_B.weight`, mk(rng.choice(dts), [outF, r])])
  }
  if (rng.random() < 0.2) tensors.push(['scalar', mk(rng.choice(dts), [])])
  if (rng.random() < 0.1) tensors.push(['empty', mk(rng.choice(dts), [0, int(rng, 1, 4)])])
  if (rng.random() < 0.1) tensors.push(['ids', mk('I64', [int(rng, 1, 6)])])
  return { tensors, metadata: rng.random() < 0.7 ? { format: 'pt' } : null }
}

/** Re-assembles a file from header text and data, with an optional length prefix override. */
function file(header: string | Uint8Array, data: Uint8Array, len?: bigint): Uint8Array {
  const h = typeof header === 'string' ? enc.encode(header) : header
  const out = new Uint8Array(8 + h.byteLength + data.byteLength)
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(h.byteLength), true)
  out.set(h, 8)
  out.set(data, 8 + h.byteLength)
  return out
}

type Header = Record<string, unknown>
type Entry = { dtype: unknown; shape: unknown; data_offsets: unknown; [k: string]: unknown }

const HOSTILE_INTS: unknown[] = [-1, 1.5, '4', null, true, 2 ** 53, 2 ** 64, 1e300, -0, [1], {}]

function tensorNames(h: Header): string[] {
  return Object.keys(h).filter((k) => k !== '__metadata__')
}

/** One structure-aware mutation of a seed file. */
function structural(rng: Rng, base: Uint8Array): { kind: string; desc: string; bytes: Uint8Array } {
  const n = Number(new DataView(base.buffer, base.byteOffset, 8).getBigUint64(0, true))
  const headerText = dec.decode(base.subarray(8, 8 + n))
  const data = base.subarray(8 + n)
  const h = JSON.parse(headerText) as Header
  const names = tensorNames(h)
  const name = rng.choice(names)
  const e = h[name] as Entry
  const other = names.length > 1 ? rng.choice(names.filter((x) => x !== name)) : name
  const o = h[other] as Entry
  const J = (x: unknown) => JSON.stringify(x)
  const withEntry = (patch: Partial<Entry>) => J({ ...h, [name]: { ...e, ...patch } })
  return pick(rng, [
    // Valid variants: the reference must accept them and so must the reader.
    [2, () => ({ kind: 'valid:as-written', desc: 'unchanged writer output', bytes: base })],
    [
      1,
      () => {
        const keys = rng.shuffle(Object.keys(h))
        return {
          kind: 'valid:reordered',
          desc: `header keys reordered ${keys.join(',')}`,
          bytes: file(J(Object.fromEntries(keys.map((k) => [k, h[k]]))), data),
        }
      },
    ],
    [
      1,
      () => {
        const pad = pick(rng, [
          [1, ' '],
          [1, '\n'],
          [1, '\t'],
          [1, '\r\n'],
        ] as const).repeat(int(rng, 1, 20))
        return { kind: 'valid:padded', desc: `header padded with ${J(pad)}`, bytes: file(J(h) + pad, data) }
      },
    ],
    [1, () => ({ kind: 'valid:pretty', desc: 'header pretty-printed', bytes: file(JSON.stringify(h, null, 2), data) })],
    // Length prefix.
    [
      4,
      () => {
        const size = BigInt(base.byteLength)
        const len = pick(rng, [
          [2, 0n],
          [1, 1n],
          [2, BigInt(n - 1)],
          [2, BigInt(n + 1)],
          [1, size - 8n],
          [1, size - 7n],
          [1, 2n ** 64n - 1n],
          [1, 2n ** 63n],
          [1, 2n ** 53n + 1n],
          [1, BigInt(MAX_HEADER + 1)],
          [1, BigInt(MAX_HEADER)],
          [1, BigInt(rng.randbelow(2 ** 32)) * BigInt(rng.randbelow(2 ** 32))],
        ] as const)
        return { kind: 'len:prefix', desc: `header length ${n} → ${len}`, bytes: file(headerText, data, len) }
      },
    ],
    // Offsets.
    [
      2,
      () => {
        const [b, en] = e.data_offsets as [number, number]
        const d = rng.choice([-8, -2, -1, 1, 2, 8])
        const which = rng.randbelow(2)
        const off = which ? [b, en + d] : [b + d, en]
        return {
          kind: 'offsets:shift',
          desc: `${name} data_offsets [${b},${en}] → [${off}]`,
          bytes: file(withEntry({ data_offsets: off }), data),
        }
      },
    ],
    [
      1,
      () => ({
        kind: 'offsets:overlap',
        desc: `${name} offsets := ${other}'s`,
        bytes: file(withEntry({ data_offsets: o.data_offsets }), data),
      }),
    ],
    [
      1,
      () => {
        const [b, en] = e.data_offsets as [number, number]
        return {
          kind: 'offsets:reversed',
          desc: `${name} [${b},${en}] → [${en},${b}]`,
          bytes: file(withEntry({ data_offsets: [en, b] }), data),
        }
      },
    ],
    [
      1,
      () => {
        const [b, en] = e.data_offsets as [number, number]
        const far = pick(rng, [
          [1, data.byteLength + 1],
          [1, 2 ** 32],
          [1, 2 ** 53 - 1],
          [1, Number.MAX_SAFE_INTEGER + 2],
        ] as const)
        return {
          kind: 'offsets:out-of-range',
          desc: `${name} [${b},${en}] → [${b},${far}]`,
          bytes: file(withEntry({ data_offsets: [b, far] }), data),
        }
      },
    ],
    [
      1,
      () => {
        const v = rng.choice(HOSTILE_INTS)
        const [b, en] = e.data_offsets as [number, number]
        const off = pick(rng, [
          [2, [v, en]],
          [2, [b, v]],
          [1, [b]],
          [1, [b, en, en]],
          [1, v],
          [1, `${b},${en}`],
        ] as const)
        return {
          kind: 'offsets:bad-type',
          desc: `${name} data_offsets → ${J(off)}`,
          bytes: file(withEntry({ data_offsets: off }), data),
        }
      },
    ],
    [
      1,
      () => {
        // Swapping the ranges of two tensors of equal byte length keeps the file valid.
        const ob = o.data_offsets
        return {
          kind: 'offsets:swap',
          desc: `swap offsets of ${name} and ${other}`,
          bytes: file(
            J({ ...h, [name]: { ...e, data_offsets: ob }, [other]: { ...o, data_offsets: e.data_offsets } }),
            data,
          ),
        }
      },
    ],
    // Dtypes.
    [
      2,
      () => {
        const dt = rng.choice(SAFETENSORS_DTYPES.filter((d) => d !== e.dtype))
        return {
          kind: 'dtype:change',
          desc: `${name} dtype ${e.dtype} → ${dt}`,
          bytes: file(withEntry({ dtype: dt }), data),
        }
      },
    ],
    [
      1,
      () => {
        const dt = rng.choice([
          'F8_E4M3',
          'F8_E5M2',
          'f32',
          'float32',
          '',
          'F32 ',
          4,
          null,
          ['F32'],
          'F4',
          'C64',
          'U128',
        ])
        return { kind: 'dtype:unknown', desc: `${name} dtype → ${J(dt)}`, bytes: file(withEntry({ dtype: dt }), data) }
      },
    ],
    // Shapes.
    [
      2,
      () => {
        const s = [...(e.shape as number[])]
        if (s.length === 0) s.push(1)
        const k = rng.randbelow(s.length)
        s[k] = pick(rng, [
          [2, s[k]! + 1],
          [2, Math.max(0, s[k]! - 1)],
          [1, s[k]! * 2],
          [1, 0],
        ] as const)
        return {
          kind: 'shape:dim',
          desc: `${name} shape ${J(e.shape)} → ${J(s)}`,
          bytes: file(withEntry({ shape: s }), data),
        }
      },
    ],
    [
      2,
      () => {
        const s = pick(rng, [
          [1, [2 ** 31, 2 ** 31, 2 ** 31]],
          [1, [2 ** 53 - 1, 2 ** 53 - 1]],
          [1, [0, 2 ** 53 - 1]],
          [1, [2 ** 26, 2 ** 26, 2 ** 26, 2 ** 26]],
          [1, [65536, 65536, 65536, 0]],
          [1, [3, 6004799503160661]],
          [1, Array(64).fill(2)],
          [1, [2 ** 53]],
          [1, [2 ** 32, 2 ** 32]],
        ] as const)
        return { kind: 'shape:huge', desc: `${name} shape → ${J(s)}`, bytes: file(withEntry({ shape: s }), data) }
      },
    ],
    [
      1,
      () => {
        const v = rng.choice(HOSTILE_INTS)
        const s = pick(rng, [
          [3, [...(e.shape as number[]), v]],
          [1, v],
          [1, 'x'],
          [1, [[1]]],
        ] as const)
        return { kind: 'shape:bad-type', desc: `${name} shape → ${J(s)}`, bytes: file(withEntry({ shape: s }), data) }
      },
    ],
    [
      1,
      () => {
        const s = [...Array(int(rng, 10, 2000)).fill(1), ...(e.shape as number[])]
        return {
          kind: 'shape:long',
          desc: `${name} shape with ${s.length} dims`,
          bytes: file(withEntry({ shape: s }), data),
        }
      },
    ],
    // JSON-level defects.
    [
      2,
      () => {
        const text = J(h)
        const dupe = pick(rng, [
          [2, () => text.replace(/}$/, `,${J(name)}:${J(o)}}`)],
          [1, () => text.replace(`${J(name)}:{`, `${J(name)}:{"dtype":${J(e.dtype)},`)],
          [1, () => text.replace(`${J(name)}:{`, `${J(name)}:{"shape":[1],`)],
          [1, () => `{"__metadata__":{"format":"pt"},"__metadata__":{"format":"tf"},${text.slice(1)}`],
          [1, () => text.replace('"pt"', '"pt","format":"np"')],
        ] as const)()
        return { kind: 'json:duplicate-key', desc: `duplicate key near ${name}`, bytes: file(dupe, data) }
      },
    ],
    [
      2,
      () => {
        const text = J(h)
        const at = text.indexOf(J(name)) + 1 + rng.randbelow(Math.max(1, name.length))
        const bad = pick(rng, [
          [1, [0xff]],
          [1, [0xc0, 0x80]],
          [1, [0xed, 0xa0, 0x80]],
          [1, [0x80]],
          [1, [0xf8, 0x88, 0x80, 0x80, 0x80]],
          [1, [0xe2, 0x82]],
        ] as const)
        const t = enc.encode(text)
        const tb = enc.encode(text.slice(0, at)).byteLength
        return {
          kind: 'json:non-utf8',
          desc: `bytes ${bad.map((x) => x.toString(16))} inside ${name}`,
          bytes: file(concat(t.subarray(0, tb), Uint8Array.from(bad), t.subarray(tb)), data),
        }
      },
    ],
    [
      1,
      () => {
        const esc = pick(rng, [
          [2, '\\ud800'],
          [1, '\\udfff'],
          [1, '\\udc00\\ud800'],
          [1, '\\ud83d\\ude00'],
        ] as const)
        const text = J(h).replace(J(name), `"${name}${esc}"`)
        return { kind: 'json:surrogate', desc: `${name} + ${esc}`, bytes: file(text, data) }
      },
    ],
    [
      1,
      () => {
        const raw = rng.random() < 0.5
        const text = J(h).replace(J(name), `"${name}${raw ? '\u0000' : '\\u0000'}"`)
        return { kind: 'json:nul', desc: `${raw ? 'raw' : 'escaped'} NUL in ${name}`, bytes: file(text, data) }
      },
    ],
    [
      1,
      () => {
        const d = pick(rng, [
          [2, int(rng, 2, 50)],
          [1, int(rng, 1000, 10000)],
          [1, 200000],
        ] as const)
        const nest = `${'['.repeat(d)}${']'.repeat(d)}`
        const text =
          rng.random() < 0.5
            ? J(h)
                .replace(/^\{/, `{"__metadata__":{"x":${nest}},`)
                .replace(/,"__metadata__":\{[^}]*\}/, '')
            : J(h).replace(`${J(name)}:{`, `${J(name)}:{"nest":${nest},`)
        return { kind: 'json:deep', desc: `nesting depth ${d}`, bytes: file(text, data) }
      },
    ],
    [
      1,
      () => {
        const s = e.shape as number[]
        const lit = pick(rng, [
          [1, (x: number) => `${x}.0`],
          [1, (x: number) => `${x}e0`],
          [1, (x: number) => `${x}E+0`],
          [1, (x: number) => `0${x}`],
          [1, (x: number) => `+${x}`],
        ] as const)
        const shown = `[${s.length ? s.map((x, k) => (k === 0 ? lit(x) : String(x))).join(',') : lit(1)}]`
        const text = J(h).replace(
          `${J(name)}:{"dtype":${J(e.dtype)},"shape":${J(s)}`,
          `${J(name)}:{"dtype":${J(e.dtype)},"shape":${shown}`,
        )
        return { kind: 'json:number-literal', desc: `${name} shape written ${shown}`, bytes: file(text, data) }
      },
    ],
    [
      1,
      () => {
        const text = pick(rng, [
          [1, `${J(h)}x`],
          [1, `${J(h)}{}`],
          [1, ` ${J(h)}`],
          [1, `\ufeff${J(h)}`],
          [1, `${J(h)}\u0000`],
          [1, '[]'],
          [1, '"x"'],
          [1, '{'],
          [1, 'null'],
          [1, '{}'],
          [1, `{${J(h)}}`],
        ] as const)
        return { kind: 'json:framing', desc: `header ${J(text.slice(0, 12))}…`, bytes: file(text, data) }
      },
    ],
    [
      1,
      () => {
        const md = rng.choice([
          null,
          [],
          'pt',
          { format: 1 },
          { format: null },
          { format: { a: 'b' } },
          { format: ['pt'] },
          7,
        ])
        return {
          kind: 'metadata:bad',
          desc: `__metadata__ → ${J(md)}`,
          bytes: file(J({ __metadata__: md, ...Object.fromEntries(names.map((k) => [k, h[k]])) }), data),
        }
      },
    ],
    [
      1,
      () => {
        const patch = pick(rng, [
          [2, { ...e, extra: 1 }],
          [1, { dtype: e.dtype, shape: e.shape }],
          [1, { dtype: e.dtype, data_offsets: e.data_offsets }],
          [1, { shape: e.shape, data_offsets: e.data_offsets }],
        ] as const)
        return {
          kind: 'entry:keys',
          desc: `${name} entry keys → ${Object.keys(patch)}`,
          bytes: file(J({ ...h, [name]: patch }), data),
        }
      },
    ],
    [
      1,
      () => {
        const entry = rng.choice([null, [], 'x', 1, {}])
        return {
          kind: 'entry:not-object',
          desc: `${name} → ${J(entry)}`,
          bytes: file(J({ ...h, [name]: entry }), data),
        }
      },
    ],
    [
      1,
      () => {
        const extra = new Uint8Array(int(rng, 1, 16)).fill(rng.randbelow(256))
        return { kind: 'data:trailing', desc: `${extra.byteLength} bytes appended`, bytes: concat(base, extra) }
      },
    ],
    [
      1,
      () => {
        const nn = pick(rng, [
          [1, '__proto__'],
          [1, 'constructor'],
          [1, ''],
          [1, 'x'.repeat(int(rng, 1000, 100000))],
          [1, 'ünï©ødé 🚀'],
          [1, 'toString'],
          [1, 'hasOwnProperty'],
          [1, '\\'],
          [1, '"'],
        ] as const)
        const text = J(h).replace(J(name), J(nn))
        return {
          kind: 'name:special',
          desc: `${name} renamed ${J(nn.slice(0, 20))}${nn.length > 20 ? `… (${nn.length} chars)` : ''}`,
          bytes: file(text, data),
        }
      },
    ],
    [
      2,
      () => {
        const r = flipBits(base, rng, 8, 8 + n)
        return { kind: 'header:flip', desc: r.desc, bytes: r.bytes }
      },
    ],
    [
      1,
      () => {
        const r = flipBits(base, rng, 0, 8)
        return { kind: 'len:flip', desc: r.desc, bytes: r.bytes }
      },
    ],
  ] as const)()
}

// ---------------------------------------------------------------------------------------------
// Hostile writer inputs: the encoder must refuse them (SafetensorsError) or write a valid file.

interface WriterCase {
  tensors: unknown
  metadata: unknown
}

type WriterPick = { kind: string; desc: string; w: WriterCase; expect: 'accept' | 'reject' }

function writerCase(rng: Rng, seed: ReturnType<typeof seedTensors>): WriterPick {
  const [name, t] = rng.choice(seed.tensors)
  const md = seed.metadata
  const others = seed.tensors.filter(([k]) => k !== name)
  const bad = (desc: string, tensors: unknown, metadata: unknown = md) => ({
    kind: 'writer:hostile',
    desc,
    w: { tensors, metadata },
    expect: 'reject' as const,
  })
  return pick<() => WriterPick>(rng, [
    [
      2,
      () => ({
        kind: 'writer:valid',
        desc: 'seed tensors',
        w: { tensors: seed.tensors, metadata: md },
        expect: 'accept' as const,
      }),
    ],
    [
      1,
      () => ({
        kind: 'writer:valid',
        desc: 'F16 as raw Uint16 bits',
        w: { tensors: [['h', { dtype: 'F16', shape: [2], data: Uint16Array.of(0x3c00, 0x7e00) }]], metadata: md },
        expect: 'accept' as const,
      }),
    ],
    [1, () => bad(`duplicate name ${name}`, [...seed.tensors, [name, t]])],
    [1, () => bad('tensor named __metadata__', [...others, ['__metadata__', t]])],
    [
      1,
      () =>
        bad(`${name} shape/data mismatch`, [
          ...others,
          [name, { ...t, shape: t.data.length === 0 ? [1] : [...t.shape, 2] }],
        ]),
    ],
    [
      1,
      () => {
        const d = rng.choice([Number.NaN, -1, 1.5, 2 ** 53, Number.POSITIVE_INFINITY])
        return bad(`${name} dim ${d}`, [...others, [name, { ...t, shape: [d] }]])
      },
    ],
    [1, () => bad(`${name} dtype F8_E4M3`, [...others, [name, { ...t, dtype: 'F8_E4M3' }]])],
    [1, () => bad('non-string metadata', seed.tensors, { format: 1 })],
    [1, () => bad('I64 with a fractional element', [['i', { dtype: 'I64', shape: [2], data: [1, 2.5] }]])],
    [
      1,
      () =>
        bad('shape whose product overflows', [['o', { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data: [] }]]),
    ],
  ])()
}

// ---------------------------------------------------------------------------------------------

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.byteLength === b.byteLength &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  )
}

/** Checks a decoded file against the reference tensor table and the raw bytes. */
function checkDecoded(
  file: Uint8Array,
  ref: { tensors: RefTensor[]; dataStart: number },
  tensors: ReadonlyMap<string, { dtype: string; shape: number[]; data: ArrayLike<unknown> & ArrayBufferView }>,
  via: string,
): string[] {
  const v: string[] = []
  if (tensors.size !== ref.tensors.length) v.push(`${via}: ${tensors.size} tensors, reference ${ref.tensors.length}`)
  for (const r of ref.tensors) {
    const t = tensors.get(r.name)
    if (!t) {
      v.push(`${via}: tensor ${JSON.stringify(r.name)} missing`)
      continue
    }
    const count = r.shape.reduce((a, b) => a * b, 1)
    if (t.dtype !== r.dtype || t.shape.join() !== r.shape.join()) v.push(`${via}: ${r.name} dtype/shape differ`)
    if (t.data.length !== count) v.push(`${via}: ${r.name} has ${t.data.length} elements, shape needs ${count}`)
    if (
      r.dtype !== 'F16' &&
      r.dtype !== 'BF16' &&
      !sameBytes(bytesOf(t.data), file.subarray(ref.dataStart + r.begin, ref.dataStart + r.end))
    ) {
      v.push(`${via}: ${r.name} data differs from its byte range`)
    }
  }
  return v
}

/** The safetensors corpus; `scratch` holds the per-case file for the path entry points. */
export function safetensorsCorpus(scratch: string): Corpus {
  const path = join(scratch, 'case.safetensors')
  return {
    name: 'safetensors',
    make(rng, _i): Mutant {
      const seed = seedTensors(rng)
      const base = encodeSafetensors(seed.tensors as never, seed.metadata)
      const which = rng.random()
      if (which < 0.08) {
        const w = writerCase(rng, seed)
        return { kind: w.kind, desc: w.desc, bytes: new Uint8Array(0), expect: w.expect, context: w.w }
      }
      const m = which < 0.4 ? byteMutation(base, rng) : structural(rng, base)
      return { kind: m.kind, desc: m.desc, bytes: m.bytes, expect: 'any' }
    },
    async judge(m): Promise<Verdict> {
      if (m.context) return judgeWriter(m)
      const ref = referenceCheck(m.bytes)
      const expect = ref.ok ? 'accept' : 'reject'
      const reason = ref.ok ? 'reference accepts' : `reference: ${ref.why}`
      const a = await attempt(() => decodeSafetensors(m.bytes))
      writeFileSync(path, m.bytes)
      const b = await attempt(() => readSafetensors(path))
      const c = await attempt(async () => {
        const f = await openSafetensors(path)
        try {
          const out = new Map<string, { dtype: string; shape: number[]; data: ArrayLike<unknown> & ArrayBufferView }>()
          for (const name of f.names()) out.set(name, (await f.readTensor(name)) as never)
          return out
        } finally {
          await f.close()
        }
      })
      const violations: string[] = []
      const runs = [
        ['bytes', a],
        ['file', b],
        ['lazy', c],
      ] as const
      for (const [via, r] of runs.slice(1)) {
        if (r.outcome !== a.outcome || r.code !== a.code)
          violations.push(`${via} gives ${r.outcome} ${r.code ?? ''}, bytes give ${a.outcome} ${a.code ?? ''}`)
      }
      if (ref.ok) {
        if (a.value) violations.push(...checkDecoded(m.bytes, ref, a.value.tensors as never, 'bytes'))
        if (c.value) violations.push(...checkDecoded(m.bytes, ref, c.value, 'lazy'))
      }
      const crash = runs.find(([, r]) => r.outcome === 'crashed')?.[1]
      const head = crash ?? a
      return verdictOf(head, expect, reason, violations, a.ms + b.ms + c.ms)
    },
  }
}

async function judgeWriter(m: Mutant): Promise<Verdict> {
  const w = m.context as WriterCase
  const a = await attempt(() => encodeSafetensors(w.tensors as never, w.metadata as never))
  const violations: string[] = []
  if (a.value) {
    const ref = referenceCheck(a.value)
    if (!ref.ok) violations.push(`writer output fails the reference: ${ref.why}`)
    const r = await attempt(() => decodeSafetensors(a.value!))
    if (r.outcome !== 'accepted') violations.push(`writer output refused by the reader: ${r.code ?? r.error}`)
  }
  return {
    outcome: a.outcome,
    ...(a.code ? { code: a.code } : {}),
    ...(a.error ? { error: a.error } : {}),
    ...(a.stack ? { stack: a.stack } : {}),
    expect: m.expect,
    reason: m.desc,
    violations,
    ms: a.ms,
  }
}
