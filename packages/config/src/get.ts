/**
 * Dotted-path lookup with indexing (spec pipelines.md §2.5): `graph.p`, `value_add.ranks[0]`,
 * `a.b[1][2]`. Unlike the original, a missing key is an error unless the caller supplies a default.
 */
import { ConfigError, ConfigErrorCode } from './errors.js'

const SEGMENT = /^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$/

/** Parses `a.b[0]` into `['a', 'b', 0]`; a malformed path is `CONFIG_PATH_INVALID`. */
export function parseConfigPath(path: string): Array<string | number> {
  const out: Array<string | number> = []
  for (const seg of path.split('.')) {
    const m = SEGMENT.exec(seg)
    if (!m) {
      throw new ConfigError(
        ConfigErrorCode.PathInvalid,
        `invalid config path "${path}": segment "${seg}" is not a key or key[index] (e.g. value_add.ranks[0])`,
        { path },
      )
    }
    out.push(m[1]!)
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]))
  }
  return out
}

/** The value at `path` in `config`; throws `CONFIG_KEY_NOT_FOUND` naming the first missing step. */
export function getConfigValue(config: unknown, path: string): unknown {
  let cur: unknown = config
  const walked: string[] = []
  for (const key of parseConfigPath(path)) {
    const step = typeof key === 'number' ? `[${key}]` : walked.length ? `.${key}` : key
    const ok =
      typeof key === 'number'
        ? Array.isArray(cur) && key < cur.length
        : cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, key)
    if (!ok) {
      const where = walked.join('') || '(top level)'
      const found = Array.isArray(cur)
        ? `a list of ${cur.length}`
        : cur !== null && typeof cur === 'object'
          ? `keys ${Object.keys(cur).join(', ')}`
          : `the value ${JSON.stringify(cur)}`
      throw new ConfigError(
        ConfigErrorCode.KeyNotFound,
        `no config value at "${path}": "${walked.join('')}${step}" does not exist (${where} has ${found})`,
        {
          path,
        },
      )
    }
    cur = typeof key === 'number' ? (cur as unknown[])[key] : (cur as Record<string, unknown>)[key]
    walked.push(step)
  }
  return cur
}
