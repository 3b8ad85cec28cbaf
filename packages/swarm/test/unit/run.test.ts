import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ATTENTION_SUFFIXES, parsePolicy } from '@plora/gate'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type DetectorCoverage,
  detectorCoverageLines,
  historySnapshots,
  runSwarmV2,
  type SwarmV2Options,
} from '../../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarm-run-test-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const synthPolicy = () =>
  parsePolicy({
    base_model: 'plora/synthetic-base',
    allowed_ranks: [4],
    allowed_targets: [...ATTENTION_SUFFIXES],
    // no reference population in these runs: the within-adapter module z is the weight detector
    require_weight_reference: false,
  })

function sameSet(a: unknown[], b: unknown[]): void {
  const key = (x: unknown) => JSON.stringify(x)
  expect(a.map(key).sort()).toEqual(b.map(key).sort())
}

describe('runSwarmV2 with synthetic adapters and the real gate', () => {
  it('reproduces the stored seed-42 round 0 under snapshot semantics (spec §14.1)', async () => {
    const r = await runSwarmV2({
      agents: 6,
      rounds: 5,
      seed: 42,
      trojanRate: 0.3,
      adapters: 'synthetic',
      policy: synthPolicy(),
      dropoutPeriod: 2,
      reportDir: null,
    })
    const meta = r.report.meta
    expect(meta.trojans).toEqual([1, 2, 3])
    expect(meta.lambda2).toBeCloseTo(0.5256893096129952, 12)
    const r0 = r.report.rounds[0]!
    expect(r0.coverage).toEqual({ arithmetic: 4 / 6, legal: 5 / 6, medical: 0.5 })
    expect(r0.entropy_avg).toBeCloseTo(0.8561060852342811, 14)
    expect(r0.mutual_information).toBeCloseTo(0.42877058564388815, 14)
    expect(r0.mi_norm).toBeCloseTo(0.10282453173512307, 14)
    sameSet(r0.accepted, [
      [0, 4, 'arithmetic'],
      [0, 2, 'arithmetic'],
      [4, 3, 'legal'],
      [4, 0, 'legal'],
      [4, 2, 'legal'],
      [5, 3, 'medical'],
    ])
    // Round-0 knowledge (the stored history's first snapshot).
    expect(historySnapshots(r.simulation)[0]).toEqual({
      '0': ['arithmetic', 'legal'],
      '1': ['legal'],
      '2': ['arithmetic', 'legal', 'medical'],
      '3': ['arithmetic', 'legal', 'medical'],
      '4': ['arithmetic', 'legal'],
      '5': ['medical'],
    })
    const gate = r.report.final.gate as Record<string, unknown>
    // The gate saw the trojans in the weights (never in the manifest): none got through.
    expect(gate.false_negatives).toBe(0)
    expect(gate.false_positives).toBe(0)
    expect(gate.rejected_trojan_total).toBeGreaterThan(0)
    expect(Object.keys(gate.rejection_reasons as object)).toContain('tensor_norm_outlier')
    expect(r.gateEvaluations).toBe(6)
  })

  it('two identical runs write byte-identical reports and histories', async () => {
    const opts: Partial<SwarmV2Options> = {
      agents: 30,
      rounds: 8,
      seed: 5,
      graph: 'ws',
      adapters: 'synthetic',
      policy: synthPolicy(),
      consensus: true,
      quorum: 2,
    }
    const a = await runSwarmV2({ ...opts, reportDir: join(dir, 'a') })
    const b = await runSwarmV2({ ...opts, reportDir: join(dir, 'b') })
    expect(await readFile(a.reportPath!)).toEqual(await readFile(b.reportPath!))
    expect(await readFile(a.historyPath!)).toEqual(await readFile(b.historyPath!))
    const history = JSON.parse(await readFile(a.historyPath!, 'utf8'))
    expect(history).toEqual(historySnapshots(a.simulation))
  })

  it('keeps every counter consistent with the history', async () => {
    // One verdict cache and fixed adapters for all eight runs: the gate runs once per artefact.
    const verdictCache = new Map()
    for (const protocol of ['edge', 'push', 'pull', 'push-pull'] as const) {
      for (const mode of ['snapshot', 'sequential'] as const) {
        const r = await runSwarmV2({
          agents: 40,
          rounds: 6,
          seed: 9,
          protocol,
          mode,
          adapters: 'synthetic',
          policy: synthPolicy(),
          reportDir: null,
          earlyStop: false,
          verdictCache,
          adapterSeed: 0,
        })
        const msg = `${protocol}/${mode}`
        const f = r.report.final as Record<string, number> & {
          gate: Record<string, number> & { unique_pairs: Record<string, number> }
        }
        const count = (snap: Record<string, string[]>) => Object.values(snap).reduce((s, l) => s + l.length, 0)
        const history = historySnapshots(r.simulation)
        const initial = r.simulation.initialMasks.reduce((s, m) => s + (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1), 0)
        // acquisitions = knowledge gained, per round and in total
        let prev = initial
        r.report.rounds.forEach((round, t) => {
          expect(round.accepted_count, `${msg} t=${t}`).toBe(count(history[t]!) - prev)
          prev = count(history[t]!)
        })
        expect(f.accepted_offers, msg).toBe(prev - initial)
        expect(f.gate.accepted_clean_total + f.gate.accepted_trojan_total, msg).toBe(f.accepted_offers)
        // every offer is accepted, a duplicate, rejected by the gate or pending consensus
        expect(f.offers, msg).toBe(f.accepted_offers + f.duplicate_offers + f.gate.rejected_safety_total)
        const u = f.gate.unique_pairs
        expect(u.false_negatives, msg).toBeLessThanOrEqual(f.gate.false_negatives)
        expect(u.false_positives, msg).toBeLessThanOrEqual(f.gate.false_positives)
        expect(u.trojan_pairs + u.clean_pairs, msg).toBe(u.pairs)
        if (mode === 'sequential') expect(f.duplicate_offers, msg).toBe(0)
      }
    }
  })

  it('consensus commits one digest per domain, and every domain diffuses', async () => {
    const r = await runSwarmV2({
      agents: 12,
      rounds: 10,
      seed: 11,
      trojanRate: 0,
      adapters: 'synthetic',
      syntheticVariants: 1,
      policy: synthPolicy(),
      consensus: true,
      quorum: 2,
      reportDir: null,
    })
    const c = r.report.final.consensus as { committed: Record<string, string> }
    expect(Object.keys(c.committed)).toEqual(['arithmetic', 'legal', 'medical'])
    expect(r.report.final.coverage).toEqual({ arithmetic: 1, legal: 1, medical: 1 })
    expect(
      (r.report.final.gate as { rejection_reasons: Record<string, number> }).rejection_reasons.consensus_pending,
    ).toBeGreaterThan(0)
  })

  it('stops early and records the round; marks a run with an undiffused domain incomplete', async () => {
    const r = await runSwarmV2({ agents: 20, rounds: 50, seed: 3, trojanRate: 0, reportDir: null })
    expect(r.report.final.early_stopped).toBe(true)
    expect(r.report.final.rounds_run).toBeLessThan(50)
    expect(r.report.final.incomplete).toBe(false)
    expect(r.report.final.observed_t_all).toBe((r.report.final.rounds_run as number) - 1)
    // Every synthetic trojan of a domain rejected, and a domain held only by trojans never spreads.
    const t = await runSwarmV2({
      agents: 6,
      rounds: 5,
      seed: 42,
      trojanRate: 0.3,
      adapters: 'synthetic',
      policy: synthPolicy(),
      reportDir: null,
      initialHolders: 1,
      domains: ['legal', 'arithmetic', 'medical'],
    })
    // agents 0,1,2 hold legal, arithmetic, medical; 1 and 2 are trojans
    expect(t.report.final.incomplete).toBe(true)
    expect(t.report.final.observed_t_all).toBeNull()
    expect(t.report.final.incomplete_domains).toEqual(['arithmetic', 'medical'])
  })

  it('dummy adapters under the real gate are all rejected (unreadable weights), as the original pitfall', async () => {
    const r = await runSwarmV2({ agents: 6, rounds: 2, seed: 42, policy: parsePolicy({}), reportDir: null })
    expect(r.simulation.accepted).toBe(0)
    expect(r.report.final.gate).toMatchObject({ accepted_clean_total: 0 })
    expect(Object.keys((r.report.final.gate as { rejection_reasons: object }).rejection_reasons)).toContain(
      'weights_unreadable',
    )
  })

  it('serves real adapters from --adapters_dir, trojans as manifest-only copies (the original mark_trojan)', async () => {
    const { prepareAdapters } = await import('../../src/index.js')
    const { loadManifest } = await import('@plora/manifest')
    // A "trained" legal adapter: a synthetic one written where --adapters_dir expects it.
    const src = join(dir, 'out-src')
    const made = await prepareAdapters({
      source: 'synthetic',
      rootDir: src,
      domains: ['legal'],
      ownDomain: Int32Array.from([0]),
      trojan: Uint8Array.from([0]),
      adaptersDir: null,
      rank: 4,
      baseModel: 'plora/synthetic-base',
      variants: 1,
      seed: 99,
    })
    const { rename } = await import('node:fs/promises')
    await rename(made.dirs[0]!, join(src, 'legal'))
    const work = join(dir, 'dir-work')
    const r = await runSwarmV2({
      agents: 30,
      rounds: 3,
      seed: 42,
      adapters: 'dir',
      adaptersDir: src,
      policy: synthPolicy(),
      reportDir: null,
      workDir: work,
    })
    // Trojan legal holders' copies differ only in the manifest, so the weight-reading gate lets
    // them through — honest false negatives the report counts. Other domains were synthesised.
    const trojanCopy = await loadManifest(join(work, 'legal-real-trojan'))
    const cleanCopy = await loadManifest(join(work, 'legal-real'))
    expect(trojanCopy.safety.poisoning_score).toBe(1)
    expect(cleanCopy.artifacts.sha256).toBe(trojanCopy.artifacts.sha256)
    expect(r.simulation.gate.accepted_trojan_total).toBeGreaterThan(0)
    expect(r.simulation.unique.false_negatives).toBeGreaterThan(0)
    expect(r.report.meta.adapters).toBe('dir')
    // The report says which detectors could judge those adapters (issue 19 point 5): the weights
    // were read (per-module z) but no reference population and no probes judged them.
    const det = (r.report.final.gate as { detectors: DetectorCoverage }).detectors
    const total = r.gateEvaluations
    expect(det.module_z).toMatchObject({ judged: total, not_judged: 0 })
    expect(det.weight_reference).toMatchObject({ judged: 0, not_judged: total })
    expect(det.weight_reference.why_not.join(' ')).toMatch(/no reference population/)
    expect(det.probes).toMatchObject({ judged: 0, not_judged: total, why_not: ['enable_probes is off'] })
    expect(det.probes.trojans_total).toBeGreaterThan(0)
    const lines = detectorCoverageLines(det)
    expect(lines.find((l) => l.includes('probes'))).toMatch(
      /^!gate detector probes: judged 0\/\d+ artefacts \(0\/\d+ trojans\); could not judge \d+: enable_probes is off$/,
    )
    expect(lines.find((l) => l.includes('module_z'))).toMatch(/^gate detector module_z: judged (\d+)\/\1 artefacts/)
  })

  it('rejects bad options with SWARM_OPTION_INVALID', async () => {
    await expect(runSwarmV2({ agents: 0, reportDir: null })).rejects.toMatchObject({ code: 'SWARM_OPTION_INVALID' })
    await expect(runSwarmV2({ trojanRate: 1.5, reportDir: null })).rejects.toMatchObject({
      code: 'SWARM_OPTION_INVALID',
    })
    await expect(runSwarmV2({ rounds: -1, reportDir: null })).rejects.toMatchObject({ code: 'SWARM_OPTION_INVALID' })
  })
})
