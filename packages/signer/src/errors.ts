import { PloraError } from '@plora/common'

/** Error codes of `@plora/signer` (stable; `PACKAGE_NOUN_PROBLEM`). */
export const SignerErrorCode = {
  /** The PEM text is not a key of the expected kind (private/public), or cannot be parsed. */
  KeyInvalid: 'SIGNER_KEY_INVALID',
  /** The key is neither RSA nor Ed25519. */
  KeyUnsupported: 'SIGNER_KEY_UNSUPPORTED',
  /** An encrypted private key without a passphrase, or with a wrong one. */
  KeyPassphraseInvalid: 'SIGNER_KEY_PASSPHRASE_INVALID',
  /** A key file could not be read. */
  KeyReadFailed: 'SIGNER_KEY_READ_FAILED',
  /** Refusing to overwrite an existing key file. */
  KeyExists: 'SIGNER_KEY_EXISTS',
  /** The digest to sign is not 64 lowercase hex characters. */
  DigestInvalid: 'SIGNER_DIGEST_INVALID',
  /** A signature does not verify (wrong key, other digest or tag, corrupted bytes). */
  SignatureInvalid: 'SIGNER_SIGNATURE_INVALID',
  /** There is no signature to verify. */
  SignatureMissing: 'SIGNER_SIGNATURE_MISSING',
  /** The manifest's `pubkey_fingerprint` names another key. */
  FingerprintMismatch: 'SIGNER_FINGERPRINT_MISMATCH',
  /** The manifest's `algo` does not match the verifying key's type. */
  AlgoMismatch: 'SIGNER_ALGO_MISMATCH',
  /** An aggregate is not a JSON list of base64 strings. */
  AggregateInvalid: 'SIGNER_AGGREGATE_INVALID',
  /** The quorum argument is not an integer. */
  QuorumInvalid: 'SIGNER_QUORUM_INVALID',
  /** An audit log cannot be appended to. */
  AuditWriteFailed: 'SIGNER_AUDIT_WRITE_FAILED',
  /** An audit log exists but cannot be read. */
  AuditReadFailed: 'SIGNER_AUDIT_READ_FAILED',
  /** An audit chain is broken (by `assertAuditChain`, or an append refused on a tampered log). */
  AuditChainBroken: 'SIGNER_AUDIT_CHAIN_BROKEN',
  /** An audit head file (`<log>.head`) is malformed. */
  AuditHeadInvalid: 'SIGNER_AUDIT_HEAD_INVALID',
  /** Another writer held the audit log's lock for longer than the timeout. */
  AuditLockTimeout: 'SIGNER_AUDIT_LOCK_TIMEOUT',
  /** A policy file cannot be read. */
  PolicyReadFailed: 'SIGNER_POLICY_READ_FAILED',
  /** A signed folder statement (`plora.sig.json`) is required but the folder has none. */
  StatementMissing: 'SIGNER_STATEMENT_MISSING',
  /** `plora.sig.json` is unreadable, not JSON, or not a well-formed plora folder statement. */
  StatementInvalid: 'SIGNER_STATEMENT_INVALID',
  /** The statement's signatures do not reach the quorum of trusted, non-revoked keys. */
  StatementSignatureInvalid: 'SIGNER_STATEMENT_SIGNATURE_INVALID',
  /** A file the statement lists is not in the folder. */
  StatementFileMissing: 'SIGNER_STATEMENT_FILE_MISSING',
  /** A file's size or SHA-256 differs from the statement's. */
  StatementFileMismatch: 'SIGNER_STATEMENT_FILE_MISMATCH',
  /** The folder holds a file the statement does not list. */
  StatementFileUnlisted: 'SIGNER_STATEMENT_FILE_UNLISTED',
  /** The folder holds a symlink, device, socket or FIFO, which a statement cannot cover. */
  StatementFileUnsupported: 'SIGNER_STATEMENT_FILE_UNSUPPORTED',
  /** The manifest (`plora.yml` without its `signer` block) differs from the signed one. */
  StatementManifestMismatch: 'SIGNER_STATEMENT_MANIFEST_MISMATCH',
  /** The folder has more files, or the sidecar more bytes, than a statement may hold. */
  StatementTooLarge: 'SIGNER_STATEMENT_TOO_LARGE',
} as const
export type SignerErrorCode = (typeof SignerErrorCode)[keyof typeof SignerErrorCode]

/** The error class of `@plora/signer`. */
export class SignerError extends PloraError<SignerErrorCode> {
  override name = 'SignerError'
}
