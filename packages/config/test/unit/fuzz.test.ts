/**
 * Seeded mutation run over config text (issue 15 "Done when": ≥ 1,000 configs): every mutated
 * config is either valid or refused with a ConfigError — never another exception — and every
 * hostile mutation (duplicate key, non-decimal or unsafe number, second document, raw control
 * character, alias bomb, `__proto__`, `<<`, oversize) is refused: 0 wrongly accepted.
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createRng } from '@plora/common'
import { describe, expect, it } from 'vitest'
import { ConfigError, ConfigErrorCode, MAX_CONFIG_BYTES, parseConfigText } from '../../src/index.js'

const REPO = resolve(import.meta.dirname, '../../../..')
const DRY = readFileSync(join(REPO, 'config/plora.dry.yml'), 'utf8')
const CODES = new Set<string>(Object.values(ConfigErrorCode))
const LINES = DRY.split('\n')
// Lines holding a `key: value` with a plain value (the ones mutations rewrite).
const VALUE_LINES = LINES.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[a-z_]+: [^{#\s][^#]*$/.test(l))

type Mutation = (rng: ReturnType<typeof createRng>) => string

function withLine(i: number, line: string): string {
  const out = [...LINES]
  out[i] = line
  return out.join('\n')
}
function pickValueLine(rng: ReturnType<typeof createRng>): { line: string; i: number; key: string; indent: string } {
  const [line, i] = rng.choice(VALUE_LINES)
  const m = /^(\s*)([a-z_]+): /.exec(line)!
  return { line, i, key: m[2]!, indent: m[1]! }
}

/** Mutations whose result may be valid or invalid; only the kind of failure is checked. */
const BENIGN: Mutation[] = [
  (rng) => {
    const { i, key, indent } = pickValueLine(rng)
    const values = [
      '0',
      '1',
      '-1',
      '0.5',
      '1e3',
      'yes',
      '~',
      '""',
      '[]',
      '{}',
      'abc',
      '.inf',
      '[1, 1]',
      '9007199254740991',
    ]
    return withLine(i, `${indent}${key}: ${rng.choice(values)}`)
  },
  (rng) => {
    const out = [...LINES]
    out.splice(rng.randrange(out.length), 1)
    return out.join('\n')
  },
  (rng) => {
    const at = rng.randrange(DRY.length)
    const junk = rng.choice([
      ':',
      '-',
      '[',
      ']',
      '{',
      '}',
      '"',
      "'",
      '#',
      ' ',
      '\n',
      '\t',
      '|',
      '>',
      '!',
      '%',
      '@',
      '`',
    ])
    return DRY.slice(0, at) + junk + DRY.slice(at)
  },
  (rng) => {
    const at = rng.randrange(DRY.length)
    return DRY.slice(0, at) + DRY.slice(at + 1 + rng.randrange(20))
  },
]

/** Mutations that must always be refused. */
const HOSTILE: Array<[string, Mutation]> = [
  [
    'duplicate key',
    (rng) => {
      const { line, i } = pickValueLine(rng)
      const out = [...LINES]
      out.splice(i + 1, 0, line)
      return out.join('\n')
    },
  ],
  [
    'non-decimal integer',
    (rng) => {
      const { i, key, indent } = pickValueLine(rng)
      return withLine(i, `${indent}${key}: ${rng.choice(['0x10', '0o7', '010', '0x0', '00'])}`)
    },
  ],
  [
    'unsafe integer',
    (rng) => {
      const { i, key, indent } = pickValueLine(rng)
      return withLine(
        i,
        `${indent}${key}: ${rng.choice(['12345678901234567890', '9007199254740993', '-99999999999999999'])}`,
      )
    },
  ],
  ['second document', (rng) => `${DRY}${rng.choice(['---\n', '...\njunk\n', '---\nsamples: 1\n'])}`],
  [
    'control character',
    (rng) => {
      const at = 1 + rng.randrange(DRY.length - 1)
      const c = String.fromCharCode(rng.choice([0, 1, 7, 8, 11, 12, 27, 127, 0x85, 0x202e]))
      return DRY.slice(0, at) + c + DRY.slice(at)
    },
  ],
  [
    'alias bomb',
    (rng) => {
      const width = 5 + rng.randrange(6)
      const lines = [`l0: &l0 [${Array(width).fill('x').join(', ')}]`]
      for (let d = 1; d < 8; d++)
        lines.push(
          `l${d}: &l${d} [${Array(width)
            .fill(`*l${d - 1}`)
            .join(', ')}]`,
        )
      return `${lines.join('\n')}\n${DRY}`
    },
  ],
  ['__proto__ key', () => `${DRY}\n__proto__:\n  samples: 1\n`],
  ['merge key', () => DRY.replace(/^train:\n/m, 'train:\n  <<: {lr: 0.1}\n')],
  ['oversize', (rng) => `${DRY}\n# ${'x'.repeat(MAX_CONFIG_BYTES + rng.randrange(1000))}\n`],
]

describe('config mutation run (seeded)', () => {
  it('1,200 mutated configs: valid or a ConfigError; every hostile one refused', () => {
    const rng = createRng(15_010)
    const counts = { accepted: 0, rejected: 0, hostile: 0 }
    const wronglyAccepted: string[] = []
    for (let n = 0; n < 1200; n++) {
      const hostile = n % 2 === 1
      const [label, mutate] = hostile ? rng.choice(HOSTILE) : (['benign', rng.choice(BENIGN)] as const)
      const text = mutate(rng)
      if (hostile && text === DRY) throw new Error(`mutation ${label} left the text unchanged`)
      try {
        parseConfigText(text, 'fuzz.yml', { root: REPO })
        counts.accepted++
        if (hostile) wronglyAccepted.push(label)
      } catch (e) {
        if (!(e instanceof ConfigError) || !CODES.has(e.code)) {
          throw new Error(`case ${n} (${label}): not a ConfigError: ${(e as Error).stack}`)
        }
        counts.rejected++
        if (hostile) counts.hostile++
      }
    }
    expect(wronglyAccepted).toEqual([])
    expect(counts.hostile).toBe(600)
    // Both outcomes occur among the benign mutations (the run is not vacuous).
    expect(counts.accepted).toBeGreaterThan(0)
    expect(counts.rejected).toBeGreaterThan(600)
  })
})
