/**
 * @packageDocumentation
 * `@plora/common`: the base layer every plora package builds on — the `PloraError` type, the
 * seeded RNG (a bit-exact CPython `random.Random`), SHA-256 and strict encodings, atomic file and
 * directory writes (with pid-tagged temporaries that the next run sweeps after a kill), JSONL, a
 * small logger, the progress-event interface, a JSON-text scanner (number spellings, depth), `untrustedText` for peer text in messages, and the
 * strict, linear-time YAML reader that config and manifest files go through.
 */

export { canonicalJson, canonicalJsonBytes } from './canonical-json.js'
export { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes, isSha256Hex } from './encoding.js'
export { CommonError, CommonErrorCode, isPloraError, PloraError } from './errors.js'
export {
  type AtomicFileData,
  createStagingDir,
  installDirAtomic,
  type WriteFileAtomicOptions,
  writeFileAtomic,
  writeJsonAtomic,
} from './fs-atomic.js'
export { sha256File, sha256FileHex, sha256Hex } from './hash.js'
export { prettyJsonChunks } from './json-chunks.js'
export {
  isJsonIntegerLiteral,
  type JsonScanOptions,
  type JsonScanResult,
  scanJsonText,
} from './json-text.js'
export { appendJsonl, parseJsonl, readJsonl } from './jsonl.js'
export { createLogger, LOG_LEVELS, type Logger, type LoggerOptions, type LogLevel, SILENT_LOGGER } from './log.js'
export { NO_PROGRESS, type ProgressCallback, type ProgressEvent } from './progress.js'
export { formatPythonNumber, pythonJsonDumps, pythonJsonString } from './python-format.js'
export { bitLength, PythonRandom, type PythonSeed } from './python-random.js'
export { createRng, deriveSeed, type Rng } from './rng.js'
export {
  DEFAULT_STALE_TEMP_AGE_MS,
  isProcessAlive,
  parseTempName,
  type RemoveStaleTempsOptions,
  type RemoveStaleTempsResult,
  removeStaleTemps,
  sweepStaleTempsOnce,
  type TempKind,
  tempName,
} from './temp-files.js'
export {
  DEFAULT_UNTRUSTED_TEXT_CHARS,
  type UntrustedTextOptions,
  untrustedText,
} from './untrusted-text.js'
export {
  DEFAULT_STRICT_YAML_OPTIONS,
  decodeYamlBytes,
  parseStrictYaml,
  type StrictYamlOptions,
  type StrictYamlProblem,
  type StrictYamlReason,
  type StrictYamlResult,
} from './yaml-strict.js'
