/** The two versions the partial-file check writes alternately (deterministic, so parent and child agree). */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { dumpManifestYaml, encodeSafetensors, parseManifestYaml } from './writers.js'

type Tensors = Array<[string, { dtype: 'F32' | 'F16'; shape: number[]; data: Float32Array }]>
type Manifest = ReturnType<typeof parseManifestYaml>

export interface WriterVersion {
  tensors?: Tensors
  manifest?: Manifest
  /** The exact bytes a complete write leaves. */
  bytes: Uint8Array
}

function tensors(fill: number, n: number): Tensors {
  return [
    [
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight',
      { dtype: 'F32', shape: [8, n / 8], data: new Float32Array(n).fill(fill) },
    ],
    [
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight',
      { dtype: 'F16', shape: [n / 8, 8], data: new Float32Array(n).fill(-fill) },
    ],
  ]
}

/** Versions A and B: ~3 MB safetensors files, or ~256 KB manifests (a long dataset id). */
export function writerVersions(kind: 'safetensors' | 'manifest'): { a: WriterVersion; b: WriterVersion } {
  if (kind === 'safetensors') {
    const a = tensors(0.25, 1 << 19)
    const b = tensors(-0.5, 1 << 19)
    return {
      a: { tensors: a, bytes: encodeSafetensors(a, { format: 'pt' }) },
      b: { tensors: b, bytes: encodeSafetensors(b, { format: 'pt' }) },
    }
  }
  const text = readFileSync(join(import.meta.dirname, '../../packages/manifest/test/fixtures/plora.yml'), 'utf8')
  const base = parseManifestYaml(text)
  const mk = (c: string): WriterVersion => {
    const manifest = { ...base, train_meta: { ...base.train_meta, dataset_id: c.repeat(1 << 18) } }
    return { manifest, bytes: new TextEncoder().encode(dumpManifestYaml(manifest)) }
  }
  return { a: mk('a'), b: mk('b') }
}
