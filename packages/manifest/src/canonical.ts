/**
 * The manifest's canonical bytes: what the signed folder statement (`@plora/signer`,
 * `plora.sig.json`) records for `plora.yml`, so that editing any field (domain, base model,
 * `lora.r`, metrics, licence, …) breaks the statement although the YAML text may be re-dumped.
 *
 * The bytes are RFC 8785 canonical JSON (`canonicalJson` of `@plora/common`) of the parsed,
 * validated manifest with two things removed:
 *
 * - the `signer` block: it carries the legacy `PLORA|ADAPTER|v1|` signature and is rewritten by
 *   every `plora sign`, so it cannot be covered by a signature made before it is written;
 * - fields whose value is null or absent (`metrics.val_em: null` and a missing `val_em` mean the
 *   same and the YAML dump omits nulls, so a sign → dump → load round trip keeps the bytes).
 *
 * Numbers are the parsed values (`4` and `4.0` in YAML are the same field value).
 */
import { canonicalJsonBytes, sha256Hex } from '@plora/common'
import type { Manifest } from './schema.js'

function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls)
  if (v === null || typeof v !== 'object') return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = dropNulls(x)
  return out
}

/** The manifest as the plain object that is canonicalised: no `signer` block, no null fields. */
export function canonicalManifestObject(manifest: Manifest): Record<string, unknown> {
  const { signer: _signer, ...rest } = manifest
  return dropNulls(rest) as Record<string, unknown>
}

/**
 * RFC 8785 canonical JSON bytes of {@link canonicalManifestObject}.
 *
 * @example
 * const sha = sha256Hex(canonicalManifestBytes(await loadManifest('out/legal')))
 */
export function canonicalManifestBytes(manifest: Manifest): Uint8Array {
  return canonicalJsonBytes(canonicalManifestObject(manifest))
}

/** SHA-256 hex of {@link canonicalManifestBytes}. */
export function canonicalManifestSha256(manifest: Manifest): string {
  return sha256Hex(canonicalManifestBytes(manifest))
}
