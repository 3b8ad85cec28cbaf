import { PloraError } from '@plora/common'

/**
 * Error codes of `@plora/grpc` (STYLE.md §4). Every way a fetch can be refused has its own code,
 * so tests and callers can tell a tampered payload from a wrong key or an unsafe archive.
 */
export const GrpcErrorCode = {
  /** A domain that is not a plain folder name (traversal, absolute, encoded, empty). `[D-38]` */
  DomainInvalid: 'GRPC_DOMAIN_INVALID',
  /** A plasmid id that is empty or has control characters. */
  PlasmidIdInvalid: 'GRPC_PLASMID_ID_INVALID',
  /** The server has no adapter under that domain or id. */
  PlasmidNotFound: 'GRPC_PLASMID_NOT_FOUND',
  /** The server answered with an in-band error status (unary) or an unexpected gRPC status. */
  ServerStatusError: 'GRPC_SERVER_STATUS_ERROR',
  /** The server could not be reached, or the TLS handshake failed (e.g. mTLS without a client certificate). */
  ServerUnavailable: 'GRPC_SERVER_UNAVAILABLE',
  /** The server is at its concurrency and queue limit. */
  ServerBusy: 'GRPC_SERVER_BUSY',
  /** The call ran past its deadline. */
  DeadlineExceeded: 'GRPC_DEADLINE_EXCEEDED',
  /** The stream broke off before the whole payload arrived (and resuming did not complete it). */
  StreamInterrupted: 'GRPC_STREAM_INTERRUPTED',
  /** The server broke the protocol (no header first, data past the announced size, …). */
  ProtocolViolation: 'GRPC_PROTOCOL_VIOLATION',
  /** The payload's SHA-256 differs from the digest the server announced. */
  PayloadDigestMismatch: 'GRPC_PAYLOAD_DIGEST_MISMATCH',
  /** The payload's byte count differs from the size the server announced. */
  PayloadSizeMismatch: 'GRPC_PAYLOAD_SIZE_MISMATCH',
  /** The payload (or its extracted content) is larger than the client accepts. */
  PayloadTooLarge: 'GRPC_PAYLOAD_TOO_LARGE',
  /** A public key was given but the reply carries no signature. `[D-40]` */
  SignatureMissing: 'GRPC_SIGNATURE_MISSING',
  /** The reply's signature does not verify under the given public key. */
  SignatureInvalid: 'GRPC_SIGNATURE_INVALID',
  /** A tar entry with an unsafe name or type (`..`, absolute, link, device, …). `[D-41]` */
  TarEntryUnsafe: 'GRPC_TAR_ENTRY_UNSAFE',
  /** The payload is not a readable (gzip-)tar archive. */
  TarInvalid: 'GRPC_TAR_INVALID',
  /** A file name that a ustar header cannot hold, or a file too large for one. */
  TarNameUnsupported: 'GRPC_TAR_NAME_UNSUPPORTED',
  /** The fetched `plora.yml` is missing or fails the manifest schema. */
  ManifestInvalid: 'GRPC_MANIFEST_INVALID',
  /** The fetched manifest names another domain than the one requested. */
  ManifestDomainMismatch: 'GRPC_MANIFEST_DOMAIN_MISMATCH',
  /** The fetched artefact's SHA-256 differs from the manifest's. */
  ArtifactHashMismatch: 'GRPC_ARTIFACT_HASH_MISMATCH',
  /** The fetched folder's `plora.sig.json` does not hold (file changed/missing/unlisted, manifest edited, bad signature). */
  StatementInvalid: 'GRPC_STATEMENT_INVALID',
  /** A signed folder statement is required (`requireStatement`) but the fetched folder has none. */
  StatementMissing: 'GRPC_STATEMENT_MISSING',
  /** Inconsistent TLS options (only one of cert/key, a missing CA file, …). `[D-39]` */
  TlsConfigInvalid: 'GRPC_TLS_CONFIG_INVALID',
  /** A key, certificate or other input file cannot be read. */
  FileUnreadable: 'GRPC_FILE_UNREADABLE',
  /** The server's adapter root is missing or not a folder. */
  RootInvalid: 'GRPC_ROOT_INVALID',
  /** The fetch was cancelled through its AbortSignal. */
  FetchAborted: 'GRPC_FETCH_ABORTED',
  /** The verified plasmid could not be moved into place. */
  InstallFailed: 'GRPC_INSTALL_FAILED',
  /** A local file operation of a fetch failed (destination not a folder, staging folder not writable, disk full). */
  LocalIoFailed: 'GRPC_LOCAL_IO_FAILED',
  /** Bad options for `createDevCertificates`. */
  CertOptionsInvalid: 'GRPC_CERT_OPTIONS_INVALID',
  /** Bad server or client options (port, sizes, limits). */
  OptionsInvalid: 'GRPC_OPTIONS_INVALID',
} as const
export type GrpcErrorCode = (typeof GrpcErrorCode)[keyof typeof GrpcErrorCode]

/** The error class of `@plora/grpc`. */
export class GrpcError extends PloraError<GrpcErrorCode> {
  override name = 'GrpcError'
}
