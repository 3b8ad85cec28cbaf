/**
 * Finding, reading and validating the active config (spec pipelines.md §2.1, §2.7, with its
 * silent-defaults defect fixed: a missing, malformed or invalid file is always an error).
 *
 * Resolution: an explicit file (`PLORA_CONFIG` / `--config`) → `config/plora.override.yml`
 * (written by `plora config use`) → `config/plora.yml` → the shipped `config/plora.dry.yml`.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeYamlBytes, parseStrictYaml, type StrictYamlProblem, writeFileAtomic } from '@plora/common'
import type { z } from 'zod'
import { ConfigError, ConfigErrorCode } from './errors.js'
import { type PloraConfig, PloraConfigSchema } from './schema.js'

/** The two shipped presets. */
export const PRESETS = { dry: 'plora.dry.yml', full: 'plora.full.yml' } as const
export type PresetName = keyof typeof PRESETS
/** The file `plora config use` writes. */
export const OVERRIDE_FILE = 'plora.override.yml'
/**
 * Largest config file accepted, in bytes; checked before parsing. The shipped ones are under 4 KiB;
 * 128 KiB keeps the worst accepted file's parse (~8k keys) under a second even on a cold, loaded process.
 */
export const MAX_CONFIG_BYTES = 128 * 1024
/** Most YAML aliases (`*name`) a config may use; their expansion is bounded too (no billion laughs). */
export const MAX_CONFIG_ALIASES = 50
/** Longest `extends` chain. */
export const MAX_CONFIG_EXTENDS_DEPTH = 8

/** The plora repository this package belongs to (packages/config/{src,dist}/ → three levels up). */
function packageRepoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
}

/**
 * The project root: the nearest ancestor of `from` that has `config/plora.dry.yml`, else the
 * plora checkout this code runs from.
 */
export function findProjectRoot(from: string = process.cwd()): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'config', PRESETS.dry))) return dir
    if (dirname(dir) === dir) break
  }
  return packageRepoRoot()
}

function display(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel && !rel.startsWith('..') ? rel : path
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (missing)'
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[key]
  }
  return cur
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`
  return out || '(top level)'
}

/** Renders zod issues as `file: field "x.y": expected …, found …` lines. */
function formatIssues(file: string, raw: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? ` in "${fieldPath(issue.path)}"` : ''
      return `${file}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${fieldPath([...issue.path, k])}"`).join(', ')}${where} (check the spelling; see config/plora.dry.yml)`
    }
    const found = valueAt(raw, issue.path)
    const expected = issue.message.replace(/^Invalid (input|option): /, '').replace(/, received \w+$/, '')
    if (found === undefined) return `${file}: field "${fieldPath(issue.path)}" is missing (${expected})`
    return `${file}: field "${fieldPath(issue.path)}": ${expected}; found ${describeValue(found)}`
  })
}

/**
 * A config file may start from a preset with `extends: dry | full | <path>` (a path relative to the
 * project root) and list only what it changes: mappings merge recursively, lists and scalars
 * replace. The result is validated whole.
 */
function resolveExtends(
  raw: Record<string, unknown>,
  source: string,
  options: { root?: string; depth?: number },
): Record<string, unknown> {
  if (!('extends' in raw)) return raw
  const { extends: base, ...rest } = raw
  if (typeof base !== 'string' || base === '') {
    throw new ConfigError(
      ConfigErrorCode.SchemaInvalid,
      `${source}: field "extends": expected "dry", "full" or a file path; found ${describeValue(base)}`,
      { file: source, fields: ['extends'] },
    )
  }
  if ((options.depth ?? 0) >= MAX_CONFIG_EXTENDS_DEPTH) {
    throw new ConfigError(
      ConfigErrorCode.SchemaInvalid,
      `${source}: "extends" chain is deeper than ${MAX_CONFIG_EXTENDS_DEPTH} files (a cycle?)`,
      { file: source },
    )
  }
  const root = options.root ?? findProjectRoot()
  const basePath = base in PRESETS ? join(root, 'config', PRESETS[base as PresetName]) : resolve(root, base)
  const text = readConfigText(basePath, `${source}: extends ${display(basePath)}, which`)
  // The base is read as strictly as the file itself (duplicate keys, aliases, size, one mapping).
  const baseRaw = parseYamlMapping(text, display(basePath))
  const resolvedBase = resolveExtends(baseRaw, display(basePath), { root, depth: (options.depth ?? 0) + 1 })
  return deepMerge(resolvedBase, rest)
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    const isMap = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x)
    out[k] = isMap(b) && isMap(v) ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>) : v
  }
  return out
}

function yamlError(source: string, p: StrictYamlProblem): ConfigError {
  const pos = p.line === undefined ? '' : `:${p.line}:${p.col}`
  if (p.reason === 'too_large') {
    return new ConfigError(ConfigErrorCode.TooLarge, `${source}: config file too large: ${p.message}`, {
      file: source,
      reason: p.reason,
    })
  }
  return new ConfigError(
    ConfigErrorCode.YamlInvalid,
    `${source}${pos}: YAML syntax error: ${p.message.replace(/^YAML syntax error: /, '')}`,
    {
      file: source,
      reason: p.reason,
      ...(p.line === undefined ? {} : { line: p.line, col: p.col }),
    },
  )
}

/**
 * Reads a config file's text: a regular file of at most {@link MAX_CONFIG_BYTES} (checked before
 * reading), strict UTF-8. `what` starts the not-found message (`config file <path>`).
 */
