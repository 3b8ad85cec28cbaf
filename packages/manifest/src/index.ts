/**
 * @packageDocumentation
 * `@plora/manifest`: the `plora.yml` manifest of a plasmid (spec core.md §1): a strict zod schema
 * (unknown keys, NaN/Infinity, inconsistent ΔPPL and artefact names outside the folder rejected),
 * YAML load/dump that the original's PyYAML reader reads back identically, and the artefact
 * check (regular file, size, streamed SHA-256). Errors are `ManifestError`s naming file, field
 * path, expected and found.
 */
export { canonicalManifestBytes, canonicalManifestObject, canonicalManifestSha256 } from './canonical.js'
export { MAX_MANIFEST_BYTES, ManifestError, ManifestErrorCode } from './errors.js'
export {
  type ArtifactCheck,
  dumpManifestYaml,
  loadManifest,
  loadManifestFile,
  type ManifestIssue,
  parseManifest,
  parseManifestYaml,
  verifyArtifact,
  writeManifest,
  writeManifestFile,
} from './io.js'
export {
  type ArtifactsInfo,
  ArtifactsInfoSchema,
  type CompatibilityInfo,
  CompatibilityInfoSchema,
  DELTA_PPL_TOLERANCE,
  isPlainFileName,
  type LoraConfig,
  LoraConfigSchema,
  MANIFEST_FILENAME,
  type Manifest,
  ManifestSchema,
  type MetricsInfo,
  MetricsInfoSchema,
  PLACEHOLDER_PPL,
  type SafetyInfo,
  SafetyInfoSchema,
  SIGNER_ALGOS,
  type SignerInfo,
  SignerInfoSchema,
  type TrainMeta,
  TrainMetaSchema,
} from './schema.js'
