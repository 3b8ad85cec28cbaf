import { PloraError } from '@plora/common'

/** Stable error codes of `@plora/gate` (STYLE.md §4: `PACKAGE_NOUN_PROBLEM`). */
export const GateErrorCode = {
  /** A policy object or policy file does not match the schema (unknown key, wrong type, bad value). */
  PolicyInvalid: 'GATE_POLICY_INVALID',
  /** A policy file, or a path a policy names (keys, reputation, reference, probes), does not exist. */
  PolicyPathNotFound: 'GATE_POLICY_PATH_NOT_FOUND',
  /** A verifier trust file (trusted key, revocations, reputation) cannot be read or parsed. */
  TrustInvalid: 'GATE_TRUST_INVALID',
  /** A reference population file (`gate-ref.json`) is malformed. */
  ReferenceInvalid: 'GATE_REFERENCE_INVALID',
  /** A probe set file (`probes.json`) is malformed. */
  ProbesInvalid: 'GATE_PROBES_INVALID',
  /** `enable_probes` is on but the caller gave no probe runner. */
  ProbesUnavailable: 'GATE_PROBES_UNAVAILABLE',
  /** The probe runner failed while generating (the gate fails closed instead of passing silently). */
  ProbeFailed: 'GATE_PROBE_FAILED',
  /** The adapter folder has no readable, valid `plora.yml`. */
  ManifestInvalid: 'GATE_MANIFEST_INVALID',
  /** LoRA factors are inconsistent (shapes of A and B do not chain), so no statistic can be computed. */
  WeightsInvalid: 'GATE_WEIGHTS_INVALID',
  /** `plora merge --gate`: the gate rejected the merged adapter (or the merged model's delta); nothing was written. */
  MergeRejected: 'GATE_MERGE_REJECTED',
} as const
/** Union of the `@plora/gate` error codes. */
export type GateErrorCode = (typeof GateErrorCode)[keyof typeof GateErrorCode]

/** The error class of `@plora/gate`; `code` is one of {@link GateErrorCode}. */
export class GateError extends PloraError<GateErrorCode> {
  override name = 'GateError'
}
