/**
 * What `JSON.parse` hides: how a JSON text spells its numbers and how deeply it nests.
 *
 * `JSON.parse` reads `4.0`, `4e0` and `4` as the same number, but a Python reader (PEFT's
 * `json.load`, serde_json into `usize`) keeps `4.0` a float and refuses it where an integer is
 * required; and a deeply nested value parses fine but overflows the stack of any recursive code
 * that later walks it (a serializer, a deep compare). {@link scanJsonText} walks the text once,
 * in linear time and without recursion, reporting each number literal with its path and stopping
 * at the first container deeper than a bound.
 *
 * The scanner does not validate: run it on text `JSON.parse` accepted (for number paths), or on
 * any text just to bound the depth before parsing (strings are skipped, so brackets inside them
 * do not count).
 */

/** Options of {@link scanJsonText}. */
export interface JsonScanOptions {
  /** Deepest nesting accepted (the top-level value's container is depth 1); the scan stops beyond it. */
  maxDepth?: number
  /** Called for every number literal with its path from the root (object keys, array indices). */
  onNumber?: (literal: string, path: ReadonlyArray<string | number>, offset: number) => void
}

/** Result of {@link scanJsonText}. */
export interface JsonScanResult {
  /** Deepest nesting seen (up to the stop). */
  depth: number
  /** Offset of the first bracket beyond `maxDepth`, or null. */
  tooDeepAt: number | null
}

/** A JSON number literal spelled as an integer (`4`, `-7`; not `4.0`, `4e0`, `-0.0`). */
export function isJsonIntegerLiteral(literal: string): boolean {
  return /^-?(?:0|[1-9][0-9]*)$/.test(literal)
}

interface Frame {
  array: boolean
  key: string | number
  expectKey: boolean
}

/**
 * Scans a JSON text once (see the file header).
 *
 * @example
 * const r = scanJsonText(text, { maxDepth: 32, onNumber: (lit, path) => { if (path[0] === 'r' && !isJsonIntegerLiteral(lit)) bad = lit } })
 * if (r.tooDeepAt !== null) throw new PeftError('PEFT_CONFIG_INVALID', 'nested too deeply')
 */
export function scanJsonText(text: string, options: JsonScanOptions = {}): JsonScanResult {
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY
  const onNumber = options.onNumber
  const stack: Frame[] = []
  let depth = 0
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      let j = i + 1
      while (j < n && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1
      const top = stack.at(-1)
      if (onNumber && top && !top.array && top.expectKey) {
        try {
          top.key = JSON.parse(text.slice(i, j + 1)) as string
        } catch {
          top.key = text.slice(i + 1, j)
        }
        top.expectKey = false
      }
      i = j
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length + 1 > maxDepth) return { depth: Math.max(depth, stack.length + 1), tooDeepAt: i }
      stack.push({ array: c === 0x5b, key: c === 0x5b ? 0 : '', expectKey: c === 0x7b })
      if (stack.length > depth) depth = stack.length
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop()
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1)
      if (top?.array) top.key = (top.key as number) + 1
      else if (top) top.expectKey = true
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1
      while (j < n && /[-+.eE0-9]/.test(text[j]!)) j++
      if (onNumber)
        onNumber(
          text.slice(i, j),
          stack.map((f) => f.key),
          i,
        )
      i = j - 1
    }
  }
  return { depth, tooDeepAt: null }
}
