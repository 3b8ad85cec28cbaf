import { type Command, Option } from 'commander'
import { addAlias, parseOnOff, parsePathFlag } from '../flags.js'
import { addPolicyFlags, policyFromCommand } from '../policy-flags.js'
import { registerGateEval, registerMergeGateStudy } from './gate-study.js'

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
  const dump = addPolicyFlags(
    program
      .command('dump-policy')
      .description('print the effective gate policy (defaults ◂ config ◂ --policy-file ◂ flags) as JSON'),
    { baseModel: true, referenceFile: DEFAULT_REFERENCE },
  ).action(async () => {
    const { dumpPolicyJson } = await import('@plora/gate')
    process.stdout.write(`${dumpPolicyJson(await policyFromCommand(dump))}\n`)
  })

  const gate = program.command('gate').description('the plasmid security gate')
  const check = addPolicyFlags(
    gate
      .command('check')
      .description(
        `check an adapter folder; prints {passed, reasons, metrics} as JSON; exit 0 passed, ${GATE_REJECTED_EXIT} rejected`,
      )
      .requiredOption('--adapter-dir <dir>', 'adapter folder (plora.yml, adapter_config.json, weights)', parsePathFlag)
      .option(
        '--audit-log <path>',
        'hash-chained audit log the decision is appended to',
        parsePathFlag,
        DEFAULT_AUDIT_LOG,
      )
      .option('--no-audit', 'do not append the decision to the audit log')
      .option(
        '--audit-key <pem>',
        "the verifier's private key: signs the audit log's head on every append",
        parsePathFlag,
      )
      .option(
        '--audit-key-passphrase-file <path>',
        'passphrase of an encrypted --audit-key (first line)',
        parsePathFlag,
      )
      .addOption(new Option('--probes <on|off>', 'override enable_probes').argParser(parseOnOff)),
    { baseModel: true, referenceFile: DEFAULT_REFERENCE },
  )
  addAlias(check, 'adapter_dir', check.options.find((o) => o.long === '--adapter-dir') as Option)
  check.action(async (opts: GateCheckAuditFlags & { adapterDir: string; probes?: boolean }) => {
    const { existsSync } = await import('node:fs')
    const { resolve } = await import('node:path')
    const { checkAdapter, loadGateContext } = await import('@plora/gate')
    let policy = await policyFromCommand(check, opts.probes !== undefined ? { probes: opts.probes } : {})
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
  registerMergeGateStudy(gate)

  gate
    .command('reference')
    .description('write gate-ref.json: weight statistics of a population of clean adapters (what calibration produces)')
    .requiredOption('--out <path>', 'output file (written atomically)', parsePathFlag)
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
