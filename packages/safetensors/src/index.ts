/**
 * @packageDocumentation
 * `@plora/safetensors`: a small, strict codec for the safetensors format (spec core.md §0.3,
 * §25.2). Reading validates every header rule (length bounds, JSON, dtype map, shape × dtype size
 * = byte range, ranges in bounds, sorted, contiguous, no trailing bytes, `__metadata__` strings
 * only) and raises a `SafetensorsError` naming the defect; it never allocates from a size the file
 * claims before checking it against the real file size. Writing is atomic. `openSafetensors`
 * reads one tensor at a time without loading the file.
 */
export {
  decodeTensorBytes,
  encodeSafetensors,
  encodeTensorData,
  type SafetensorsTensor,
  type TensorInput,
  type TensorsInput,
  toFloat32Array,
} from './codec.js'
export {
  bf16ToFloat,
  DTYPE_SIZE,
  type DtypeArrayMap,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  isSafetensorsDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type TensorArray,
} from './dtype.js'
export { SafetensorsError, SafetensorsErrorCode } from './errors.js'
export {
  findDuplicateJsonKey,
  MAX_HEADER_LENGTH,
  parseHeaderJson,
  parseHeaderLength,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  type TensorInfo,
} from './header.js'
export {
  decodeSafetensors,
  openSafetensors,
  readSafetensors,
  type SafetensorsContents,
  type SafetensorsFile,
} from './read.js'
export { writeSafetensors } from './write.js'
