/**
 * Golden logits: tiny random GPT-2 / LLaMA (GQA, rope_theta, untied head) / Qwen2 (q/k/v bias,
 * tied head) / Mistral (sliding window 3 shorter than the 9-token rows, one kv head) / Gemma-3 text (sliding window 4 shorter than the 10-token rows, a global layer,
 * distinct local and global RoPE bases, QK-norm, padded row; and a `layer_types` config) checkpoints built by the deterministic generator (`randomModelWeights`, seeds and
 * configs in the golden file) must give the committed logits to 1e-5.
 *
 * Provenance: test/golden/model-logits.json was produced by scripts/golden/make-model-goldens.py,
 * an independent float64 NumPy forward written from the published architectures, reading the
 * safetensors written by scripts/golden/write-golden-models.mjs, cross-checked against
 * torch.nn.functional primitives and against scripts/golden/torch-forward.py, a second float64
 * reference written entirely in PyTorch (nn.Modules with the Hugging Face parameter names). The
 * file records the torch version and, per case, both max differences; the first test below checks
 * that every case carries the PyTorch-forward agreement (≤ 1e-9), so no Python runs here.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  initBackend,
  loadCausalLMFromDir,
  parseModelConfig,
  randomModelWeights,
  writeModelFolder,
} from '../../src/index.js'
import { tmpDir } from '../helpers.js'

interface GoldenCase {
  name: string
  seed: number
  init: { std: number; perturbNorms: boolean }
  config: Record<string, unknown>
  input_ids: number[][]
  attention_mask: number[][]
  logits: Array<Array<number[] | null>>
  torch_forward_max_abs_diff?: number
}

const golden = JSON.parse(readFileSync(join(import.meta.dirname, '../golden/model-logits.json'), 'utf8')) as {
  provenance: string
  torch_version?: string
  cases: GoldenCase[]
}

describe('golden file provenance', () => {
  it('every case agrees with the independent PyTorch float64 forward to 1e-9', () => {
    expect(golden.provenance).toContain('torch-forward.py')
    expect(golden.torch_version, 'torch version recorded').toMatch(/^\d+\.\d+/)
    expect(golden.cases.length).toBeGreaterThan(0)
    for (const c of golden.cases) {
      const d = c.torch_forward_max_abs_diff
      expect(typeof d === 'number' && Number.isFinite(d), `${c.name}: torch_forward_max_abs_diff recorded`).toBe(true)
      expect(d!, `${c.name}: max |Δ| NumPy vs PyTorch reference`).toBeGreaterThanOrEqual(0)
      expect(d!, `${c.name}: max |Δ| NumPy vs PyTorch reference`).toBeLessThanOrEqual(1e-9)
    }
  })
})

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`golden logits on ${backend}`, () => {
    beforeAll(async () => {
      expect(await initBackend({ backend })).toBe(backend)
    })

    for (const c of golden.cases) {
      it(`${c.name} matches the reference forward to 1e-5`, async () => {
        const dir = join(tmpDir(), c.name)
        const weights = randomModelWeights(parseModelConfig(c.config, c.name), c.seed, c.init)
        await writeModelFolder(dir, { config: c.config, weights })
        const model = await loadCausalLMFromDir(dir)
        const before = tf.memory().numTensors
        try {
          const ids = tf.tensor2d(c.input_ids, undefined, 'int32')
          const mask = tf.tensor2d(c.attention_mask, undefined, 'int32')
          const logits = model.forward(ids, { attentionMask: mask })
          const got = (await logits.array()) as number[][][]
          tf.dispose([ids, mask, logits])
          let checked = 0
          let worst = 0
          for (const [r, row] of c.logits.entries()) {
            for (const [t, want] of row.entries()) {
              if (want === null) continue
              for (const [k, v] of want.entries()) {
                worst = Math.max(worst, Math.abs(got[r]![t]![k]! - v))
                checked++
              }
            }
          }
          expect(checked).toBeGreaterThan(100)
          expect(worst, `${c.name}: max |Δlogit|`).toBeLessThan(1e-5)
        } finally {
          expect(tf.memory().numTensors).toBe(before)
          model.dispose()
        }
      })
    }
  })
}
