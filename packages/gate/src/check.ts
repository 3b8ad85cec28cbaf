/**
 * `checkAdapter`: the original's `policy_check` + `alignment_gate` (spec core.md §5.1–§5.8) as one
 * function returning data `{passed, reasons, metrics}`. Every check runs (no short-circuit), and
 * reasons come out in the spec's order. What changed, deliberately:
 *
 * - only the manifest, `adapter_config.json` and the weights are read from the adapter folder;
 *   keys, revocations, reputation and reference statistics come from the verifier ([D-05]);
 * - the artefact is read once: the bytes that are hashed are the bytes whose weights are analysed;
 *   rank and targets are checked against the tensors as well as the claims;
 * - the folder is what the loader loads (issue 15, `@plora/peft`): the artefact must be
 *   `adapter_model.safetensors` and no second weights file may sit beside it; the weights are read
 *   by `@plora/peft`'s rules, so ΔW here is the ΔW the loader injects;
 * - cheap checks run first: file set, sizes, hash, then the safetensors header and the rank policy
 *   (`allowed_ranks`, `max_rank`) before any O(r³) maths, which is skipped for a refused rank;
 * - a non-finite or absurd update is always rejected (`weight_update_invalid`); weights that could
 *   not be scored against a reference are `weights_not_evaluated` when `require_weight_reference`;
 * - `poisoning_score` is never read ([D-03]); weight statistics come from the tensors ([D-03b],
 *   [D-24]); probes inspect continuations only and compare against the base model ([D-04]);
 * - the audit record holds the final decision and goes to the verifier's log ([D-09], [D-10]).
 */
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SILENT_LOGGER, sha256File, sha256Hex } from '@plora/common'
import { isPlainFileName, loadManifest, type Manifest } from '@plora/manifest'
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, unexpectedWeightFiles } from '@plora/peft'
import { appendAuditRecord } from '@plora/signer'
import {
  type AdapterWeightSummary,
  emptySummary,
  type FeatureName,
  populationRank,
  readAdapterConfig,
  summarizeAdapterBytes,
} from './adapter-weights.js'
import type { GateContext } from './context.js'
import { GateError, GateErrorCode } from './errors.js'
import { signedRobustZ } from './lora-stats.js'
import type { Policy } from './policy.js'
import { loadProbeSet, type ProbeResult, runProbes } from './probes.js'
import { orderReasons, type RejectReason } from './reasons.js'
import { populationLabel, referenceScores } from './reference.js'
import {
  checkFolderStatement,
  checkSignatures,
  type SignatureMetrics,
  type StatementMetrics,
  verifyPrimarySignature,
} from './signatures.js'
import { logisticScore } from './spectral-classifier.js'

/** The thresholds a decision used (policy values, replaced by calibrated ones from the reference). */
export interface GateThresholds {
  tau_norm_z: number
  tau_tensor_z: number
  tau_mahalanobis: number
  tau_spike_z: number
  tau_trigger: number
  tau_clean_delta: number
}

/** Per-module statistics as reported. */
export interface ModuleReport {
  path: string
  r: number
  scale: number
  frobenius: number
  spectral: number
  stable_rank: number
  top_energy: number
  effective_rank: number
  numerical_rank: number
  /** Robust/reference z of ln‖ΔW‖_F used for `tensor_norm_outlier`. */
  norm_z: number
}

