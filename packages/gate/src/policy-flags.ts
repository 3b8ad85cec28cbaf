/**
 * The one strict mapping from command-line policy flags to a `Policy` (issue 15 point 13): every
 * command that takes policy flags (`plora dump-policy`, `plora gate check`, `plora swarm v2`) calls
 * {@link policyFromFlags}. A file a flag names must exist and parse — a missing `--policy-file`,
 * `--allowed-targets-file` or `--probes-calib` is an error, never silently dropped.
 */
import { GateError, GateErrorCode } from './errors.js'
import {
  expandTargets,
  POLICY_THRESHOLD_FIELDS,
  type Policy,
  type PolicyConfigDefaults,
  type PolicyInput,
  readPolicyInputFile,
  resolvePolicy,
} from './policy.js'

/** Policy flag values, already parsed to their types by the CLI (undefined = flag not given). */
export interface PolicyFlags {
  /** JSON policy file (`--policy-file`). */
  policyFile?: string
  /** Allowed-targets file (`--allowed-targets-file`); exclusive with {@link allowedTargets}. */
  allowedTargetsFile?: string
  /** `attention`, `mlp` or `all` (`--allowed-targets`). */
  allowedTargets?: string
  allowedRanks?: readonly number[]
  signatures?: boolean
  baseModel?: string
  /** PEM public key paths. */
  trustedPubkeys?: readonly string[]
  tauTrigger?: number
  tauNormZ?: number
  tauCleanDelta?: number
  referenceFile?: string
  probes?: boolean
  consensus?: boolean
  /** Probe calibration (`probes_calib.json`): its thresholds apply where no tau flag is given. */
  probesCalib?: string
  /** `require_weight_reference` (`--require-weight-reference on|off`). */
  requireWeightReference?: boolean
  /** `require_signed_statement` (`--require-statement`). */
  requireStatement?: boolean
}

/** Collaborators of {@link policyFromFlags}. */
export interface PolicyFromFlagsOptions {
  /** Config defaults (base model, ranks, targets, gate thresholds), lowest precedence. */
  config?: PolicyConfigDefaults
  /** Folder relative flag paths resolve against (default: process.cwd()). */
  cwd?: string
}

/** The thresholds a probe calibration file may set, in the policy's names. */
export const PROBES_CALIB_FIELDS = POLICY_THRESHOLD_FIELDS
/** One threshold field of a probe calibration. */
export type ProbesCalibField = (typeof PROBES_CALIB_FIELDS)[number]

/**
 * Reads a probe calibration file: plora's `plora.probes-calib/v1` report (its `thresholds` object)
 * or the original's flat object with `tau_trigger` / `tau_norm_z` / `tau_clean_delta` numbers.
 * @throws GateError `GATE_POLICY_PATH_NOT_FOUND` (missing or unreadable), `GATE_POLICY_INVALID`
 */
export function readProbesCalibration(path: string): Partial<Record<ProbesCalibField, number>> {
  const text = readPolicyInputFile(path, 'probe calibration file')
  const invalid = (msg: string, cause?: unknown): never => {
    throw new GateError(GateErrorCode.PolicyInvalid, `probe calibration ${path}: ${msg}`, { path }, { cause })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    invalid(`not valid JSON (${(e as Error).message})`, e)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return invalid('expected a JSON object')
  const obj = raw as Record<string, unknown>
  const src = obj.thresholds !== undefined ? obj.thresholds : obj
  if (src === null || typeof src !== 'object' || Array.isArray(src)) return invalid('"thresholds" must be an object')
  const out: Partial<Record<ProbesCalibField, number>> = {}
  for (const k of PROBES_CALIB_FIELDS) {
    const v = (src as Record<string, unknown>)[k]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v))
      invalid(`field "${k}": expected a finite number, found ${JSON.stringify(v)}`)
    out[k] = v as number
  }
  return out
}

/**
 * The effective policy from flags: defaults ◂ config ◂ `--policy-file` ◂ `--allowed-targets-file` ◂
 * `--probes-calib` thresholds ◂ the other flags. Strict: every named file must exist and parse,
 * every value must be valid, and conflicting flags are refused.
 * @throws GateError `GATE_POLICY_PATH_NOT_FOUND` (a named file or path is missing), `GATE_POLICY_INVALID`
 */
export function policyFromFlags(flags: PolicyFlags, options: PolicyFromFlagsOptions = {}): Policy {
  const invalid = (msg: string, flag: string): never => {
    throw new GateError(GateErrorCode.PolicyInvalid, `${flag}: ${msg}`, { flag })
  }
  if (flags.allowedTargets !== undefined && flags.allowedTargetsFile !== undefined) {
    invalid('give --allowed-targets or --allowed-targets-file, not both', '--allowed-targets')
  }
  for (const [flag, v] of [
    ['--policy-file', flags.policyFile],
    ['--allowed-targets-file', flags.allowedTargetsFile],
    ['--probes-calib', flags.probesCalib],
    ['--reference-file', flags.referenceFile],
    ['--base-model', flags.baseModel],
  ] as const) {
    if (v !== undefined && v.trim() === '') invalid('expected a non-empty value', flag)
  }
  const overrides: Record<string, unknown> = {}
  if (flags.probesCalib !== undefined) Object.assign(overrides, readProbesCalibration(flags.probesCalib))
  if (flags.baseModel !== undefined) overrides.base_model = flags.baseModel
  if (flags.allowedRanks !== undefined) {
    for (const r of flags.allowedRanks)
      if (!Number.isInteger(r) || r < 1) invalid(`expected positive integers, found ${r}`, '--allowed-ranks')
    overrides.allowed_ranks = [...flags.allowedRanks]
  }
  if (flags.allowedTargets !== undefined) overrides.allowed_targets = expandTargets(flags.allowedTargets)
  if (flags.signatures !== undefined) overrides.signatures_enabled = flags.signatures
  if (flags.trustedPubkeys !== undefined)
    overrides.trusted_public_keys = flags.trustedPubkeys.length > 0 ? [...flags.trustedPubkeys] : null
  for (const [k, flag, v] of [
    ['tau_trigger', '--tau-trigger', flags.tauTrigger],
    ['tau_norm_z', '--tau-norm-z', flags.tauNormZ],
    ['tau_clean_delta', '--tau-clean-delta', flags.tauCleanDelta],
  ] as const) {
    if (v === undefined) continue
    if (!Number.isFinite(v)) invalid(`expected a finite number, found ${v}`, flag)
    overrides[k] = v
  }
  if (flags.referenceFile !== undefined) overrides.reference_file = flags.referenceFile
  if (flags.probes !== undefined) overrides.enable_probes = flags.probes
  if (flags.consensus !== undefined) overrides.consensus_enabled = flags.consensus
  if (flags.requireWeightReference !== undefined) overrides.require_weight_reference = flags.requireWeightReference
  if (flags.requireStatement !== undefined) overrides.require_signed_statement = flags.requireStatement
  return resolvePolicy({
    config: options.config ?? {},
    ...(flags.policyFile !== undefined ? { policyFile: flags.policyFile } : {}),
    ...(flags.allowedTargetsFile !== undefined ? { allowedTargetsFile: flags.allowedTargetsFile } : {}),
    overrides: overrides as PolicyInput,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  })
}
