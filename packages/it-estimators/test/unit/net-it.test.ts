import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRng } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  adaptiveBins,
  adaptiveK,
  computeNetIt,
  createDiscreteMiEvaluator,
  createTeEvaluator,
  discreteMutualInformation,
  type FdrCorrection,
  type HistorySnapshot,
  prepareTransferEntropy,
  readSwarmHistory,
  symbolIds,
  transferEntropyFromPrepared,
} from '../../src/index.js'

// A plain BH, written out here because it-estimators may not import @plora/metrics (same layer);
// the CLI passes the real one.
const bh: FdrCorrection = (p, alpha) => {
  const m = p.length
  const order = p.map((_, i) => i).sort((a, b) => p[a]! - p[b]! || a - b)
  let k = 0
  order.forEach((i, r) => {
    if (p[i]! <= (alpha * (r + 1)) / m) k = r + 1
  })
  const threshold = k > 0 ? p[order[k - 1]!]! : 0
  return { threshold, rejected: p.map((v) => k > 0 && v <= threshold) }
}

const DOMAINS = ['arithmetic', 'legal', 'medical', 'science', 'code']

/** A synthetic gossip history: agents gain domains at random; agent 1 copies agent 0 one round later. */
function buildHistory(nAgents: number, rounds: number, seed: number, coupled = true): HistorySnapshot[] {
  const rng = createRng(seed)
  const held = Array.from({ length: nAgents }, (_, a) => new Set([DOMAINS[a % DOMAINS.length]!]))
  const out: HistorySnapshot[] = []
  const counts0: number[] = []
  for (let t = 0; t < rounds; t++) {
    for (let a = 0; a < nAgents; a++) {
      if (coupled && a === 1) continue
      // gain or lose a domain so the counts move up and down
      const d = DOMAINS[rng.randbelow(DOMAINS.length)]!
      if (rng.random() < 0.5) held[a]!.add(d)
      else if (held[a]!.size > 1) held[a]!.delete([...held[a]!][0]!)
    }
    counts0.push(held[0]!.size)
    if (coupled && nAgents > 1) {
      // agent 1 holds as many domains as agent 0 held in the previous round
      const target = t > 0 ? counts0[t - 1]! : 1
      held[1] = new Set(DOMAINS.slice(0, target))
    }
    const snap: Record<string, string[]> = {}
    held.forEach((s, a) => {
      snap[String(a)] = [...s].sort()
    })
    out.push(snap)
  }
  return out
}

