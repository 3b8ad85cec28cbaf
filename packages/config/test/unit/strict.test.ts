import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  loadConfigFile,
  MAX_CONFIG_BYTES,
  MAX_ENV_DATASET_RETRIES,
  MAX_ENV_SAMPLES,
  parseConfigText,
  readEnv,
  useConfig,
} from '../../src/index.js'

const REPO = resolve(import.meta.dirname, '../../../..')
const DRY = readFileSync(join(REPO, 'config/plora.dry.yml'), 'utf8')

function project(): string {
  const root = mkdtempSync(join(tmpdir(), 'plora-config-strict-'))
  mkdirSync(join(root, 'config'))
  for (const f of ['plora.dry.yml', 'plora.full.yml']) cpSync(join(REPO, 'config', f), join(root, 'config', f))
  return root
}

function errorOf(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  return undefined
}

/** A billion-laughs document: 9 levels of 9 aliases each. */
function laughs(): string {
  const lines = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
  for (let i = 1; i < 9; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    )
  return `${lines.join('\n')}\n`
}

describe('config YAML is read strictly', () => {
  const root = project()

  it('refuses a billion-laughs file with a CONFIG_ error (no stack trace), also as an extends base', () => {
    expect(errorOf(() => parseConfigText(`extends: dry\n${laughs()}`, 'f.yml', { root }))).toMatchObject({
      code: 'CONFIG_YAML_INVALID',
      details: expect.objectContaining({ reason: 'alias' }),
    })
    writeFileSync(join(root, 'laughs.yml'), laughs())
    expect(errorOf(() => parseConfigText('extends: laughs.yml\n', 'f.yml', { root }))).toMatchObject({
      code: 'CONFIG_YAML_INVALID',
    })
  })

  it('still allows a few aliases', () => {
    const text = DRY.replace(/^samples: .*$/m, 'samples: &n 8').replace(/^ {2}dev_size: .*$/m, '  dev_size: *n')
    expect(text).not.toBe(DRY)
    expect(parseConfigText(text, 'f.yml', { root }).value_add.dev_size).toBe(8)
  })

  it('refuses an extends base that is a scalar, a list, a binary file or a folder', () => {
    writeFileSync(join(root, 'scalar.yml'), 'just a string\n')
    writeFileSync(join(root, 'list.yml'), '- a\n')
    writeFileSync(join(root, 'blob.bin'), Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x02]))
    mkdirSync(join(root, 'folder.yml'), { recursive: true })
    const cases: Array<[string, string]> = [
      ['scalar.yml', 'CONFIG_SCHEMA_INVALID'],
      ['list.yml', 'CONFIG_SCHEMA_INVALID'],
      ['blob.bin', 'CONFIG_YAML_INVALID'],
      ['folder.yml', 'CONFIG_FILE_NOT_FOUND'],
    ]
    for (const [base, code] of cases) {
      expect(
        errorOf(() => parseConfigText(`extends: ${base}\n`, 'f.yml', { root })),
        base,
      ).toMatchObject({ code })
    }
  })

  it('refuses duplicate keys in an extends base', () => {
    writeFileSync(join(root, 'dup.yml'), `${DRY}samples: 64\n`)
    expect(errorOf(() => parseConfigText('extends: dup.yml\n', 'f.yml', { root }))).toMatchObject({
      code: 'CONFIG_YAML_INVALID',
      details: expect.objectContaining({ reason: 'duplicate_key', file: expect.stringMatching(/dup\.yml$/) }),
    })
  })

  it('refuses a second document, NUL and non-decimal or unsafe integers', () => {
    const cases: Array<[string, string]> = [
      [`${DRY}---\nsamples: 1\n`, 'multiple_documents'],
      [`${DRY}...\njunk\n`, 'multiple_documents'],
      [DRY.replace('samples: ', 'samples:\0 '), 'control_character'],
      [DRY.replace(/^samples: .*$/m, 'samples: 0x10'), 'number_form'],
      [DRY.replace(/^samples: .*$/m, 'samples: 0o20'), 'number_form'],
      [DRY.replace(/^samples: .*$/m, 'samples: 020'), 'number_form'],
      [DRY.replace(/^samples: .*$/m, 'samples: 12345678901234567890'), 'number_unsafe'],
      [DRY.replace(/^latency_budget_ms: .*$/m, 'latency_budget_ms: 99999999999999999999'), 'number_unsafe'],
    ]
    for (const [text, reason] of cases) {
      expect(text, reason).not.toBe(DRY)
      expect(
        errorOf(() => parseConfigText(text, 'f.yml', { root })),
        reason,
      ).toMatchObject({
        code: 'CONFIG_YAML_INVALID',
        details: expect.objectContaining({ reason }),
      })
    }
  })

  it('refuses a file over MAX_CONFIG_BYTES before parsing (load, use and extends)', async () => {
    const big = join(root, 'big.yml')
    writeFileSync(big, `${DRY}# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`)
    expect(errorOf(() => loadConfigFile(big))).toMatchObject({ code: 'CONFIG_FILE_TOO_LARGE' })
    expect(errorOf(() => parseConfigText('extends: big.yml\n', 'f.yml', { root }))).toMatchObject({
      code: 'CONFIG_FILE_TOO_LARGE',
    })
    await expect(useConfig(big, { root })).rejects.toMatchObject({ code: 'CONFIG_FILE_TOO_LARGE' })
  })
})

describe('environment integers are decimal and bounded', () => {
  it('refuses hex, exponent, sign, separators, 20-digit and out-of-range values', () => {
    for (const v of ['0x10', '1e3', '+5', '-1', '1_000', '016', '1.5', 'Infinity', '12345678901234567890']) {
      expect(() => readEnv({ PLORA_SAMPLES: v }), v).toThrow(expect.objectContaining({ code: 'CONFIG_ENV_INVALID' }))
    }
    expect(() => readEnv({ PLORA_SAMPLES: String(MAX_ENV_SAMPLES + 1) })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ENV_INVALID' }),
    )
    expect(() => readEnv({ PLORA_DATASET_RETRIES: String(MAX_ENV_DATASET_RETRIES + 1) })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ENV_INVALID' }),
    )
    expect(() => readEnv({ PLORA_DATASET_RETRY_BACKOFF: '0x5' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ENV_INVALID' }),
    )
  })

  it('accepts plain decimals (with surrounding spaces trimmed)', () => {
    expect(readEnv({ PLORA_SAMPLES: ' 16 ' }).samples).toBe(16)
    expect(readEnv({ PLORA_SAMPLES: String(MAX_ENV_SAMPLES) }).samples).toBe(MAX_ENV_SAMPLES)
    expect(readEnv({ PLORA_DATASET_RETRY_BACKOFF: '0.5' }).datasetRetryBackoffS).toBe(0.5)
    expect(readEnv({ PLORA_PRETRAIN_STEPS: '0' }).pretrainSteps).toBe(0)
  })
})
