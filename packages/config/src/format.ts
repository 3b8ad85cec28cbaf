import { formatPythonNumber, pythonJsonDumps } from '@plora/common'

/**
 * Prints a config value the way the Makefile consumes it (spec pipelines.md §2.6): strings bare,
 * numbers as Python prints them (`0.0002`, `1e-05`), lists and mappings as Python's `json.dumps`
 * (`[4, 8, 16]`). With `csv`, a list prints as `4,8,16` / `all,attention,mlp`.
 */
export function formatConfigValue(value: unknown, options: { csv?: boolean } = {}): string {
  if (options.csv && Array.isArray(value)) return value.map((v) => formatConfigValue(v)).join(',')
  if (typeof value === 'string') return value
  if (typeof value === 'number') return formatPythonNumber(value)
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return pythonJsonDumps(value)
}
