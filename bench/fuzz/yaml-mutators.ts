/**
 * YAML mutations shared by the manifest and config corpora, and the byte-level rules every YAML
 * input must obey whatever the mutation (YAML 1.2 §5.1 printable characters, strict UTF-8, one
 * document per file).
 */
import { type Expect, int, pick } from './engine.js'
import { byteMutation, dec, enc, invalidUtf8 } from './mutate.js'
import type { Rng } from './targets.js'

export interface TextMutant {
  kind: string
  desc: string
  bytes: Uint8Array
  expect: Expect
  /** 'equal': the mutant must parse to exactly the seed's value (a formatting-only change). */
  equal?: boolean
  reason?: string
}

// Characters outside YAML's printable set (YAML 1.2 §5.1 c-printable; PyYAML refuses them too).
// With the u flag a surrogate range matches only unpaired halves (an emoji is one code point).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NON_PRINTABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ud800-\udfff\ufffe\uffff]/u

/** A reason the raw bytes must be refused whatever they say, or null. */
export function yamlByteRule(bytes: Uint8Array): string | null {
  if (invalidUtf8(bytes)) return 'not valid UTF-8'
  const text = dec.decode(bytes)
  const m = NON_PRINTABLE.exec(text)
  if (m) return `non-printable character U+${m[0].codePointAt(0)!.toString(16).padStart(4, '0')} (YAML 1.2 §5.1)`
  const lines = text.split(/\r?\n/)
  let content = false
  let ended = false
  for (const line of lines) {
    const blank = /^\s*(#.*)?$/.test(line) || (!content && !ended && line.startsWith('%'))
    if (/^---(\s|$)/.test(line)) {
      if (content || ended) return 'a second YAML document'
      content = true
      continue
    }
    if (/^\.\.\.(\s|$)/.test(line)) {
      ended = true
      continue
    }
    if (!blank) {
      if (ended) return 'content after the document end marker "..."'
      content = true
    }
  }
  return null
}

interface ScalarLine {
  index: number
  indent: string
  key: string
  value: string
  type: 'int' | 'float' | 'string' | 'bool' | 'flow' | 'null'
}

/** `key: value` lines with a scalar or flow value (comments stripped). */
export function scalarLines(text: string): ScalarLine[] {
  const out: ScalarLine[] = []
  text.split('\n').forEach((line, index) => {
    const m = /^( *)([A-Za-z_][A-Za-z0-9_]*): +(.+?)\s*(#.*)?$/.exec(line)
    if (!m || m[3]!.startsWith('#')) return
    const value = m[3]!
    const type = /^-?[0-9]+$/.test(value)
      ? 'int'
      : /^-?[0-9]+\.[0-9]*([eE][-+]?[0-9]+)?$/.test(value)
        ? 'float'
        : /^(true|false)$/.test(value)
          ? 'bool'
          : /^[[{]/.test(value)
            ? 'flow'
            : /^(null|~)$/.test(value)
              ? 'null'
              : 'string'
    out.push({ index, indent: m[1]!, key: m[2]!, value, type })
  })
  return out
}

/** Top-level keys with the line range of their block. */
function topBlocks(lines: string[]): Array<{ key: string; from: number; to: number }> {
  const out: Array<{ key: string; from: number; to: number }> = []
  lines.forEach((l, i) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*):/.exec(l)
    if (m) {
      if (out.length) out.at(-1)!.to = i
      out.push({ key: m[1]!, from: i, to: lines.length })
    }
  })
  // A block ends before trailing comments/blank lines that precede the next key.
  return out
}

function setLine(lines: string[], i: number, line: string): string {
  const copy = [...lines]
  copy[i] = line
  return copy.join('\n')
}

export interface YamlMutatorOptions {
  /** Top-level keys that may be missing (the rest are required). */
  optionalTop: ReadonlySet<string>
  /** YAML 1.1 (manifest, PyYAML-compatible) or 1.2 (config). */
  version: '1.1' | '1.2'
  /** Small sizes only (deep nesting, many keys, huge strings), for the fast test subset. */
  light?: boolean
  /**
   * Anchors (`&a`) and aliases are refused by design (the manifest: a strict reader for
   * sender-supplied files, `parseStrictYaml` with `maxAliases: 0`), so an anchor must give a
   * rejection even though YAML 1.2 §6.9.2 and PyYAML accept it. Default: anchors are valid.
   */
  anchorsRefused?: boolean
}

/** One YAML mutation of a seed text. */
export function yamlMutation(rng: Rng, seed: string, o: YamlMutatorOptions): TextMutant {
  const lines = seed.split('\n')
  const scalars = scalarLines(seed)
  const s = rng.choice(scalars)
  const blocks = topBlocks(lines)
  const T = (text: string) => enc.encode(text)
  const reject = (kind: string, desc: string, text: string, reason: string): TextMutant => ({
    kind,
    desc,
    bytes: T(text),
    expect: 'reject',
    reason,
  })
  const any = (kind: string, desc: string, text: string): TextMutant => ({ kind, desc, bytes: T(text), expect: 'any' })
  const at = (line: number) => lines.slice(0, line).join('\n').length + (line > 0 ? 1 : 0)
  return pick(rng, [
    [
      2,
      (): TextMutant => ({
        kind: 'valid:as-written',
        desc: 'unchanged seed',
        bytes: T(seed),
        expect: 'accept',
        equal: true,
      }),
    ],
    [
      2,
      (): TextMutant => {
        const i = rng.randbelow(lines.length + 1)
        const copy = [...lines]
        copy.splice(
          i,
          0,
          `${' '.repeat(i < lines.length ? (/^ */.exec(lines[i]!)?.[0].length ?? 0) : 0)}# fuzz comment ${rng.randbelow(1000)}`,
        )
        return {
          kind: 'valid:comment',
          desc: `comment line inserted at ${i}`,
          bytes: T(copy.join('\n')),
          expect: 'accept',
          equal: true,
        }
      },
    ],
    [
      1,
      (): TextMutant => ({
        kind: 'valid:trailing-space',
        desc: 'trailing spaces on every line',
        bytes: T(lines.map((l) => (l ? `${l}  ` : l)).join('\n')),
        expect: 'accept',
        equal: true,
      }),
    ],
    [
      1,
      (): TextMutant => ({
        kind: 'valid:crlf',
        desc: 'CRLF line ends',
        bytes: T(seed.replace(/\n/g, '\r\n')),
        expect: 'accept',
        equal: true,
      }),
    ],
    [
      1,
      (): TextMutant => ({
        kind: 'valid:doc-markers',
        desc: '--- and ... around the document',
        bytes: T(`---\n${seed.trimEnd()}\n...\n`),
        expect: 'accept',
        equal: true,
      }),
    ],
    [
      1,
      (): TextMutant => ({
        kind: 'valid:bom',
        desc: 'UTF-8 BOM at the start',
        bytes: T(`\ufeff${seed}`),
        expect: 'accept',
        equal: true,
      }),
    ],
    [
      1,
      (): TextMutant => {
        const strs = scalars.filter((x) => x.type === 'string' && !/^["']/.test(x.value) && !/[\\"]/.test(x.value))
        if (!strs.length) return any('valid:quoted', 'nothing to quote', seed)
        const q = rng.choice(strs)
        return {
          kind: 'valid:quoted',
          desc: `${q.key} value double-quoted`,
          bytes: T(setLine(lines, q.index, `${q.indent}${q.key}: "${q.value}"`)),
          expect: 'accept',
          equal: true,
        }
      },
    ],
    [
      10,
      (): TextMutant => {
        const m = byteMutation(T(seed), rng)
        return { kind: m.kind, desc: m.desc, bytes: m.bytes, expect: 'any' }
      },
    ],
    [
      2,
      () =>
        reject(
          'yaml:second-document',
          'a second document appended',
          `${seed.trimEnd()}\n---\n${rng.choice(['a: 1', seed, '[]', 'x'])}\n`,
          'a second YAML document',
        ),
    ],
    [
      2,
      () =>
        reject(
          'yaml:junk-after-end',
          'junk after "..."',
          `${seed.trimEnd()}\n...\n${rng.choice(['junk', 'a: 1', '- x', '%YAML 1.2'])}\n`,
          'content after "..."',
        ),
    ],
    [
      2,
      (): TextMutant => {
        const p = rng.randbelow(seed.length + 1)
        const c = rng.choice(['\u0000', '\u0001', '\u0007', '\u001b', '\u007f', '\u0085\u0000', '\u009b', '\uffff'])
        return {
          kind: 'yaml:control-char',
          desc: `U+${c.charCodeAt(0).toString(16)} at ${p}`,
          bytes: T(seed.slice(0, p) + c + seed.slice(p)),
          expect: 'any',
        }
      },
    ],
    [
      2,
      (): TextMutant => {
        const strs = scalars.filter((x) => x.type === 'string')
        const q = strs.length ? rng.choice(strs) : s
        const bad = pick(rng, [
          [1, [0xff]],
          [1, [0xc0, 0x80]],
          [1, [0xed, 0xa0, 0x80]],
          [1, [0x80]],
          [1, [0xe2, 0x82]],
        ] as const)
        const off = enc.encode(seed.slice(0, at(q.index) + lines[q.index]!.length)).byteLength
        const b = T(seed)
        const out = new Uint8Array(b.byteLength + bad.length)
        out.set(b.subarray(0, off))
        out.set(bad, off)
        out.set(b.subarray(off), off + bad.length)
        return {
          kind: 'yaml:non-utf8',
          desc: `bytes ${bad.map((x) => x.toString(16))} after ${q.key}`,
          bytes: out,
          expect: 'any',
        }
      },
    ],
    [
      3,
      (): TextMutant => {
        const dupe =
          rng.random() < 0.5
            ? `${s.indent}${s.key}: ${s.value}`
            : `${s.indent}${s.key}: ${rng.choice(['1', 'x', '[]', '0.5'])}`
        const copy = [...lines]
        copy.splice(s.index + 1, 0, dupe)
        return reject('yaml:duplicate-key', `${s.key} twice`, copy.join('\n'), 'duplicate key')
      },
    ],
    [
      1,
      (): TextMutant => {
        const b = rng.choice(blocks)
        return reject(
          'yaml:duplicate-block',
          `top-level block ${b.key} twice`,
          `${seed.trimEnd()}\n${lines.slice(b.from, b.to).join('\n')}\n`,
          'duplicate key',
        )
      },
    ],
    [
      2,
      (): TextMutant => {
        const ints = scalars.filter((x) => x.type === 'int' && !x.value.startsWith('-'))
        if (!ints.length) return any('yaml:int-spelling', 'no int', seed)
        const q = rng.choice(ints)
        const n = Number(q.value)
        const v = pick(rng, [
          [1, `0x${n.toString(16)}`],
          [1, `0o${n.toString(8)}`],
          [1, `0${n.toString(8)}`],
          [1, `0b${n.toString(2)}`],
          [1, `+${n}`],
          [1, `${n}.0`],
          [1, `${n}e0`],
          [1, n.toLocaleString('en-US').replace(/,/g, '_')],
          [1, `${n}:00`],
        ] as const)
        return any(
          'yaml:int-spelling',
          `${q.key}: ${q.value} → ${v}`,
          setLine(lines, q.index, `${q.indent}${q.key}: ${v}`),
        )
      },
    ],
    [
      2,
      (): TextMutant => {
        const nums = scalars.filter((x) => x.type === 'int' || x.type === 'float')
        if (!nums.length) return any('yaml:big-int', 'no number', seed)
        const q = rng.choice(nums)
        const v = rng.choice([
          '12345678901234567890',
          '99999999999999999999',
          '-12345678901234567890',
          '9007199254740993',
          `1${'0'.repeat(int(rng, 20, 400))}`,
        ])
        return reject(
          'yaml:big-int',
          `${q.key}: ${q.value} → ${v.slice(0, 24)}`,
          setLine(lines, q.index, `${q.indent}${q.key}: ${v}`),
          'integer beyond 2^53 (precision lost)',
        )
      },
    ],
    [
      2,
      (): TextMutant => {
        const nums = scalars.filter((x) => x.type === 'int' || x.type === 'float')
        if (!nums.length) return any('yaml:nan-inf', 'no number', seed)
        const q = rng.choice(nums)
        const v = rng.choice(['.nan', '.NaN', '.inf', '-.inf', '.Inf', '1e400', '-1e400'])
        return reject(
          'yaml:nan-inf',
          `${q.key}: ${q.value} → ${v}`,
          setLine(lines, q.index, `${q.indent}${q.key}: ${v}`),
          'NaN/Infinity',
        )
      },
    ],
    [
      3,
      (): TextMutant => {
        const v =
          s.type === 'int' || s.type === 'float'
            ? rng.choice(['"1"', 'true', '[1, 2]', '{a: 1}', '"x"', 'yes'])
            : s.type === 'string'
              ? rng.choice(['[1, 2]', '{a: 1}', '[]', '{}'])
              : s.type === 'bool'
                ? rng.choice(['"true"', '1', '[true]'])
                : rng.choice(['"x"', '7', '{a: [1]}'])
        return reject(
          'yaml:wrong-type',
          `${s.key}: ${s.value} (${s.type}) → ${v}`,
          setLine(lines, s.index, `${s.indent}${s.key}: ${v}`),
          'wrong type',
        )
      },
    ],
    [
      1,
      (): TextMutant =>
        any(
          'yaml:null',
          `${s.key}: ${s.value} → null`,
          setLine(lines, s.index, `${s.indent}${s.key}: ${rng.choice(['null', '~', ''])}`),
        ),
    ],
    [
      2,
      (): TextMutant => {
        const copy = [...lines]
        copy.splice(
          s.index + 1,
          0,
          `${s.indent}fuzz_extra_${rng.randbelow(100)}: ${rng.choice(['1', 'x', '[]', '{}'])}`,
        )
        return reject('yaml:extra-field', `extra key beside ${s.key}`, copy.join('\n'), 'unknown field (strict schema)')
      },
    ],
    [
      2,
      (): TextMutant => {
        const req = blocks.filter((b) => !o.optionalTop.has(b.key))
        const b = rng.choice(req.length ? req : blocks)
        const copy = [...lines]
        copy.splice(b.from, b.to - b.from)
        return reject('yaml:missing-field', `top-level ${b.key} removed`, copy.join('\n'), 'required field missing')
      },
    ],
    [
      1,
      (): TextMutant => {
        const n = o.light
          ? int(rng, 100, 10000)
          : pick(rng, [
              [3, int(rng, 1000, 100000)],
              [1, int(rng, 1_000_000, 2_000_000)],
            ] as const)
        const strs = scalars.filter((x) => x.type === 'string')
        const q = strs.length ? rng.choice(strs) : s
        return any(
          'yaml:huge-string',
          `${q.key} → ${n}×"a"`,
          setLine(lines, q.index, `${q.indent}${q.key}: ${'a'.repeat(n)}`),
        )
      },
    ],
    [
      1,
      (): TextMutant => {
        const d = o.light
          ? int(rng, 10, 300)
          : pick(rng, [
              [2, int(rng, 10, 500)],
              [1, int(rng, 1000, 20000)],
              [1, 100000],
            ] as const)
        return reject(
          'yaml:deep',
          `${s.key} → nesting depth ${d}`,
          setLine(lines, s.index, `${s.indent}${s.key}: ${'['.repeat(d)}${']'.repeat(d)}`),
          'wrong type (deep nesting)',
        )
      },
    ],
    [
      1,
      (): TextMutant => {
        const d = int(rng, 50, o.light ? 300 : 3000)
        const nested = `${Array.from({ length: d }, (_, k) => `${'  '.repeat(k)}k${k}:`).join('\n')} 1`
        return reject(
          'yaml:deep-block',
          `block mapping nested ${d} deep`,
          `${seed.trimEnd()}\nfuzz_nest:\n${nested.replace(/^/gm, '  ')}\n`,
          'unknown field',
        )
      },
    ],
    [
      1,
      (): TextMutant => {
        const anchored = setLine(lines, s.index, `${s.indent}${s.key}: &fz ${s.value}`)
        if (o.anchorsRefused)
          return reject('yaml:anchor', `anchor on ${s.key}`, anchored, 'anchors are refused by design (strict reader)')
        return { kind: 'yaml:anchor', desc: `anchor on ${s.key}`, bytes: T(anchored), expect: 'accept', equal: true }
      },
    ],
    [
      1,
      (): TextMutant => {
        const levels = int(rng, 3, 12)
        const width = int(rng, 2, 10)
        const defs = [`fz0: &fz0 [lol${', lol'.repeat(width - 1)}]`]
        for (let l = 1; l < levels; l++)
          defs.push(
            `fz${l}: &fz${l} [${Array(width)
              .fill(`*fz${l - 1}`)
              .join(', ')}]`,
          )
        const where = rng.random() < 0.5
        const text = where
          ? `${defs.join('\n')}\n${seed}`
          : `${defs.join('\n')}\n${setLine(lines, s.index, `${s.indent}${s.key}: *fz${levels - 1}`)}`
        return reject(
          'yaml:billion-laughs',
          `${levels} levels × ${width} aliases ${where ? 'in extra keys' : `as ${s.key}`}`,
          text,
          `alias expansion to ${width}^${levels} nodes`,
        )
      },
    ],
    [
      0.3,
      (): TextMutant => {
        // Few and mostly small: key checking is super-linear today (issue 15 §10), 20k keys take ~20 s.
        const n = o.light
          ? int(rng, 50, 300)
          : pick(rng, [
              [20, int(rng, 100, 2000)],
              [1, int(rng, 5000, 20000)],
            ] as const)
        const extra = Array.from({ length: n }, (_, k) => `fz_key_${k}: ${k}`).join('\n')
        return reject('yaml:many-keys', `${n} extra top-level keys`, `${seed.trimEnd()}\n${extra}\n`, 'unknown fields')
      },
    ],
    [
      1,
      (): TextMutant => {
        const nested = scalars.filter((x) => x.indent.length > 0)
        const q = nested.length ? rng.choice(nested) : s
        return any('yaml:tab-indent', `tab indent on ${q.key}`, setLine(lines, q.index, `\t${q.key}: ${q.value}`))
      },
    ],
    [
      1,
      (): TextMutant => {
        const tag = rng.choice([
          '!!str',
          '!!int',
          '!!float',
          '!!binary',
          '!custom',
          '!!python/object:os.system',
          '!!set',
          '!!timestamp',
          '!!bool',
        ])
        return any('yaml:tag', `${tag} on ${s.key}`, setLine(lines, s.index, `${s.indent}${s.key}: ${tag} ${s.value}`))
      },
    ],
    [
      1,
      (): TextMutant => {
        const v = rng.choice(['yes', 'no', 'on', 'off', 'Y', 'NO', 'True', 'FALSE'])
        return any(
          'yaml:bool-spelling',
          `${s.key}: ${s.value} → ${v}`,
          setLine(lines, s.index, `${s.indent}${s.key}: ${v}`),
        )
      },
    ],
    [
      1,
      (): TextMutant =>
        any(
          'yaml:merge-key',
          `<<: merge before ${s.key}`,
          setLine(lines, s.index, `${s.indent}<<: {${s.key}: ${s.value}}\n${lines[s.index]}`),
        ),
    ],
    [
      1,
      (): TextMutant => {
        const d = rng.choice([
          '%YAML 1.1\n---\n',
          '%YAML 1.2\n---\n',
          '%YAML 2.0\n---\n',
          '%TAG ! tag:x,2000:\n---\n',
          '%FOO bar\n---\n',
        ])
        return any('yaml:directive', `directive ${JSON.stringify(d.split('\n')[0])}`, d + seed)
      },
    ],
    [
      1,
      () =>
        reject(
          'yaml:not-mapping',
          'top level not a mapping',
          rng.choice(['', '[]', '42', '"x"', 'null', '- a\n- b\n', '~']),
          'not a mapping',
        ),
    ],
  ] as const)()
}
