/**
 * Benchmark (issue 15 point 10, not a test): how long hostile YAML takes to be refused. Before the
 * fix a 1.4 MB manifest with 100k keys took ~4 min (the `yaml` library's `uniqueKeys` compares
 * each key with every earlier one). Now the size limit refuses it before parsing, and the key
 * check is linear, shown by parsing the same 100k keys with the limit lifted and by the largest
 * manifest and config the limits let through. Timings are printed, never asserted.
 *
 * Run: pnpm --filter @plora/manifest bench   (or: npx vitest run --config packages/manifest/vitest.bench.config.ts)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseStrictYaml } from '@plora/common'
import { afterAll, beforeAll, expect, it } from 'vitest'
import YAML from 'yaml'
import { loadManifestFile, MAX_MANIFEST_BYTES, parseManifestYaml } from '../../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-yaml-bench-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function keys(n: number, duplicateLast = true): string {
  const parts = ['schema_version: 0\n']
  for (let i = 0; i < n; i++) parts.push(`key_${i}: ${i}\n`)
  if (duplicateLast) parts.push('key_1: 1\n')
  return parts.join('')
}

function time(label: string, f: () => unknown): number {
  const t = performance.now()
  try {
    f()
  } catch {
    /* refusals are the point */
  }
  const ms = performance.now() - t
  console.log(`${label.padEnd(72)} ${ms.toFixed(1).padStart(8)} ms`)
  return ms
}

it('refuses hostile YAML quickly (timings printed)', async () => {
  let n = 1000
  while (Buffer.byteLength(keys(n * 2)) < MAX_MANIFEST_BYTES) n *= 2
  while (Buffer.byteLength(keys(n + 500)) < MAX_MANIFEST_BYTES) n += 500
  time(`parseManifestYaml, ${n} keys (largest under ${MAX_MANIFEST_BYTES} B, duplicate last; cold)`, () =>
    parseManifestYaml(keys(n)),
  )
  const big = keys(100_000)
  console.log(`100k-key manifest: ${(Buffer.byteLength(big) / 1e6).toFixed(2)} MB`)
  expect(() => parseManifestYaml(big)).toThrow(expect.objectContaining({ code: 'MANIFEST_FILE_TOO_LARGE' }))
  time('parseManifestYaml, 100k keys (refused by the size limit)', () => parseManifestYaml(big))
  const path = join(dir, 'big.yml')
  await writeFile(path, big)
  const t = performance.now()
  await loadManifestFile(path).catch(() => undefined)
  console.log(
    `${'loadManifestFile, 100k keys (refused unread)'.padEnd(72)} ${(performance.now() - t).toFixed(1).padStart(8)} ms`,
  )
  const r = parseStrictYaml(big, { version: '1.1', maxBytes: 16 << 20 })
  expect(r).toMatchObject({ ok: false, problem: { reason: 'duplicate_key' } })
  time('parseStrictYaml, 100k keys, limit lifted (linear duplicate-key check)', () =>
    parseStrictYaml(big, { version: '1.1', maxBytes: 16 << 20 }),
  )
  const ref = keys(10_000)
  time('for reference: yaml uniqueKeys (the old check), 10k keys', () =>
    YAML.parseDocument(ref, { version: '1.1', uniqueKeys: true }),
  )
  time('for reference: yaml uniqueKeys (the old check), 20k keys', () =>
    YAML.parseDocument(keys(20_000), { version: '1.1', uniqueKeys: true }),
  )
})
