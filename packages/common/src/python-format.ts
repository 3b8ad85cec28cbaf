/**
 * Python-compatible text for numbers and JSON, so outputs that the original's Makefile and
 * readers parse (`plora config get`, reports) look exactly as Python prints them.
 */

/**
 * Python's `repr(float)`: the shortest round-trip digits, fixed notation when the decimal exponent
 * lies in [-4, 16), else `d.ddde±XX`. Integer-valued numbers print as Python ints (`32`), since a
 * parsed YAML/JSON number cannot tell `32` from `32.0`.
 */
export function formatPythonNumber(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (x === Infinity) return 'inf'
  if (x === -Infinity) return '-inf'
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(0)
  const sign = x < 0 ? '-' : ''
  const [mant, expText] = Math.abs(x).toExponential().split('e') as [string, string]
  const digits = mant.replace('.', '')
  const exp = Number(expText)
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0')
    const frac = digits.slice(exp + 1)
    return `${sign}${intPart}.${frac === '' ? '0' : frac}`
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
  const e = Math.abs(exp)
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`
}

/**
 * Python's `json.dumps(value)` with default separators (`", "` and `": "`): `[4, 8, 16]`,
 * `["all", "attention"]`, `{"p": 0.25}`. Numbers use {@link formatPythonNumber}.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN'
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity'
    return formatPythonNumber(value)
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'string') return pythonJsonString(value)
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pythonJsonString(k)}: ${pythonJsonDumps(v)}`)
      .join(', ')}}`
  }
  return pythonJsonString(String(value))
}

/**
 * A JSON string literal as Python's `json.dumps` writes it (`ensure_ascii=True`): every code unit
 * above 0x7e becomes `\uXXXX` (astral characters as their surrogate pair), DEL included.
 */
export function pythonJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
