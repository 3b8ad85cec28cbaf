/**
 * One strict, linear-time YAML reader for every file plora parses (configs, manifests), so a
 * hostile file is refused in bounded time with a position instead of stalling or crashing.
 *
 * - Size is checked first (`maxBytes`, UTF-8 bytes), before any parsing.
 * - Raw control characters (NUL, C0 except tab/LF/CR, DEL, C1), U+FFFE/U+FFFF, a byte-order mark
 *   anywhere but the start, and bidirectional-override characters are refused: none has a
 *   legitimate use in these files and each can hide what a reviewer reads.
 * - Exactly one document: a second document or text after `...` is refused
 *   (`parseAllDocuments`, every error and warning counts).
 * - Duplicate keys are found with one `Set` per mapping. The `yaml` library's own `uniqueKeys`
 *   check compares each new key with every earlier one (O(n²): a 100k-key file took minutes).
 *   Keys must be scalars; `__proto__` is refused (it would set a prototype when merged in code).
 * - Merge keys (`<<`) are never expanded: `<<` is an ordinary (unknown) key.
 * - Aliases: refused outright, or limited in number, and their expansion bounded
 *   (`maxAliasCount`) so a billion-laughs file is a clear error.
 * - Numbers are read only in decimal: a plain integer must be `[-+]?(0|[1-9][0-9]*)` (no hex,
 *   octal, binary, `_` separators or YAML 1.1 sexagesimal `1:20`) and a safe integer; a float is
 *   a decimal with `.`/exponent (or `.inf`/`.nan`, left for the schema to judge); with YAML 1.1,
 *   only PyYAML's float form (a `.`, a signed exponent), since PyYAML reads `1e3` as a string.
 * - Only comments may follow the document (a trailing `%YAML` directive with no document is refused).
 *
 * Outcomes are data: `{ ok: true, value }` or `{ ok: false, problem }` with a reason, message and
 * 1-based line/column; each package maps problems to its own error code.
 */
import YAML from 'yaml'

/** Why a text was refused. */
export type StrictYamlReason =
  | 'too_large'
  | 'not_utf8'
  | 'control_character'
  | 'syntax'
  | 'multiple_documents'
  | 'duplicate_key'
  | 'key_not_scalar'
  | 'reserved_key'
  | 'alias'
  | 'number_form'
  | 'number_unsafe'

/** A refusal, with a 1-based position when there is one. */
export interface StrictYamlProblem {
  reason: StrictYamlReason
  message: string
  line?: number
  col?: number
}

/** Options of {@link parseStrictYaml}. */
export interface StrictYamlOptions {
  /** Largest accepted text in UTF-8 bytes. */
  maxBytes: number
  /** YAML version (`1.1` = PyYAML's schema, `1.2` = core schema). Default `1.2`. */
  version: '1.1' | '1.2'
  /** `0` = any alias (or anchor) is refused; otherwise the most alias nodes accepted. Default 0. */
  maxAliases: number
  /** Refuse warnings too (an unknown `!tag` silently changes a value's type). Default true. */
  refuseWarnings: boolean
}

/** Defaults of {@link parseStrictYaml}. */
export const DEFAULT_STRICT_YAML_OPTIONS: Readonly<StrictYamlOptions> = {
  maxBytes: 1024 * 1024,
  version: '1.2',
  maxAliases: 0,
  refuseWarnings: true,
}

/** Result of {@link parseStrictYaml}; `value` is `null` for an empty (or comment-only) text. */
export type StrictYamlResult = { ok: true; value: unknown } | { ok: false; problem: StrictYamlProblem }

const FORBIDDEN_CHAR =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]|(?<!^)\ufeff/u
const DECIMAL_INT = /^[-+]?(?:0|[1-9][0-9]*)$/
const DECIMAL_FLOAT = /^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?$/
/**
 * YAML 1.1 floats as PyYAML resolves them (`resolver.py`): a `.` is required and an exponent needs
 * its sign, so `1e3`, `4e0` and `1.5e3` are *strings* to PyYAML. The `yaml` library reads them as
 * numbers; such a scalar would mean two different things to the two readers, so it is refused.
 */
