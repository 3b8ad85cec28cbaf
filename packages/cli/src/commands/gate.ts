import { type Command, Option } from 'commander'
import { registerGateEval } from './gate-study.js'

/** Exit status of `plora gate check` when the adapter is rejected (0 = passed; errors exit 1). */
export const GATE_REJECTED_EXIT = 3

/** The audit flags of `plora gate check`. */
interface GateCheckAuditFlags {
  auditLog: string
  audit: boolean
  auditKey?: string
  auditKeyPassphraseFile?: string
}

/** Audit options of the gate context from the flags (the key is read once, here). */
async function auditContextOptions(
  opts: GateCheckAuditFlags,
): Promise<{ auditLogPath?: string; auditSigningKey?: string; auditKeyPassphrase?: string }> {
  if (!opts.audit) return {}
  if (!opts.auditKey) return { auditLogPath: opts.auditLog }
  const { readKeyFile } = await import('@plora/signer')
  const { readPassphraseFile } = await import('./keys.js')
  const passphrase = await readPassphraseFile(opts.auditKeyPassphraseFile)
  return {
    auditLogPath: opts.auditLog,
    auditSigningKey: await readKeyFile(opts.auditKey),
    ...(passphrase ? { auditKeyPassphrase: passphrase } : {}),
  }
}

/** Where `plora gate check` appends its decisions (what `plora audit verify` checks by default). */
export const DEFAULT_AUDIT_LOG = 'results/audit/gate_audit.jsonl'

/** The reference population calibration writes; used when present and the policy names none. */
export const DEFAULT_REFERENCE = 'results/gate-ref.json'

interface PolicyFlags {
  policyFile?: string
  allowedTargetsFile?: string
  allowedTargets?: string
  allowedRanks?: string
  signatures?: 'on' | 'off'
  baseModel?: string
  trustedPubkeys?: string
  tauTrigger?: string
  tauNormZ?: string
  tauCleanDelta?: string
  referenceFile?: string
  probes?: 'on' | 'off'
}

/** The original's snake_case spellings (spec pipelines.md §14), kept as hidden aliases. */
const ALIASES: ReadonlyArray<[string, keyof PolicyFlags]> = [
  ['policy_file', 'policyFile'],
  ['allowed_targets_file', 'allowedTargetsFile'],
  ['allowed_targets', 'allowedTargets'],
  ['allowed_ranks', 'allowedRanks'],
  ['base_model', 'baseModel'],
  ['trusted_pubkeys', 'trustedPubkeys'],
  ['tau_trigger', 'tauTrigger'],
  ['tau_norm_z', 'tauNormZ'],
  ['tau_clean_delta', 'tauCleanDelta'],
]

function addPolicyFlags(cmd: Command): Command {
  cmd
    .option(
      '--policy-file <path>',
      'JSON policy file (strict: unknown keys are errors; paths resolve against its folder)',
    )
    .option('--allowed-targets-file <path>', 'one target suffix per line ("attention" / "all" also accepted)')
    .addOption(new Option('--allowed-targets <scheme>', 'target whitelist').choices(['attention', 'mlp', 'all']))
    .option('--allowed-ranks <csv>', 'allowed LoRA ranks, e.g. 4,8,16 (default: config allowed_ranks)')
    .addOption(new Option('--signatures <on|off>', 'require a signature quorum').choices(['on', 'off']))
    .option('--base-model <id>', 'required base model (default: $PLORA_BASE_MODEL, else config base_model)')
    .option('--trusted-pubkeys <csv>', 'comma-separated PEM public keys the verifier trusts')
    .option('--tau-trigger <x>', 'trigger-rate threshold (default 0.2, config gate.tau_trigger)')
    .option('--tau-norm-z <x>', 'update-norm z threshold (default 3.0)')
    .option('--tau-clean-delta <x>', 'clean accuracy delta threshold (default -0.05, config gate.tau_clean_delta)')
    .option(
      '--reference-file <path>',
      `clean reference population gate-ref.json (gate check: default ${DEFAULT_REFERENCE} if present)`,
    )
  for (const [alias, key] of ALIASES) {
    cmd.addOption(new Option(`--${alias} <value>`).hideHelp())
    cmd.on(`option:${alias}`, (v: string) => cmd.setOptionValue(key, v))
  }
  return cmd
}

