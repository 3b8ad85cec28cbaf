/**
 * Writes a complete Hugging Face model folder atomically: every file is written into a staging
 * folder next to the destination, which is then renamed into place, so readers never see a
 * half-written model.
 */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createStagingDir, installDirAtomic } from '@plora/common'
import { encodeSafetensors } from '@plora/safetensors'
import type { FloatTensorData } from './weights.js'

/** What {@link writeModelFolder} writes. */
export interface ModelFolderContents {
  /** `config.json`. */
  config: Record<string, unknown>
  /** `model.safetensors` (F32, `__metadata__ {format: pt}` as transformers writes it). */
  weights: Map<string, FloatTensorData>
  /** Further JSON files by name (`tokenizer.json`, `generation_config.json`, …). */
  json?: Record<string, unknown>
}

/** Serialises a state dict to safetensors bytes (F32). */
export function encodeModelWeights(weights: Map<string, FloatTensorData>): Uint8Array {
  return encodeSafetensors(
    [...weights].map(([k, v]) => [k, { dtype: 'F32', shape: v.shape, data: v.data }] as const),
    { format: 'pt' },
  )
}

/** Writes (or, with `replace`, replaces) the model folder `outDir` atomically. */
export async function writeModelFolder(
  outDir: string,
  contents: ModelFolderContents,
  options: { replace?: boolean } = {},
): Promise<void> {
  const staging = await createStagingDir(outDir)
  try {
    await writeFile(join(staging, 'config.json'), `${JSON.stringify(contents.config, null, 2)}\n`)
    await writeFile(join(staging, 'model.safetensors'), encodeModelWeights(contents.weights))
    for (const [name, value] of Object.entries(contents.json ?? {})) {
      await writeFile(join(staging, name), `${JSON.stringify(value, null, 2)}\n`)
    }
    await installDirAtomic(staging, outDir, { replace: options.replace ?? false })
  } catch (e) {
    await rm(staging, { recursive: true, force: true })
    throw e
  }
}