const PYYAML_FLOAT = /^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?$/
const SPECIAL_FLOAT = /^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/

/** 1-based line and column of a UTF-16 offset in `text`. */
function position(text: string, offset: number): { line: number; col: number } {
  let line = 1
  let start = 0
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++
    start = i + 1
  }
  return { line, col: offset - start + 1 }
}

function fail(
  text: string,
  reason: StrictYamlReason,
  message: string,
  offset?: number,
): { ok: false; problem: StrictYamlProblem } {
  if (offset === undefined) return { ok: false, problem: { reason, message } }
  const pos = position(text, offset)
  return { ok: false, problem: { reason, message, ...pos } }
}

function charName(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`
}

/** Decodes UTF-8 bytes strictly (invalid sequences refused, not replaced), checking the size first. */
export function decodeYamlBytes(
  bytes: Uint8Array,
  maxBytes: number,
): { ok: true; text: string } | { ok: false; problem: StrictYamlProblem } {
  if (bytes.byteLength > maxBytes) {
    return fail('', 'too_large', `file is ${bytes.byteLength} bytes; the limit is ${maxBytes}`)
  }
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) }
  } catch {
    return fail('', 'not_utf8', 'not UTF-8 text (invalid byte sequence)')
  }
}

/**
 * Parses one YAML document strictly (see the file header) in time linear in the text's length.
 *
 * @example
 * const r = parseStrictYaml(text, { maxBytes: 256 * 1024, version: '1.1' })
 * if (!r.ok) throw new ManifestError('MANIFEST_YAML_INVALID', `${file}:${r.problem.line}: ${r.problem.message}`)
 */
export function parseStrictYaml(text: string, options: Partial<StrictYamlOptions> = {}): StrictYamlResult {
  const o = { ...DEFAULT_STRICT_YAML_OPTIONS, ...options }
  // UTF-16 length × 3 bounds the UTF-8 length; count exactly only near the limit.
  if (text.length > o.maxBytes || (text.length * 3 > o.maxBytes && Buffer.byteLength(text, 'utf8') > o.maxBytes)) {
    return fail(text, 'too_large', `text is ${Buffer.byteLength(text, 'utf8')} bytes; the limit is ${o.maxBytes}`)
  }
  const bad = FORBIDDEN_CHAR.exec(text)
  if (bad) {
    return fail(text, 'control_character', `raw control character ${charName(bad[0])} is not allowed`, bad.index)
  }
  let docs: ReturnType<typeof YAML.parseAllDocuments>
  try {
    docs = YAML.parseAllDocuments(text, {
      version: o.version,
      uniqueKeys: false,
      merge: false,
      logLevel: 'silent',
      prettyErrors: false,
    })
  } catch (e) {
    return fail(text, 'syntax', `YAML syntax error: ${(e as Error).message.split('\n')[0]}`)
  }
  if ('empty' in docs) {
    const e = docs.errors[0] ?? (o.refuseWarnings ? docs.warnings[0] : undefined)
    if (e) return fail(text, 'syntax', `YAML syntax error: ${e.message.split('\n')[0]}`, e.pos[0])
    return { ok: true, value: null }
  }
  const list = docs
  for (const doc of list) {
    const e = doc.errors[0] ?? (o.refuseWarnings ? doc.warnings[0] : undefined)
    if (e) return fail(text, 'syntax', `YAML syntax error: ${e.message.split('\n')[0]}`, e.pos[0])
  }
  if (list.length > 1) {
    const second = list[1]!
    return fail(
      text,
      'multiple_documents',
      'expected exactly one YAML document, found a second one (a "---" or text after "...")',
      second.range?.[0] ?? 0,
    )
  }
  const doc = list[0]
  if (doc === undefined) return { ok: true, value: null }
  // After the document only comments may follow. The `yaml` library drops a trailing directive
  // (`...` then `%YAML 1.2` with no `---` after it); YAML 1.2 §9.2 requires a directive to be
  // followed by a document (`l-directive-document`) and PyYAML raises "expected '<document start>'".
  const end = doc.range?.[2] ?? text.length
  const tail = /^[ \t]*[^ \t\r\n#]/m.exec(text.slice(end))
  if (tail) {
    return fail(
      text,
      'multiple_documents',
      'text after the end of the document (only comments may follow "...")',
      end + tail.index + tail[0].length - 1,
    )
  }

  let problem: StrictYamlResult | undefined
  let aliases = 0
  const checkMap = (map: YAML.YAMLMap): StrictYamlResult | undefined => {
    const seen = new Set<string>()
    for (const pair of map.items) {
      const k = pair.key as YAML.Node | null
      if (k !== null && !YAML.isScalar(k)) {
        if (YAML.isAlias(k)) continue // judged by the alias rule when the visit reaches it
        return fail(text, 'key_not_scalar', 'a mapping key must be a plain value, not a list or mapping', k.range?.[0])
      }
      const name = k === null ? '' : String(k.value)
      if (name === '__proto__') return fail(text, 'reserved_key', 'key "__proto__" is not allowed', k?.range?.[0])
      if (name === '<<' || typeof k?.value === 'symbol') {
        return fail(text, 'reserved_key', 'merge key "<<" is not supported (write the fields out)', k?.range?.[0])
      }
      if (seen.has(name)) return fail(text, 'duplicate_key', `duplicate key ${JSON.stringify(name)}`, k?.range?.[0])
      seen.add(name)
    }
    return undefined
  }
  const checkNumber = (node: YAML.Scalar): StrictYamlResult | undefined => {
    const src = (node.source ?? '').trim()
    const at = node.range?.[0]
    if (DECIMAL_INT.test(src)) {
      if (Number.isSafeInteger(Number(src))) return undefined
      const shown = src.length > 30 ? `${src.slice(0, 30)}…` : src
      return fail(text, 'number_unsafe', `integer ${shown} is beyond ±${Number.MAX_SAFE_INTEGER}`, at)
    }
    const intPart = src.replace(/[.eE].*$/, '')
    const floatForm = o.version === '1.1' ? PYYAML_FLOAT : DECIMAL_FLOAT
    if (floatForm.test(src) && !/^[-+]?0[0-9]/.test(intPart)) return undefined
    if (SPECIAL_FLOAT.test(src)) return undefined
    return fail(
      text,
      'number_form',
      `number ${JSON.stringify(src.slice(0, 30))} is not written in decimal (hex, octal, binary, "_" and "1:20" forms are refused)`,
      at,
    )
  }
  const visitor: YAML.visitor = (_key, node) => {
    if (YAML.isNode(node) && node.anchor && o.maxAliases === 0) {
      problem = fail(text, 'alias', `anchor "&${node.anchor}" is not allowed here`, node.range?.[0])
    } else if (YAML.isAlias(node)) {
      aliases++
      if (o.maxAliases === 0 || aliases > o.maxAliases) {
        const why = o.maxAliases === 0 ? 'aliases are not allowed here' : `more than ${o.maxAliases} aliases`
        problem = fail(text, 'alias', `alias "*${node.source}": ${why}`, node.range?.[0])
      }
    } else if (YAML.isMap(node)) {
      problem = checkMap(node)
    } else if (YAML.isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'bigint')) {
      problem = checkNumber(node)
    }
    return problem ? YAML.visit.BREAK : undefined
  }
  try {
    YAML.visit(doc, visitor)
  } catch (e) {
    // Only a nesting deep enough to exhaust the stack gets here.
    return fail(text, 'syntax', `YAML nested too deeply (${(e as Error).message.split('\n')[0]})`)
  }
  const found = problem as StrictYamlResult | undefined
  if (found) return found
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: o.maxAliases === 0 ? 0 : o.maxAliases }) }
  } catch (e) {
    if (e instanceof RangeError) return fail(text, 'syntax', `YAML nested too deeply (${e.message.split('\n')[0]})`)
    return fail(text, 'alias', `alias expansion refused: ${(e as Error).message.split('\n')[0]}`)
  }
}