describe('adaptive parameters', () => {
  it('match the original adaptive_k and adaptive_bins examples (swarm.md A.6)', () => {
    expect([1, 5, 6, 9, 16, 50, 100, 200].map(adaptiveK)).toEqual([3, 3, 3, 3, 4, 7, 10, 10])
    expect(adaptiveBins([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe(4)
    expect(adaptiveBins([2, 2, 2, 2])).toBe(4)
    expect(adaptiveBins(Array.from({ length: 100 }, (_, i) => i))).toBe(5)
    expect(adaptiveBins([1])).toBe(4)
  })
})

describe('fast evaluators', () => {
  it('agree with the reference discrete MI and TE implementations', () => {
    const rng = createRng(12)
    const a = Array.from({ length: 200 }, () => rng.randbelow(4))
    const b = a.map((v) => (v + rng.randbelow(2)) % 4)
    const sa = symbolIds({ data: Float64Array.from(a), rows: 200, cols: 1 })
    const sb = symbolIds({ data: Float64Array.from(b), rows: 200, cols: 1 })
    const ev = createDiscreteMiEvaluator(sa.ids, sa.count, sb.ids, sb.count, true)
    expect(ev()).toBeCloseTo(discreteMutualInformation(a, b), 12)
    const p = prepareTransferEntropy(a, b, { k: 2, bins: 4 })!
    const te = createTeEvaluator(p, { k: 2, bins: 4 })
    expect(te()).toBeCloseTo(transferEntropyFromPrepared(p), 12)
    const rows = Array.from({ length: p.rows }, (_, i) => (i * 7) % p.rows)
    expect(te(p.ap, rows)).toBeCloseTo(transferEntropyFromPrepared(p, {}, p.ap, rows), 12)
  })
})

describe('readSwarmHistory', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plora-netit-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  it('reads a §8.5 history file and rejects malformed ones with IT_HISTORY_INVALID', async () => {
    const good = join(dir, 'history.json')
    await writeFile(good, JSON.stringify(buildHistory(3, 3, 1)))
    expect((await readSwarmHistory(good)).length).toBe(3)
    const cases: Array<[string, string]> = [
      ['not-json.json', '{'],
      ['wrong-shape.json', JSON.stringify([{ '0': 'legal' }])],
      ['bad-id.json', JSON.stringify([{ a: ['legal'] }])],
      ['empty.json', '[]'],
      ['agents-change.json', JSON.stringify([{ '0': [] }, { '1': [] }])],
    ]
    for (const [name, text] of cases) {
      await writeFile(join(dir, name), text)
      await expect(readSwarmHistory(join(dir, name)), name).rejects.toMatchObject({ code: 'IT_HISTORY_INVALID' })
    }
    await expect(readSwarmHistory(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'IT_HISTORY_INVALID' })
  })
})

describe('computeNetIt', () => {
  it('returns the original keys on a 3-agent, 3-round history (swarm test (e))', () => {
    const r = computeNetIt(buildHistory(3, 3, 2, false), { nBoot: 50, nPerm: 16 }, { fdr: bh })
    expect(r.agents).toEqual([0, 1, 2])
    expect(r.mi_matrix.length).toBe(3)
    expect(r.te_matrix.length).toBe(3)
    for (const key of ['adaptive', 'mi_ci', 'mi_pvals', 'mi_bh', 'te_pvals', 'te_bh'] as const)
      expect(r).toHaveProperty(key)
  })

  it('gives a symmetric MI matrix, ordered TE pairs, and enough permutations for BH', () => {
    const r = computeNetIt(buildHistory(6, 40, 3), { nBoot: 50 }, { fdr: bh })
    for (let i = 0; i < 6; i++) {
      expect(r.mi_matrix[i]![i]).toBe(0)
      for (let j = 0; j < 6; j++) expect(r.mi_matrix[i]![j]).toBe(r.mi_matrix[j]![i])
    }
    expect(r.mi_pvals.length).toBe(15)
    expect(Object.keys(r.mi_ci).length).toBe(15)
    expect(r.te_pvals.length).toBe(30)
    expect(r.settings.min_p_te).toBeLessThan(0.05 / 30)
    expect(r.settings.min_p_mi).toBeLessThan(0.05 / 15)
    for (const [lo, hi] of Object.values(r.te_ci)) expect(lo).toBeLessThanOrEqual(hi)
  })

  it('finds the planted 0 → 1 coupling after FDR correction, and not 1 → 0', () => {
    const r = computeNetIt(buildHistory(5, 60, 4), { nBoot: 50 }, { fdr: bh })
    const pairIndex = (i: number, j: number) => r.te_pairs.findIndex(([a, b]) => a === i && b === j)
    const fwd = pairIndex(0, 1)
    const rev = pairIndex(1, 0)
    expect(r.te_pvals[fwd]).toBeLessThan(0.05 / 20)
    expect(r.te_bh.rejected[fwd]).toBe(true)
    expect(r.te_bh.rejected[rev]).toBe(false)
    expect(r.te_matrix[0]![1]).toBeGreaterThan(r.te_matrix[1]![0]!)
    expect(r.te_effective_matrix[0]![1]).toBeGreaterThan(0)
    // MI between 0 and 1 is large too (lagged copy of a slowly changing count)
    const mi01 = r.mi_pvals[r.mi_pairs.findIndex(([a, b]) => a === 0 && b === 1)]!
    expect(mi01).toBeLessThan(0.05)
  })

  it('is reproducible for a seed and changes with the seed', () => {
    const h = buildHistory(4, 20, 5)
    const a = computeNetIt(h, { nBoot: 30, seed: 1 }, { fdr: bh })
    expect(computeNetIt(h, { nBoot: 30, seed: 1 }, { fdr: bh })).toEqual(a)
    expect(computeNetIt(h, { nBoot: 30, seed: 2 }, { fdr: bh }).te_ci).not.toEqual(a.te_ci)
  })

  it('reports progress and rejects bad options with codes', () => {
    const events: string[] = []
    computeNetIt(buildHistory(3, 5, 6), { nBoot: 10 }, { fdr: bh, onProgress: (e) => events.push(e.status) })
    expect(events[0]).toBe('start')
    expect(events.at(-1)).toBe('done')
    expect(() => computeNetIt(buildHistory(3, 5, 6), { nBoot: 0 }, { fdr: bh })).toThrow(
      expect.objectContaining({ code: 'IT_ARGUMENT_INVALID' }),
    )
  })
})

describe('MI null under autocorrelation', () => {
  it('the block null flags fewer independent sticky series than a plain permutation', { timeout: 30_000 }, () => {
    // 8 independent agents whose domain count follows a sticky Markov chain on {1,2,3}
    const rng = createRng(31)
    const T = 60
    const counts = Array.from({ length: 8 }, () => {
      let c = 1 + rng.randbelow(3)
      return Array.from({ length: T }, () => {
        if (rng.random() > 0.9) c = 1 + rng.randbelow(3)
        return c
      })
    })
    const history: HistorySnapshot[] = Array.from({ length: T }, (_, t) =>
      Object.fromEntries(counts.map((s, a) => [String(a), DOMAINS.slice(0, s[t]!)])),
    )
    const small = (miNull: 'block' | 'permute', blockLength?: number) =>
      computeNetIt(
        history,
        { nBoot: 10, miNull, ...(blockLength ? { blockLength } : {}) },
        { fdr: bh },
      ).mi_pvals.filter((p) => p < 0.05).length
    // measured: permute 23/28, block (L = ⌈60^⅓⌉ = 4) 10/28, L = 15 0/28 — blocks must span the
    // series' memory (dwell time ≈ 10–15 here) for a calibrated null; hence the --block-length flag
    const perm = small('permute')
    const block = small('block')
    expect(block).toBeLessThan(perm)
    expect(small('block', 15)).toBeLessThan(block)
    // 28 independent pairs: a calibrated null gives ≈ 1.4 below 0.05
    expect(small('block', 15)).toBeLessThanOrEqual(4)
  })
})

describe('the stored 6-agent, 5-snapshot shape (swarm.md §14.7)', () => {
  it('gives adaptive {k: 3, bins: 4}, 15 MI pairs, 30 TE pairs and TE values such as ln2/2', () => {
    const h = JSON.parse(
      '[{"0":["arithmetic"],"1":["legal"],"2":["arithmetic","legal","medical"],"3":["arithmetic"],"4":["legal","medical"],"5":["medical"]},' +
        '{"0":["arithmetic","legal"],"1":["legal"],"2":["arithmetic","legal","medical"],"3":["arithmetic","medical"],"4":["legal","medical"],"5":["medical"]},' +
        '{"0":["arithmetic","legal","medical"],"1":["arithmetic","legal"],"2":["arithmetic","legal","medical"],"3":["arithmetic","medical"],"4":["arithmetic","legal","medical"],"5":["legal","medical"]},' +
        '{"0":["arithmetic","legal","medical"],"1":["arithmetic","legal","medical"],"2":["arithmetic","legal","medical"],"3":["arithmetic","legal","medical"],"4":["arithmetic","legal","medical"],"5":["legal","medical"]},' +
        '{"0":["arithmetic","legal","medical"],"1":["arithmetic","legal","medical"],"2":["arithmetic","legal","medical"],"3":["arithmetic","legal","medical"],"4":["arithmetic","legal","medical"],"5":["legal","medical"]}]',
    ) as HistorySnapshot[]
    const r = computeNetIt(h, { nBoot: 20 }, { fdr: bh })
    expect(r.adaptive).toEqual({ k: 3, bins: 4 })
    expect(r.mi_pvals.length).toBe(15)
    expect(r.te_pvals.length).toBe(30)
    expect(r.te_matrix.flat().some((v) => Math.abs(v - Math.LN2 / 2) < 1e-12)).toBe(true)
    // enough permutations that BH could reject with 30 tests (the original's 64 could not)
    expect(r.settings.min_p_te).toBeLessThan(0.05 / 30)
  })
})
