/**
 * Benchmark (issue 15 point 8, not a test): cost of the signed folder statement. Signs and
 * verifies a folder of a 64 MiB weights file plus 3 small files with Ed25519 and RSA-3072, and
 * a folder of 1000 small files, printing the milliseconds per operation. The cost is one streamed
 * SHA-256 pass over the folder plus one signature; the statement itself is a few KiB.
 *
 * Run: npx vitest run --config packages/signer/vitest.bench.config.ts test/perf/statement.bench.ts
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalJsonBytes, createRng } from '@plora/common'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateKeyPair, signAdapterFolder, verifyFolderStatement } from '../../src/index.js'

const MiB = 1 << 20
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-statement-bench-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function timeMs(f: () => Promise<unknown>, reps = 3): Promise<number> {
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < reps; i++) {
    const t = performance.now()
    await f()
    best = Math.min(best, performance.now() - t)
  }
  return best
}

it('prints sign/verify time of a folder statement', async () => {
  const rng = createRng(15)
  const big = join(dir, 'big')
  await mkdir(big)
  const weights = new Uint8Array(64 * MiB)
  for (let i = 0; i < weights.length; i += 4096) weights[i] = Math.floor(rng.random() * 256)
  await writeFile(join(big, 'adapter_model.safetensors'), weights)
  await writeFile(join(big, 'adapter_config.json'), '{"r": 4, "lora_alpha": 8}\n')
  await writeFile(join(big, 'README.md'), '# card\n')
  await writeFile(join(big, 'plora.yml'), 'domain: legal\n')
  const many = join(dir, 'many')
  await mkdir(join(many, 'shards'), { recursive: true })
  for (let i = 0; i < 1000; i++) await writeFile(join(many, 'shards', `f${i}.txt`), `file ${i}\n`)
  const manifestBytes = canonicalJsonBytes({ domain: 'legal', lora: { r: 4 } })
  for (const type of ['ed25519', 'rsa'] as const) {
    const k = generateKeyPair({ type })
    for (const [label, d] of [
      ['64 MiB weights + 3 files', big],
      ['1000 small files', many],
    ] as const) {
      const sign = await timeMs(() => signAdapterFolder(d, k.privateKeyPem, { manifestBytes }))
      const verify = await timeMs(async () => {
        const r = await verifyFolderStatement(d, { manifestBytes, trustedKeys: [k.publicKeyPem] })
        expect(r.ok).toBe(true)
      })
      process.stdout.write(`statement ${type} ${label}: sign ${sign.toFixed(0)} ms, verify ${verify.toFixed(0)} ms\n`)
    }
  }
})
