import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  formatConfigValue,
  getConfigValue,
  loadActiveConfig,
  loadConfigFile,
  parseConfigText,
  readEnv,
  resolveConfigPath,
  useConfig,
} from '../../src/index.js'

const REPO = resolve(import.meta.dirname, '../../../..')

/** A throw-away project root holding copies of the shipped presets. */
function project(): string {
  const root = mkdtempSync(join(tmpdir(), 'plora-config-'))
  mkdirSync(join(root, 'config'))
  for (const f of ['plora.dry.yml', 'plora.full.yml']) cpSync(join(REPO, 'config', f), join(root, 'config', f))
  return root
}

describe('shipped presets', () => {
  it('are complete and valid, with the original values', () => {
    const dry = loadConfigFile(join(REPO, 'config/plora.dry.yml'))
    const full = loadConfigFile(join(REPO, 'config/plora.full.yml'))
    expect(dry.samples).toBe(32)
    expect(full.samples).toBe(1000)
    expect(dry.allowed_ranks).toEqual([1])
    expect(full.value_add.schemes).toEqual(['all', 'attention', 'mlp'])
    expect(full.train.lr).toBe(0.0001)
    expect(Object.keys(dry).sort()).toEqual(Object.keys(full).sort())
    // the ablation grid crosses ≥ 2 ranks with ≥ 2 schemes even in the dry preset (numbers must differ across ranks)
    expect(dry.ablation).toEqual({ ranks: [1, 4], schemes: ['attention', 'mlp'], samples: 32 })
    expect(full.ablation).toEqual({ ranks: [2, 4, 8, 16], schemes: ['attention', 'mlp', 'all'], samples: 1000 })
  })
})

describe('active config resolution', () => {
  it('uses the dry preset until `use` writes the override, then the override', async () => {
    const root = project()
    expect(resolveConfigPath({ root })).toBe(join(root, 'config/plora.dry.yml'))
    expect(loadActiveConfig({ root }).config.samples).toBe(32)
    await useConfig('full', { root })
    expect(resolveConfigPath({ root })).toBe(join(root, 'config/plora.override.yml'))
    expect(loadActiveConfig({ root }).config.samples).toBe(1000)
    await useConfig('dry', { root })
    expect(loadActiveConfig({ root }).config.samples).toBe(32)
  })

  it('refuses to switch to an invalid or missing file and keeps the current one', async () => {
    const root = project()
    await useConfig('full', { root })
    const bad = join(root, 'bad.yml')
    writeFileSync(bad, 'extends: dry\nsamples: 0\n')
    await expect(useConfig(bad, { root })).rejects.toMatchObject({ code: 'CONFIG_SCHEMA_INVALID' })
    await expect(useConfig(join(root, 'missing.yml'), { root })).rejects.toMatchObject({
      code: 'CONFIG_FILE_NOT_FOUND',
    })
    expect(loadActiveConfig({ root }).config.samples).toBe(1000)
  })

  it('lets an explicit file win', () => {
    const root = project()
    const f = join(root, 'mine.yml')
    writeFileSync(f, 'extends: dry\nsamples: 7\n')
    expect(loadActiveConfig({ root, file: f }).config.samples).toBe(7)
  })
})

describe('validation errors name the file and the field', () => {
  const root = project()
  const cases: Array<[string, string, RegExp]> = [
    ['negative samples', 'extends: dry\nsamples: -3\n', /f\.yml: field "samples".*found -3/],
    ['YAML syntax', 'samples: [1,\n', /f\.yml:\d+:\d+: YAML syntax error/],
    ['unknown key', 'extends: dry\nsampels: 3\n', /unknown field "sampels"/],
    ['nested type', 'extends: dry\ngraph:\n  p: high\n', /field "graph\.p".*found "high"/],
    ['list item', 'extends: dry\nvalue_add:\n  ranks: [4, x]\n', /field "value_add\.ranks\[1\]"/],
    ['missing field', 'base_model: embedded\n', /field "samples" is missing/],
    ['not a mapping', '- a\n- b\n', /expected a YAML mapping/],
    ['duplicate key', 'extends: dry\nsamples: 1\nsamples: 2\n', /YAML syntax error/],
    ['bad extends', 'extends: nowhere.yml\n', /extends .*nowhere\.yml, which is not found/],
  ]
  for (const [what, text, re] of cases) {
    it(`reports ${what}`, () => {
      let err: unknown
      try {
        parseConfigText(text, 'f.yml', { root })
      } catch (e) {
        err = e
      }
      expect(err, what).toMatchObject({ code: expect.stringMatching(/^CONFIG_/) })
      expect((err as Error).message).toMatch(re)
    })
  }
})

