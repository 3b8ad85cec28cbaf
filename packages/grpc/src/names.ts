/**
 * Name checks shared by server and client.
 *
 * The original joins the requested domain to the adapter root unsanitised, so `../x` escapes it
 * (spec core.md §20.2, `[D-38]`). Here a domain must be a single plain folder name: ASCII letters,
 * digits, `.`, `_` and `-`, starting with a letter or digit, at most 128 characters. That rejects
 * `..`, `.`, anything with `/` or `\`, absolute paths, percent- or otherwise-encoded forms, NUL and
 * other control characters, and hidden (dot) folders such as staging directories. The client
 * applies the same rule before installing into `DEST/<domain>`.
 */
import { untrustedText } from '@plora/common'
import { GrpcError, GrpcErrorCode } from './errors.js'

const DOMAIN_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** True when `domain` is a plain folder name that may be served or installed. */
export function isSafeDomain(domain: string): boolean {
  return DOMAIN_RE.test(domain) && domain !== '..' && !domain.includes('..')
}

/** Throws `GRPC_DOMAIN_INVALID` unless `domain` is a plain folder name. */
export function assertSafeDomain(domain: unknown, where = 'domain'): string {
  if (typeof domain !== 'string' || !isSafeDomain(domain)) {
    throw new GrpcError(
      GrpcErrorCode.DomainInvalid,
      `invalid ${where} ${untrustedText(JSON.stringify(domain) ?? String(domain))}: expected a plain folder name (letters, digits, ".", "_", "-"; no "/", "..", "%" or leading dot)`,
      { domain: untrustedText(domain) },
    )
  }
  return domain
}

/** Throws `GRPC_PLASMID_ID_INVALID` for an empty id or one with control characters. */
export function assertPlasmidId(id: unknown): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (typeof id !== 'string' || id.length === 0 || id.length > 256 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new GrpcError(
      GrpcErrorCode.PlasmidIdInvalid,
      `invalid plasmid id ${untrustedText(JSON.stringify(id) ?? String(id))}: expected 1-256 printable characters`,
      { plasmidId: untrustedText(id) },
    )
  }
  return id
}

/**
 * Normalises a tar entry name and checks it is a safe relative path (`[D-41]`): no absolute path
 * or drive letter, no `..` segment, no backslash, no NUL/control characters. `./x` becomes `x`;
 * `.` and `./` (the archive root the original writes) become the empty string.
 * Returns `null` when the name is unsafe.
 */
export function normaliseEntryName(name: string): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (name.length === 0 || name.length > 4096 || /[\u0000-\u001f\u007f\\]/.test(name)) return null
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return null
  const parts: string[] = []
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') return null
    parts.push(seg)
  }
  return parts.join('/')
}
