import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadManifestFile, MAX_MANIFEST_BYTES, parseManifestYaml } from '../../src/index.js'
import { FIXTURE_YAML } from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-manifest-strict-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const invalid = (reason: string) =>
  expect.objectContaining({ code: 'MANIFEST_YAML_INVALID', details: expect.objectContaining({ reason }) })

/** `n` extra keys after the fixture (each line `kN: N`). */
function manyKeys(n: number, extra = ''): string {
  const parts = [FIXTURE_YAML]
  for (let i = 0; i < n; i++) parts.push(`k${i}: ${i}\n`)
  return parts.join('') + extra
}

describe('strict manifest YAML', () => {
  it('accepts the fixture', () => {
    expect(parseManifestYaml(FIXTURE_YAML).plasmid_id).toBe('dummy-001')
  })

  it('refuses a directive after "..." and integers spelled 4e0 (PyYAML: a parser error, a string)', async () => {
    expect(() => parseManifestYaml(`${FIXTURE_YAML.trimEnd()}\n...\n%YAML 1.2\n`)).toThrow(
      invalid('multiple_documents'),
    )
    const seed = FIXTURE_YAML.match(/seed: (\d+)/)![1]!
    const text = FIXTURE_YAML.replace(/seed: \d+/, `seed: ${seed}e0`)
    expect(() => parseManifestYaml(text)).toThrow(invalid('number_form'))
    const p = join(dir, 'exp.yml')
    await writeFile(p, text)
    await expect(loadManifestFile(p)).rejects.toEqual(invalid('number_form'))
  })

  it('refuses a second document, junk after "..." and a "---" document', () => {
    expect(() => parseManifestYaml(`${FIXTURE_YAML}...\njunk\n`)).toThrow(invalid('multiple_documents'))
    expect(() => parseManifestYaml(`${FIXTURE_YAML}---\na: 1\n`)).toThrow(invalid('multiple_documents'))
    expect(() => parseManifestYaml(`${FIXTURE_YAML}...\n# only a comment after the end marker\n`)).not.toThrow()
  })

  it('refuses raw NUL and other control characters, naming the line', () => {
    for (const c of ['\0', '\u0001', '\u001b', '\u007f', '\u0085', '\u202e', '\ufeff']) {
      const text = FIXTURE_YAML.replace('domain: legal', `domain: le${c}gal`)
      expect(() => parseManifestYaml(text, 'm.yml'), JSON.stringify(c)).toThrow(invalid('control_character'))
    }
    const line = FIXTURE_YAML.split('\n').findIndex((l) => l.startsWith('domain:')) + 1
    expect(() => parseManifestYaml(FIXTURE_YAML.replace('domain: legal', 'domain: le\0gal'), 'm.yml')).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ line }) }),
    )
  })

  it('refuses hex, octal, binary, "_" and sexagesimal integers and unsafe integers', () => {
    for (const v of ['0x4', '04', '0b100', '4_0', '1:04', '0o4', '12345678901234567890', '9007199254740993']) {
      const text = FIXTURE_YAML.replace(/^ {2}r: \d+$/m, `  r: ${v}`)
      expect(text).not.toBe(FIXTURE_YAML)
      const err = (() => {
        try {
          parseManifestYaml(text)
        } catch (e) {
          return e
        }
        return undefined
      })()
      // `0o4` is a string under YAML 1.1, so the schema refuses it; every other form is refused as YAML.
      expect(err, v).toMatchObject({ code: v === '0o4' ? 'MANIFEST_SCHEMA_INVALID' : 'MANIFEST_YAML_INVALID' })
    }
  })

  it('refuses anchors, aliases and merge keys', () => {
    expect(() =>
      parseManifestYaml(
        FIXTURE_YAML.replace('domain: legal', 'domain: &d legal').replace(/^base_model: .*$/m, 'base_model: *d'),
      ),
    ).toThrow(invalid('alias'))
    expect(() => parseManifestYaml(`${FIXTURE_YAML}<<: {x: 1}\n`)).toThrow(invalid('reserved_key'))
  })

  it('refuses duplicate keys at any depth and non-scalar keys', () => {
    expect(() => parseManifestYaml(`${FIXTURE_YAML}domain: medical\n`)).toThrow(invalid('duplicate_key'))
    expect(() => parseManifestYaml(FIXTURE_YAML.replace(/^( {2}r: \d+)$/m, '$1\n  r: 8'))).toThrow(
      invalid('duplicate_key'),
    )
    expect(() => parseManifestYaml(`${FIXTURE_YAML}? [a, b]\n: 1\n`)).toThrow(invalid('key_not_scalar'))
  })

  it('finds a duplicate among 4,000 keys and names its line', () => {
    const text = manyKeys(4_000, 'k7: 1\n')
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_MANIFEST_BYTES)
    const line = text.split('\n').length - 1
    expect(() => parseManifestYaml(text)).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ reason: 'duplicate_key', line }) }),
    )
  })

  it('refuses a manifest over MAX_MANIFEST_BYTES before parsing, as text and as a file', async () => {
    const text = manyKeys(8_000)
    expect(Buffer.byteLength(text)).toBeGreaterThan(MAX_MANIFEST_BYTES)
    expect(() => parseManifestYaml(text)).toThrow(expect.objectContaining({ code: 'MANIFEST_FILE_TOO_LARGE' }))
    const path = join(dir, 'big.yml')
    await writeFile(path, text)
    await expect(loadManifestFile(path)).rejects.toMatchObject({ code: 'MANIFEST_FILE_TOO_LARGE' })
  })

  it('refuses a file that is not UTF-8', async () => {
    const path = join(dir, 'latin1.yml')
    await writeFile(path, Buffer.concat([Buffer.from(`${FIXTURE_YAML}# caf`), Buffer.from([0xe9, 0x0a])]))
    await expect(loadManifestFile(path)).rejects.toMatchObject({
      code: 'MANIFEST_YAML_INVALID',
      details: expect.objectContaining({ reason: 'not_utf8' }),
    })
  })
})
