import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ATTENTION_SUFFIXES,
  DEFAULT_POLICY,
  dumpPolicyJson,
  expandTargets,
  loadPolicyFile,
  PolicySchema,
  parsePolicy,
  resolvePolicy,
} from '../../src/policy.js'
import { orderReasons, REJECT_REASONS } from '../../src/reasons.js'
import { tempDir } from '../helpers.js'

let tmp: { path: string; cleanup: () => Promise<void> }
beforeAll(async () => {
  tmp = await tempDir('plora-gate-policy-')
})
afterAll(async () => {
  await tmp.cleanup()
})

describe('PolicySchema', () => {
  it("has the original's defaults (spec core.md §4.1)", () => {
    expect(DEFAULT_POLICY).toMatchObject({
      base_model: null,
      allowed_ranks: [4, 8, 16],
      allowed_targets: null,
      max_size_bytes: 536_870_912,
      signatures_enabled: false,
      trusted_public_keys: null,
      quorum_required: 1,
      threshold_mode: false,
      attestations_file: 'attestations.jsonl',
      min_reputation: null,
      peer_keys_dir: null,
      tau_trigger: 0.2,
      tau_norm_z: 3.0,
      tau_clean_delta: -0.05,
      tau_tensor_z: 5.0,
      enable_probes: false,
      probes_max: 8,
      attest_max_age_sec: 3600,
      consensus_enabled: false,
    })
  })

  it('rejects unknown keys and wrong types, naming the field and what was found', () => {
    expect(() => parsePolicy({ tau_trigerr: 0.1 }, 'p.json')).toThrow(/unknown field "tau_trigerr"/)
    expect(() => parsePolicy({ allowed_ranks: '4,8' })).toThrow(
      expect.objectContaining({
        code: 'GATE_POLICY_INVALID',
        message: expect.stringMatching(/allowed_ranks.*found "4,8"/),
      }),
    )
    expect(() => parsePolicy({ quorum_required: 1.5 })).toThrow(
      expect.objectContaining({ code: 'GATE_POLICY_INVALID' }),
    )
    expect(() => parsePolicy({ attestations_file: '../x.jsonl' })).toThrow(
      expect.objectContaining({ code: 'GATE_POLICY_INVALID' }),
    )
    expect(() => parsePolicy({ tau_norm_z: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'GATE_POLICY_INVALID' }),
    )
  })

  it('every field has a default, so an empty policy file is the default policy', () => {
    expect(parsePolicy({})).toEqual(DEFAULT_POLICY)
    expect(Object.keys(PolicySchema.shape).length).toBeGreaterThanOrEqual(19)
  })
})

