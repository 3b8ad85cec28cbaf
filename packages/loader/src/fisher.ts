/**
 * The Fisher scalar of an adapter folder (spec core.md §11.4), used to weight merges.
 *
 * 1. `fisher_diag.json` holding an object: its numeric `"sum"` (may be 0), else the sum of its
 *    numeric top-level values when there are any;
 * 2. else `fisher_diag.safetensors`: `Σ|diag|` of tensor `"diag"`, else `Σ_t Σ|t|` over all tensors,
 *    `null` when that total is not `> 0`;
 * 3. else (or on any read/parse error) `null`.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readSafetensors, toFloat32Array } from '@plora/safetensors'

/** The JSON file name. */
export const FISHER_JSON_FILE = 'fisher_diag.json'
/** The safetensors file name. */
export const FISHER_SAFETENSORS_FILE = 'fisher_diag.safetensors'

function isNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x)
}

/** Reads the adapter's Fisher scalar; `null` when there is none (never throws). */
export async function loadFisherScalar(adapterDir: string): Promise<number | null> {
  try {
    const value: unknown = JSON.parse(await readFile(join(adapterDir, FISHER_JSON_FILE), 'utf8'))
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const obj = value as Record<string, unknown>
      if (isNumber(obj.sum)) return obj.sum
      const numbers = Object.values(obj).filter(isNumber)
      if (numbers.length > 0) return numbers.reduce((acc, x) => acc + x, 0)
    }
  } catch {
    // Missing or unreadable JSON: fall through to the safetensors form, as the original does.
  }
  try {
    const { tensors } = await readSafetensors(join(adapterDir, FISHER_SAFETENSORS_FILE))
    const absSum = (data: Float32Array): number => data.reduce((acc, x) => acc + Math.abs(x), 0)
    const diag = tensors.get('diag')
    if (diag !== undefined) return absSum(toFloat32Array(diag))
    let total = 0
    for (const t of tensors.values()) total += absSum(toFloat32Array(t))
    return total > 0 ? total : null
  } catch {
    return null
  }
}
