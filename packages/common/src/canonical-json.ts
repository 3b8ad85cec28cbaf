/**
 * Canonical JSON, RFC 8785 (JSON Canonicalization Scheme, "JCS") for the values plora signs: null,
 * booleans, finite numbers, strings, arrays and plain objects. Object keys are sorted by UTF-16
 * code units, there is no whitespace, strings are escaped as ECMAScript `JSON.stringify` escapes
 * them and numbers are written as ECMAScript's `Number#toString` (the shortest round-trip form,
 * `-0` as `0`), both exactly as RFC 8785 §3.2.2 prescribes. Anything outside that subset (NaN,
 * ±Infinity, lone surrogates, `undefined` in an array, class instances, bigints) raises
 * `COMMON_CANONICAL_JSON_INVALID` instead of being silently turned into something else; an
 * `undefined` object property is omitted, as `JSON.stringify` omits it.
 */
import { CommonError, CommonErrorCode } from './errors.js'

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function fail(path: string, what: string): never {
  throw new CommonError(CommonErrorCode.CanonicalJsonInvalid, `canonical JSON: ${path}: ${what}`, { path })
}

function str(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) fail(path, 'string holds a lone UTF-16 surrogate (not valid I-JSON)')
  return JSON.stringify(s)
}

function write(v: unknown, path: string, out: string[]): void {
  if (v === null) {
    out.push('null')
    return
  }
  switch (typeof v) {
    case 'boolean':
      out.push(v ? 'true' : 'false')
      return
    case 'number':
      if (!Number.isFinite(v)) fail(path, `${v} is not a finite number`)
      out.push(JSON.stringify(v))
      return
    case 'string':
      out.push(str(v, path))
      return
    case 'object':
      break
    default:
      fail(path, `a ${typeof v} has no JSON form`)
  }
  if (Array.isArray(v)) {
    out.push('[')
    v.forEach((item, i) => {
      if (item === undefined) fail(`${path}[${i}]`, 'undefined in an array')
      if (i > 0) out.push(',')
      write(item, `${path}[${i}]`, out)
    })
    out.push(']')
    return
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) fail(path, 'only plain objects are serialised')
  // Default sort compares UTF-16 code units, the order RFC 8785 §3.2.3 requires.
  const keys = Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort()
  out.push('{')
  keys.forEach((k, i) => {
    if (i > 0) out.push(',')
    out.push(str(k, `${path}.${k}`), ':')
    write((v as Record<string, unknown>)[k], `${path}.${k}`, out)
  })
  out.push('}')
}

/**
 * The RFC 8785 canonical text of `value` (see the file header for the accepted subset).
 *
 * @example
 * canonicalJson({ b: [1, 2.5, 'x'], a: null }) // '{"a":null,"b":[1,2.5,"x"]}'
 * @throws CommonError `COMMON_CANONICAL_JSON_INVALID`
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = []
  write(value, '$', out)
  return out.join('')
}

/** {@link canonicalJson} as UTF-8 bytes (the bytes that are hashed and signed). */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(canonicalJson(value), 'utf8'))
}