/** Everything the gate measured (JSON-friendly; printed by `plora gate check`). */
export interface GateMetrics {
  /** The original's GateMetrics fields: trigger rate, clean accuracy delta, norm z. */
  trigger_rate: number
  /** What `trigger_rate_high` compares with tau_trigger: the payload rate the trigger adds (see probes.ts). */
  trigger_rate_excess: number
  clean_delta_f1: number
  norm_z: number
  artifact: { path: string; exists: boolean; size_bytes: number | null; sha256: string | null }
  weights: {
    error: string | null
    /** Why the statistics were not computed although the weights may be fine (rank bound). */
    skipped: string | null
    ranks: number[]
    targets: string[]
    modules: number
    other_tensors: string[]
    features: Record<FeatureName, number> | null
  }
  modules: ModuleReport[]
  tensor_z_max: number
  reference: {
    population: string | null
    note: string | null
    feature_z: Record<FeatureName, number> | null
    mahalanobis: number | null
    spike_z: number | null
    /** Logit of the reference's spectral classifier (null without one or without weight statistics). */
    spectral_score: number | null
    /** Its calibrated threshold (`spectral_classifier_high` when the score exceeds it). */
    spectral_threshold: number | null
  }
  signatures: SignatureMetrics | null
  /** The signed folder statement (`plora.sig.json`) check. */
  statement: StatementMetrics
  reputation: { signer: string | null; value: number | null } | null
  probes: (ProbeResult & { ran: true }) | { ran: false; note: string }
  thresholds: GateThresholds
}

/** The gate's verdict: `passed` iff `reasons` is empty. */
export interface GateDecision {
  passed: boolean
  reasons: RejectReason[]
  metrics: GateMetrics
}

const SAFE_EXT = /\.(safetensors|bin)$/

function thresholdsFor(policy: Policy, context: GateContext): GateThresholds {
  const out: GateThresholds = {
    tau_norm_z: policy.tau_norm_z,
    tau_tensor_z: policy.tau_tensor_z,
    tau_mahalanobis: policy.tau_mahalanobis,
    tau_spike_z: policy.tau_spike_z,
    tau_trigger: policy.tau_trigger,
    tau_clean_delta: policy.tau_clean_delta,
  }
  // Calibrated thresholds (written with the reference by calibration) take precedence.
  for (const [k, v] of Object.entries(context.reference?.thresholds ?? {})) {
    if (typeof v === 'number') out[k as keyof GateThresholds] = v
  }
  return out
}

/**
 * Checks an adapter folder against a policy with the verifier's trust inputs.
 *
 * @example
 * const policy = loadPolicyFile('policy.json')
 * const decision = await checkAdapter('received/legal', policy, await loadGateContext(policy))
 * if (!decision.passed) console.log(decision.reasons) // e.g. ['sha256_mismatch']
 *
 * @throws GateError `GATE_MANIFEST_INVALID` (no valid plora.yml), `GATE_PROBES_UNAVAILABLE`,
 *   `GATE_PROBE_FAILED`; a `SignerError` if the audit log cannot be appended
 */
