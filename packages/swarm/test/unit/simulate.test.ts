import { describe, expect, it } from 'vitest'
import {
  type ArtefactInfo,
  erdosRenyiGraph,
  predictedRoundsSpectral,
  simulateSwarm,
  spectralGap,
  type Verdict,
} from '../../src/index.js'

const art = (domain: number, score = 0, trojan = false, key = `k${domain}${trojan ? 't' : ''}`): ArtefactInfo => ({
  domain,
  sizeBytes: 10,
  score,
  trojan,
  key,
})

describe('simulateSwarm — the original protocol tests (spec §15)', () => {
  it('test 1: six agents on ER(6,.25,42) learn all three domains within 5 rounds, in both modes', () => {
    for (const mode of ['snapshot', 'sequential'] as const) {
      const r = simulateSwarm(
        {
          adjacency: erdosRenyiGraph(6, 0.25, 42),
          domains: ['d0', 'd1', 'd2'],
          ownDomain: Int32Array.from([0, 1, 2, 0, 1, 2]),
          ownArtefact: Int32Array.from([0, 1, 2, 0, 1, 2]),
          artefacts: [art(0), art(1), art(2)],
        },
        { rounds: 5, mode },
      )
      expect(Array.from(r.finalMasks), mode).toEqual([7, 7, 7, 7, 7, 7])
      expect(r.accepted, mode).toBe(12)
    }
  })

  it('sequential lets a domain cross several hops in one round; snapshot moves it one hop', () => {
    const path = [[1], [0, 2], [1, 3], [2]]
    const input = {
      adjacency: path,
      domains: ['x'],
      ownDomain: Int32Array.from([0, -1, -1, -1]),
      ownArtefact: Int32Array.from([0, -1, -1, -1]),
      artefacts: [art(0)],
    }
    const snap = simulateSwarm(input, { rounds: 1, mode: 'snapshot' })
    const seq = simulateSwarm(input, { rounds: 1, mode: 'sequential' })
    expect(Array.from(snap.finalMasks)).toEqual([1, 1, 0, 0])
    expect(Array.from(seq.finalMasks)).toEqual([1, 1, 1, 1])
  })

  it('test 5: a trojan is rejected by the gate and never reaches the others', () => {
    // ER(3, .25, 42) is the path 1–0–2; agent 2 holds the trojan domain "bad".
    const trojanGate = (_v: number, a: number): Verdict =>
      a === 2 ? { passed: false, reasons: ['tensor_norm_outlier'] } : { passed: true, reasons: [] }
    const r = simulateSwarm(
      {
        adjacency: erdosRenyiGraph(3, 0.25, 42),
        domains: ['clean0', 'clean1', 'bad'],
        ownDomain: Int32Array.from([0, 1, 2]),
        ownArtefact: Int32Array.from([0, 1, 2]),
        artefacts: [art(0), art(1), art(2, 0, true)],
        verdict: trojanGate,
      },
      { rounds: 5 },
    )
    expect(r.finalMasks[1]! & 1).toBe(1) // clean0 ∈ agent 1
    expect(r.finalMasks[0]! & 2).toBe(2) // clean1 ∈ agent 0
    expect(r.finalMasks[0]! & 4).toBe(0)
    expect(r.finalMasks[1]! & 4).toBe(0)
    expect(r.gate.accepted_trojan_total).toBe(0)
    expect(r.gate.rejected_trojan_total).toBeGreaterThanOrEqual(1)
    // Re-offered every round per offer, but one unique (receiver, artefact) pair.
    expect(r.unique.trojan_pairs).toBe(1)
    expect(r.gate.rejected_trojan_total).toBeGreaterThan(r.unique.trojan_pairs)
  })

  it('test 7: the best offer is the highest score (em, else chrF, else −ΔPPL), first on ties', () => {
    // Agent 0 builds its pool d0, d1, d2 from three neighbours in one sequential round.
    const r = simulateSwarm(
      {
        adjacency: [[1, 2, 3], [0], [0], [0]],
        domains: ['d0', 'd1', 'd2'],
        ownDomain: Int32Array.from([-1, 0, 1, 2]),
        ownArtefact: Int32Array.from([-1, 0, 1, 2]),
        artefacts: [art(0, 0.5), art(1, 0.3), art(2, -0.2)],
      },
      { rounds: 1, mode: 'sequential' },
    )
    expect(r.finalMasks[0]).toBe(7)
    const r2 = simulateSwarm(
      {
        adjacency: [[1, 2, 3, 4], [0], [0], [0], [0]],
        domains: ['d0', 'd1', 'd2'],
        ownDomain: Int32Array.from([-1, 0, 1, 2, -1]),
        ownArtefact: Int32Array.from([-1, 0, 1, 2, -1]),
        artefacts: [art(0, -0.1), art(1, 0.3), art(2, 0.2)],
      },
      { rounds: 1, mode: 'sequential', earlyStop: false },
    )
    // In the same sequential round agent 0 learns d0, d1, d2, then offers agent 4 its best: d1.
    const toFour = []
    for (let k = 0; k < r2.rounds[0]!.events.length; k += 3)
      if (r2.rounds[0]!.events[k + 1] === 4) toFour.push(r2.rounds[0]!.events[k + 2])
    expect(toFour).toEqual([1])
  })

  it('test 13: predicted rounds grow slowly with n (combinatorial λ2, clamped)', () => {
    const t1 = predictedRoundsSpectral(50, spectralGap(erdosRenyiGraph(50, 0.2, 123)))
    const t2 = predictedRoundsSpectral(100, spectralGap(erdosRenyiGraph(100, 0.2, 456)))
    expect([t1, t2]).toEqual([3, 4])
  })

  it('is deterministic, and rejects inconsistent inputs', () => {
    const input = {
      adjacency: erdosRenyiGraph(50, 0.1, 1),
      domains: ['a', 'b', 'c'],
      ownDomain: Int32Array.from({ length: 50 }, (_, i) => i % 3),
      ownArtefact: Int32Array.from({ length: 50 }, (_, i) => i % 3),
      artefacts: [art(0), art(1), art(2)],
    }
    const a = simulateSwarm(input, { protocol: 'push-pull', seed: 3, rounds: 10 })
    const b = simulateSwarm(input, { protocol: 'push-pull', seed: 3, rounds: 10 })
    expect(a.rounds.map((r) => Array.from(r.events))).toEqual(b.rounds.map((r) => Array.from(r.events)))
    expect(() => simulateSwarm({ ...input, ownArtefact: Int32Array.from([1, 0]) }, {})).toThrow(
      expect.objectContaining({ code: 'SWARM_OPTION_INVALID' }),
    )
    expect(() => simulateSwarm({ ...input, adjacency: null, completeN: 50 }, { protocol: 'edge' })).toThrow(
      expect.objectContaining({ code: 'SWARM_OPTION_INVALID' }),
    )
  })
})
