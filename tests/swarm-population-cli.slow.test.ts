// `plora swarm v2 --adapters population` end to end: a tiny gate population (6 clean + 6 poisoned
// adapters, 4 pairs, one epoch, rank 1) trained and calibrated by `plora probes calibrate`, then a
// 6-agent swarm whose adapters are drawn from the population's evaluation half and vetted by the
// calibrated gate with behavioural probes on the base model. The report's FN/FP counts (per
// distinct artefact and per offer) and their exact intervals are recomputed here from the
// per-artefact verdicts and the ground-truth member records; a missing folder and a domain without
// members are refused with their codes.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { runCli, useTinyModelProject } from './helpers.js'

const project = useTinyModelProject('plora-swarm-population-')
const p = (name: string) => join(project.path, name)
let swarmFlags: string[]

beforeAll(async () => {
  const cal = await runCli(
    'probes',
    'calibrate',
    '--population-dir',
    p('pop'),
    '--base-model',
    project.modelDir,
    '--clean',
    '6',
    '--poisoned',
    '6',
    '--domains',
    'legal,medical,arithmetic',
    '--samples',
    '4',
    '--epochs',
    '1',
    '--rank',
    '1',
    '--scheme',
    'attention',
    '--probes-max',
    '2',
    '--bootstrap',
    '50',
    '--out',
    p('calib.json'),
    '--reference-out',
    p('ref.json'),
  )
  expect(cal.code, cal.err).toBe(0)
  swarmFlags = [
    'swarm',
    'v2',
    '--adapters',
    'population',
    '--population-dir',
    p('pop'),
    '--reference-file',
    p('ref.json'),
    '--probes-calib',
    p('calib.json'),
    '--base-model',
    project.modelDir,
    '--domains',
    'legal,medical,arithmetic',
    '--agents',
    '6',
    '--rounds',
    '3',
    '--trojan-rate',
    '0.5',
    '--seed',
    '3',
  ]
}, 240_000)

/** P(X ≤ k) for X ~ Binomial(n, p), summed directly (the small n here). */
function binomialCdf(k: number, n: number, p: number): number {
  let s = 0
  let c = 1
  for (let i = 0; i <= k; i++) {
    s += c * p ** i * (1 - p) ** (n - i)
    c = (c * (n - i)) / (i + 1)
  }
  return s
}

interface Rate {
  count: number
  n: number
  rate: number | null
  ci95: [number, number] | null
}

interface Artefact {
  member: string
  domain: string
  poisoned: boolean
  trigger_in_probe_set: boolean | null
  half: string
  passed: boolean
  reasons: string[]
  offers: number
}