describe('policy files and resolution', () => {
  it('resolves path fields against the policy file folder and refuses missing paths ([D-19])', async () => {
    const dir = join(tmp.path, 'p1')
    await mkdir(join(dir, 'keys'), { recursive: true })
    await writeFile(join(dir, 'keys', 'k.pem'), 'x')
    await writeFile(
      join(dir, 'policy.json'),
      JSON.stringify({ trusted_public_keys: ['keys/k.pem'], peer_keys_dir: 'keys' }),
    )
    const p = loadPolicyFile(join(dir, 'policy.json'))
    expect(p.trusted_public_keys).toEqual([join(dir, 'keys', 'k.pem')])
    expect(p.peer_keys_dir).toBe(join(dir, 'keys'))
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ reputation_file: 'missing.json' }))
    expect(() => loadPolicyFile(join(dir, 'bad.json'))).toThrow(
      expect.objectContaining({
        code: 'GATE_POLICY_PATH_NOT_FOUND',
        message: expect.stringMatching(/reputation_file/),
      }),
    )
    await writeFile(join(dir, 'notjson.json'), '{')
    expect(() => loadPolicyFile(join(dir, 'notjson.json'))).toThrow(
      expect.objectContaining({ code: 'GATE_POLICY_INVALID' }),
    )
  })

  it('layers defaults ◂ config ◂ file ◂ targets file ◂ flags', async () => {
    const dir = join(tmp.path, 'p2')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'policy.json'), JSON.stringify({ allowed_ranks: [2], tau_trigger: 0.3 }))
    await writeFile(join(dir, 'targets.txt'), 'attention\n')
    const config = { base_model: 'cfg/model', allowed_ranks: [1], allowed_targets: 'all', gate: { tau_tensor_z: 6 } }
    expect(resolvePolicy({ config })).toMatchObject({
      base_model: 'cfg/model',
      allowed_ranks: [1],
      allowed_targets: null,
      tau_tensor_z: 6,
    })
    const withFile = resolvePolicy({ config, policyFile: join(dir, 'policy.json') })
    expect(withFile).toMatchObject({ base_model: 'cfg/model', allowed_ranks: [2], tau_trigger: 0.3 })
    const all = resolvePolicy({
      config,
      policyFile: join(dir, 'policy.json'),
      allowedTargetsFile: join(dir, 'targets.txt'),
      overrides: { allowed_ranks: [8], signatures_enabled: true },
    })
    expect(all).toMatchObject({
      allowed_ranks: [8],
      allowed_targets: [...ATTENTION_SUFFIXES],
      signatures_enabled: true,
    })
    expect(() => resolvePolicy({ overrides: { bogus: 1 } as never })).toThrow(
      expect.objectContaining({ code: 'GATE_POLICY_INVALID' }),
    )
  })

  it('expands target schemes like the original', () => {
    expect(expandTargets('attention')).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'c_attn', 'c_proj'])
    expect(expandTargets('all')).toBeNull()
    expect(expandTargets('mlp')).toContain('c_fc')
    expect(() => expandTargets('everything')).toThrow(expect.objectContaining({ code: 'GATE_POLICY_INVALID' }))
  })

  it("dumps the original's nine keys first, then every other field", () => {
    const text = dumpPolicyJson(parsePolicy({ trusted_public_keys: [] }))
    const keys = Object.keys(JSON.parse(text))
    expect(keys.slice(0, 9)).toEqual([
      'base_model',
      'allowed_ranks',
      'allowed_targets',
      'max_size_bytes',
      'signatures_enabled',
      'trusted_public_keys',
      'tau_trigger',
      'tau_norm_z',
      'tau_clean_delta',
    ])
    expect(keys).toHaveLength(Object.keys(PolicySchema.shape).length)
    expect(JSON.parse(text).trusted_public_keys).toBeNull()
    expect(text).toMatch(/^\{\n {2}"base_model": null,/)
    // floats print as the original's Python json.dumps does
    expect(text).toContain('"tau_norm_z": 3.0,')
    expect(text).toContain('"tau_clean_delta": -0.05')
    expect(text).toContain('"max_size_bytes": 536870912,')
    expect(JSON.parse(text).tau_norm_z).toBe(3)
  })
})

describe('dump-policy golden (spec pipelines.md §14, dry pipeline example)', () => {
  it("reproduces the original's nine-key output byte for byte, then plora's extra fields", () => {
    const p = resolvePolicy({
      config: { base_model: 'google/gemma-3-1b-it', allowed_targets: 'attention' },
      overrides: { allowed_ranks: [1], signatures_enabled: false },
    })
    const expected = [
      '{',
      '  "base_model": "google/gemma-3-1b-it",',
      '  "allowed_ranks": [',
      '    1',
      '  ],',
      '  "allowed_targets": [',
      '    "q_proj",',
      '    "k_proj",',
      '    "v_proj",',
      '    "o_proj",',
      '    "c_attn",',
      '    "c_proj"',
      '  ],',
      '  "max_size_bytes": 536870912,',
      '  "signatures_enabled": false,',
      '  "trusted_public_keys": null,',
      '  "tau_trigger": 0.2,',
      '  "tau_norm_z": 3.0,',
      '  "tau_clean_delta": -0.05,',
    ].join('\n')
    expect(dumpPolicyJson(p).startsWith(expected)).toBe(true)
  })
})

describe('reasons', () => {
  it('orders reasons as the spec emits them and removes duplicates', () => {
    expect(orderReasons(['clean_regression', 'base_model_mismatch', 'sha256_mismatch', 'base_model_mismatch'])).toEqual(
      ['base_model_mismatch', 'sha256_mismatch', 'clean_regression'],
    )
    expect(REJECT_REASONS.indexOf('reputation_low')).toBeLessThan(REJECT_REASONS.indexOf('tensor_norm_outlier'))
    expect(REJECT_REASONS.slice(-7)).toEqual([
      'tensor_norm_outlier',
      'activation_mahalanobis_high',
      'gradient_spike_z_high',
      'spectral_classifier_high',
      'trigger_rate_high',
      'weight_norm_outlier',
      'clean_regression',
    ])
  })
})