describe('getConfigValue', () => {
  const cfg = loadConfigFile(join(REPO, 'config/plora.full.yml'))
  it('walks dotted paths with indices', () => {
    expect(getConfigValue(cfg, 'samples')).toBe(1000)
    expect(getConfigValue(cfg, 'value_add.ranks[0]')).toBe(4)
    expect(getConfigValue(cfg, 'value_add.schemes[2]')).toBe('mlp')
    expect(getConfigValue(cfg, 'graph')).toEqual({ p: 0.25, ws_k: 4, ws_beta: 0.2, ba_m: 2 })
  })
  it('fails on missing keys, bad indices and malformed paths', () => {
    expect(() => getConfigValue(cfg, 'nope')).toThrow(expect.objectContaining({ code: 'CONFIG_KEY_NOT_FOUND' }))
    expect(() => getConfigValue(cfg, 'value_add.ranks[3]')).toThrow(
      expect.objectContaining({ code: 'CONFIG_KEY_NOT_FOUND' }),
    )
    expect(() => getConfigValue(cfg, 'samples[0]')).toThrow(expect.objectContaining({ code: 'CONFIG_KEY_NOT_FOUND' }))
    expect(() => getConfigValue(cfg, 'a..b')).toThrow(expect.objectContaining({ code: 'CONFIG_PATH_INVALID' }))
    expect(() => getConfigValue(cfg, 'a[-1]')).toThrow(expect.objectContaining({ code: 'CONFIG_PATH_INVALID' }))
  })
  it('formats values as the Makefile expects', () => {
    expect(formatConfigValue(getConfigValue(cfg, 'value_add.ranks'))).toBe('[4, 8, 16]')
    expect(formatConfigValue(getConfigValue(cfg, 'value_add.schemes'), { csv: true })).toBe('all,attention,mlp')
    expect(formatConfigValue(getConfigValue(cfg, 'train.lr'))).toBe('0.0001')
    expect(formatConfigValue(1e-5)).toBe('1e-05')
    expect(formatConfigValue(getConfigValue(cfg, 'allowed_targets'))).toBe('all')
  })
})

describe('readEnv', () => {
  it('fills defaults', () => {
    const env = readEnv({ HOME: '/h' })
    expect(env).toMatchObject({ backend: 'auto', forceCpu: false, logLevel: 'info', hfHubOffline: false })
    expect(env.samples).toBeUndefined()
    expect(env.hfEndpoint).toBe('https://huggingface.co')
  })
  it('parses set values', () => {
    const env = readEnv({
      PLORA_SAMPLES: '16',
      PLORA_BACKEND: 'WASM',
      PLORA_FORCE_CPU: '1',
      PLORA_SPLIT: 'validation',
      PLORA_BASE_MODEL: 'sshleifer/tiny-gpt2',
      HF_HOME: '/hf',
      HF_HUB_OFFLINE: 'true',
      HF_ENDPOINT: 'http://127.0.0.1:9/',
    })
    expect(env).toMatchObject({
      samples: 16,
      backend: 'wasm',
      forceCpu: true,
      split: 'validation',
      baseModel: 'sshleifer/tiny-gpt2',
      hfHome: '/hf',
      hfHubCache: '/hf/hub',
      hfHubOffline: true,
      hfEndpoint: 'http://127.0.0.1:9',
    })
  })
  it('rejects invalid values instead of ignoring them', () => {
    for (const bad of [
      { PLORA_SAMPLES: 'abc' },
      { PLORA_SAMPLES: '0' },
      { PLORA_BACKEND: 'cuda' },
      { PLORA_FORCE_CPU: 'maybe' },
      { PLORA_SPLIT: 'dev' },
    ]) {
      expect(() => readEnv(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'CONFIG_ENV_INVALID' }))
    }
  })
})
