import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  ATTENTION_SUFFIXES,
  DEFAULT_POLICY,
  GateErrorCode,
  parseAllowedTargets,
  policyFromFlags,
  readAllowedTargetsFile,
  readProbesCalibration,
} from '../../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'plora-policy-flags-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe('allowed-targets files (issue 15 point 14)', () => {
  it('accepts a one-line file (it used to be rejected with found "c_attn")', () => {
    expect(readAllowedTargetsFile(file('one.txt', 'c_attn\n'))).toEqual(['c_attn'])
    expect(readAllowedTargetsFile(file('one-nonl.txt', 'q_proj'))).toEqual(['q_proj'])
  })

  it('reads names one per line with comments and blank lines, YAML items and JSON/YAML flow lists', () => {
    expect(parseAllowedTargets('# attention only\n\nq_proj  # query\r\nv_proj\n')).toEqual(['q_proj', 'v_proj'])
    expect(parseAllowedTargets('- c_attn\n- "c_proj"\n')).toEqual(['c_attn', 'c_proj'])
    expect(parseAllowedTargets('["c_attn", "c_proj"]')).toEqual(['c_attn', 'c_proj'])
    expect(parseAllowedTargets("[c_attn, 'c_proj']")).toEqual(['c_attn', 'c_proj'])
    expect(parseAllowedTargets('q_proj\nq_proj\n')).toEqual(['q_proj'])
  })

  it('expands the keywords, alone or in a list', () => {
    expect(parseAllowedTargets('attention\n')).toEqual([...ATTENTION_SUFFIXES])
    expect(parseAllowedTargets('all')).toBeNull()
    expect(parseAllowedTargets('mlp\nq_proj')).toContain('q_proj')
  })

  it('refuses empty files, bad names and non-string list items with GATE_POLICY_INVALID', () => {
    for (const text of ['', '# nothing\n\n', 'c_attn c_proj', 'a/b', '[1, 2]', '{"a": 1}', '["c_attn"', '[]']) {
      expect(() => parseAllowedTargets(text), text).toThrow(
        expect.objectContaining({ code: GateErrorCode.PolicyInvalid }),
      )
    }
  })

  it('a missing file or a folder is GATE_POLICY_PATH_NOT_FOUND', () => {
    expect(() => readAllowedTargetsFile(join(dir, 'absent.txt'))).toThrow(
      expect.objectContaining({ code: GateErrorCode.PolicyPathNotFound }),
    )
    expect(() => readAllowedTargetsFile(dir)).toThrow(
      expect.objectContaining({ code: GateErrorCode.PolicyPathNotFound }),
    )
  })
})

describe('policyFromFlags (issue 15 point 13)', () => {
  it('with no flags is the default policy over the config', () => {
    expect(policyFromFlags({}, { config: { base_model: 'm/x' } })).toEqual({ ...DEFAULT_POLICY, base_model: 'm/x' })
  })

  it('never drops a missing file: policy file, targets file, probe calibration', () => {
    const missing = join(dir, 'missing.json')
    for (const flags of [{ policyFile: missing }, { allowedTargetsFile: missing }, { probesCalib: missing }]) {
      expect(() => policyFromFlags(flags), JSON.stringify(flags)).toThrow(
        expect.objectContaining({ code: GateErrorCode.PolicyPathNotFound }),
      )
    }
  })

  it('refuses an invalid --allowed-targets, conflicting target flags, bad ranks and non-finite taus', () => {
    const t = file('t.txt', 'c_attn\n')
    for (const flags of [
      { allowedTargets: 'everything' },
      { allowedTargets: 'attention', allowedTargetsFile: t },
      { allowedRanks: [0] },
      { allowedRanks: [1.5] },
      { tauTrigger: Number.NaN },
      { tauNormZ: Number.POSITIVE_INFINITY },
      { policyFile: '' },
    ]) {
      expect(() => policyFromFlags(flags), JSON.stringify(flags)).toThrow(
        expect.objectContaining({ code: GateErrorCode.PolicyInvalid }),
      )
    }
  })

  it('layers file ◂ targets file ◂ probe calibration ◂ flags', () => {
    const policy = file('p.json', JSON.stringify({ base_model: 'file/m', tau_trigger: 0.5, tau_norm_z: 4 }))
    const targets = file('one-line.txt', 'c_attn')
    const calib = file(
      'calib.json',
      JSON.stringify({ schema: 'plora.probes-calib/v1', thresholds: { tau_norm_z: 2.5, tau_trigger: 0.3 } }),
    )
    const p = policyFromFlags({
      policyFile: policy,
      allowedTargetsFile: targets,
      probesCalib: calib,
      tauTrigger: 0.1,
      allowedRanks: [8],
      signatures: true,
      consensus: true,
    })
    expect(p).toMatchObject({
      base_model: 'file/m',
      allowed_targets: ['c_attn'],
      allowed_ranks: [8],
      tau_norm_z: 2.5,
      tau_trigger: 0.1,
      signatures_enabled: true,
      consensus_enabled: true,
    })
  })

  it('reads the original flat calibration and refuses a malformed one', () => {
    expect(readProbesCalibration(file('flat.json', JSON.stringify({ tau_trigger: 0.25, other: 'x' })))).toEqual({
      tau_trigger: 0.25,
    })
    for (const [name, text] of [
      ['bad.json', '{'],
      ['arr.json', '[]'],
      ['str.json', JSON.stringify({ tau_trigger: '0.2' })],
      ['thr.json', JSON.stringify({ thresholds: 3 })],
    ]) {
      expect(() => readProbesCalibration(file(name as string, text as string)), name).toThrow(
        expect.objectContaining({ code: GateErrorCode.PolicyInvalid }),
      )
    }
  })
})
