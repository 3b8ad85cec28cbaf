import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Manifest, parseManifestYaml } from '../../src/index.js'

/** The spec's fixture manifest text (core.md §1.4). */
export const FIXTURE_YAML = readFileSync(join(import.meta.dirname, '../fixtures/plora.yml'), 'utf8')

/** A fresh copy of the fixture manifest. */
export function fixture(): Manifest {
  return parseManifestYaml(FIXTURE_YAML, 'fixtures/plora.yml')
}

/** Sets a dotted path in a deep copy of a plain object. */
export function withValue(obj: unknown, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(obj) as Record<string, unknown>
  const parts = path.split('.')
  let cur = copy
  for (const p of parts.slice(0, -1)) cur = cur[p] as Record<string, unknown>
  if (value === undefined) delete cur[parts.at(-1)!]
  else cur[parts.at(-1)!] = value
  return copy
}
