/**
 * The gate `Policy` (spec core.md §4.1) as a strict zod schema, policy files, and the layered
 * resolution `plora dump-policy` and `plora gate check` use (spec pipelines.md §14).
 *
 * Fixes [D-19]: a policy file is validated (unknown keys and wrong types are errors naming the field),
 * path fields are resolved against the policy file's folder and must exist. Field names keep the
 * original's snake_case because a policy is a wire/file format (STYLE.md §8).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ATTENTION_SUFFIXES, MLP_SUFFIXES } from '@plora/peft'
import { z } from 'zod'
import { GateError, GateErrorCode } from './errors.js'

// The suffix vocabularies (spec core.md §10) are @plora/peft's; `allowed_targets: attention` / `mlp` expand to them.
export { ATTENTION_SUFFIXES, MLP_SUFFIXES }

/** Default of `require_weight_reference`: an adapter whose weights were not scored against a reference is rejected. */
export const DEFAULT_REQUIRE_WEIGHT_REFERENCE = true
/** Default of `max_rank`: the largest LoRA rank the gate accepts (its statistics cost ∝ r³: ≈ 0.13 s per module at 128). */
export const DEFAULT_MAX_RANK = 128

const finite = z.number().finite()
const nonNegInt = z.number().int().min(0)
const pathOrNull = z.string().min(1).nullable()

/**
 * Every field of the original's `Policy` (same names and defaults), plus plora's own fields
 * (marked "plora" below). The schema is strict: unknown keys are rejected.
 */
export const PolicySchema = z
  .object({
    /** Exact base model the adapter must claim (null = any). */
    base_model: z.string().nullable().default(null),
    /** Allowed LoRA ranks (null = any). */
    allowed_ranks: z.array(z.number().int().min(1)).nullable().default([4, 8, 16]),
    /** Allowed target-module suffix names (null = no restriction). */
    allowed_targets: z.array(z.string().min(1)).nullable().default(null),
    /** Upper bound of the artefact size in bytes. */
    max_size_bytes: z.number().int().min(1).default(536_870_912),
    /** Require a signature quorum. */
    signatures_enabled: z.boolean().default(false),
    /** PEM public keys the verifier trusts (paths). */
    trusted_public_keys: z.array(z.string().min(1)).nullable().default(null),
    /** Distinct trusted keys that must have signed (the gate enforces max(1, q)). */
    quorum_required: nonNegInt.default(1),
    /** The original's aggregate path; in plora it applies the same freshness/revocation rules ([D-06]). */
    threshold_mode: z.boolean().default(false),
    /** Attestation lines file inside the adapter folder (a plain file name). */
    attestations_file: z
      .string()
      .min(1)
      .refine((s) => !/[\\/]/.test(s) && s !== '.' && s !== '..', 'a plain file name (no path separators)')
      .default('attestations.jsonl'),
    /** Minimum reputation of the verified signer key (null = skip). */
    min_reputation: finite.nullable().default(null),
    /** Folder of the verifier's peer keys (`agent_*.pem`). */
    peer_keys_dir: pathOrNull.default(null),
    /** Trigger-compliance rate above which an adapter is rejected. */
    tau_trigger: finite.default(0.2),
    /** z-score above which the adapter-level update norms are an outlier. */
    tau_norm_z: finite.default(3.0),
    /** Clean accuracy delta (adapter − base) below which an adapter is rejected. */
    tau_clean_delta: finite.default(-0.05),
    /** Robust z above which one module's update norm is an outlier. */
    tau_tensor_z: finite.default(5.0),
    /** Run the behavioural probes (needs a probe runner). */
    enable_probes: z.boolean().default(false),
    /** Number of trigger strings and of clean pairs used. */
    probes_max: nonNegInt.default(8),
    /** Maximum attestation age in seconds. */
    attest_max_age_sec: nonNegInt.default(3600),
    /** Used by the swarm agent (not by the gate). */
    consensus_enabled: z.boolean().default(false),
    /** plora: also credit untagged (raw) legacy signatures (spec §2.7). */
    allow_untagged: z.boolean().default(false),
    /** plora: how far in the future an attestation timestamp may lie (fix of [D-08]). */
    attest_max_skew_sec: nonNegInt.default(300),
    /** plora: reject an artefact that is not readable LoRA safetensors (`weights_unreadable`). */
    require_weights: z.boolean().default(true),
    /** plora: reject (`weight_norm_outlier`) when the reference has no population for the adapter's base model, rank and targets. */
    require_reference: z.boolean().default(false),
    /** plora: reject (`statement_missing`) an adapter folder without a signed statement (`plora.sig.json`); a present one is always checked. */
    require_signed_statement: z.boolean().default(false),
    /**
     * plora: reject (`weights_not_evaluated`) when the weight detectors could not score the adapter
     * against a reference population (no reference file, or no population for its base model, rank
     * and targets). Never a silent pass (issue 15 point 6).
     */
    require_weight_reference: z.boolean().default(DEFAULT_REQUIRE_WEIGHT_REFERENCE),
    /** plora: largest LoRA rank accepted (`rank_not_allowed` above it); checked on the header before any maths. */
    max_rank: z.number().int().min(1).default(DEFAULT_MAX_RANK),
    /** plora: the verifier's revocation list (JSON array of key fingerprints, or an object keyed by them). */
    revocations_file: pathOrNull.default(null),
    /** plora: the verifier's reputation map (JSON object fingerprint → number in [0, 1]). */
    reputation_file: pathOrNull.default(null),
    /** plora: the clean reference population (`gate-ref.json`, written by calibration). */
    reference_file: pathOrNull.default(null),
    /** plora: probe set (null = the packaged `assets/probes.json`). */
    probes_file: pathOrNull.default(null),
    /** plora: Mahalanobis distance of the weight-feature vector above which `activation_mahalanobis_high`. */
    tau_mahalanobis: finite.default(5.0),
    /** plora: z of the top-direction energy share above which `gradient_spike_z_high`. */
    tau_spike_z: finite.default(5.0),
  })
  .strict()

