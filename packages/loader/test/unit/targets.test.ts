import {
  ALL_SUFFIXES,
  classifyModulePath,
  parseTargetScheme,
  resolveTargetModules,
  selectModulesByNames,
} from '@plora/peft'
import { describe, expect, it } from 'vitest'
import { createGpt2Host, createLlamaHost } from '../helpers/fake-host.js'

describe('target schemes', () => {
  const gpt2 = createGpt2Host({ layers: 2 }).modules
  const llama = createLlamaHost({ layers: 2 }).modules

  it('keeps the original suffix constants', () => {
    expect(ALL_SUFFIXES).toEqual([
      'c_attn',
      'c_fc',
      'c_proj',
      'down_proj',
      'fc_in',
      'fc_out',
      'gate_proj',
      'k_proj',
      'o_proj',
      'q_proj',
      'up_proj',
      'v_proj',
    ])
  })

  it('puts GPT-2 attn.c_proj in attention and mlp.c_proj in mlp [D-25]', () => {
    expect(classifyModulePath('transformer.h.0.attn.c_proj')).toBe('attention')
    expect(classifyModulePath('transformer.h.0.mlp.c_proj')).toBe('mlp')
    expect(classifyModulePath('lm_head')).toBeNull()
    const att = resolveTargetModules(gpt2, 'attention')
    expect(att.paths).toEqual([
      'transformer.h.0.attn.c_attn',
      'transformer.h.0.attn.c_proj',
      'transformer.h.1.attn.c_attn',
      'transformer.h.1.attn.c_proj',
    ])
    expect(att.suffixes).toEqual(['c_attn', 'c_proj'])
    // PEFT names that select exactly these paths: c_proj alone would also hit mlp.c_proj.
    expect(att.peftTargetModules).toEqual(['attn.c_proj', 'c_attn'])
    expect(selectModulesByNames(gpt2, att.peftTargetModules).paths).toEqual(att.paths)
    const mlp = resolveTargetModules(gpt2, 'MLP')
    expect(mlp.paths.every((p) => p.includes('.mlp.'))).toBe(true)
    expect(mlp.suffixes).toEqual(['c_fc', 'c_proj'])
    const all = resolveTargetModules(gpt2, 'all')
    expect(all.paths).toHaveLength(8)
    expect(all.peftTargetModules).toEqual(['c_attn', 'c_fc', 'c_proj'])
  })

  it('resolves LLaMA projections and never adapts lm_head', () => {
    expect(resolveTargetModules(llama, 'attention').suffixes).toEqual(['k_proj', 'o_proj', 'q_proj', 'v_proj'])
    expect(resolveTargetModules(llama, 'mlp').suffixes).toEqual(['down_proj', 'gate_proj', 'up_proj'])
    const all = resolveTargetModules(llama, 'all')
    expect(all.paths).toHaveLength(14)
    expect(all.paths).not.toContain('lm_head')
  })

  it('rejects unknown schemes and empty selections with stable codes', () => {
    expect(() => parseTargetScheme('everything')).toThrow(expect.objectContaining({ code: 'PEFT_SCHEME_INVALID' }))
    const neox = [
      { path: 'gpt_neox.layers.0.attention.query_key_value', inFeatures: 4, outFeatures: 12, conv1d: false },
    ]
    expect(() => resolveTargetModules(neox, 'all')).toThrow(expect.objectContaining({ code: 'PEFT_TARGETS_EMPTY' }))
    expect(() => selectModulesByNames(gpt2, ['q_proj'])).toThrow(
      expect.objectContaining({ code: 'PEFT_TARGETS_EMPTY' }),
    )
  })

  it('matches PEFT names on dotted suffixes only', () => {
    // "proj" is not a dotted suffix of "attn.c_proj".
    expect(() => selectModulesByNames(gpt2, ['proj'])).toThrow(expect.objectContaining({ code: 'PEFT_TARGETS_EMPTY' }))
    expect(selectModulesByNames(gpt2, ['c_proj']).paths).toHaveLength(4)
  })
})
