/**
 * @packageDocumentation
 * `@plora/signer`: signatures over SHA-256 hex digests on `node:crypto`, byte-compatible with the
 * original (RSA-PSS / MGF1-SHA-256 / max salt, Ed25519; untagged and `PLORA|…|v1|`-tagged forms),
 * real key fingerprints (SHA-256 of the DER SPKI), the one tagged manifest-signing form, k-of-n
 * quorum over distinct fingerprints, policy-file signing, the hash-chained audit log, and signed
 * in-toto statements over a whole adapter folder (`plora.sig.json`, `PLORA|FOLDER|v1|`).
 */
export {
  type AdapterSignature,
  type AdapterSignatureFailure,
  type AdapterSignatureResult,
  signAdapterDigest,
  type VerifyAdapterOptions,
  verifyAdapterSignature,
} from './adapter.js'
export {
  AUDIT_GENESIS_HASH,
  type AuditAppendResult,
  type AuditBreakReason,
  type AuditVerifyResult,
  appendAuditRecord,
  assertAuditChain,
  type GateAuditRecord,
  verifyAuditChain,
} from './audit.js'
export { SignerError, SignerErrorCode } from './errors.js'
export {
  algoForKey,
  type GenerateKeyPairOptions,
  generateKeyPair,
  type KeyInput,
  type KeyPairPem,
  type KeyType,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  normalizeFingerprint,
  publicKeyPem,
  RSA_MODULUS_BITS,
  readKeyFile,
  type WriteKeyPairOptions,
  writeKeyPair,
} from './keys.js'
export { signPolicyBytes, signPolicyFile, verifyPolicyBytes, verifyPolicyFile } from './policy.js'
export {
  aggregateSignatures,
  parseAggregate,
  type QuorumIgnoreReason,
  type QuorumOptions,
  type QuorumResult,
  type TrustedKey,
  type TrustedKeyInput,
  toTrustedKeys,
  verifyAggregate,
  verifyQuorum,
} from './quorum.js'
export {
  ADAPTER_TAG,
  POLICY_TAG,
  type SignDigestOptions,
  signMessage,
  signSha256Hex,
  verifyMessage,
  verifySha256Hex,
} from './sign.js'
export {
  assertFolderStatement,
  buildFolderStatement,
  canonicalStatementBytes,
  createFolderStatement,
  diffJsonFields,
  FOLDER_PREDICATE_TYPE,
  FOLDER_TAG,
  type FolderFile,
  type FolderPredicate,
  type FolderScan,
  type FolderScanOptions,
  type FolderStatement,
  type FolderStatementResult,
  isSafeRelativeName,
  MAX_STATEMENT_BYTES,
  MAX_STATEMENT_FILES,
  parseSignedFolderStatement,
  readStatementFile,
  type SignAdapterFolderOptions,
  type SignAdapterFolderResult,
  type SignedFolderStatement,
  STATEMENT_FILENAME,
  STATEMENT_MANIFEST_FILE,
  STATEMENT_MEDIA_TYPE,
  STATEMENT_TYPE,
  type StatementManifestInput,
  type StatementProblem,
  type StatementSignature,
  type StatementSubject,
  scanFolder,
  signAdapterFolder,
  signFolderStatement,
  statementDigest,
  type VerifyFolderStatementOptions,
  verifyFolderStatement,
  writeStatementFile,
} from './statement.js'
