import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO, runPlora } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'plora-cli-yaml-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const MANIFEST = readFileSync(join(REPO, 'packages/manifest/test/fixtures/plora.yml'), 'utf8')

/** One line on stderr with the code, no stack trace, exit 1. */
function expectCleanError(r: ReturnType<typeof runPlora>, code: string): void {
  expect(r.code, r.stderr).toBe(1)
  expect(r.stderr).toContain(`[${code}]`)
  expect(r.stderr).not.toMatch(/\n\s+at |please report|this is a bug/i)
}

describe('hostile YAML gives one clear error line', () => {
  it('config validate: billion laughs, a scalar extends base, an arbitrary file as base', () => {
    const lines = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
    for (let i = 1; i < 9; i++)
      lines.push(
        `l${i}: &l${i} [${Array(9)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      )
    writeFileSync(join(dir, 'laughs.yml'), `extends: dry\n${lines.join('\n')}\n`)
    expectCleanError(runPlora(['config', 'validate', join(dir, 'laughs.yml')]), 'CONFIG_YAML_INVALID')
    writeFileSync(join(dir, 'scalar.yml'), 'hello\n')
    writeFileSync(join(dir, 'ext-scalar.yml'), `extends: ${join(dir, 'scalar.yml')}\n`)
    expectCleanError(runPlora(['config', 'validate', join(dir, 'ext-scalar.yml')]), 'CONFIG_SCHEMA_INVALID')
    writeFileSync(join(dir, 'blob.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0xff, 0x0a]))
    writeFileSync(join(dir, 'ext-bin.yml'), `extends: ${join(dir, 'blob.bin')}\n`)
    expectCleanError(runPlora(['config', 'validate', join(dir, 'ext-bin.yml')]), 'CONFIG_YAML_INVALID')
  })

  it('PLORA_SAMPLES=0x10 and 20-digit values are refused', () => {
    for (const v of ['0x10', '12345678901234567890']) {
      expectCleanError(runPlora(['config', 'validate'], { env: { PLORA_SAMPLES: v } }), 'CONFIG_ENV_INVALID')
    }
  })

  it('manifest validate: a second document, junk after "...", raw NUL and a 100k-key file', () => {
    const cases: Array<[string, string, string]> = [
      ['two-docs.yml', `${MANIFEST}---\na: 1\n`, 'MANIFEST_YAML_INVALID'],
      ['junk.yml', `${MANIFEST}...\njunk\n`, 'MANIFEST_YAML_INVALID'],
      ['nul.yml', MANIFEST.replace('domain: legal', 'domain: le\0gal'), 'MANIFEST_YAML_INVALID'],
      [
        'big.yml',
        MANIFEST + Array.from({ length: 100_000 }, (_, i) => `k${i}: ${i}\n`).join(''),
        'MANIFEST_FILE_TOO_LARGE',
      ],
    ]
    for (const [name, text, code] of cases) {
      writeFileSync(join(dir, name), text)
      expectCleanError(runPlora(['manifest', 'validate', join(dir, name)]), code)
    }
    writeFileSync(join(dir, 'ok.yml'), MANIFEST)
    expect(runPlora(['manifest', 'validate', join(dir, 'ok.yml')]).code).toBe(0)
  })
})
