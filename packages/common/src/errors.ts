/**
 * The one error type of plora (STYLE.md §4): a stable `code` (`PACKAGE_NOUN_PROBLEM`), a message
 * that says what failed, where, what was expected and what was found, machine-readable `details`,
 * and the underlying error as `cause`. Packages subclass it with their own code objects.
 */
export class PloraError<Code extends string = string> extends Error {
  override name = 'PloraError'
  readonly code: Code
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: Code, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.details = details
  }

  /** A plain object for JSON reports and logs. */
  toObject(): { name: string; code: Code; message: string; details: Readonly<Record<string, unknown>> } {
    return { name: this.name, code: this.code, message: this.message, details: this.details }
  }
}

/** Error codes raised by `@plora/common` itself. */
export const CommonErrorCode = {
  RngArgumentInvalid: 'COMMON_RNG_ARGUMENT_INVALID',
  EncodingInvalid: 'COMMON_ENCODING_INVALID',
  FileWriteFailed: 'COMMON_FILE_WRITE_FAILED',
  DirectoryInstallFailed: 'COMMON_DIRECTORY_INSTALL_FAILED',
  JsonlInvalid: 'COMMON_JSONL_INVALID',
  /** A value outside the canonical-JSON subset (NaN, a lone surrogate, a class instance, …). */
  CanonicalJsonInvalid: 'COMMON_CANONICAL_JSON_INVALID',
} as const
export type CommonErrorCode = (typeof CommonErrorCode)[keyof typeof CommonErrorCode]

/** The error class of `@plora/common`. */
export class CommonError extends PloraError<CommonErrorCode> {
  override name = 'CommonError'
}

/** True when `e` is a `PloraError` (or subclass), also across duplicated module instances. */
export function isPloraError(e: unknown): e is PloraError {
  return (
    e instanceof PloraError ||
    (e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && 'details' in e)
  )
}
