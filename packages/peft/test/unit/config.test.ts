import { describe, expect, it } from 'vitest'
import { isTargetModule, moduleLoraParams, moduleScale, parsePeftLoraConfig } from '../../src/config.js'

const base = { peft_type: 'LORA', r: 8, lora_alpha: 16 }
const invalid = expect.objectContaining({ code: 'PEFT_CONFIG_INVALID' })
const Q0 = 'model.layers.0.self_attn.q_proj'
const Q1 = 'model.layers.1.self_attn.q_proj'

describe('adapter_config.json with PEFT semantics', () => {
  it('reads alpha_pattern / rank_pattern keys as regexes, as PEFT does (issue 15 point 1)', () => {
    // The old gate matched keys literally (path === key or endsWith(.key)) and saw s = 2 here.
    const cfg = parsePeftLoraConfig({ ...base, alpha_pattern: { 'layers\\.[0-9]\\.self_attn\\.q_proj': 128 } })
    expect(moduleScale(cfg, Q0)).toBe(16)
    expect(moduleScale(cfg, Q1)).toBe(16)
    expect(moduleScale(cfg, 'model.layers.0.self_attn.k_proj')).toBe(2)
    // `.` is a wildcard in a partial key too, and a leaf name matches every module with that leaf
    const partial = parsePeftLoraConfig({ ...base, rank_pattern: { 'layers.1.self_attn.q_proj': 4 } })
    expect(moduleLoraParams(partial, Q1)).toMatchObject({ rank: 4, alpha: 16, scale: 4 })
    expect(moduleLoraParams(partial, Q0)).toMatchObject({ rank: 8, patternKey: null })
    const leaf = parsePeftLoraConfig({ ...base, use_rslora: true, rank_pattern: { q_proj: 4 } })
    expect(moduleScale(leaf, Q1)).toBeCloseTo(16 / 2, 12)
    // a literal full path is the same in every PEFT version (0.12 falls back to a literal lookup)
    const literal = parsePeftLoraConfig({ ...base, alpha_pattern: { [Q0]: 8 } })
    expect(moduleScale(literal, Q0)).toBe(1)
  })

  it('refuses a module matched by two different keys (PEFT versions disagree on which applies)', () => {
    const cfg = parsePeftLoraConfig({ ...base, rank_pattern: { q_proj: 4 }, alpha_pattern: { 'layers\\.0\\..*': 2 } })
    expect(() => moduleScale(cfg, Q0)).toThrow(invalid)
    expect(moduleScale(cfg, Q1)).toBe(4)
  })

  it('refuses a key that PEFT 0.12 and later PEFT read differently', () => {
    // `^(.*\.)?key$` matches the whole path from its start; 0.12's `.*\.key$` needs a dot before it
    const cfg = parsePeftLoraConfig({ ...base, alpha_pattern: { 'model\\.layers\\.0\\.self_attn\\.q_proj': 2 } })
    expect(() => moduleScale(cfg, Q0)).toThrow(invalid)
  })

  it('refuses pattern keys outside the regex subset both dialects share, and backtracking bombs', () => {
    for (const key of [
      '(?P<m>q_proj)',
      '(?=q)q_proj',
      'q_proj\\Z',
      'c_{1}attn',
      '(a+)+',
      '(q_proj)*',
      '.*.*.*q',
      '[]q]',
      '',
      'x'.repeat(300),
      '__proto__',
    ]) {
      expect(() => parsePeftLoraConfig({ ...base, alpha_pattern: { [key]: 2 } }), key).toThrow(invalid)
    }
    expect(() => parsePeftLoraConfig({ ...base, target_modules: '(.*)+q_proj' })).toThrow(invalid)
    const many = Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`m${i}`, 2]))
    expect(() => parsePeftLoraConfig({ ...base, alpha_pattern: many })).toThrow(invalid)
  })

  it('refuses features that change what PEFT loads and plora does not implement', () => {
    for (const extra of [
      { use_dora: true },
      { bias: 'all' },
      { bias: 'lora_only' },
      { modules_to_save: ['lm_head'] },
      { layers_to_transform: [0] },
      { layers_pattern: 'layers' },
      { layer_replication: [[0, 1]] },
      { lora_bias: true },
      { r: 0 },
      { lora_alpha: -1 },
      { peft_type: 'IA3' },
    ]) {
      expect(() => parsePeftLoraConfig({ ...base, ...extra }), JSON.stringify(extra)).toThrow(invalid)
    }
    // PEFT's own defaults are fine
    expect(() =>
      parsePeftLoraConfig({ ...base, modules_to_save: null, layers_to_transform: null, layer_replication: null }),
    ).not.toThrow()
  })

  it('selects modules by target_modules exactly as PEFT: list suffixes, or a regex that fullmatches', () => {
    const list = parsePeftLoraConfig({ ...base, target_modules: ['q_proj', 'attn.c_proj'] })
    expect(isTargetModule(list, Q0)).toBe(true)
    expect(isTargetModule(list, 'transformer.h.0.attn.c_proj')).toBe(true)
    expect(isTargetModule(list, 'transformer.h.0.mlp.c_proj')).toBe(false)
    expect(isTargetModule(list, 'model.layers.0.self_attn.xq_proj')).toBe(false)
    const regex = parsePeftLoraConfig({ ...base, target_modules: '.*\\.layers\\.0\\..*_proj' })
    expect(isTargetModule(regex, Q0)).toBe(true)
    expect(isTargetModule(regex, Q1)).toBe(false)
    // fullmatch: a prefix match is not enough
    expect(isTargetModule(parsePeftLoraConfig({ ...base, target_modules: 'model' }), Q0)).toBe(false)
    expect(isTargetModule(parsePeftLoraConfig(base), Q0)).toBe(true)
  })
})