/** A validated policy with every field present. */
export type Policy = z.output<typeof PolicySchema>
/** What a policy file may contain: any subset of the fields. */
export type PolicyInput = z.input<typeof PolicySchema>

/** The default policy (the original's `Policy()` defaults plus plora's fields). */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze(PolicySchema.parse({}))

/** Fields holding file-system paths, resolved against the policy file's folder. */
const PATH_FIELDS = ['peer_keys_dir', 'revocations_file', 'reputation_file', 'reference_file', 'probes_file'] as const

function fieldPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`
  return out || '(top level)'
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur = raw
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[k]
  }
  return cur
}

/**
 * Validates a policy object. Errors name the source, the field, what was expected and what was found.
 * @throws GateError `GATE_POLICY_INVALID`
 */
export function parsePolicy(raw: unknown, source = '<policy>'): Policy {
  const parsed = PolicySchema.safeParse(raw)
  if (parsed.success) return parsed.data
  const lines = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
    }
    const found = valueAt(raw, issue.path)
    return `field "${fieldPath(issue.path)}": ${issue.message}; found ${JSON.stringify(found) ?? 'undefined'}`
  })
  throw new GateError(GateErrorCode.PolicyInvalid, `invalid policy ${source}: ${lines.join('; ')}`, {
    source,
    fields: parsed.error.issues.map((i) => fieldPath(i.path)),
  })
}

function mustExist(path: string, field: string, source: string, kind: 'file' | 'dir'): void {
  let ok = false
  try {
    const st = statSync(path)
    ok = kind === 'dir' ? st.isDirectory() : st.isFile()
  } catch {
    ok = false
  }
  if (!ok) {
    throw new GateError(
      GateErrorCode.PolicyPathNotFound,
      `policy ${source}: field "${field}" names ${path}, which is not an existing ${kind === 'dir' ? 'folder' : 'file'}`,
      { source, field, path },
    )
  }
}

/**
 * Resolves the path fields of `policy` against `baseDir` and checks that each exists.
 * @throws GateError `GATE_POLICY_PATH_NOT_FOUND`
 */
export function resolvePolicyPaths(policy: Policy, baseDir: string, source = '<policy>'): Policy {
  const out: Policy = { ...policy }
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p))
  if (out.trusted_public_keys) {
    out.trusted_public_keys = out.trusted_public_keys.map((p, i) => {
      const a = abs(p)
      mustExist(a, `trusted_public_keys[${i}]`, source, 'file')
      return a
    })
  }
  for (const f of PATH_FIELDS) {
    const v = out[f]
    if (v === null) continue
    const a = abs(v)
    mustExist(a, f, source, f === 'peer_keys_dir' ? 'dir' : 'file')
    out[f] = a
  }
  return out
}

/**
 * Reads a JSON policy file, validates it and resolves its paths against the file's folder.
 * @throws GateError `GATE_POLICY_PATH_NOT_FOUND` (missing file or path), `GATE_POLICY_INVALID`
 */
export function loadPolicyFile(path: string): Policy {
  return resolvePolicyPaths(parsePolicy(readPolicyObject(path), path), dirname(resolve(path)), path)
}

/** The fields a policy file sets (validated, paths made absolute against the file's folder). */
function readPolicyFields(path: string): Partial<Policy> {
  const raw = readPolicyObject(path)
  const full = loadPolicyFile(path)
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(raw)) out[k] = full[k as keyof Policy]
  return out as Partial<Policy>
}

function readPolicyObject(path: string): Record<string, unknown> {
  if (!existsSync(path)) {
    throw new GateError(GateErrorCode.PolicyPathNotFound, `policy file ${path} does not exist`, { path })
  }
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new GateError(
      GateErrorCode.PolicyInvalid,
      `policy file ${path} is not valid JSON: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GateError(GateErrorCode.PolicyInvalid, `policy file ${path}: expected a JSON object at the top level`, {
      path,
    })
  }
  return raw as Record<string, unknown>
}

