import { describe, expect, it } from 'vitest'
import {
  averageEntropy,
  ConsensusEngine,
  cooccurrenceExcess,
  cooccurrenceSummary,
  coverage,
  domainCountEntropy,
  miDeltas,
  miSeries,
  mutualInformation,
  mutualInformationFromMasks,
  networkFlowRate,
  roundsToDiffuse,
} from '../../src/index.js'

describe('consensus (spec §15 test 11, REC §7)', () => {
  it('commits the first value to reach quorum, and never changes it', () => {
    const c = new ConsensusEngine(2)
    expect(c.vote({ agent_id: 0, slot: 1, sha256: 'A' })).toBeNull()
    expect(c.vote({ agent_id: 1, slot: 1, sha256: 'A' })).toBe('A')
    c.vote({ agent_id: 2, slot: 1, sha256: 'B' })
    expect(c.committed(1)).toBe('A')
  })

  it('counts distinct voters, ignores equivocation and unproposed values, keeps slots apart', () => {
    const c = new ConsensusEngine(2, { requireProposal: true })
    expect(c.vote({ agent_id: 0, slot: 'legal', sha256: 'A' })).toBeNull()
    expect(c.unproposedVotes).toBe(1)
    c.propose('legal', 'A')
    c.propose('legal', 'B')
    expect(c.vote({ agent_id: 0, slot: 'legal', sha256: 'A' })).toBeNull()
    expect(c.vote({ agent_id: 0, slot: 'legal', sha256: 'A' })).toBeNull()
    expect(c.vote({ agent_id: 0, slot: 'legal', sha256: 'B' })).toBeNull()
    expect(c.equivocations).toBe(1)
    c.propose('medical', 'M')
    expect(c.vote({ agent_id: 1, slot: 'medical', sha256: 'M' })).toBeNull()
    expect(c.vote({ agent_id: 2, slot: 'medical', sha256: 'M' })).toBe('M')
    expect(c.vote({ agent_id: 1, slot: 'legal', sha256: 'A' })).toBe('A')
    expect(c.committedSlots()).toEqual({ legal: 'A', medical: 'M' })
    expect(new ConsensusEngine(0).vote({ agent_id: 9, slot: 0, sha256: 'x' })).toBe('x')
  })
})

describe('swarm metrics (spec §9, §15 tests 12, 15)', () => {
  it('unique domains: coverage 1/5, H > 0, I = log2 5', () => {
    const k = Object.fromEntries([0, 1, 2, 3, 4].map((i) => [String(i), [`d${i}`]]))
    expect(Object.values(coverage(k))).toEqual([0.2, 0.2, 0.2, 0.2, 0.2])
    expect(averageEntropy(k)).toBeGreaterThan(0)
    expect(mutualInformation(k)).toBeCloseTo(Math.log2(5), 12)
  })

  it('full diffusion: coverage 1, H = 0, I = 0 exactly', () => {
    const all = ['d0', 'd1', 'd2', 'd3', 'd4']
    const k = Object.fromEntries([0, 1, 2, 3, 4].map((i) => [String(i), all]))
    expect(Object.values(coverage(k)).every((x) => x === 1)).toBe(true)
    expect(averageEntropy(k)).toBe(0)
    expect(mutualInformation(k)).toBe(0)
  })

  it('reproduces the §9.3 examples and the mask path agrees', () => {
    expect(mutualInformation({ 0: ['a', 'b'], 1: ['b'], 2: ['c'] })).toBeCloseTo(1, 14)
    expect(mutualInformation({ 0: ['a'], 1: ['a'], 2: ['b'], 3: ['b'] })).toBeCloseTo(1, 14)
    expect(mutualInformation({ 0: ['a', 'b', 'c'], 1: ['a'], 2: ['b'], 3: ['c'] })).toBeCloseTo(0.7924812503605779, 14)
    // seed-42 round 0 state (§9.3): 0.42877058564388815
    const r0 = {
      0: ['arithmetic', 'legal'],
      1: ['legal'],
      2: ['arithmetic', 'legal', 'medical'],
      3: ['arithmetic', 'legal', 'medical'],
      4: ['arithmetic', 'legal'],
      5: ['medical'],
    }
    expect(mutualInformation(r0)).toBeCloseTo(0.42877058564388815, 15)
    expect(averageEntropy(r0)).toBeCloseTo(0.8561060852342811, 15)
    const masks = Int32Array.from([0b011, 0b010, 0b111, 0b111, 0b011, 0b100])
    expect(mutualInformationFromMasks(masks, 3)).toBeCloseTo(0.42877058564388815, 15)
  })

  it('MI series strictly decreases from unique to full; deltas and rounds to diffuse', () => {
    const h = [
      { 0: ['d0'], 1: ['d1'], 2: ['d2'], 3: ['d3'] },
      { 0: ['d0', 'd1'], 1: ['d1'], 2: ['d2'], 3: ['d3'] },
      Object.fromEntries([0, 1, 2, 3].map((i) => [String(i), ['d0', 'd1', 'd2', 'd3']])),
    ]
    const s = miSeries(h)
    expect(s[0]).toBeCloseTo(2, 12)
    expect(s[1]).toBeCloseTo(1.5219, 4)
    expect(s[2]).toBe(0)
    expect(miDeltas(s)).toHaveLength(3)
    expect(miDeltas(s)[0]).toBe(0)
    expect(roundsToDiffuse(h)).toEqual({ d0: 2, d1: 2, d2: 2, d3: 2 })
    expect(networkFlowRate(h)).toBeCloseTo(-1, 12)
    expect(() => roundsToDiffuse([])).toThrow(expect.objectContaining({ code: 'SWARM_HISTORY_EMPTY' }))
    expect(() => coverage({})).toThrow(expect.objectContaining({ code: 'SWARM_KNOWLEDGE_INVALID' }))
  })

  it('co-occurrence statistics (the original PID-lite) and H(count)', () => {
    const k = { 0: ['d0', 'd1'], 1: ['d0', 'd1'], 2: ['d0'], 3: ['d1'], 4: ['d2'] }
    expect(cooccurrenceExcess(k, 'd0', 'd1')).toBeCloseTo(0.04, 12)
    const s = cooccurrenceSummary(k)
    expect(s.synergy_mean).toBeCloseTo(0.013333333333333334, 12)
    expect(s.redundancy_mean).toBeCloseTo(0.2, 12)
    // counts 2,2,1,1,1 → H = H(0.4) bits
    expect(domainCountEntropy(k)).toBeCloseTo(-(0.4 * Math.log2(0.4) + 0.6 * Math.log2(0.6)), 12)
  })
})
