import { writeFileAtomic } from '@plora/common'
import { encodeSafetensors, type TensorsInput } from './codec.js'

/**
 * Writes tensors as a safetensors file atomically (temp file, fsync, rename).
 *
 * @example
 * await writeSafetensors(join(dir, 'adapter_model.safetensors'), {
 *   'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': { dtype: 'F32', shape: [4, 768], data: a },
 * }, { format: 'pt' })
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorsInput,
  metadata?: Readonly<Record<string, string>> | null,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata))
}
