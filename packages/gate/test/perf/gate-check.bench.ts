/**
 * Gate time per adapter without probes: manifest, hash, safetensors decode, factor statistics of
 * every module, reference z-scores, signature verification (Ed25519 and RSA-3072) and quorum.
 * Run: pnpm --filter @plora/gate bench  (or `make bench-gate`). Not part of the test run.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@plora/signer'
import { afterAll, beforeAll, bench, describe } from 'vitest'
import { checkAdapter } from '../../src/check.js'
import { type GateContext, loadTrustedKeys } from '../../src/context.js'
import { parsePolicy } from '../../src/policy.js'
import { computeReference } from '../../src/reference.js'
import { type ModuleSpec, tempDir, writeAdapter } from '../helpers.js'

// The embedded default model's shape (small GPT-2: 4 blocks, width 128, fused c_attn) at r = 4.
const SMALL: ModuleSpec[] = Array.from({ length: 4 }, (_, i) => ({
  path: `transformer.h.${i}.attn.c_attn`,
  inFeatures: 128,
  outFeatures: 384,
}))
// A 1B-class LLaMA-style model (24 layers, width 2048, GQA k/v 256) at r = 16, attention scheme.
const LARGE: ModuleSpec[] = Array.from({ length: 24 }, (_, i) => [
  { path: `model.layers.${i}.self_attn.q_proj`, inFeatures: 2048, outFeatures: 2048 },
  { path: `model.layers.${i}.self_attn.k_proj`, inFeatures: 2048, outFeatures: 256 },
  { path: `model.layers.${i}.self_attn.v_proj`, inFeatures: 2048, outFeatures: 256 },
  { path: `model.layers.${i}.self_attn.o_proj`, inFeatures: 2048, outFeatures: 2048 },
]).flat()

let tmp: { path: string; cleanup: () => Promise<void> }
const dirs: Record<string, string> = {}
const ctx: Record<string, GateContext> = {}
const policy = parsePolicy({ signatures_enabled: true, allowed_ranks: null })

beforeAll(async () => {
  tmp = await tempDir('plora-gate-bench-')
  for (const [name, type] of [
    ['ed25519', 'ed25519'],
    ['rsa', 'rsa'],
  ] as const) {
    const key = generateKeyPair({ type })
    await mkdir(join(tmp.path, 'keys'), { recursive: true })
    await writeFile(join(tmp.path, 'keys', `${name}.pub`), key.publicKeyPem)
    for (const [size, modules, r] of [
      ['small', SMALL, 4],
      ['large', LARGE, 16],
    ] as const) {
      const refDirs: string[] = []
      for (let i = 0; i < 5; i++)
        refDirs.push(await writeAdapter(join(tmp.path, `${name}-${size}-ref${i}`), { seed: 10 + i, modules, r }))
      dirs[`${name}-${size}`] = await writeAdapter(join(tmp.path, `${name}-${size}`), { seed: 1, modules, r, key })
      ctx[`${name}-${size}`] = {
        trustedKeys: await loadTrustedKeys([join(tmp.path, 'keys', `${name}.pub`)]),
        reference: await computeReference(refDirs),
      }
    }
  }
}, 600_000)

afterAll(async () => {
  await tmp?.cleanup()
})

describe('checkAdapter without probes', () => {
  bench('embedded GPT-2 shape, 4 modules r=4, Ed25519', async () => {
    await checkAdapter(dirs['ed25519-small']!, policy, ctx['ed25519-small']!)
  })
  bench('embedded GPT-2 shape, 4 modules r=4, RSA-3072', async () => {
    await checkAdapter(dirs['rsa-small']!, policy, ctx['rsa-small']!)
  })
  bench(
    '1B LLaMA shape, 96 modules r=16 (≈19 MB), Ed25519',
    async () => {
      await checkAdapter(dirs['ed25519-large']!, policy, ctx['ed25519-large']!)
    },
    { iterations: 10, time: 2000 },
  )
})