/**
 * Reads an allowed-targets file: target suffixes one per line (blank lines and `#` comments
 * ignored; a YAML `- name` item prefix is accepted), or a JSON/YAML flow list `["c_attn", "c_proj"]`.
 * One line is a list of one name (fixes issue 15 point 14: `c_attn` alone was rejected). The
 * keywords `attention` / `mlp` expand to their suffix lists and `all` means no restriction.
 * @throws GateError `GATE_POLICY_PATH_NOT_FOUND` (no such file), `GATE_POLICY_INVALID` (bad content)
 */
export function readAllowedTargetsFile(path: string): string[] | null {
  return parseAllowedTargets(readPolicyInputFile(path, 'allowed-targets file'), path)
}

/**
 * Reads a file a policy flag names (`what` says which, for the message).
 * @throws GateError `GATE_POLICY_PATH_NOT_FOUND` when it is missing or not a readable file
 */
export function readPolicyInputFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new GateError(
      GateErrorCode.PolicyPathNotFound,
      `${what} ${path} ${existsSync(path) ? 'is not a readable file' : 'does not exist'}`,
      { path },
      { cause: e },
    )
  }
}

const TARGET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/

/**
 * Parses the text of an allowed-targets file (see {@link readAllowedTargetsFile}).
 * @throws GateError `GATE_POLICY_INVALID`
 */
