/**
 * Reads the weights of a Hugging Face model folder: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`. F32, F16 and BF16 (and F64) stored tensors become float32
 * (decoding by `@plora/safetensors`).
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isPloraError } from '@plora/common'
import { readSafetensors, toFloat32Array } from '@plora/safetensors'
import { ModelError, ModelErrorCode } from './errors.js'

/** A decoded float32 tensor. */
export interface FloatTensorData {
  data: Float32Array
  shape: number[]
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64'])

/** Reads one safetensors file and widens its float tensors to float32. */
export async function readFloatSafetensors(path: string): Promise<Map<string, FloatTensorData>> {
  let contents: Awaited<ReturnType<typeof readSafetensors>>
  try {
    contents = await readSafetensors(path)
  } catch (e) {
    if (!isPloraError(e)) throw e
    throw new ModelError(
      ModelErrorCode.WeightsInvalid,
      `invalid weights file ${path}: ${e.message}`,
      { path },
      { cause: e },
    )
  }
  const out = new Map<string, FloatTensorData>()
  for (const [name, t] of contents.tensors) {
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new ModelError(
        ModelErrorCode.WeightsInvalid,
        `tensor ${name} in ${path} has dtype ${t.dtype}: expected F32, F16, BF16 or F64`,
        { path, name, dtype: t.dtype },
      )
    }
    out.set(name, { data: t.dtype === 'F32' ? (t.data as Float32Array) : toFloat32Array(t), shape: [...t.shape] })
  }
  return out
}

/** Loads every weight tensor of a model folder (single file or sharded index). */
export async function readModelWeights(modelDir: string): Promise<Map<string, FloatTensorData>> {
  const single = join(modelDir, 'model.safetensors')
  const index = join(modelDir, 'model.safetensors.index.json')
  if (existsSync(single)) return readFloatSafetensors(single)
  if (existsSync(index)) {
    let weightMap: unknown
    try {
      weightMap = JSON.parse(await readFile(index, 'utf8')).weight_map
    } catch (e) {
      throw new ModelError(
        ModelErrorCode.WeightsInvalid,
        `invalid shard index ${index}: not JSON`,
        { path: index },
        { cause: e },
      )
    }
    if (typeof weightMap !== 'object' || weightMap === null) {
      throw new ModelError(
        ModelErrorCode.WeightsInvalid,
        `invalid shard index ${index}: expected a "weight_map" object`,
        {
          path: index,
        },
      )
    }
    const out = new Map<string, FloatTensorData>()
    for (const shard of [...new Set(Object.values(weightMap as Record<string, string>))].sort()) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
        throw new ModelError(
          ModelErrorCode.WeightsInvalid,
          `shard name "${String(shard)}" in ${index} is not a plain file name`,
          {
            path: index,
            shard,
          },
        )
      }
      const p = join(modelDir, shard)
      if (!existsSync(p)) {
        throw new ModelError(ModelErrorCode.WeightsMissing, `shard ${shard} listed in ${index} is missing`, { path: p })
      }
      for (const [k, v] of await readFloatSafetensors(p)) out.set(k, v)
    }
    return out
  }
  throw new ModelError(
    ModelErrorCode.WeightsMissing,
    `no weights in ${modelDir}: expected model.safetensors or model.safetensors.index.json (PyTorch .bin files are not read)`,
    { path: modelDir },
  )
}
