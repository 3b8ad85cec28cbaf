import { PloraError } from '@plora/common'

/** Error codes of `@plora/safetensors` (stable; `PACKAGE_NOUN_PROBLEM`). */
export const SafetensorsErrorCode = {
  /** The file is shorter than the 8-byte header-length prefix. */
  FileTooShort: 'SAFETENSORS_FILE_TOO_SHORT',
  /** The header length is zero, above the limit, or runs past the end of the file. */
  HeaderLengthInvalid: 'SAFETENSORS_HEADER_LENGTH_INVALID',
  /** The header is not UTF-8 JSON describing an object. */
  HeaderJsonInvalid: 'SAFETENSORS_HEADER_JSON_INVALID',
  /** A tensor entry is not `{dtype, shape, data_offsets}` with the right types. */
  HeaderEntryInvalid: 'SAFETENSORS_HEADER_ENTRY_INVALID',
  /** A dtype outside the supported map. */
  DtypeUnsupported: 'SAFETENSORS_DTYPE_UNSUPPORTED',
  /** `shape` × dtype size differs from the byte range of the tensor. */
  TensorSizeMismatch: 'SAFETENSORS_TENSOR_SIZE_MISMATCH',
  /** Byte ranges out of bounds, overlapping, leaving gaps, or followed by trailing bytes. */
  OffsetsInvalid: 'SAFETENSORS_OFFSETS_INVALID',
  /** `__metadata__` is not a map of strings to strings. */
  MetadataInvalid: 'SAFETENSORS_METADATA_INVALID',
  /** No tensor of that name in the file. */
  TensorNotFound: 'SAFETENSORS_TENSOR_NOT_FOUND',
  /** A tensor handed to the writer is inconsistent (shape vs data, bad name, bad dtype). */
  TensorInvalid: 'SAFETENSORS_TENSOR_INVALID',
  /** The file could not be opened or read. */
  FileReadFailed: 'SAFETENSORS_FILE_READ_FAILED',
} as const
export type SafetensorsErrorCode = (typeof SafetensorsErrorCode)[keyof typeof SafetensorsErrorCode]

/** The error class of `@plora/safetensors`. */
export class SafetensorsError extends PloraError<SafetensorsErrorCode> {
  override name = 'SafetensorsError'
}
