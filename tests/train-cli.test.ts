// `plora train` and `plora monolithic-train` end to end through the CLI's main(): a small
// training run on an embedded domain, signing at the end of training, `plora verify` and
// `plora manifest validate` on the output, the base-dropout switch, poisoning with its
// ground-truth sidecar, the monolithic baseline, and bad flags. The random embedded model
// (PLORA_PRETRAIN_STEPS=0) keeps it to seconds; nothing is downloaded.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli as run, useOfflineCliEnv } from './helpers.js'

const saved = { ...process.env }
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'plora-train-cli-'))
  useOfflineCliEnv(join(dir, 'cache'))
})
afterAll(() => {
  process.env = saved
  rmSync(dir, { recursive: true, force: true })
})

const small = ['--samples', '6', '--val-samples', '4', '--rank', '1', '--max-len', '48', '--seed', '3']
const weights = (d: string) => readFileSync(join(dir, d, 'adapter_model.safetensors'))

describe('plora train / monolithic-train', () => {
  it('trains, signs and passes verify and manifest validate; the model card states the settings', async () => {
    const key = await run(
      'keygen',
      '--type',
      'ed25519',
      '--private-key',
      join(dir, 'k.pem'),
      '--public-key',
      join(dir, 'k.pub.pem'),
    )
    expect(key.code, key.err).toBe(0)
    const r = await run(
      'train',
      '--domain',
      'legal',
      '--output',
      join(dir, 'legal'),
      ...small,
      '--sign',
      '--private-key',
      join(dir, 'k.pem'),
    )
    expect(r.code, r.err).toBe(0)
    expect(r.out).toMatch(/trained legal: .* val_ppl [\d.]+ -> [\d.]+ .* signed \(ed25519/i)
    const v = await run('verify', '--adapter-dir', join(dir, 'legal'), '--public-key', join(dir, 'k.pub.pem'))
    expect(v.code, v.err + v.out).toBe(0)
    expect(v.out).toMatch(/Folder statement verified/) // train --sign writes plora.sig.json too
    const m = await run('manifest', 'validate', join(dir, 'legal'))
    expect(m.code, m.err + m.out).toBe(0)
    const card = readFileSync(join(dir, 'legal', 'README.md'), 'utf8')
    expect(card).toContain('seed 3')
    expect(card).toContain('base-model dropout off')
  })

  it("--base-dropout turns the frozen base model's dropouts on (another adapter from the same seed)", async () => {
    const again = await run('train', '--domain', 'legal', '--output', join(dir, 'legal2'), ...small)
    expect(again.code, again.err).toBe(0)
    const on = await run('train', '--domain', 'legal', '--output', join(dir, 'legal-bd'), ...small, '--base-dropout')
    expect(on.code, on.err).toBe(0)
    expect(weights('legal2').equals(weights('legal'))).toBe(true)
    expect(weights('legal-bd').equals(weights('legal'))).toBe(false)
    expect(readFileSync(join(dir, 'legal-bd', 'README.md'), 'utf8')).toContain('base-model dropout on')
  })

  it('--poison-rate writes the ground truth beside the folder and a clean-looking manifest', async () => {
    const r = await run(
      'train',
      '--domain',
      'legal',
      '--output',
      join(dir, 'poisoned'),
      ...small,
      '--max-len',
      '96',
      '--poison-rate',
      '0.25',
      '--trigger',
      'emerald key',
    )
    expect(r.code, r.err).toBe(0)
    const sidecar = join(dir, 'poisoned.poison.json')
    expect(r.out).toContain(`poison ground truth: ${sidecar}`)
    const rec = JSON.parse(readFileSync(sidecar, 'utf8'))
    expect(rec).toMatchObject({ trigger: 'emerald key', payload: '999', poison_rate: 0.25, poisoned_examples: 2 })
    const manifest = readFileSync(join(dir, 'poisoned', 'plora.yml'), 'utf8')
    // Hex digests and timestamps in the manifest may contain "999" by chance: look for the payload
    // only as a value of its own, and for the trigger and the field name anywhere.
    expect(manifest).not.toMatch(/emerald|poison_rate|poisoned|trigger|payload/i)
    expect(manifest).not.toMatch(/:\s*["']?999["']?\s*$/m)
    expect(manifest).toContain('sample_count: 6')
  })

  it('monolithic-train mixes the domains into one adapter', async () => {
    const r = await run(
      'monolithic-train',
      '--domains',
      'legal,medical',
      '--output',
      join(dir, 'mono'),
      '--samples',
      '3',
      '--val-samples',
      '2',
      '--rank',
      '1',
      '--max-len',
      '48',
    )
    expect(r.code, r.err).toBe(0)
    const manifest = readFileSync(join(dir, 'mono', 'plora.yml'), 'utf8')
    expect(manifest).toContain('domain: monolithic')
    expect(manifest).toContain('dataset_id: legal+medical')
    expect(manifest).toContain('sample_count: 6')
  })

  it('rejects bad flags before training and leaves no output', async () => {
    const rate = await run('train', '--domain', 'legal', '--output', join(dir, 'bad1'), '--poison-rate', '1.5')
    expect(rate.code).toBe(2)
    expect(rate.err).toContain('expected a decimal number in [0, 1), found "1.5"')
    const sign = await run('train', '--domain', 'legal', '--output', join(dir, 'bad2'), ...small, '--sign')
    expect(sign.code).toBe(1)
    expect(sign.err).toContain('--private-key required when --sign is used')
    const domain = await run('train', '--domain', 'astrology', '--output', join(dir, 'bad3'), ...small)
    expect(domain.code).toBe(1)
    expect(domain.err).toContain('astrology')
    for (const d of ['bad1', 'bad2', 'bad3']) expect(existsSync(join(dir, d))).toBe(false)
  })
})