export async function checkAdapter(
  adapterDir: string,
  policy: Policy,
  context: GateContext = {},
): Promise<GateDecision> {
  const log = context.logger ?? SILENT_LOGGER
  let manifest: Manifest
  try {
    manifest = await loadManifest(adapterDir)
  } catch (e) {
    throw new GateError(
      GateErrorCode.ManifestInvalid,
      `cannot gate ${adapterDir}: ${(e as Error).message}`,
      { adapterDir, code: (e as { code?: string }).code },
      { cause: e },
    )
  }
  if (policy.enable_probes && !context.probes) {
    throw new GateError(
      GateErrorCode.ProbesUnavailable,
      'policy enables probes (enable_probes) but no probe harness was given: pass one from @plora/loader, or disable probes',
    )
  }
  const reasons: RejectReason[] = []
  const thresholds = thresholdsFor(policy, context)

  // --- folder: one weights file, the one the loader reads (issue 15 point 3) ----------------------
  const filename = manifest.artifacts.filename
  let folderNames: string[] = []
  try {
    folderNames = await readdir(adapterDir)
  } catch {
    folderNames = []
  }
  if (filename !== ADAPTER_WEIGHTS_FILE || unexpectedWeightFiles(folderNames).length > 0) {
    reasons.push('adapter_files_unexpected')
  }

  // --- artefact: existence, name, size, hash; bytes read once -------------------------------
  const artifactPath = join(adapterDir, filename)
  const artifact: GateMetrics['artifact'] = { path: artifactPath, exists: false, size_bytes: null, sha256: null }
  let bytes: Uint8Array | null = null
  let integrityFailed = false
  let isFile = false
  if (isPlainFileName(filename)) {
    try {
      isFile = (await lstat(artifactPath)).isFile()
    } catch {
      isFile = false
    }
  }
  if (!isFile) {
    reasons.push('artifact_missing', 'sha256_mismatch')
    integrityFailed = true
  } else {
    const size = (await lstat(artifactPath)).size
    artifact.exists = true
    artifact.size_bytes = size
    if (!SAFE_EXT.test(filename)) reasons.push('artifact_ext_unexpected')
    if (size <= 0 || size > policy.max_size_bytes || size !== manifest.artifacts.size_bytes) {
      reasons.push('artifact_size_out_of_bounds')
    }
    if (size <= policy.max_size_bytes) {
      bytes = await readFile(artifactPath)
      artifact.sha256 = sha256Hex(bytes)
    } else {
      artifact.sha256 = (await sha256File(artifactPath)).sha256
    }
    if (artifact.sha256 !== manifest.artifacts.sha256) reasons.push('sha256_mismatch')
    integrityFailed = reasons.length > 0
  }

  // --- claims first (cheap): base model and the claimed ranks -------------------------------
  let configText: Uint8Array | null = null
  try {
    const st = await lstat(join(adapterDir, ADAPTER_CONFIG_FILE))
    // a config is a few hundred bytes; a huge one is not read (and the loader's JSON would be refused too)
    configText = st.isFile() && st.size <= 1_000_000 ? await readFile(join(adapterDir, ADAPTER_CONFIG_FILE)) : null
  } catch {
    configText = null
  }
  const { config, error: configError } =
    configText === null
      ? { config: null, error: `${ADAPTER_CONFIG_FILE} is missing, not a regular file, or over 1 MB` }
      : readAdapterConfig(configText)
  const rankAllowed = (r: number): boolean =>
    r <= policy.max_rank && (policy.allowed_ranks === null || policy.allowed_ranks.includes(r))

  // --- weights: header and shapes, rank bound, then decoding and maths (issue 15 point 7) --------
  let summary: AdapterWeightSummary
  const noWeights = (error: string): AdapterWeightSummary => emptySummary(config, error)
  if (bytes === null) {
    summary = noWeights(isFile ? 'artefact larger than max_size_bytes; weights not read' : 'artefact missing')
  } else if (!filename.endsWith('.safetensors')) {
    // A `.bin` is a pickle: the gate never unpickles sender data.
    summary = noWeights(`${filename} is not safetensors`)
  } else {
    // A refused claimed rank already rejects: no maths for it either (an empty allow-list skips it).
    const claimedOk = [manifest.lora.r, ...(config !== null ? [config.r] : [])].every(rankAllowed)
    summary = await summarizeAdapterBytes(bytes, config, filename, {
      maxRank: policy.max_rank,
      allowedRanks: claimedOk ? policy.allowed_ranks : [],
      configError,
    })
  }
  // A non-finite or absurd ΔW is a rejection whatever else the policy says (issue 15 point 6).
  if (summary.updateInvalid) reasons.push('weight_update_invalid')
  else if (summary.error !== null && policy.require_weights && !integrityFailed) reasons.push('weights_unreadable')

  // --- claims: base model, rank, targets (checked on claims and on the tensors) ---------------
  if (policy.base_model !== null) {
    const claimed = [manifest.base_model, config?.base_model_name_or_path].filter(
      (x): x is string => typeof x === 'string',
    )
    if (claimed.some((b) => b !== policy.base_model)) reasons.push('base_model_mismatch')
  }
  {
    const ranks = [manifest.lora.r, ...(config !== null ? [config.r] : []), ...summary.ranks]
    if (ranks.some((r) => !rankAllowed(r))) reasons.push('rank_not_allowed')
  }
  if (policy.allowed_targets !== null) {
    const allowed = new Set(policy.allowed_targets)
    const targets = [...manifest.lora.target_modules, ...summary.suffixes]
    if (targets.some((t) => !allowed.has(t))) reasons.push('targets_not_allowed')
  }

  // --- signatures, quorum, reputation --------------------------------------------------------
  let signatures: SignatureMetrics | null = null
  const statement = await checkFolderStatement(adapterDir, manifest, policy, context, reasons)
  if (policy.signatures_enabled)
    signatures = await checkSignatures(adapterDir, manifest, policy, context, reasons, statement.credited)
  let reputation: GateMetrics['reputation'] = null
  if (policy.min_reputation !== null) {
    // The reputation belongs to the key that verifiably signed the manifest, never to a claimed name.
    const signer =
      signatures?.primary_signer ??
      verifyPrimarySignature(
        manifest,
        context.trustedKeys?.values() ?? [],
        context.revokedFingerprints ?? new Set(),
        policy.allow_untagged,
      ).signer
    const value = signer ? (context.reputation?.get(signer) ?? 0) : 0
    reputation = { signer, value }
    if (value < policy.min_reputation) reasons.push('reputation_low')
  }

  // --- weight statistics ---------------------------------------------------------------------
  const refMetrics: GateMetrics['reference'] = {
    population: null,
    note: null,
    feature_z: null,
    mahalanobis: null,
    spike_z: null,
    spectral_score: null,
    spectral_threshold: null,
  }
  const modules: ModuleReport[] = summary.modules.map((m) => ({
    path: m.path,
    r: m.r,
    scale: m.scale,
    frobenius: m.stats.frobenius,
    spectral: m.stats.spectral,
    stable_rank: m.stats.stableRank,
    top_energy: m.stats.topEnergy,
    effective_rank: m.stats.effectiveRank,
    numerical_rank: m.stats.numericalRank,
    norm_z: 0,
  }))
  let normZ = 0
  let tensorZMax = 0
  if (summary.features !== null) {
    const key = {
      base_model: manifest.base_model,
      r: populationRank(summary.modules)!,
      targets: summary.suffixes,
      domain: manifest.domain,
    }
    const scored = context.reference
      ? referenceScores(context.reference, key, { features: summary.features, modules: summary.modules })
      : null
    if (scored !== null) {
      // Every adapter is scored against the pooled population; its (unsigned) domain can only add one.
      const ws = scored.scores
      refMetrics.population = scored.populations.map(populationLabel).join(' + ')
      if (scored.populations.length === 1 && manifest.domain !== null) {
        refMetrics.note = `no population for domain ${JSON.stringify(manifest.domain)}: scored against the pooled population only`
      }
      refMetrics.feature_z = ws.feature_z
      // upward only: a backdoor adds to the update; an unusually small update is not a threat
      normZ = ws.norm_z
      refMetrics.spike_z = ws.spike_z
      refMetrics.mahalanobis = ws.mahalanobis
      for (const m of modules) m.norm_z = ws.module_z.get(m.path) ?? 0
      if (normZ > thresholds.tau_norm_z) reasons.push('weight_norm_outlier')
      if (ws.mahalanobis > thresholds.tau_mahalanobis) reasons.push('activation_mahalanobis_high')
      if (ws.spike_z > thresholds.tau_spike_z) reasons.push('gradient_spike_z_high')
    } else {
      refMetrics.note = context.reference
        ? `weights not evaluated: no reference population for base_model=${key.base_model}, r=${key.r}, targets=${key.targets.join(',')}`
        : 'weights not evaluated: no reference population (gate-ref.json) given'
      // Without a population, compare modules with each other (robust z of ln‖ΔW‖_F).
      const z = signedRobustZ(summary.modules.map((m) => Math.log(Math.max(m.stats.frobenius, 1e-30))))
      modules.forEach((m, i) => {
        m.norm_z = z[i]!
      })
      if (policy.require_reference) reasons.push('weight_norm_outlier')
      if (policy.require_weight_reference) reasons.push('weights_not_evaluated')
    }
    tensorZMax = modules.reduce((acc, m) => Math.max(acc, m.norm_z), 0)
    if (tensorZMax > thresholds.tau_tensor_z) reasons.push('tensor_norm_outlier')
    // The calibrated spectral classifier (issue 20), when the verifier's reference carries one.
    const classifier = context.reference?.spectral_classifier
    if (classifier !== undefined && summary.spectral !== null) {
      refMetrics.spectral_score = logisticScore(classifier, summary.spectral)
      refMetrics.spectral_threshold = classifier.threshold
      if (refMetrics.spectral_score > classifier.threshold) reasons.push('spectral_classifier_high')
    }
  } else if (summary.error === null) {
    // Readable weights whose statistics were skipped: a refused rank rejects already; an adapter
    // beyond the cost budget is never a silent pass, whatever require_weight_reference says.
    refMetrics.note = `weights not evaluated: ${summary.skipped ?? 'no modules'}`
    if (summary.skipped !== null ? !reasons.includes('rank_not_allowed') : policy.require_weight_reference) {
      reasons.push('weights_not_evaluated')
    }
  } else if (policy.require_reference) {
    refMetrics.note = 'no weight statistics'
  }

  // --- behavioural probes --------------------------------------------------------------------
  let probes: GateMetrics['probes'] = { ran: false, note: 'enable_probes is off' }
  if (policy.enable_probes) {
    if (integrityFailed || summary.error !== null || summary.skipped !== null) {
      probes = {
        ran: false,
        note: 'skipped: the artefact failed its integrity checks, or its weights are unreadable or were not evaluated',
      }
    } else {
      const set = context.probeSet ?? loadProbeSet(policy.probes_file ?? undefined)
      const r = await runProbes(context.probes!, adapterDir, set, { probesMax: policy.probes_max })
      probes = { ran: true, ...r }
      if (r.trigger_rate_excess > thresholds.tau_trigger) reasons.push('trigger_rate_high')
      if (r.clean_delta < thresholds.tau_clean_delta) reasons.push('clean_regression')
    }
  }

  const ordered = orderReasons(reasons)
  const decision: GateDecision = {
    passed: ordered.length === 0,
    reasons: ordered,
    metrics: {
      trigger_rate: probes.ran ? probes.trigger_rate : 0,
      trigger_rate_excess: probes.ran ? probes.trigger_rate_excess : 0,
      clean_delta_f1: probes.ran ? probes.clean_delta : 0,
      norm_z: normZ,
      artifact,
      weights: {
        error: summary.error,
        skipped: summary.skipped,
        ranks: summary.ranks,
        targets: summary.suffixes,
        modules: summary.modules.length,
        other_tensors: summary.otherTensors,
        features: summary.features,
      },
      modules,
      tensor_z_max: tensorZMax,
      reference: refMetrics,
      signatures,
      statement,
      reputation,
      probes,
      thresholds,
    },
  }
  log.debug('gate decision', { adapterDir, passed: decision.passed, reasons: ordered.join(',') })
  if (context.auditLogPath) {
    // The final decision, in the verifier's own log ([D-09], [D-10]); original key order first.
    await appendAuditRecord(
      context.auditLogPath,
      {
        plasmid_id: manifest.plasmid_id,
        sha256: manifest.artifacts.sha256,
        domain: manifest.domain,
        passed: decision.passed,
        reasons: ordered,
        artifact_sha256: artifact.sha256,
        signer: signatures?.primary_signer ?? reputation?.signer ?? null,
        ts_unix: Math.floor((context.now ?? (() => Date.now() / 1000))()),
      },
      {
        ...(context.auditSigningKey !== undefined ? { signingKey: context.auditSigningKey } : {}),
        ...(context.auditKeyPassphrase !== undefined ? { passphrase: context.auditKeyPassphrase } : {}),
      },
    )
  }
  return decision
}
