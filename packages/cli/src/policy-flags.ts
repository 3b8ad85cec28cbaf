import { type Command, Option } from 'commander'
import {
  addAlias,
  defaultNote,
  parseCsvInts,
  parseCsvStrings,
  parseFloatFlag,
  parseOnOff,
  parsePathFlag,
  setLibraryDefaults,
} from './flags.js'

/** Which optional policy flags a command has (`dump-policy`/`gate check`: base model and reference; `swarm v2`: probe calibration). */
export interface PolicyFlagSet {
  baseModel?: boolean
  referenceFile?: string
  /** `--probes-calib`, with this default path (used only when the file exists; a given path must exist). */
  probesCalib?: string
}

/** The policy flags as parsed (see {@link addPolicyFlags}). */
export interface ParsedPolicyFlags {
  policyFile?: string
  allowedTargetsFile?: string
  allowedTargets?: 'attention' | 'mlp' | 'all'
  allowedRanks?: number[]
  signatures?: boolean
  baseModel?: string
  trustedPubkeys?: string[]
  tauTrigger?: number
  tauNormZ?: number
  tauCleanDelta?: number
  referenceFile?: string
  probesCalib?: string
  requireWeightReference?: boolean
  requireStatement?: boolean
}

/** `--trusted-pubkeys ""` means no keys (the original's empty default). */
const trustedKeys = (v: string): string[] => (v.trim() === '' ? [] : parseCsvStrings(v))

/**
 * Adds the policy flags (one definition for every command that builds a policy), each with the
 * original's snake_case spelling as a hidden alias (spec pipelines.md §14, swarm.md §8).
 */
export function addPolicyFlags(cmd: Command, set: PolicyFlagSet = {}): Command {
  const options: Array<[Option, string | null]> = [
    [
      new Option(
        '--policy-file <path>',
        'JSON policy file (strict: unknown keys are errors; paths resolve against its folder)',
      ).argParser(parsePathFlag),
      'policy_file',
    ],
    [
      new Option(
        '--allowed-targets-file <path>',
        'target suffixes, one per line (# comments), or a JSON list; "attention" / "mlp" / "all" also accepted',
      )
        .argParser(parsePathFlag)
        .conflicts('allowedTargets'),
      'allowed_targets_file',
    ],
    [
      new Option('--allowed-targets <scheme>', 'target whitelist').choices(['attention', 'mlp', 'all']),
      'allowed_targets',
    ],
    [
      new Option('--allowed-ranks <csv>', 'allowed LoRA ranks, e.g. 4,8,16 (default: config allowed_ranks)').argParser(
        parseCsvInts({ min: 1 }),
      ),
      'allowed_ranks',
    ],
    [new Option('--signatures <on|off>', 'require a signature quorum').argParser(parseOnOff), null],
    [
      new Option('--trusted-pubkeys <csv>', 'comma-separated PEM public keys the verifier trusts').argParser(
        trustedKeys,
      ),
      'trusted_pubkeys',
    ],
    [new Option('--tau-trigger <x>', 'trigger-rate threshold').argParser(parseFloatFlag()), 'tau_trigger'],
    [new Option('--tau-norm-z <x>', 'update-norm z threshold').argParser(parseFloatFlag()), 'tau_norm_z'],
    [
      new Option('--tau-clean-delta <x>', 'clean accuracy delta threshold').argParser(parseFloatFlag()),
      'tau_clean_delta',
    ],
    [
      new Option(
        '--require-weight-reference <on|off>',
        'reject adapters the weight detectors cannot score against a reference population (policy require_weight_reference)',
      ).argParser(parseOnOff),
      null,
    ],
    [
      new Option(
        '--require-statement',
        'reject adapter folders without a signed statement (plora.sig.json; policy require_signed_statement)',
      ),
      null,
    ],
  ]
  if (set.baseModel) {
    options.push([
      new Option(
        '--base-model <id>',
        'required base model (default: $PLORA_BASE_MODEL, else config base_model)',
      ).argParser(parsePathFlag),
      'base_model',
    ])
  }
  if (set.referenceFile !== undefined) {
    options.push([
      new Option(
        '--reference-file <path>',
        `clean reference population gate-ref.json (gate check: default ${set.referenceFile} if present)`,
      ).argParser(parsePathFlag),
      'reference_file',
    ])
  }
  if (set.probesCalib !== undefined) {
    options.push([
      new Option(
        '--probes-calib <path>',
        'probe calibration whose thresholds apply unless a --tau-* flag is given (the default path only when it exists)',
      )
        .argParser(parsePathFlag)
        .default(set.probesCalib),
      'probes_calib',
    ])
  }
  for (const [o, alias] of options) {
    cmd.addOption(o)
    if (alias) addAlias(cmd, alias, o)
  }
  return setLibraryDefaults(cmd, async () => {
    const { DEFAULT_POLICY: p } = await import('@plora/gate')
    return {
      tauTrigger: defaultNote(`config gate.tau_trigger, else ${p.tau_trigger}`),
      tauNormZ: defaultNote(String(p.tau_norm_z)),
      tauCleanDelta: defaultNote(`config gate.tau_clean_delta, else ${p.tau_clean_delta}`),
      requireWeightReference: defaultNote(
        `the policy file's, else ${p.require_weight_reference ? 'on' : 'off'} (swarm v2 without --policy-file: off)`,
      ),
    }
  })
}

/**
 * The effective policy of a command's flags: config (and `$PLORA_BASE_MODEL`) ◂ the flags, through
 * `@plora/gate`'s strict `policyFromFlags` (the one place that reads config/env for a policy).
 * `extra` adds flags a command sets itself (`probes`, `consensus`, defaults of `swarm v2 --adapters population`); given flags win.
 */
export async function policyFromCommand(
  cmd: Command,
  extra: Pick<
    import('@plora/gate').PolicyFlags,
    'probes' | 'consensus' | 'requireWeightReference' | 'baseModel' | 'allowedRanks' | 'allowedTargets'
  > = {},
): Promise<import('@plora/gate').Policy> {
  const { existsSync } = await import('node:fs')
  const { loadActiveConfig, readEnv } = await import('@plora/config')
  const { policyFromFlags } = await import('@plora/gate')
  const env = readEnv()
  const { config } = loadActiveConfig(env.configFile ? { file: env.configFile } : {})
  const f = cmd.opts() as ParsedPolicyFlags
  const flags: import('@plora/gate').PolicyFlags = { ...extra }
  for (const k of [
    'policyFile',
    'allowedTargetsFile',
    'allowedTargets',
    'allowedRanks',
    'signatures',
    'baseModel',
    'trustedPubkeys',
    'tauTrigger',
    'tauNormZ',
    'tauCleanDelta',
    'referenceFile',
    'requireWeightReference',
    'requireStatement',
  ] as const) {
    if (f[k] !== undefined) (flags as Record<string, unknown>)[k] = f[k]
  }
  // The default calibration path applies when it exists; a path the user gives must exist.
  if (
    f.probesCalib !== undefined &&
    (cmd.getOptionValueSource('probesCalib') !== 'default' || existsSync(f.probesCalib))
  )
    flags.probesCalib = f.probesCalib
  return policyFromFlags(flags, {
    config: {
      base_model: env.baseModel ?? config.base_model,
      allowed_ranks: config.allowed_ranks,
      allowed_targets: config.allowed_targets,
      gate: config.gate,
    },
  })
}
