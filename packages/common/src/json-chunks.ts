/**
 * `JSON.stringify(value, null, indent)` as a stream of chunks, byte for byte, for values whose text
 * is larger than a string can be (V8 caps strings at 2^29 − 24 characters: a 10⁶-agent swarm
 * report with millions of acquisition triples reaches it). Values of a few thousand nodes are
 * stringified whole and re-indented (a JSON text has no raw newline inside a string, so shifting
 * every line is exact); larger containers are walked element by element.
 */

/** Values of up to this many nodes (containers and leaves) are stringified in one call. */
const WHOLE_LIMIT = 4096

/** True when `v` has at most `budget` nodes; stops counting as soon as it has more. */
function small(v: unknown, budget: { left: number }): boolean {
  if (--budget.left < 0) return false
  if (v === null || typeof v !== 'object') return true
  for (const el of Array.isArray(v) ? v : Object.values(v)) if (!small(el, budget)) return false
  return true
}

/**
 * Yields the text of `JSON.stringify(value, null, indent)` in chunks (no trailing newline). Like
 * `JSON.stringify`, `toJSON` methods are honoured, `undefined`/functions are skipped in objects and
 * written `null` in arrays, and a top-level `undefined` yields nothing.
 *
 * @example
 * await writeFileAtomic(path, [...prettyJsonChunks(report), '\n'])
 */
export function* prettyJsonChunks(value: unknown, indent = 2): Generator<string> {
  yield* walk(value, '', ' '.repeat(indent), indent)
}

function* walk(value: unknown, pad: string, step: string, indent: number): Generator<string> {
  let v = value
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function')
    v = (v as { toJSON: () => unknown }).toJSON()
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || small(v, { left: WHOLE_LIMIT })) {
    const text = JSON.stringify(v, null, indent)
    if (text === undefined) return
    yield pad === '' ? text : text.replaceAll('\n', `\n${pad}`)
    return
  }
  const inner = pad + step
  if (Array.isArray(v)) {
    yield '['
    for (let i = 0; i < v.length; i++) {
      yield `${i === 0 ? '' : ','}\n${inner}`
      const el = v[i]
      if (el === undefined || typeof el === 'function' || typeof el === 'symbol') yield 'null'
      else yield* walk(el, inner, step, indent)
    }
    yield `\n${pad}]`
    return
  }
  let first = true
  yield '{'
  for (const [k, el] of Object.entries(v as Record<string, unknown>)) {
    if (el === undefined || typeof el === 'function' || typeof el === 'symbol') continue
    yield `${first ? '' : ','}\n${inner}${JSON.stringify(k)}: `
    first = false
    yield* walk(el, inner, step, indent)
  }
  yield first ? '}' : `\n${pad}}`
}