function readConfigText(path: string, what = `config file ${display(path)}`): string {
  let bytes: Buffer
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (e) {
    throw new ConfigError(ConfigErrorCode.NotFound, `${what} is not found`, { file: path }, { cause: e })
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) {
      throw new ConfigError(ConfigErrorCode.NotFound, `${what} is not a regular file`, { file: path })
    }
    if (st.size > MAX_CONFIG_BYTES) {
      throw yamlError(display(path), {
        reason: 'too_large',
        message: `file is ${st.size} bytes; the limit is ${MAX_CONFIG_BYTES}`,
      })
    }
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1)
    let n = 0
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n)
      if (got === 0) break
      n += got
    }
    bytes = buf.subarray(0, n)
  } catch (e) {
    if (e instanceof ConfigError) throw e
    throw new ConfigError(
      ConfigErrorCode.NotFound,
      `${what} cannot be read (${(e as Error).message})`,
      { file: path },
      { cause: e },
    )
  } finally {
    closeSync(fd)
  }
  const decoded = decodeYamlBytes(bytes, MAX_CONFIG_BYTES)
  if (!decoded.ok) throw yamlError(display(path), decoded.problem)
  return decoded.text
}

/** Strict YAML (see `parseStrictYaml` of `@plora/common`) that must be one mapping. */
function parseYamlMapping(text: string, source: string): Record<string, unknown> {
  const r = parseStrictYaml(text, { version: '1.2', maxBytes: MAX_CONFIG_BYTES, maxAliases: MAX_CONFIG_ALIASES })
  if (!r.ok) throw yamlError(source, r.problem)
  const raw = r.value
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      ConfigErrorCode.SchemaInvalid,
      `${source}: expected a YAML mapping of config fields, found ${raw === null ? 'an empty document' : describeValue(raw)}`,
      { file: source },
    )
  }
  return raw as Record<string, unknown>
}

/**
 * Parses and validates config text; `source` names the file in errors. The YAML is read strictly
 * and in linear time: at most {@link MAX_CONFIG_BYTES}, one document, unique keys, at most
 * {@link MAX_CONFIG_ALIASES} aliases, decimal numbers, no raw control characters.
 */
export function parseConfigText(text: string, source: string, options: { root?: string } = {}): PloraConfig {
  const raw = parseYamlMapping(text, source)
  const merged = resolveExtends(raw, source, options)
  const parsed = PloraConfigSchema.safeParse(merged)
  if (!parsed.success) {
    // Wrong values first: they are what the user just typed; missing fields follow.
    const issues = [...parsed.error.issues].sort(
      (a, b) => Number(valueAt(merged, a.path) === undefined) - Number(valueAt(merged, b.path) === undefined),
    )
    const lines = formatIssues(source, merged, issues)
    const shown = lines.length > 6 ? [...lines.slice(0, 6), `and ${lines.length - 6} more`] : lines
    throw new ConfigError(ConfigErrorCode.SchemaInvalid, shown.join('; '), {
      file: source,
      fields: parsed.error.issues.map((i) => fieldPath(i.path)),
    })
  }
  return parsed.data
}

/**
 * Reads and validates one config file (strict UTF-8, size checked first). `root` is the project
 * root that `extends` paths are resolved against (default: found from the working directory).
 */
export function loadConfigFile(path: string, options: { root?: string } = {}): PloraConfig {
  return parseConfigText(readConfigText(path), display(path), options)
}

/** Options of {@link resolveConfigPath} and {@link loadActiveConfig}. */
export interface ActiveConfigOptions {
  /** Project root holding `config/` (default: found from the working directory). */
  root: string
  /** An explicit config file that wins over every other rule (`PLORA_CONFIG`). */
  file: string
}

/** Path of the config file that is active under the resolution rule. */
export function resolveConfigPath(options: Partial<ActiveConfigOptions> = {}): string {
  if (options.file) return resolve(options.file)
  const dir = join(options.root ?? findProjectRoot(), 'config')
  for (const name of [OVERRIDE_FILE, 'plora.yml']) {
    const p = join(dir, name)
    if (existsSync(p)) return p
  }
  return join(dir, PRESETS.dry)
}

/** The active config and the file it came from. */
export function loadActiveConfig(options: Partial<ActiveConfigOptions> = {}): { config: PloraConfig; path: string } {
  const path = resolveConfigPath(options)
  return { config: loadConfigFile(path), path }
}

/**
 * Makes `preset` (`dry`, `full` or a file path) the active config by copying its text verbatim to
 * `config/plora.override.yml` — after validating it, so a broken file never becomes active.
 */
export async function useConfig(
  preset: string,
  options: { root?: string } = {},
): Promise<{ source: string; path: string }> {
  const root = options.root ?? findProjectRoot()
  const source = preset in PRESETS ? join(root, 'config', PRESETS[preset as PresetName]) : resolve(preset)
  if (!existsSync(source)) {
    throw new ConfigError(
      ConfigErrorCode.NotFound,
      `config file not found: ${display(source)} (expected "dry", "full" or the path of a YAML file)`,
      { file: source },
    )
  }
  const text = readConfigText(source)
  parseConfigText(text, display(source), { root })
  const path = join(root, 'config', OVERRIDE_FILE)
  await writeFileAtomic(path, text)
  return { source, path }
}