/** Maps flags + config + env to the effective policy (the one place that reads config/env). */
async function effectivePolicy(flags: PolicyFlags) {
  const { PloraError } = await import('@plora/common')
  const { loadActiveConfig, readEnv } = await import('@plora/config')
  const { resolvePolicy } = await import('@plora/gate')
  const env = readEnv()
  const { config } = loadActiveConfig(env.configFile ? { file: env.configFile } : {})
  const overrides: Record<string, unknown> = {}
  const number = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (v.trim() === '' || !Number.isFinite(n)) {
      throw new PloraError('CLI_FLAG_INVALID', `${flag}: expected a number, found ${JSON.stringify(v)}`, { flag })
    }
    return n
  }
  if (flags.baseModel !== undefined) overrides.base_model = flags.baseModel
  if (flags.allowedRanks !== undefined) {
    overrides.allowed_ranks = flags.allowedRanks.split(',').map((s) => number('--allowed-ranks', s.trim()))
  }
  if (flags.allowedTargets !== undefined) {
    const { expandTargets } = await import('@plora/gate')
    overrides.allowed_targets = expandTargets(flags.allowedTargets)
  }
  if (flags.signatures !== undefined) overrides.signatures_enabled = flags.signatures === 'on'
  if (flags.trustedPubkeys !== undefined)
    overrides.trusted_public_keys = flags.trustedPubkeys.split(',').filter(Boolean)
  if (flags.tauTrigger !== undefined) overrides.tau_trigger = number('--tau-trigger', flags.tauTrigger)
  if (flags.tauNormZ !== undefined) overrides.tau_norm_z = number('--tau-norm-z', flags.tauNormZ)
  if (flags.tauCleanDelta !== undefined) overrides.tau_clean_delta = number('--tau-clean-delta', flags.tauCleanDelta)
  if (flags.referenceFile !== undefined) overrides.reference_file = flags.referenceFile
  if (flags.probes !== undefined) overrides.enable_probes = flags.probes === 'on'
  return resolvePolicy({
    config: {
      base_model: env.baseModel ?? config.base_model,
      allowed_ranks: config.allowed_ranks,
      allowed_targets: config.allowed_targets,
      gate: config.gate,
    },
    ...(flags.policyFile !== undefined ? { policyFile: flags.policyFile } : {}),
    ...(flags.allowedTargetsFile !== undefined ? { allowedTargetsFile: flags.allowedTargetsFile } : {}),
    overrides,
  })
}

/**
 * Loads the base model (`spec`, else PLORA_BASE_MODEL / config base_model) and wraps it in the
 * loader's probe harness, pinned to the weights' fingerprint so a mutated model is refused.
 */
export async function openProbeHarness(
  spec: string | undefined,
): Promise<{ harness: import('@plora/gate').ProbeHarness; dispose: () => void }> {
  const { loadRuntime } = await import('../runtime.js')
  const rt = await loadRuntime()
  const { resolveBaseModelDir } = await import('../base-model.js')
  const { dir } = await resolveBaseModelDir(spec, {
    env: rt.env,
    logger: rt.logger,
    configBaseModel: rt.config.base_model,
  })
  const { loadCausalLMFromDir, loadTokenizer } = await import('@plora/model')
  const { baseFingerprint, createProbeHarness } = await import('@plora/loader')
  const model = await loadCausalLMFromDir(dir)
  const tok = await loadTokenizer(dir)
  const harness = createProbeHarness(model, tok, { expectedFingerprint: await baseFingerprint(model) })
  return { harness, dispose: () => model.dispose() }
}

