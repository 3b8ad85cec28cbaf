/**
 * @packageDocumentation
 * `@plora/signer`: signatures over SHA-256 hex digests on `node:crypto`, byte-compatible with the
 * original (RSA-PSS / MGF1-SHA-256 / max salt, Ed25519; untagged and `PLORA|…|v1|`-tagged forms),
 * real key fingerprints (SHA-256 of the DER SPKI), the one tagged manifest-signing form, k-of-n
 * quorum over distinct fingerprints, policy-file signing and the hash-chained audit log.
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
  AUDIT_HEAD_SUFFIX,
  AUDIT_HEAD_TAG,
  AUDIT_LOCK_SUFFIX,
  type AuditAppendOptions,
  type AuditAppendResult,
  type AuditBreakReason,
  type AuditHead,
  type AuditVerifyResult,
  anchorAuditLog,
  appendAuditRecord,
  assertAuditChain,
  auditHeadDigest,
  auditHeadPath,
  DEFAULT_AUDIT_LOCK_STALE_MS,
  DEFAULT_AUDIT_LOCK_TIMEOUT_MS,
  type GateAuditRecord,
  readAuditHead,
  type VerifyAuditOptions,
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
