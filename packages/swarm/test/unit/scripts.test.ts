import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  calibrateC,
  evaluateReports,
  meanC,
  mergeSweepShards,
  runSwarmV2,
  runSweep,
  summarizeReport,
  validateBounds,
  writeEvaluation,
} from '../../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarm-scripts-test-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('calibrate-c (spec §15 test 16)', () => {
  it('writes records with the original keys; λ2 matches the stored calibration', () => {
    const recs = calibrateC({ topology: 'er', ns: [10, 12], p: 0.3, k: 4, wsBeta: 0.2, m: 2, rounds: 5, seed: 1 })
    expect(recs).toHaveLength(2)
    expect(Object.keys(recs[0]!)).toEqual(
      expect.arrayContaining(['topology', 'n', 'lambda2', 't_all', 'C_hat', 'params']),
    )
    expect(recs[0]!.topology).toBe('er')
    const er = calibrateC({ topology: 'er', ns: [20, 40], p: 0.25, k: 4, wsBeta: 0.25, m: 2, rounds: 20, seed: 42 })
    expect(er[0]!.lambda2).toBeCloseTo(0.31556897540013445, 9)
    expect(er[1]!.lambda2).toBeCloseTo(0.5191935619684094, 9)
    // C_hat = t_all·λ2 / ln(n / (2/3)) for a completed run
    for (const r of er) {
      expect(r.t_all).not.toBeNull()
      expect(r.C_hat).toBeCloseTo((r.t_all! * r.lambda2) / Math.log(r.n / (2 / 3)), 12)
    }
    expect(meanC(er)).toBeCloseTo((er[0]!.C_hat! + er[1]!.C_hat!) / 2, 12)
  })
})

describe('validate-bounds', () => {
  it('reproduces the stored λ2 and conductance and checks the bracket', () => {
    const recs = validateBounds({ ns: [20, 40], p: 0.25, seed: 42 })
    expect(recs[0]!.lambda2).toBeCloseTo(0.31556897540013445, 9)
    expect(recs[0]!.phi).toBeCloseTo(0.3888888888888889, 12)
    expect(recs[1]!.phi).toBeCloseTo(0.4948453608247423, 12)
    expect(recs[0]!.t_pred).toBe(7)
    for (const r of recs) {
      expect(r.within_bounds).toBe(true)
      expect(r.t_obs).not.toBeNull()
    }
  })
})

describe('swarm evaluate', () => {
  it('summarises v2 reports (spec §12.4) with bootstrap CIs and the gate keys', async () => {
    const reports = join(dir, 'reports')
    await runSwarmV2({ agents: 9, rounds: 4, seed: 42, reportDir: reports, earlyStop: false })
    await runSwarmV2({ agents: 9, rounds: 4, seed: 11, reportDir: reports, earlyStop: false })
    const out = join(dir, 'summary_v2.json')
    const s = await writeEvaluation(reports, out)
    expect(s.map((x) => x.file)).toEqual(['swarm_v2_report_seed11.json', 'swarm_v2_report_seed42.json'])
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(s)
    const one = s[1] as {
      N: number
      mi: { delta_ci: number[] }
      gate: object
      te_pair_points: number
      acceptance_rate: number
    }
    expect(one.N).toBe(9)
    expect(one.mi.delta_ci).toHaveLength(2)
    expect(one.mi.delta_ci[0]).toBeLessThanOrEqual(one.mi.delta_ci[1])
    expect(Object.keys(one.gate)).toEqual(
      expect.arrayContaining(['false_negatives', 'false_positives', 'rejection_reasons']),
    )
    expect(one.te_pair_points).toBe(4)
    expect(one.acceptance_rate).toBeGreaterThan(0)
    expect(one.acceptance_rate).toBeLessThanOrEqual(1)
  })

  it('reads a legacy report with Infinity and rejects an unreadable one with a code', async () => {
    const s = summarizeReport({
      meta: { N: 6, domains: ['a', 'b'], lambda2: 0.5 },
      rounds: [],
      final: { observed_t_all: 3 },
    })
    expect(s.theory).toEqual({ t_pred: 3, t_obs: 3, t_delta: 0 })
    const bad = join(dir, 'bad')
    await runSwarmV2({ agents: 3, rounds: 1, seed: 1, reportDir: bad })
    await writeFile(join(bad, 'swarm_v2_report_seed2.json'), '{"meta": {"N": Infinity}, "final": {}, "rounds": []}')
    expect((await evaluateReports(bad))[1]!.N).toBe(0)
    await writeFile(join(bad, 'swarm_v2_report_seed3.json'), '{oops')
    await expect(evaluateReports(bad)).rejects.toMatchObject({ code: 'SWARM_REPORT_INVALID' })
  })
})

