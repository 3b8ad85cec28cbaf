/**
 * Policy signing (spec core.md §2.5): the signature covers `POLICY_TAG + sha256_hex(file bytes)`,
 * the exact bytes with no JSON canonicalisation, so signatures interoperate with the original's
 * `sign_policy` / `verify_policy`. Unlike the original, a passphrase reaches the signer (`[D-14]`).
 */
import { readFile } from 'node:fs/promises'
import { sha256Hex } from '@plora/common'
import { SignerError, SignerErrorCode } from './errors.js'
import type { KeyInput } from './keys.js'
import { POLICY_TAG, signSha256Hex, verifySha256Hex } from './sign.js'

async function readPolicy(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path)
  } catch (e) {
    throw new SignerError(
      SignerErrorCode.PolicyReadFailed,
      `cannot read policy file ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
}

/** Signs policy bytes (tagged with {@link POLICY_TAG}); returns base64. */
export function signPolicyBytes(
  bytes: Uint8Array,
  privateKey: KeyInput,
  options: { passphrase?: string } = {},
): string {
  return signSha256Hex(privateKey, sha256Hex(bytes), { tag: POLICY_TAG, ...options })
}

/** Verifies a policy signature over the given bytes. */
export function verifyPolicyBytes(bytes: Uint8Array, publicKey: KeyInput, signatureB64: string): boolean {
  return verifySha256Hex(publicKey, sha256Hex(bytes), signatureB64, { tag: POLICY_TAG })
}

/** Signs a policy file's exact bytes; returns base64. */
export async function signPolicyFile(
  policyPath: string,
  privateKey: KeyInput,
  options: { passphrase?: string } = {},
): Promise<string> {
  return signPolicyBytes(await readPolicy(policyPath), privateKey, options)
}

/** Verifies a policy file against a base64 signature. */
export async function verifyPolicyFile(
  policyPath: string,
  publicKey: KeyInput,
  signatureB64: string,
): Promise<boolean> {
  return verifyPolicyBytes(await readPolicy(policyPath), publicKey, signatureB64)
}
