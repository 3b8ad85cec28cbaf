/**
 * Rejection reason strings of the gate, exactly as the original emits them, in emission order
 * (spec core.md §5.1). `policyCheck` produces 1–11, `alignmentGate` appends 12–17; the reasons
 * plora adds sit right after the checks they belong to: `adapter_files_unexpected`,
 * `weights_unreadable`, `weight_update_invalid` and `weights_not_evaluated` after the artefact
 * checks, `statement_missing` / `statement_invalid` (the signed folder statement, issue 15
 * point 8) after the signature quorum.
 *
 * Several reasons keep the original's string but now mean something the verifier measures itself
 * (fix of [D-03], [D-03b], [D-05], [D-24]); see {@link REASON_DESCRIPTIONS}.
 */
export const REJECT_REASONS = [
  'base_model_mismatch',
  'rank_not_allowed',
  'targets_not_allowed',
  'artifact_missing',
  'artifact_ext_unexpected',
  'adapter_files_unexpected',
  'artifact_size_out_of_bounds',
  'sha256_mismatch',
  'weights_unreadable',
  'weight_update_invalid',
  'weights_not_evaluated',
  'attestations_parse_error',
  'peer_attestations_error',
  'signature_quorum_not_met',
  'statement_missing',
  'statement_invalid',
  'reputation_low',
  'tensor_norm_outlier',
  'activation_mahalanobis_high',
  'gradient_spike_z_high',
  'spectral_classifier_high',
  'trigger_rate_high',
  'weight_norm_outlier',
  'clean_regression',
] as const

/** One rejection reason (a spec string-literal union, STYLE.md §4). */
export type RejectReason = (typeof REJECT_REASONS)[number]

/** What each reason means in plora (the evidence behind it). */
export const REASON_DESCRIPTIONS: Readonly<Record<RejectReason, string>> = {
  base_model_mismatch: 'manifest or adapter_config base model differs from the policy base_model (or from each other)',
  rank_not_allowed: 'the LoRA rank of the tensors (or the rank the manifest/config claims) is not in allowed_ranks',
  targets_not_allowed: 'a module adapted by the tensors (or claimed by the manifest) is outside allowed_targets',
  artifact_missing: 'the artefact named by the manifest does not exist or is not a plain file name inside the folder',
  artifact_ext_unexpected: 'the artefact name does not end in .safetensors or .bin',
  artifact_size_out_of_bounds:
    'the artefact is empty, larger than max_size_bytes, or differs from artifacts.size_bytes',
  sha256_mismatch: "the artefact's SHA-256 differs from the manifest's artifacts.sha256",
  adapter_files_unexpected:
    'the manifest artefact is not adapter_model.safetensors (the only file the loader reads), or the folder holds a second weights file',
  weights_unreadable:
    'require_weights is on and the artefact is not a PEFT LoRA adapter the loader would load (config, tensor names, ranks, targets)',
  weight_update_invalid:
    'an update s·B·A is NaN/infinite or absurd (scaling, factor entries or ‖ΔW‖_F beyond @plora/peft bounds): always rejected',
  weights_not_evaluated:
    'the weight statistics could not be scored against a reference population (rejected when require_weight_reference is on), or the adapter exceeds the statistics cost budget (always rejected)',
  attestations_parse_error: 'a line of the attestations file is not a JSON object',
  peer_attestations_error: 'the verifier peer key folder could not be read',
  signature_quorum_not_met:
    'fewer than quorum_required distinct, non-revoked verifier keys signed the tagged artefact digest',
  statement_missing: 'require_signed_statement is on and the folder has no signed statement (plora.sig.json)',
  statement_invalid:
    'plora.sig.json does not hold: a file is missing, changed or unlisted, plora.yml changed, the sidecar is malformed, or (signatures_enabled) fewer than quorum_required trusted keys signed it',
  reputation_low: 'the reputation the verifier holds for the verified signer key is below min_reputation',
  tensor_norm_outlier: 'a module update norm is a robust-z outlier (against the reference, or within the adapter)',
  activation_mahalanobis_high:
    "the adapter's weight-statistics feature vector is far (Mahalanobis) from the clean reference population",
  gradient_spike_z_high: "the update spectrum's top-direction energy share is a z outlier against the reference",
  spectral_classifier_high:
    "the calibrated logistic classifier on the adapter's spectral weight features (gate-ref.json spectral_classifier) scores it above its threshold",
  trigger_rate_high: 'probe prompts carrying a trigger make the adapted model emit the payload',
  weight_norm_outlier: "the adapter's total update norms are z outliers against the clean reference population",
  clean_regression: 'clean probe accuracy of the adapted model fell below the base model (without adapter)',
}

const ORDER: ReadonlyMap<string, number> = new Map(REJECT_REASONS.map((r, i) => [r, i]))

/** True when `s` is one of the gate's reason strings. */
export function isRejectReason(s: string): s is RejectReason {
  return ORDER.has(s)
}

/** Sorts reasons into emission order and removes duplicates. */
export function orderReasons(reasons: Iterable<RejectReason>): RejectReason[] {
  return [...new Set(reasons)].sort((a, b) => ORDER.get(a)! - ORDER.get(b)!)
}
