import { describe, expect, it } from 'vitest'
import { type ExchangeProtocol, simulateSwarm } from '../../src/index.js'

/**
 * Classic rumour spreading on K_n, one domain, one initial holder (agent 0), 100 fixed seeds.
 * Push: log2 n + ln n + O(1) (Frieze–Grimmett 1985, Pittel 1987; an independent reference
 * simulation gives 23.7 ± 0.1 rounds at n = 10,000). Push-pull: log3 n + O(log log n) (Karp et al.
 * 2000), about 11.6 rounds at n = 10,000.
 */
function meanRounds(n: number, protocol: ExchangeProtocol, seeds: number[]): number {
  const ownDomain = new Int32Array(n).fill(-1)
  const ownArtefact = new Int32Array(n).fill(-1)
  ownDomain[0] = 0
  ownArtefact[0] = 0
  let sum = 0
  for (const seed of seeds) {
    const r = simulateSwarm(
      {
        adjacency: null,
        completeN: n,
        domains: ['legal'],
        ownDomain,
        ownArtefact,
        artefacts: [{ domain: 0, sizeBytes: 14, score: 0, trojan: false, key: 'legal' }],
      },
      { rounds: 200, protocol, seed, recordHistory: false },
    )
    expect(
      r.finalMasks.every((m) => m === 1),
      `seed ${seed}: everyone informed`,
    ).toBe(true)
    expect(r.accepted).toBe(n - 1)
    sum += r.roundsRun
  }
  return sum / seeds.length
}

describe('rumour spreading on the complete graph (n = 10,000, 100 seeds)', () => {
  const n = 10_000
  const seeds = Array.from({ length: 100 }, (_, i) => 1000 + i)
  const log2n = Math.log2(n)
  const lnn = Math.log(n)

  it('push: mean rounds within [log2 n + ln n, log2 n + ln n + 2]', () => {
    const m = meanRounds(n, 'push', seeds)
    expect(m).toBeGreaterThanOrEqual(log2n + lnn)
    expect(m).toBeLessThanOrEqual(log2n + lnn + 2)
    expect(Math.abs(m - 23.7)).toBeLessThan(0.5)
  })

  it('push-pull: mean rounds about 11.6', () => {
    const m = meanRounds(n, 'push-pull', seeds)
    expect(Math.abs(m - 11.6)).toBeLessThan(0.5)
    expect(m).toBeGreaterThan(Math.log(n) / Math.log(3))
  })
})
