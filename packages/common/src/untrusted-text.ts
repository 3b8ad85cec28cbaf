/**
 * Text from the other side of a connection (a server's status message, a name in a received
 * archive) goes into error messages that a terminal prints. Raw, it can be a megabyte long or
 * carry escape sequences that rewrite the screen, move the cursor or fake a prompt. This module
 * makes such text safe to print: it keeps the first characters only and shows every control
 * character as a visible escape.
 */

/** Default number of characters of untrusted text kept by {@link untrustedText}. */
export const DEFAULT_UNTRUSTED_TEXT_CHARS = 512

/** Options of {@link untrustedText}. */
export interface UntrustedTextOptions {
  /** Characters kept before the rest is cut (default {@link DEFAULT_UNTRUSTED_TEXT_CHARS}). */
  maxChars?: number
}

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e' }
// C0 controls, DEL, C1 controls, the line/paragraph separators and the bidirectional overrides
// and isolates (which reorder what a terminal shows).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

function escapeChar(c: string): string {
  const named = NAMED[c]
  if (named) return named
  const cp = c.codePointAt(0) as number
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`
}

/**
 * Returns `text` cut to `maxChars` characters (with `… (N more bytes)` when cut) and with every
 * control character written as a visible escape (`\e`, `\r`, `\x07`, `\u202e`), so the result is
 * one bounded line that cannot drive the terminal. Buffers are read as UTF-8.
 *
 * @example
 * untrustedText('\x1b[2Jboom\n') // '\\e[2Jboom\\n'
 */
export function untrustedText(text: unknown, options: UntrustedTextOptions = {}): string {
  const maxChars = options.maxChars ?? DEFAULT_UNTRUSTED_TEXT_CHARS
  const s = Buffer.isBuffer(text) ? text.toString('utf8') : String(text)
  let head = s
  let more = ''
  if (s.length > maxChars) {
    head = s.slice(0, maxChars)
    // Do not end on half a surrogate pair.
    const last = head.charCodeAt(head.length - 1)
    if (last >= 0xd800 && last <= 0xdbff) head = head.slice(0, -1)
    more = `… (${Buffer.byteLength(s) - Buffer.byteLength(head)} more bytes)`
  }
  return head.replace(UNSAFE_RE, escapeChar) + more
}
