/** Python string semantics the original's pair construction relies on (spec core.md §15.1, §15.3). */

// Python's str.isspace() set: unlike String.prototype.trim it includes U+001C–U+001F and U+0085
// and excludes U+FEFF (a BOM stays part of the text in the original).
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g')

/** A run of Python whitespace (what `re.sub(r'\\s+', …)` matches on `str`). */
export const PY_SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'g')

/** Python's `str.strip()`. */
export function pythonStrip(s: string): string {
  return s.replace(PY_STRIP, '')
}

/** Python's `s[:n]` (code points, not UTF-16 units). */
export function headCodePoints(s: string, n: number): string {
  let i = 0
  let count = 0
  while (i < s.length && count < n) {
    const cp = s.codePointAt(i)!
    i += cp > 0xffff ? 2 : 1
    count++
  }
  return s.slice(0, i)
}
