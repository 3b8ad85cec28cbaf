/**
 * Seeded hostile-YAML mutation run over the fixture manifest (issue 15 point 10): 2,000 manifests,
 * each carrying one construct the strict reader must refuse — a duplicate key, a non-decimal or
 * unsafe integer, a second document or text after `...`, a raw control character, an anchor or
 * alias, a merge key, `__proto__`, an unknown tag or an oversize file. Every one is refused with
 * a ManifestError (0 wrongly accepted, 0 other exceptions), and the untouched fixture still loads.
 */
import { createRng } from '@plora/common'
import { describe, expect, it } from 'vitest'
import { MAX_MANIFEST_BYTES, ManifestError, ManifestErrorCode, parseManifestYaml } from '../../src/index.js'
import { FIXTURE_YAML } from './helpers.js'

type Rng = ReturnType<typeof createRng>
const CODES = new Set<string>(Object.values(ManifestErrorCode))
const LINES = FIXTURE_YAML.split('\n')
const VALUE_LINES = LINES.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[a-z_0-9]+: \S/.test(l))
const INT_LINES = VALUE_LINES.filter(([l]) => /: -?\d+$/.test(l))

function withLine(i: number, line: string): string {
  const out = [...LINES]
  out[i] = line
  return out.join('\n')
}
function keyOf(line: string): { indent: string; key: string } {
  const m = /^(\s*)([a-z_0-9]+): /.exec(line)!
  return { indent: m[1]!, key: m[2]! }
}

const HOSTILE: Array<[string, (rng: Rng) => string]> = [
  [
    'duplicate key',
    (rng) => {
      const [line, i] = rng.choice(VALUE_LINES)
      const out = [...LINES]
      out.splice(
        i + 1 + rng.randrange(1),
        0,
        `${keyOf(line).indent}${keyOf(line).key}: ${rng.choice(['1', 'x', '[]'])}`,
      )
      return out.join('\n')
    },
  ],
  [
    'non-decimal integer',
    (rng) => {
      const [line, i] = rng.choice(INT_LINES)
      const { indent, key } = keyOf(line)
      return withLine(i, `${indent}${key}: ${rng.choice(['0x4', '04', '0b100', '4_0', '1:04', '0x2A', '+0x1', '007'])}`)
    },
  ],
  [
    'unsafe integer',
    (rng) => {
      const [line, i] = rng.choice(INT_LINES)
      const { indent, key } = keyOf(line)
      return withLine(
        i,
        `${indent}${key}: ${rng.choice(['12345678901234567890', '9007199254740993', '-9007199254740993'])}`,
      )
    },
  ],
  [
    'second document',
    (rng) =>
      `${FIXTURE_YAML}${rng.choice(['---\n', '...\njunk\n', '---\nschema_version: 0\n', '... x\n', '...\n---\n'])}`,
  ],
  [
    'control character',
    (rng) => {
      // (not at offset 0: a byte-order mark is allowed there)
      const at = 1 + rng.randrange(FIXTURE_YAML.length - 1)
      const code = rng.choice([0, 1, 2, 7, 8, 11, 12, 14, 27, 31, 127, 0x80, 0x85, 0x9f, 0x202e, 0x2066, 0xfeff])
      return FIXTURE_YAML.slice(0, at) + String.fromCharCode(code) + FIXTURE_YAML.slice(at)
    },
  ],
  [
    'anchor or alias',
    (rng) => {
      const [line, i] = rng.choice(VALUE_LINES)
      const { indent, key } = keyOf(line)
      const value = line.slice(indent.length + key.length + 2)
      return withLine(i, `${indent}${key}: &a${rng.randrange(100)} ${value}`)
    },
  ],
  ['merge key', (rng) => FIXTURE_YAML.replace('lora:\n', `lora:\n  <<: {r: ${1 + rng.randrange(9)}}\n`)],
  ['__proto__', (rng) => `${FIXTURE_YAML}__proto__: ${rng.choice(['1', '{domain: x}', '[]'])}\n`],
  [
    'unknown tag',
    (rng) => {
      const [line, i] = rng.choice(VALUE_LINES)
      const { indent, key } = keyOf(line)
      return withLine(i, `${indent}${key}: !${rng.choice(['evil', 'python/object', 'x'])} 1`)
    },
  ],
  ['oversize', (rng) => `${FIXTURE_YAML}# ${'x'.repeat(MAX_MANIFEST_BYTES + rng.randrange(500))}\n`],
]

describe('hostile manifest YAML (seeded)', () => {
  it('refuses 2,000 hostile mutations with a ManifestError; 0 wrongly accepted', () => {
    expect(parseManifestYaml(FIXTURE_YAML).plasmid_id).toBe('dummy-001')
    const rng = createRng(15_011)
    const wronglyAccepted: string[] = []
    const perFamily = new Map<string, number>()
    for (let n = 0; n < 2000; n++) {
      const [label, mutate] = rng.choice(HOSTILE)
      const text = mutate(rng)
      if (text === FIXTURE_YAML) throw new Error(`mutation ${label} left the text unchanged`)
      try {
        parseManifestYaml(text, 'fuzz.yml')
        wronglyAccepted.push(`${label}: ${JSON.stringify(text.slice(0, 80))}`)
      } catch (e) {
        if (!(e instanceof ManifestError) || !CODES.has(e.code)) {
          throw new Error(`case ${n} (${label}): not a ManifestError: ${(e as Error).stack}`)
        }
        perFamily.set(label, (perFamily.get(label) ?? 0) + 1)
      }
    }
    expect(wronglyAccepted).toEqual([])
    expect(perFamily.size).toBe(HOSTILE.length)
  })
})