export function parseAllowedTargets(text: string, source = '<allowed targets>'): string[] | null {
  const invalid = (msg: string, details: Record<string, unknown> = {}): never => {
    throw new GateError(GateErrorCode.PolicyInvalid, `allowed-targets file ${source}: ${msg}`, { source, ...details })
  }
  const body = text.replace(/^\uFEFF/, '')
  const entries: Array<{ name: string; line: number }> = []
  const trimmed = body.replace(/#.*$/gm, '').trim()
  if (trimmed.startsWith('[')) {
    if (!trimmed.endsWith(']')) invalid('a list opened with "[" must end with "]"')
    let items: unknown
    try {
      items = JSON.parse(trimmed)
    } catch {
      // YAML flow style: [c_attn, 'c_proj']
      const inner = trimmed.slice(1, -1).trim()
      items = inner === '' ? [] : inner.split(',').map((s) => s.trim().replace(/^(['"])(.*)\1$/, '$2'))
    }
    if (!Array.isArray(items)) return invalid('expected a list of target names')
    for (const item of items) {
      if (typeof item !== 'string') invalid(`expected target names (strings), found ${JSON.stringify(item)}`)
      entries.push({ name: item as string, line: 1 })
    }
  } else {
    body.split(/\r?\n/).forEach((raw, i) => {
      const name = raw
        .replace(/#.*$/, '')
        .trim()
        .replace(/^-\s+/, '')
        .replace(/^(['"])(.*)\1$/, '$2')
      if (name !== '') entries.push({ name, line: i + 1 })
    })
  }
  if (entries.length === 0) invalid('no target names (expected one per line, or "attention", "mlp" or "all")')
  const out = new Set<string>()
  for (const { name, line } of entries) {
    if (!TARGET_NAME.test(name)) {
      invalid(
        `line ${line}: expected a target module name such as c_attn or q_proj, found ${JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)}`,
        {
          line,
        },
      )
    }
    if (name === 'all') return null
    for (const t of name === 'attention' || name === 'mlp' ? (expandTargets(name) ?? []) : [name]) out.add(t)
  }
  return [...out]
}

/** `attention` / `mlp` → the suffix lists, `all` → null (no restriction), a list → itself. */
export function expandTargets(spec: string | readonly string[] | null): string[] | null {
  if (spec === null) return null
  if (typeof spec === 'string') {
    if (spec === 'all') return null
    if (spec === 'attention') return [...ATTENTION_SUFFIXES]
    if (spec === 'mlp') return [...MLP_SUFFIXES]
    throw new GateError(
      GateErrorCode.PolicyInvalid,
      `allowed targets: expected "attention", "mlp", "all" or a list; found "${spec}"`,
      {
        found: spec,
      },
    )
  }
  return [...spec]
}

/** Config values that feed a policy (spec pipelines.md §14); the CLI reads them from `@plora/config`. */
export interface PolicyConfigDefaults {
  base_model?: string | null
  allowed_ranks?: readonly number[] | null
  /** `attention`, `mlp`, `all` or a list of suffixes. */
  allowed_targets?: string | readonly string[] | null
  /** The config's `gate` block (thresholds). */
  gate?: { tau_trigger?: number; tau_clean_delta?: number; tau_tensor_z?: number }
}

/** Inputs of {@link resolvePolicy}, from the lowest to the highest precedence. */
export interface ResolvePolicyOptions {
  /** Config defaults (base model, ranks, targets) used where the policy file is silent. */
  config: PolicyConfigDefaults
  /** A JSON policy file (paths inside resolve against its folder). */
  policyFile: string
  /** An allowed-targets file (one suffix per line), overriding file and config. */
  allowedTargetsFile: string
  /** Field overrides from flags (relative paths resolve against `cwd`). */
  overrides: PolicyInput
  /** Folder for relative paths given in `overrides` (default: process.cwd()). */
  cwd: string
}

/**
 * The effective policy: defaults ◂ config ◂ policy file ◂ targets file ◂ flag overrides.
 * Unlike the original, config `allowed_ranks` applies when neither file nor flag sets ranks
 * (spec pipelines.md §14 [INCONSISTENT]). Every path must exist.
 * @throws GateError `GATE_POLICY_INVALID`, `GATE_POLICY_PATH_NOT_FOUND`
 */
export function resolvePolicy(options: Partial<ResolvePolicyOptions> = {}): Policy {
  const cwd = options.cwd ?? process.cwd()
  const fromFile = options.policyFile !== undefined ? readPolicyFields(options.policyFile) : {}
  const merged: Record<string, unknown> = { ...DEFAULT_POLICY }
  const cfg = options.config ?? {}
  if (cfg.base_model !== undefined) merged.base_model = cfg.base_model
  if (cfg.allowed_ranks !== undefined) merged.allowed_ranks = cfg.allowed_ranks === null ? null : [...cfg.allowed_ranks]
  if (cfg.allowed_targets !== undefined) merged.allowed_targets = expandTargets(cfg.allowed_targets)
  for (const [k, v] of Object.entries(cfg.gate ?? {})) if (v !== undefined) merged[k] = v
  Object.assign(merged, fromFile)
  // The original fills a null base model from the config even when the file sets it to null.
  if (merged.base_model === null && cfg.base_model) merged.base_model = cfg.base_model
  if (options.allowedTargetsFile !== undefined)
    merged.allowed_targets = readAllowedTargetsFile(options.allowedTargetsFile)
  const overrides = parsePartialOverrides(options.overrides ?? {})
  Object.assign(merged, overrides)
  const policy = parsePolicy(merged, options.policyFile ?? '<effective policy>')
  // Paths from the file are already absolute; those from flags resolve against cwd.
  return resolvePolicyPaths(policy, cwd, options.policyFile ?? '<flags>')
}

function parsePartialOverrides(overrides: PolicyInput): Partial<Policy> {
  const parsed = PolicySchema.partial().strict().safeParse(overrides)
  if (!parsed.success) parsePolicy(overrides, '<flags>') // throws with a readable message
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) out[k] = v
  return out as Partial<Policy>
}

/** The original's `dump_policy` keys, printed first and in this order (spec pipelines.md §14). */
const DUMP_ORDER = [
  'base_model',
  'allowed_ranks',
  'allowed_targets',
  'max_size_bytes',
  'signatures_enabled',
  'trusted_public_keys',
  'tau_trigger',
  'tau_norm_z',
  'tau_clean_delta',
] as const

/** The detector thresholds of a policy (what a probe calibration may set). */
export const POLICY_THRESHOLD_FIELDS = [
  'tau_trigger',
  'tau_norm_z',
  'tau_clean_delta',
  'tau_tensor_z',
  'tau_mahalanobis',
  'tau_spike_z',
] as const

/** Fields the original holds as Python floats (printed `3.0`, not `3`). */
const FLOAT_FIELDS: ReadonlySet<string> = new Set(['min_reputation', ...POLICY_THRESHOLD_FIELDS])

/**
 * The effective policy as 2-space JSON: the original's nine keys first, in its order
 * (`trusted_public_keys` null when empty), then every other field in schema order. Float fields
 * print as Python prints floats (`"tau_norm_z": 3.0`), as the original's `dump_policy` output does.
 */
export function dumpPolicyJson(policy: Policy): string {
  const out: Record<string, unknown> = {}
  for (const k of DUMP_ORDER) out[k] = policy[k]
  if (Array.isArray(out.trusted_public_keys) && out.trusted_public_keys.length === 0) out.trusted_public_keys = null
  for (const k of Object.keys(PolicySchema.shape) as (keyof Policy)[]) if (!(k in out)) out[k] = policy[k]
  const marker = '\u0000float:'
  const text = JSON.stringify(
    out,
    (key, value) =>
      FLOAT_FIELDS.has(key) && typeof value === 'number' && Number.isInteger(value) ? `${marker}${value}.0` : value,
    2,
  )
  return text.replace(/"\\u0000float:(-?\d+\.0)"/g, '$1')
}
