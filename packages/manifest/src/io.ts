/**
 * Load, validate and dump `plora.yml`; check the artefact it names (spec core.md §1.4).
 *
 * YAML is read and written with the YAML 1.1 schema, the one PyYAML (the original's reader)
 * implements: on dump, any string a 1.1 reader would resolve to something else (an all-digit
 * sha, `"0"`, `yes`, `1_000`) is quoted, so Python and plora read the same values. The dump keeps
 * the schema's field order, block style, omits null fields, and never folds long lines.
 */
import { lstat, open } from 'node:fs/promises'
import { join } from 'node:path'
import {
  decodeYamlBytes,
  formatPythonNumber,
  parseStrictYaml,
  type StrictYamlProblem,
  sha256File,
  writeFileAtomic,
} from '@plora/common'
import YAML from 'yaml'
import type { z } from 'zod'
import { MAX_MANIFEST_BYTES, ManifestError, ManifestErrorCode } from './errors.js'
import { isPlainFileName, MANIFEST_FILENAME, type Manifest, ManifestSchema } from './schema.js'

/** One schema problem, as listed in `details.issues` of `MANIFEST_SCHEMA_INVALID`. */
export interface ManifestIssue {
  /** Dotted field path, e.g. `lora.r` or `lora.target_modules[1]`. */
  path: string
  expected: string
  found: string
}

