/**
 * Seeded fuzzing of manifest validation (issue 3 "Done when"): ≥ 10,000 mutated manifests, as
 * objects and as YAML text, each either accepted (and then stable through dump → load) or
 * rejected with a ManifestError — never another exception.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import YAML from 'yaml'
import {
  dumpManifestYaml,
  ManifestError,
  ManifestErrorCode,
  parseManifest,
  parseManifestYaml,
} from '../../src/index.js'
import { FIXTURE_YAML, fixture } from './helpers.js'

const CODES = new Set<string>(Object.values(ManifestErrorCode))
const SEED = 424242
const BASE = fixture() as unknown as Record<string, unknown>
let accepted = 0
let rejected = 0

function leafPaths(v: unknown, prefix: string[] = []): string[][] {
  if (v === null || typeof v !== 'object') return [prefix]
  const out: string[][] = prefix.length ? [prefix] : []
  for (const [k, c] of Object.entries(v)) out.push(...leafPaths(c, [...prefix, k]))
  return out
}
const PATHS = leafPaths(BASE)

function judge(run: () => unknown): void {
  let m: ReturnType<typeof parseManifest>
  try {
    m = run() as ReturnType<typeof parseManifest>
  } catch (e) {
    if (!(e instanceof ManifestError) || !CODES.has(e.code)) throw new Error(`not a ManifestError: ${String(e)}`)
    rejected++
    return
  }
  accepted++
  // Whatever is accepted (every 8th case, to keep the run short) dumps and reloads to the same value.
  if (accepted % 8 !== 0) return
  // (null optional fields are omitted by the dump, as in the original)
  const again = parseManifestYaml(dumpManifestYaml(m))
  const strip = (x: unknown) => JSON.stringify(x, (_k, v) => (v === null ? undefined : v))
  if (strip(again) !== strip(m)) throw new Error(`dump/load not stable: ${strip(m)}`)
}

const weird = fc.oneof(
  fc.integer({ min: -3, max: 70 }),
  fc.double({ noDefaultInfinity: false, noNaN: false }),
  fc.constantFrom(0, 0.0, -0, 4.0, 1e-10, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(
    '0',
    'yes',
    'lora',
    'LORA',
    '../x',
    'a/b',
    '..',
    'a'.repeat(64),
    '0'.repeat(64),
    'none',
    'RSA-PSS-SHA256',
  ),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
)

const mutation = fc.record({
  path: fc.nat(PATHS.length - 1),
  op: fc.constantFrom('set', 'delete', 'add'),
  key: fc.constantFrom('extra', 'reputation', 'license', '__proto__', 'constructor'),
  value: weird,
})

function mutate(muts: Array<{ path: number; op: string; key: string; value: unknown }>): Record<string, unknown> {
  const doc = structuredClone(BASE)
  for (const m of muts) {
    const path = PATHS[m.path]!
    let parent: Record<string, unknown> = doc
    for (const p of path.slice(0, -1)) {
      const next = parent[p]
      if (next === null || typeof next !== 'object') return doc
      parent = next as Record<string, unknown>
    }
    const last = path.at(-1)!
    if (m.op === 'set') parent[last] = m.value
    else if (m.op === 'delete') delete parent[last]
    else {
      const target = parent[last]
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        Object.defineProperty(target, m.key, { value: m.value, enumerable: true, configurable: true, writable: true })
      } else {
        Object.defineProperty(parent, m.key, { value: m.value, enumerable: true, configurable: true, writable: true })
      }
    }
  }
  return doc
}

describe('manifest fuzzing (seeded)', () => {
  it('mutated manifest objects: valid or a ManifestError', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (muts) => {
        judge(() => parseManifest(mutate(muts)))
      }),
      { seed: SEED, numRuns: 7700 },
    )
  })

  it('mutated manifests as YAML text: valid or a ManifestError', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 2 }), (muts) => {
        let text: string
        try {
          text = YAML.stringify(mutate(muts))
        } catch {
          return // the generator produced something YAML cannot write; nothing to test
        }
        judge(() => parseManifestYaml(text))
      }),
      { seed: SEED + 1, numRuns: 1200 },
    )
  })

  it('byte-level edits of the YAML text: valid or a ManifestError', () => {
    const bytes = Buffer.from(FIXTURE_YAML, 'utf8')
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.nat(bytes.length),
        fc.boolean(),
        (edits, cut, truncate) => {
          const b = Buffer.from(bytes)
          for (const [at, v] of edits) b[at] = v
          const text = (truncate ? b.subarray(0, cut) : b).toString('utf8')
          judge(() => parseManifestYaml(text))
        },
      ),
      { seed: SEED + 2, numRuns: 1300 },
    )
  })

  it('ran at least 10,000 mutated manifests, with both outcomes represented', () => {
    expect(accepted + rejected).toBeGreaterThanOrEqual(10_000)
    expect(accepted).toBeGreaterThan(100)
    expect(rejected).toBeGreaterThan(1000)
  })
})
