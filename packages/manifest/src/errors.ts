import { PloraError } from '@plora/common'

/**
 * Largest manifest accepted, in bytes; checked before parsing. A real one is under 2 KiB (10 KiB
 * with every module of a 32-layer model listed); 64 KiB keeps the worst accepted text's parse
 * (~4k keys) well under a second even on a cold, loaded process.
 */
export const MAX_MANIFEST_BYTES = 64 * 1024

/** Error codes of `@plora/manifest` (stable; `PACKAGE_NOUN_PROBLEM`). */
export const ManifestErrorCode = {
  /** No `plora.yml` where one was expected. */
  NotFound: 'MANIFEST_NOT_FOUND',
  /** The manifest file exists but cannot be read. */
  ReadFailed: 'MANIFEST_READ_FAILED',
  /** The text is not YAML (or has duplicate keys, aliases, a second document, raw control characters, non-decimal numbers, …). */
  YamlInvalid: 'MANIFEST_YAML_INVALID',
  /** The manifest is larger than {@link MAX_MANIFEST_BYTES} (refused before parsing). */
  TooLarge: 'MANIFEST_FILE_TOO_LARGE',
  /** The document breaks the schema; `details.issues` lists every problem. */
  SchemaInvalid: 'MANIFEST_SCHEMA_INVALID',
  /** The artefact named by `artifacts.filename` does not exist. */
  ArtifactNotFound: 'MANIFEST_ARTIFACT_NOT_FOUND',
  /** The artefact is not a regular file (a folder, a symbolic link, a device). */
  ArtifactNotFile: 'MANIFEST_ARTIFACT_NOT_FILE',
  /** The artefact's size differs from `artifacts.size_bytes`. */
  ArtifactSizeMismatch: 'MANIFEST_ARTIFACT_SIZE_MISMATCH',
  /** The artefact's SHA-256 differs from `artifacts.sha256`. */
  ArtifactHashMismatch: 'MANIFEST_ARTIFACT_HASH_MISMATCH',
} as const
export type ManifestErrorCode = (typeof ManifestErrorCode)[keyof typeof ManifestErrorCode]

/** The error class of `@plora/manifest`. */
export class ManifestError extends PloraError<ManifestErrorCode> {
  override name = 'ManifestError'
}