/** `plora dump-policy` and `plora gate check|reference` (spec core.md §4–§5, pipelines.md §14). */
export function register(program: Command): void {
  addPolicyFlags(
    program
      .command('dump-policy')
      .description('print the effective gate policy (defaults ◂ config ◂ --policy-file ◂ flags) as JSON'),
  ).action(async (flags: PolicyFlags) => {
    const { dumpPolicyJson } = await import('@plora/gate')
    process.stdout.write(`${dumpPolicyJson(await effectivePolicy(flags))}\n`)
  })

  const gate = program.command('gate').description('the plasmid security gate')
  const check = addPolicyFlags(
    gate
      .command('check')
      .description(
        `check an adapter folder; prints {passed, reasons, metrics} as JSON; exit 0 passed, ${GATE_REJECTED_EXIT} rejected`,
      )
      .requiredOption('--adapter-dir <dir>', 'adapter folder (plora.yml, adapter_config.json, weights)')
      .option('--audit-log <path>', 'hash-chained audit log the decision is appended to', DEFAULT_AUDIT_LOG)
      .option('--no-audit', 'do not append the decision to the audit log')
      .option('--audit-key <pem>', "the verifier's private key: signs the audit log's head on every append")
      .option('--audit-key-passphrase-file <path>', 'passphrase of an encrypted --audit-key (first line)')
      .addOption(new Option('--probes <on|off>', 'override enable_probes').choices(['on', 'off'])),
  )
  check.addOption(new Option('--adapter_dir <dir>').hideHelp())
  check.on('option:adapter_dir', (v: string) => check.setOptionValue('adapterDir', v))
  check.action(async (opts: PolicyFlags & GateCheckAuditFlags & { adapterDir: string }) => {
    const { existsSync } = await import('node:fs')
    const { resolve } = await import('node:path')
    const { checkAdapter, loadGateContext } = await import('@plora/gate')
    let policy = await effectivePolicy(opts)
    if (policy.reference_file === null && existsSync(DEFAULT_REFERENCE)) {
      policy = { ...policy, reference_file: resolve(DEFAULT_REFERENCE) }
    }
    const ctx = await loadGateContext(policy, await auditContextOptions(opts))
    // Behavioural probes: the verifier's own copy of the base model (the policy's base_model,
    // resolved like every other command's), with the adapter attached as side branches.
    let dispose = (): void => {}
    if (policy.enable_probes) {
      const probes = await openProbeHarness(policy.base_model ?? undefined)
      ctx.probes = probes.harness
      dispose = probes.dispose
    }
    let decision: Awaited<ReturnType<typeof checkAdapter>>
    try {
      decision = await checkAdapter(opts.adapterDir, policy, ctx)
    } finally {
      dispose()
    }
    const out = { adapter_dir: opts.adapterDir, reference_file: policy.reference_file, ...decision }
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
    if (!decision.passed) process.exitCode = GATE_REJECTED_EXIT
  })

  registerGateEval(gate)

  gate
    .command('reference')
    .description('write gate-ref.json: weight statistics of a population of clean adapters (what calibration produces)')
    .requiredOption('--out <path>', 'output file (written atomically)')
    .option('--base-model <id>', 'population base model (default: each adapter_config.json base_model_name_or_path)')
    .option('--by-domain', 'also one population per manifest domain (used for adapters of that domain)', false)
    .argument('<adapter-dirs...>', 'clean adapter folders')
    .action(async (dirs: string[], opts: { out: string; baseModel?: string; byDomain: boolean }) => {
      const { computeReference, writeReference } = await import('@plora/gate')
      const ref = await computeReference(dirs, {
        byDomain: opts.byDomain,
        ...(opts.baseModel !== undefined ? { baseModel: opts.baseModel } : {}),
        createdUnix: Math.floor(Date.now() / 1000),
        provenance: { command: 'plora gate reference', adapters: dirs.length },
      })
      await writeReference(opts.out, ref)
      const pops = ref.populations.map(
        (p) => `${p.base_model}|r${p.r}|${p.targets.join(',')}${p.domain === null ? '' : `|${p.domain}`} n=${p.count}`,
      )
      process.stdout.write(`Wrote ${opts.out} (${pops.join('; ')})\n`)
    })
}
