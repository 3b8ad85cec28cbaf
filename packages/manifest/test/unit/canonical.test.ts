import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalJson, sha256Hex } from '@plora/common'
import { describe, expect, it } from 'vitest'
import {
  canonicalManifestBytes,
  canonicalManifestObject,
  canonicalManifestSha256,
  dumpManifestYaml,
  parseManifest,
  parseManifestYaml,
} from '../../src/index.js'
import { fixture, withValue } from './helpers.js'

/** Every leaf path of a plain object (arrays count as leaves). */
function leaves(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [prefix]
  return Object.entries(v).flatMap(([k, x]) => leaves(x, prefix === '' ? k : `${prefix}.${k}`))
}

describe('canonicalManifestBytes', () => {
  it('is RFC 8785 JSON of the manifest without the signer block', () => {
    const m = fixture()
    const text = Buffer.from(canonicalManifestBytes(m)).toString('utf8')
    expect(text.startsWith('{"artifacts":{"filename":"adapter_model.safetensors"')).toBe(true)
    expect(text).not.toContain('signer')
    expect(text).not.toMatch(/\s/) // the fixture has no whitespace inside strings either
    expect(text).toBe(canonicalJson(canonicalManifestObject(m)))
    expect(canonicalManifestSha256(m)).toBe(sha256Hex(text))
  })
  it('survives a dump → load round trip and ignores the signer block and null fields', () => {
    const m = fixture()
    const again = parseManifestYaml(dumpManifestYaml(m))
    expect(canonicalManifestSha256(again)).toBe(canonicalManifestSha256(m))
    const resigned = {
      ...m,
      signer: { algo: 'ED25519-SHA256' as const, pubkey_fingerprint: 'f'.repeat(64), signature_b64: 'AA==' },
    }
    expect(canonicalManifestSha256(resigned)).toBe(canonicalManifestSha256(m))
    const nulled = parseManifest(withValue(m, 'metrics.val_em', null))
    const absent = parseManifest(withValue(m, 'metrics.val_em', undefined))
    expect(canonicalManifestSha256(nulled)).toBe(canonicalManifestSha256(absent))
  })
  it('changes when any field outside the signer block changes', () => {
    const m = fixture()
    const base = canonicalManifestSha256(m)
    const paths = leaves(m).filter((p) => !p.startsWith('signer.') && p !== 'schema_version')
    expect(paths.length).toBeGreaterThan(20)
    for (const p of paths) {
      const old = p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], m)
      const value =
        typeof old === 'number'
          ? Number.isInteger(old)
            ? old + 1
            : old / 2
          : typeof old === 'string'
            ? (({ 'artifacts.sha256': '1'.repeat(64), peft_format: 'ia3' } as Record<string, string>)[p] ?? `${old}x`)
            : [...(old as string[]), 'c_fc']
      const edited = withValue(m, p, value)
      // keep the ΔPPL rule satisfied: the after-perplexity follows the edited field
      const mm = edited.metrics as Record<string, number>
      if (p.startsWith('metrics.') && p !== 'metrics.val_em' && p !== 'metrics.val_chrf') {
        if (p === 'metrics.val_ppl_after') mm.delta_ppl = mm.val_ppl_after - mm.val_ppl_before
        else mm.val_ppl_after = mm.val_ppl_before + mm.delta_ppl
      }
      expect(canonicalManifestSha256(parseManifest(edited)), p).not.toBe(base)
    }
  })
})

describe('canonicalManifestBytes golden vector', () => {
  it('equals the bytes Python computed from the same YAML (PyYAML + RFC 8785, scripts/golden/statement_vectors.py)', () => {
    const v = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../../signer/test/golden/statement-interop.json'), 'utf8'),
    ) as { manifest_yaml: string; manifest_canonical: string; python_statement_canonical: string }
    const text = Buffer.from(canonicalManifestBytes(parseManifestYaml(v.manifest_yaml))).toString('utf8')
    expect(text).toBe(v.manifest_canonical)
    // Python embedded its own canonical manifest in the statement it built
    expect(v.python_statement_canonical).toContain(`"manifest":${text}`)
  })
})
