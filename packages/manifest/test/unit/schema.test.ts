import { describe, expect, it } from 'vitest'
import { ManifestError, parseManifest, parseManifestYaml } from '../../src/index.js'
import { FIXTURE_YAML, fixture, withValue } from './helpers.js'

const codeOf = (v: unknown): string => {
  try {
    parseManifest(v)
    return 'OK'
  } catch (e) {
    return (e as ManifestError).code
  }
}

describe('manifest schema', () => {
  it('loads the spec fixture', () => {
    const m = fixture()
    expect(m.plasmid_id).toBe('dummy-001')
    expect(m.metrics.delta_ppl).toBe(-1.5)
    expect(m.lora.target_modules).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj'])
    expect(m.signer.pubkey_fingerprint).toBe('SHA256:ab12')
  })

  it.each([
    ['schema_version', 0.0, 'OK'],
    ['schema_version', '0', 'MANIFEST_SCHEMA_INVALID'],
    ['schema_version', true, 'MANIFEST_SCHEMA_INVALID'],
    ['schema_version', 1, 'MANIFEST_SCHEMA_INVALID'],
    ['plasmid_id', 7, 'MANIFEST_SCHEMA_INVALID'],
    ['peft_format', 'ia3', 'OK'],
    ['peft_format', 'adalora', 'OK'],
    ['peft_format', 'LORA', 'MANIFEST_SCHEMA_INVALID'],
    ['peft_format', 'lora2', 'MANIFEST_SCHEMA_INVALID'],
    ['lora.r', 0, 'MANIFEST_SCHEMA_INVALID'],
    ['lora.r', 4.5, 'MANIFEST_SCHEMA_INVALID'],
    ['lora.r', '4', 'MANIFEST_SCHEMA_INVALID'],
    ['lora.alpha', 0, 'MANIFEST_SCHEMA_INVALID'],
    ['lora.dropout', 1, 'OK'],
    ['lora.dropout', 1.5, 'MANIFEST_SCHEMA_INVALID'],
    ['lora.dropout', -0.1, 'MANIFEST_SCHEMA_INVALID'],
    ['lora.dropout', Number.NaN, 'MANIFEST_SCHEMA_INVALID'],
    ['lora.target_modules', [], 'OK'],
    ['lora.target_modules', 'q_proj', 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.filename', '../evil.safetensors', 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.filename', 'sub/adapter.safetensors', 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.filename', '/etc/passwd', 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.filename', '..', 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.filename', 'a\\b', 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.filename', '', 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.sha256', 'A'.repeat(64), 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.sha256', 'a'.repeat(63), 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.size_bytes', 0, 'MANIFEST_SCHEMA_INVALID'],
    ['artifacts.size_bytes', 2 ** 60, 'MANIFEST_SCHEMA_INVALID'],
    ['train_meta.seed', 1.5, 'MANIFEST_SCHEMA_INVALID'],
    ['metrics.val_em', undefined, 'OK'],
    ['metrics.val_em', null, 'OK'],
    ['metrics.val_em', '0.5', 'MANIFEST_SCHEMA_INVALID'],
    ['metrics.val_chrf', Number.POSITIVE_INFINITY, 'MANIFEST_SCHEMA_INVALID'],
    ['metrics.val_ppl_before', Number.NaN, 'MANIFEST_SCHEMA_INVALID'],
    ['metrics.delta_ppl', -1.4, 'MANIFEST_SCHEMA_INVALID'],
    ['metrics.delta_ppl', -1.5000005, 'OK'],
    ['safety.poisoning_score', -0.01, 'MANIFEST_SCHEMA_INVALID'],
    ['signer.algo', 'ED25519-SHA256', 'OK'],
    ['signer.algo', 'none', 'OK'],
    ['signer.algo', '', 'OK'],
    ['signer.algo', 'RSA', 'MANIFEST_SCHEMA_INVALID'],
    ['compatibility.peft_min', undefined, 'MANIFEST_SCHEMA_INVALID'],
    ['signer.reputation', 0.9, 'MANIFEST_SCHEMA_INVALID'],
    ['extra_root_key', 1, 'MANIFEST_SCHEMA_INVALID'],
  ])('%s = %j → %s', (path, value, expected) => {
    expect(codeOf(withValue(fixture(), path, value))).toBe(expected)
  })

  it('exempts placeholder perplexities (both ~0) from the ΔPPL rule', () => {
    const m = fixture()
    const placeholder = { ...m, metrics: { val_ppl_before: 0, val_ppl_after: 0, delta_ppl: 123 } }
    expect(codeOf(placeholder)).toBe('OK')
    expect(codeOf({ ...placeholder, metrics: { val_ppl_before: 1e-8, val_ppl_after: 0, delta_ppl: 123 } })).toBe(
      'MANIFEST_SCHEMA_INVALID',
    )
  })

  it('rejects NaN and infinities written in YAML', () => {
    for (const v of ['.nan', '.inf', '-.inf']) {
      expect(() => parseManifestYaml(FIXTURE_YAML.replace('val_em: 0.1', `val_em: ${v}`))).toThrow(
        expect.objectContaining({ code: 'MANIFEST_SCHEMA_INVALID' }),
      )
    }
  })

  it('accepts 4.0 for an int and 0.0 for schema_version, as YAML emitters differ', () => {
    const m = parseManifestYaml(
      FIXTURE_YAML.replace('r: 4', 'r: 4.0').replace('schema_version: 0', 'schema_version: 0.0'),
    )
    expect(m.lora.r).toBe(4)
    expect(m.schema_version).toBe(0)
  })

  it('says which file and field failed, what was expected and what was found', () => {
    const text = FIXTURE_YAML.replace('r: 4', 'r: "4"')
    try {
      parseManifestYaml(text, 'out/legal/plora.yml')
      expect.unreachable()
    } catch (e) {
      const err = e as ManifestError
      expect(err).toBeInstanceOf(ManifestError)
      expect(err.message).toBe('out/legal/plora.yml: lora.r: expected a number, found "4"')
      expect(err.details.issues).toEqual([{ path: 'lora.r', expected: 'a number', found: '"4"' }])
    }
  })

  it('names unknown keys at any depth, and counts further problems', () => {
    const text = FIXTURE_YAML.replace('licence: research', 'licence: research\n  license: research').replace(
      'domain: legal',
      'domain: legal\nowner: mallory',
    )
    try {
      parseManifestYaml(text, 'm.yml')
      expect.unreachable()
    } catch (e) {
      const err = e as ManifestError
      expect(err.message).toBe(
        'm.yml: safety.license: expected no such field (unknown key), found "research" (+1 more)',
      )
      expect(err.details.issues).toContainEqual({
        path: 'owner',
        expected: 'no such field (unknown key)',
        found: '"mallory"',
      })
    }
  })

  it('reports the ΔPPL mismatch with the expected difference', () => {
    expect(() => parseManifest(withValue(fixture(), 'metrics.delta_ppl', 3), 'm.yml')).toThrow(
      /m\.yml: metrics\.delta_ppl: expected val_ppl_after − val_ppl_before = -1\.5\d* \(±0\.000001\), found 3/,
    )
  })

  it('rejects bad YAML: syntax errors, duplicate keys, non-mappings', () => {
    expect(() => parseManifestYaml('a: [1, 2')).toThrow(expect.objectContaining({ code: 'MANIFEST_YAML_INVALID' }))
    expect(() => parseManifestYaml(`${FIXTURE_YAML}domain: medical\n`)).toThrow(
      expect.objectContaining({ code: 'MANIFEST_YAML_INVALID' }),
    )
    expect(() => parseManifestYaml('- 1\n- 2\n')).toThrow(expect.objectContaining({ code: 'MANIFEST_SCHEMA_INVALID' }))
    expect(() => parseManifestYaml('')).toThrow(expect.objectContaining({ code: 'MANIFEST_SCHEMA_INVALID' }))
  })

  it('refuses a __proto__ key (no prototype pollution) and !!binary values', () => {
    expect(() => parseManifestYaml(`${FIXTURE_YAML}__proto__:\n  polluted: 1\n`, 'm.yml')).toThrow(
      expect.objectContaining({
        code: 'MANIFEST_YAML_INVALID',
        details: expect.objectContaining({ reason: 'reserved_key' }),
      }),
    )
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(() =>
      parseManifestYaml(FIXTURE_YAML.replace('domain: legal', 'domain: !!binary aGVsbG8='), 'm.yml'),
    ).toThrow('m.yml: domain: expected a string, found binary data')
  })

  it('limits alias expansion (a "billion laughs" document is an error, not a hang)', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 12; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      )
    expect(() => parseManifestYaml(lines.join('\n'))).toThrow(expect.objectContaining({ name: 'ManifestError' }))
  })
})