function pathText(path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`
  return out === '' ? '(root)' : out
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)'
  if (v === null) return 'null'
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : `${v}`
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)
  if (Array.isArray(v)) return `a list of ${v.length}`
  if (ArrayBuffer.isView(v)) return 'binary data'
  if (typeof v === 'object') return 'a mapping'
  return `${typeof v} ${String(v)}`
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = root
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<PropertyKey, unknown>)[p as string]
  }
  return v
}

function toIssues(error: z.ZodError, input: unknown): ManifestIssue[] {
  const out: ManifestIssue[] = []
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        out.push({
          path: pathText([...issue.path, k]),
          expected: 'no such field (unknown key)',
          found: describe(valueAt(input, [...issue.path, k])),
        })
      }
      continue
    }
    let expected: string
    switch (issue.code) {
      case 'invalid_type':
        expected = `a ${issue.expected === 'int' ? 'integer' : issue.expected}`
        break
      case 'too_small':
        expected = `a value ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}`
        break
      case 'too_big':
        expected = `a value ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}`
        break
      case 'invalid_value':
        expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
        break
      default:
        expected = issue.message.replace(/^expected /, '')
    }
    out.push({ path: pathText(issue.path), expected, found: describe(valueAt(input, issue.path)) })
  }
  return out
}

/**
 * Validates a parsed manifest document. Raises `MANIFEST_SCHEMA_INVALID` whose message names the
 * source, the first field path, what was expected and what was found; `details.issues` has all.
 */
export function parseManifest(value: unknown, source = '<manifest>'): Manifest {
  const r = ManifestSchema.safeParse(value)
  if (r.success) return r.data
  const issues = toIssues(r.error, value)
  const first = issues[0]!
  const more = issues.length > 1 ? ` (+${issues.length - 1} more)` : ''
  throw new ManifestError(
    ManifestErrorCode.SchemaInvalid,
    `${source}: ${first.path}: expected ${first.expected}, found ${first.found}${more}`,
    { source, issues },
    { cause: r.error },
  )
}

function yamlError(source: string, p: StrictYamlProblem): ManifestError {
  const where = p.line === undefined ? '' : `:${p.line}:${p.col}`
  const tooLarge = p.reason === 'too_large'
  return new ManifestError(
    tooLarge ? ManifestErrorCode.TooLarge : ManifestErrorCode.YamlInvalid,
    tooLarge ? `${source}: manifest too large: ${p.message}` : `${source}${where}: not valid YAML (${p.message})`,
    { source, reason: p.reason, ...(p.line === undefined ? {} : { line: p.line, col: p.col }) },
  )
}

/**
 * Parses and validates manifest YAML text (at most {@link MAX_MANIFEST_BYTES}). The YAML is read
 * strictly and in linear time: one document, no duplicate keys, no anchors or aliases, no merge
 * keys, no unknown tags, no raw control characters, numbers in decimal only
 * (`parseStrictYaml` of `@plora/common`).
 */
export function parseManifestYaml(text: string, source = '<manifest>'): Manifest {
  const r = parseStrictYaml(text, { version: '1.1', maxBytes: MAX_MANIFEST_BYTES, maxAliases: 0 })
  if (!r.ok) throw yamlError(source, r.problem)
  return parseManifest(r.value, source)
}

/** Loads and validates a manifest file; one over {@link MAX_MANIFEST_BYTES} is refused unread. */
export async function loadManifestFile(path: string): Promise<Manifest> {
  let bytes: Buffer
  try {
    const fh = await open(path, 'r')
    try {
      const size = (await fh.stat()).size
      if (size > MAX_MANIFEST_BYTES) {
        throw yamlError(path, {
          reason: 'too_large',
          message: `file is ${size} bytes; the limit is ${MAX_MANIFEST_BYTES}`,
        })
      }
      // Read at most one byte past the limit: a file that grows meanwhile is still bounded.
      const buf = Buffer.alloc(MAX_MANIFEST_BYTES + 1)
      let n = 0
      while (n < buf.length) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n)
        if (bytesRead === 0) break
        n += bytesRead
      }
      bytes = buf.subarray(0, n)
    } finally {
      await fh.close()
    }
  } catch (e) {
    if (e instanceof ManifestError) throw e
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT'
    throw new ManifestError(
      missing ? ManifestErrorCode.NotFound : ManifestErrorCode.ReadFailed,
      missing ? `${path}: no manifest (file not found)` : `${path}: cannot read (${(e as Error).message})`,
      { path },
      { cause: e },
    )
  }
  const decoded = decodeYamlBytes(bytes, MAX_MANIFEST_BYTES)
  if (!decoded.ok) throw yamlError(path, decoded.problem)
  return parseManifestYaml(decoded.text, path)
}

/**
 * Loads `<adapterDir>/plora.yml`.
 *
 * @example
 * const m = await loadManifest('out/legal')
 * await verifyArtifact('out/legal', m)
 */
export async function loadManifest(adapterDir: string): Promise<Manifest> {
  return loadManifestFile(join(adapterDir, MANIFEST_FILENAME))
}

/**
 * Floats are written as PyYAML writes them: Python's `repr`, with `.0` put before an exponent
 * (`1.0e-10`), because a YAML 1.1 reader takes `1e-10` (no dot) for a string.
 */
const PY_FLOAT_TAG: YAML.ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  default: true,
  identify: (v) => typeof v === 'number' && (!Number.isInteger(v) || Math.abs(v) >= 1e16),
  // `test` makes the stringifier prefer this tag over the 1.1 schema's own float tags.
  test: /^[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?$/,
  resolve: (s) => Number(s.replace(/_/g, '')),
  stringify: ({ value }) => {
    const t = formatPythonNumber(value as number)
    return t.includes('e') && !t.includes('.') ? t.replace('e', '.0e') : t
  },
}

/**
 * Strings the `yaml` library would write in a form another reader takes differently: a tab in a
 * plain scalar (PyYAML's scanner raises), leading/trailing space (`domain:  ` is null to PyYAML),
 * and characters it leaves raw inside quotes (U+0085, U+FEFF, U+2028, C1, bidi controls) that the
 * strict reader refuses as raw text. Such strings are written double-quoted with every one of
 * those characters escaped (`\t`, `\u0085`), which YAML 1.1, PyYAML and plora read alike.
 */
const NEEDS_ESCAPE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to escape
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]|^\s|\s$/
const RAW_AFTER_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]/g

const ESCAPED_STR_TAG: YAML.ScalarTag = {
  tag: 'tag:yaml.org,2002:str',
  default: true,
  identify: (v) => typeof v === 'string' && NEEDS_ESCAPE.test(v),
  resolve: (s) => s,
  // JSON escapes C0, quotes, backslash and lone surrogates (all valid YAML double-quoted escapes).
  stringify: ({ value }) =>
    JSON.stringify(value).replace(RAW_AFTER_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
}

/** Orders a manifest's keys as the schema does and drops null/undefined fields. */
function ordered(value: unknown, shape: Record<string, unknown> | null): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const src = value as Record<string, unknown>
  const keys = shape ? Object.keys(shape).filter((k) => k in src) : Object.keys(src)
  const out: Record<string, unknown> = {}
  for (const k of keys) {
    const v = src[k]
    if (v === null || v === undefined) continue
    const sub = shape?.[k] as { shape?: Record<string, unknown> } | undefined
    out[k] = ordered(v, sub?.shape ?? null)
  }
  return out
}

/**
 * Serialises a manifest as the original's dump does: validated first, schema field order, block
 * style, null fields omitted, number-like strings quoted (YAML 1.1 rules).
 */
export function dumpManifestYaml(manifest: Manifest): string {
  const valid = parseManifest(manifest, '<manifest to dump>')
  const doc = new YAML.Document(ordered(valid, ManifestSchema.shape), {
    version: '1.1',
    customTags: (tags) => [PY_FLOAT_TAG, ESCAPED_STR_TAG, ...tags],
  })
  return doc.toString({ lineWidth: 0, minContentWidth: 0, indentSeq: false })
}

/** Writes a manifest file atomically (validated first). */
export async function writeManifestFile(path: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(path, dumpManifestYaml(manifest))
}

/** Writes `<adapterDir>/plora.yml` atomically. */
export async function writeManifest(adapterDir: string, manifest: Manifest): Promise<void> {
  await writeManifestFile(join(adapterDir, MANIFEST_FILENAME), manifest)
}

/** What {@link verifyArtifact} measured. */
export interface ArtifactCheck {
  path: string
  sha256: string
  size: number
}

/**
 * Checks the artefact named by the manifest: a regular file (not a link) directly inside
 * `adapterDir`, whose size equals `size_bytes` (`[D-22]`) and whose streamed SHA-256 equals
 * `sha256`. Raises `MANIFEST_ARTIFACT_*` errors naming file, expected and found values.
 */
export async function verifyArtifact(adapterDir: string, manifest: Manifest): Promise<ArtifactCheck> {
  const { filename, sha256, size_bytes: sizeBytes } = manifest.artifacts
  // The schema already guarantees a plain name; re-checked here for manifests built in code.
  const path = join(adapterDir, filename)
  if (!isPlainFileName(filename)) {
    throw new ManifestError(
      ManifestErrorCode.SchemaInvalid,
      `${adapterDir}: artifacts.filename ${JSON.stringify(filename)} is not a plain file name`,
      {
        filename,
      },
    )
  }
  let st: Awaited<ReturnType<typeof lstat>>
  try {
    st = await lstat(path)
  } catch (e) {
    throw new ManifestError(
      ManifestErrorCode.ArtifactNotFound,
      `${path}: artefact not found (file not found)`,
      { path },
      { cause: e },
    )
  }
  if (!st.isFile()) {
    throw new ManifestError(
      ManifestErrorCode.ArtifactNotFile,
      `${path}: artefact must be a regular file, found ${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : 'a special file'}`,
      { path },
    )
  }
  if (st.size !== sizeBytes) {
    throw new ManifestError(
      ManifestErrorCode.ArtifactSizeMismatch,
      `artefact size mismatch in ${adapterDir}: ${filename} is ${st.size} bytes, manifest says ${sizeBytes}`,
      { path, expected: sizeBytes, found: st.size },
    )
  }
  const got = await sha256File(path)
  if (got.sha256 !== sha256) {
    throw new ManifestError(
      ManifestErrorCode.ArtifactHashMismatch,
      `artefact hash mismatch in ${adapterDir}: ${filename} expected ${sha256}, got ${got.sha256} (re-run "plora sign"?)`,
      { path, expected: sha256, found: got.sha256 },
    )
  }
  return { path, sha256: got.sha256, size: got.size }
}
