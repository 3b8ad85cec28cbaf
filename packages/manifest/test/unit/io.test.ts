import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  dumpManifestYaml,
  loadManifest,
  loadManifestFile,
  type Manifest,
  parseManifestYaml,
  verifyArtifact,
  writeManifest,
} from '../../src/index.js'
import { fixture } from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-manifest-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function adapter(name: string, bytes: Uint8Array): Promise<{ dir: string; manifest: Manifest }> {
  const d = join(dir, name)
  await mkdir(d, { recursive: true })
  await writeFile(join(d, 'adapter_model.safetensors'), bytes)
  const m = fixture()
  const manifest = { ...m, artifacts: { ...m.artifacts, sha256: sha256Hex(bytes), size_bytes: bytes.byteLength } }
  await writeManifest(d, manifest)
  return { dir: d, manifest }
}

describe('dump and load', () => {
  it('round-trips the fixture (the original test_manifest)', async () => {
    const path = join(dir, 'rt.yml')
    await writeFile(path, dumpManifestYaml(fixture()))
    const m = await loadManifestFile(path)
    expect(m.plasmid_id).toBe('dummy-001')
    expect(m.metrics.delta_ppl).toBe(-1.5)
    expect(m).toEqual(fixture())
  })

  it('keeps the schema field order, block style, and omits null fields', () => {
    const m = fixture()
    const text = dumpManifestYaml({ ...m, metrics: { ...m.metrics, val_em: null } })
    const top = text
      .split('\n')
      .filter((l) => /^\w/.test(l))
      .map((l) => l.split(':')[0])
    expect(top).toEqual([
      'schema_version',
      'plasmid_id',
      'domain',
      'base_model',
      'peft_format',
      'lora',
      'artifacts',
      'train_meta',
      'metrics',
      'safety',
      'signer',
      'compatibility',
    ])
    expect(text).not.toContain('val_em')
    expect(text).toContain('target_modules:\n  - q_proj\n')
    expect(text).not.toMatch(/[{}]/)
  })

  it('quotes strings that a YAML 1.1 reader would take for numbers or booleans', () => {
    const m = fixture()
    const tricky = {
      ...m,
      plasmid_id: 'yes',
      domain: '0',
      base_model: '1_000',
      artifacts: { ...m.artifacts, sha256: '1'.repeat(64) },
      compatibility: { peft_min: '0.12', transformers: '>=4.42' },
      train_meta: { ...m.train_meta, dataset_id: '1:20' },
    }
    const text = dumpManifestYaml(tricky)
    expect(parseManifestYaml(text)).toEqual(tricky)
    expect(text).toMatch(/plasmid_id: "yes"/)
    expect(text).toMatch(/sha256: "1{64}"/)
  })

  it('writes strings with tabs, edge spaces and C1/BOM/separator characters double-quoted and escaped', () => {
    const m = fixture()
    const cases: Array<[string, string]> = [
      ['tab\there', '"tab\\there"'], // a tab in a plain scalar: PyYAML's scanner raises
      [' ', '" "'], // written plain, `domain:  ` is null to PyYAML
      ['trail ', '"trail "'],
      ['\u0085', '"\\u0085"'], // left raw inside quotes, the strict reader refuses it
      ['\ufeff', '"\\ufeff"'],
      ['a\u2028b', '"a\\u2028b"'],
      ['\ud800', '"\\ud800"'],
    ]
    for (const [v, written] of cases) {
      const tricky = { ...m, domain: v, safety: { ...m.safety, licence: v } }
      const text = dumpManifestYaml(tricky)
      expect(text, JSON.stringify(v)).toContain(`domain: ${written}\n`)
      expect(parseManifestYaml(text), JSON.stringify(v)).toEqual(tricky)
    }
  })

  it('writes floats that a YAML 1.1 reader takes for floats (1.0e-10, not 1e-10)', () => {
    const m = fixture()
    const text = dumpManifestYaml({ ...m, metrics: { val_ppl_before: 1e-10, val_ppl_after: 2e-10, delta_ppl: 1e-10 } })
    expect(text).toContain('val_ppl_before: 1.0e-10')
    expect(parseManifestYaml(text).metrics.val_ppl_after).toBe(2e-10)
  })

  it('refuses to dump an invalid manifest', () => {
    const m = fixture()
    expect(() => dumpManifestYaml({ ...m, lora: { ...m.lora, r: 0 } })).toThrow(
      expect.objectContaining({ code: 'MANIFEST_SCHEMA_INVALID' }),
    )
  })

  it('writes plora.yml atomically (no temporary files left behind)', async () => {
    const { dir: d } = await adapter('atomic', new Uint8Array([1, 2, 3]))
    expect((await readdir(d)).sort()).toEqual(['adapter_model.safetensors', 'plora.yml'])
    expect((await loadManifest(d)).artifacts.size_bytes).toBe(3)
  })

  it('reports a missing manifest as MANIFEST_NOT_FOUND naming the path', async () => {
    await expect(loadManifest(join(dir, 'nowhere'))).rejects.toMatchObject({
      code: 'MANIFEST_NOT_FOUND',
      message: expect.stringContaining(join(dir, 'nowhere', 'plora.yml')),
    })
  })
})