describe('plora swarm v2 --adapters population', () => {
  it('gates each drawn evaluation-half adapter once; FN/FP match a recomputation from the verdicts and ground truth', async () => {
    const r = await runCli(...swarmFlags, '--report-dir', p('out'))
    expect(r.code, r.err).toBe(0)
    const report = JSON.parse(readFileSync(p('out/swarm_v2_report_seed3.json'), 'utf8'))
    expect(report.meta.adapters).toBe('population')
    expect(report.meta.security).toBe(true)
    const gate = report.final.gate
    const arts: Artefact[] = gate.artefacts
    // every distinct artefact is gated exactly once, and all come from the evaluation half
    expect(gate.gate_evaluations).toBe(arts.length)
    expect(report.meta.population.drawn_from_calibration_half).toBe(0)
    const calib = JSON.parse(readFileSync(p('calib.json'), 'utf8'))
    const calibIds = new Set(calib.members.map((m: { id: string }) => m.id))
    for (const a of arts) expect(calibIds.has(a.member), a.member).toBe(false)
    // ground truth from the member records, never from the report's own labels
    const truth = new Map<string, { kind: string; domain: string; seen: boolean | null; half: string }>()
    for (const a of arts) {
      const rec = JSON.parse(readFileSync(join(p('pop'), `${a.member}.member.json`), 'utf8')).member
      truth.set(a.member, {
        kind: rec.kind,
        domain: rec.domain,
        seen: rec.poison ? rec.poison.trigger_in_probe_set : null,
        half: rec.half,
      })
    }
    for (const a of arts) {
      const t = truth.get(a.member)!
      expect(a.poisoned, a.member).toBe(t.kind === 'poisoned')
      expect(a.domain).toBe(t.domain)
      expect(t.half).toBe('evaluation')
    }
    // seed 3 draws trojans for agents 0, 2, 5 (legal, arithmetic): both kinds, both trigger kinds
    const poisoned = arts.filter((a) => truth.get(a.member)!.kind === 'poisoned')
    const clean = arts.filter((a) => truth.get(a.member)!.kind === 'clean')
    expect(poisoned.length).toBeGreaterThan(0)
    expect(clean.length).toBeGreaterThan(0)
    expect(report.meta.trojans).toEqual([0, 2, 5])
    const e = gate.error_rates
    expect(e.distinct).toEqual({ clean: clean.length, poisoned: poisoned.length })
    expect(report.meta.population.drawn).toEqual({ clean: clean.length, poisoned: poisoned.length })
    // the offers of the artefacts add up to the run's offers
    expect(arts.reduce((s, a) => s + a.offers, 0)).toBe(report.final.offers)
    const check = (got: Rate, k: number, n: number) => {
      expect(got.count).toBe(k)
      expect(got.n).toBe(n)
      if (n === 0) return expect(got.ci95).toBeNull()
      expect(got.rate).toBe(k / n)
      // the exact interval's defining tails: P(X ≥ k | lo) = P(X ≤ k | hi) = 2.5 %
      const [lo, hi] = got.ci95!
      if (k === 0) expect(lo).toBe(0)
      else expect(1 - binomialCdf(k - 1, n, lo)).toBeCloseTo(0.025, 6)
      if (k === n) expect(hi).toBe(1)
      else expect(binomialCdf(k, n, hi)).toBeCloseTo(0.025, 6)
    }
    const sum = (xs: Artefact[], w: (a: Artefact) => number) => xs.reduce((s, a) => s + w(a), 0)
    for (const [unit, w] of [
      ['per_artefact', () => 1],
      ['per_offer', (a: Artefact) => a.offers],
    ] as const) {
      const fnOf = (xs: Artefact[]) => [
        sum(
          xs.filter((a) => a.passed),
          w,
        ),
        sum(xs, w),
      ]
      const [fn, pn] = fnOf(poisoned)
      check(e[unit].false_negatives, fn!, pn!)
      const fp = sum(
        clean.filter((a) => !a.passed),
        w,
      )
      check(e[unit].false_positives, fp, sum(clean, w))
      const [fs, ns] = fnOf(poisoned.filter((a) => truth.get(a.member)!.seen === true))
      check(e[unit].fn_trigger_in_probe_set, fs!, ns!)
      const [fu, nu] = fnOf(poisoned.filter((a) => truth.get(a.member)!.seen === false))
      check(e[unit].fn_trigger_not_in_probe_set, fu!, nu!)
    }
    // per-offer counts agree with the simulator's own per-offer gate counters
    expect(e.per_offer.false_positives.count).toBe(gate.rejected_clean_total)
    expect(e.per_offer.false_negatives.n - e.per_offer.false_negatives.count).toBe(gate.rejected_trojan_total)
    // rejection reasons per distinct artefact
    const reasons: Record<string, number> = {}
    for (const a of arts) for (const x of new Set(a.reasons)) reasons[x] = (reasons[x] ?? 0) + 1
    expect(e.rejection_reasons_per_artefact).toEqual(reasons)
    // the probes ran on every artefact (the calibrated gate, not the weights alone)
    expect(gate.detectors.probes.judged).toBe(arts.length)
    // verdicts are deterministic: a second run gives the same gate section
    const again = await runCli(...swarmFlags, '--report-dir', p('out-again'))
    expect(again.code, again.err).toBe(0)
    expect(JSON.parse(readFileSync(p('out-again/swarm_v2_report_seed3.json'), 'utf8')).final.gate).toEqual(gate)
    expect(r.out).toContain(
      `Gate on ${clean.length} clean + ${poisoned.length} poisoned adapters: FN ${e.per_artefact.false_negatives.count}/${poisoned.length}`,
    )
    const md = readFileSync(p('out/swarm_v2_report_seed3.md'), 'utf8')
    expect(md).toContain('| false negatives (poisoned accepted) |')
    expect(md).toContain('evaluation half')
  }, 180_000)

  it('refuses a missing population folder and a domain without members', async () => {
    const missing = await runCli(...swarmFlags, '--population-dir', p('nope'), '--report-dir', p('out2'))
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('[SWARM_POPULATION_NOT_FOUND]')
    expect(missing.err).toContain(p('nope'))
    const domain = await runCli(...swarmFlags, '--domains', 'legal,code', '--report-dir', p('out3'))
    expect(domain.code).toBe(1)
    expect(domain.err).toContain('[SWARM_POPULATION_DOMAIN_EMPTY]')
    expect(domain.err).toContain('"code"')
  }, 120_000)
})
