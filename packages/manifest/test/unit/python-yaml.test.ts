import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dumpManifestYaml, parseManifestYaml } from '../../src/index.js'
import { fixture } from './helpers.js'

const G = JSON.parse(readFileSync(join(import.meta.dirname, '../golden/python-yaml.json'), 'utf8')) as {
  python_dump_of_fixture: string
  plora_dumps: Record<string, string>
  python_reads_plora_dumps: Record<string, unknown>
}

describe('YAML interop with PyYAML (the original reader/writer)', () => {
  it("reads the original's dump (yaml.safe_dump, sort_keys=False) to the same manifest", () => {
    expect(parseManifestYaml(G.python_dump_of_fixture)).toEqual(fixture())
  })

  it('PyYAML read back exactly what plora reads from each plora dump', () => {
    for (const [name, text] of Object.entries(G.plora_dumps)) {
      expect(G.python_reads_plora_dumps[name], name).toEqual(JSON.parse(JSON.stringify(parseManifestYaml(text))))
    }
  })

  it('plora still dumps the fixture byte for byte as in the vectors (stable output)', () => {
    expect(dumpManifestYaml(fixture())).toBe(G.plora_dumps.fixture)
  })

  it('the ambiguous strings of the tricky dump stay strings for Python', () => {
    const py = G.python_reads_plora_dumps.tricky as Record<string, unknown>
    expect(py.plasmid_id).toBe('yes')
    expect(py.domain).toBe('0')
    expect(py.base_model).toBe('1_000')
    expect((py.metrics as Record<string, unknown>).val_ppl_before).toBe(1e-10)
  })
})
