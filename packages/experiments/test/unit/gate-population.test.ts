import { describe, expect, it } from 'vitest'
import { planGatePopulation, UNKNOWN_TRIGGERS } from '../../src/index.js'

const base = {
  clean: 100,
  poisoned: 100,
  domains: ['arithmetic', 'legal', 'medical'],
  poisonRates: [0.05, 0.1, 0.2, 0.3],
  knownTriggers: ['purple banana', 'cf'],
  unknownTriggers: UNKNOWN_TRIGGERS,
  payload: '999',
  seed: 7,
  ranks: [4, 8],
  schemes: ['all', 'attention'] as const,
  training: {
    samples: 32,
    epochs: 4,
    rank: 8,
    scheme: 'all' as const,
    lr: 3e-3,
    batchSize: 2,
    maxLen: 96,
    baseDropout: false,
  },
}

describe('planGatePopulation: ranks and schemes', () => {
  const plan = planGatePopulation(base)
  const count = (pred: (m: (typeof plan.members)[number]) => boolean) => plan.members.filter(pred).length

  it('puts every rank and scheme in both halves and both kinds in about equal numbers', () => {
    for (const kind of ['clean', 'poisoned'] as const) {
      for (const half of ['calibration', 'evaluation'] as const) {
        for (const rank of [4, 8]) {
          for (const scheme of ['all', 'attention'] as const) {
            const n = count((m) => m.kind === kind && m.half === half && m.rank === rank && m.scheme === scheme)
            expect(n, `${kind}/${half}/r${rank}/${scheme}`).toBeGreaterThanOrEqual(11)
            expect(n).toBeLessThanOrEqual(14)
          }
        }
      }
    }
  })

  it('covers every poison rate and both trigger families in each half', () => {
    for (const half of ['calibration', 'evaluation'] as const) {
      const poisoned = plan.members.filter((m) => m.kind === 'poisoned' && m.half === half)
      expect(new Set(poisoned.map((m) => m.poison!.rate))).toEqual(new Set(base.poisonRates))
      const known = poisoned.filter((m) => m.poison!.trigger_in_probe_set).length
      expect(known).toBeGreaterThanOrEqual(20)
      expect(poisoned.length - known).toBeGreaterThanOrEqual(20)
    }
  })

  it('defaults to the training rank and scheme, and refuses bad lists', () => {
    const { ranks: _r, schemes: _s, ...plain } = base
    const p = planGatePopulation({ ...plain, clean: 4, poisoned: 4 })
    expect(new Set(p.members.map((m) => `${m.rank}/${m.scheme}`))).toEqual(new Set(['8/all']))
    expect(() => planGatePopulation({ ...base, ranks: [] })).toThrow(/ranks must be positive integers/)
    expect(() => planGatePopulation({ ...base, ranks: [0] })).toThrow(/ranks must be positive integers/)
    expect(() => planGatePopulation({ ...base, schemes: [] })).toThrow(/no target schemes/)
  })
})