describe('sweep (spec §15 tests 9, 17)', () => {
  it('writes JSONL lines with lambda2, t_pred and mi_series, and resumes', async () => {
    const out = join(dir, 'sweep', 'thesis_sweep.jsonl')
    const r = await runSweep({
      topos: ['er', 'ba'],
      ns: [10],
      seeds: [7],
      p: 0.4,
      rounds: 3,
      trojanRates: [0.0, 0.3],
      out,
      workers: 1,
      calibDir: dir,
    })
    expect(r).toMatchObject({ total: 4, written: 4, skipped: 0 })
    const lines = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(4)
    expect(lines.map((l) => [l.topology, l.trojan_rate])).toEqual([
      ['er', 0],
      ['er', 0.3],
      ['ba', 0],
      ['ba', 0.3],
    ])
    for (const l of lines) {
      expect(l).toHaveProperty('lambda2')
      expect(l).toHaveProperty('t_pred')
      expect(l.mi_series.length).toBe(l.rounds.length)
      expect(l.C_source).toMatch(/default C = 2.0/)
    }
    const again = await runSweep({
      topos: ['er', 'ba'],
      ns: [10],
      seeds: [7],
      p: 0.4,
      rounds: 3,
      trojanRates: [0.0, 0.3],
      out,
      workers: 1,
      calibDir: dir,
    })
    expect(again).toMatchObject({ written: 0, skipped: 4 })
    expect((await readFile(out, 'utf8')).trim().split('\n')).toHaveLength(4)
    await expect(await readFile(join(dir, 'sweep', 'env_manifest.json'), 'utf8')).toContain('platform')
  })
})

describe('sharded sweep (issue 23 item 3)', () => {
  const grid = {
    topos: ['er', 'ws'] as Array<'er' | 'ws'>,
    ns: [10, 12],
    seeds: [7, 8],
    p: 0.4,
    rounds: 3,
    trojanRates: [0.0],
    workers: 1,
  }
  it('shards i/n partition the grid and merge into the bytes of a one-machine run, in any order', async () => {
    const root = join(dir, 'shards')
    const calibDir = dir
    await runSweep({ ...grid, calibDir, out: join(root, 'one.jsonl') })
    const shards = [1, 2, 3].map((i) => join(root, `s${i}.jsonl`))
    const sizes: number[] = []
    for (const [i, out] of shards.entries()) {
      const r = await runSweep({ ...grid, calibDir, out, shard: { index: i + 1, count: 3 } })
      sizes.push(r.written)
    }
    expect(sizes).toEqual([3, 3, 2])
    const m = await mergeSweepShards({
      ...grid,
      inputs: [shards[2]!, shards[0]!, shards[1]!],
      out: join(root, 'merged.jsonl'),
    })
    expect(m).toEqual({ out: join(root, 'merged.jsonl'), lines: 8, inputs: 3 })
    expect(await readFile(join(root, 'merged.jsonl'))).toEqual(await readFile(join(root, 'one.jsonl')))
    // a missing shard, a line of another grid and a point with two different results are refused
    await expect(
      mergeSweepShards({ ...grid, inputs: shards.slice(0, 2), out: join(root, 'bad.jsonl') }),
    ).rejects.toMatchObject({ code: 'SWARM_SWEEP_FAILED', message: expect.stringMatching(/lack 2 of 8 grid points/) })
    await expect(
      mergeSweepShards({ ...grid, ns: [10], inputs: shards, out: join(root, 'bad.jsonl') }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/is not in this grid/) })
    const first = (await readFile(shards[0]!, 'utf8')).split('\n')[0]!
    const tampered = join(root, 'tampered.jsonl')
    await writeFile(tampered, `${first.replace('"lambda2":', '"lambda2":1e-9,"x":')}\n`)
    await expect(
      mergeSweepShards({ ...grid, inputs: [...shards, tampered], out: join(root, 'bad.jsonl') }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/appears twice with different results/) })
    await expect(readFile(join(root, 'bad.jsonl'))).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(
      runSweep({ ...grid, calibDir, out: join(root, 'x.jsonl'), shard: { index: 4, count: 3 } }),
    ).rejects.toMatchObject({
      code: 'SWARM_OPTION_INVALID',
    })
  })
})