describe('verifyArtifact', () => {
  it('accepts the file the manifest names, with the right size and digest', async () => {
    const bytes = new Uint8Array(1000).map((_, i) => i % 251)
    const { dir: d, manifest } = await adapter('ok', bytes)
    const r = await verifyArtifact(d, manifest)
    expect(r.sha256).toBe(sha256Hex(bytes))
    expect(r.size).toBe(1000)
  })

  it('detects one flipped byte (same size) as a hash mismatch naming expected and found', async () => {
    const { dir: d, manifest } = await adapter('flip', new Uint8Array([1, 2, 3, 4]))
    await writeFile(join(d, 'adapter_model.safetensors'), new Uint8Array([1, 2, 3, 5]))
    await expect(verifyArtifact(d, manifest)).rejects.toMatchObject({
      code: 'MANIFEST_ARTIFACT_HASH_MISMATCH',
      details: { expected: manifest.artifacts.sha256, found: sha256Hex(new Uint8Array([1, 2, 3, 5])) },
    })
  })

  it('checks size_bytes against the file ([D-22])', async () => {
    const { dir: d, manifest } = await adapter('size', new Uint8Array([1, 2, 3]))
    await expect(
      verifyArtifact(d, { ...manifest, artifacts: { ...manifest.artifacts, size_bytes: 4 } }),
    ).rejects.toMatchObject({
      code: 'MANIFEST_ARTIFACT_SIZE_MISMATCH',
      details: { expected: 4, found: 3 },
    })
  })

  it('reports a missing artefact, and refuses symbolic links and folders', async () => {
    const { dir: d, manifest } = await adapter('links', new Uint8Array([9]))
    await rm(join(d, 'adapter_model.safetensors'))
    await expect(verifyArtifact(d, manifest)).rejects.toMatchObject({ code: 'MANIFEST_ARTIFACT_NOT_FOUND' })
    const outside = join(dir, 'outside.bin')
    await writeFile(outside, new Uint8Array([9]))
    await symlink(outside, join(d, 'adapter_model.safetensors'))
    await expect(verifyArtifact(d, manifest)).rejects.toMatchObject({ code: 'MANIFEST_ARTIFACT_NOT_FILE' })
    await rm(join(d, 'adapter_model.safetensors'))
    await mkdir(join(d, 'adapter_model.safetensors'))
    await expect(verifyArtifact(d, manifest)).rejects.toMatchObject({ code: 'MANIFEST_ARTIFACT_NOT_FILE' })
  })

  it('never reads outside the adapter folder, even for a manifest built in code ([D-21])', async () => {
    const { dir: d, manifest } = await adapter('trav', new Uint8Array([9]))
    const evil = { ...manifest, artifacts: { ...manifest.artifacts, filename: '../outside.bin' } }
    await expect(verifyArtifact(d, evil)).rejects.toMatchObject({ code: 'MANIFEST_SCHEMA_INVALID' })
    expect(await readFile(join(d, 'plora.yml'), 'utf8')).toContain('adapter_model.safetensors')
  })
})
