import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { moduleScale } from '@plora/peft'
import { encodeSafetensors } from '@plora/safetensors'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  adapterFeatures,
  parseAdapterConfig,
  populationRank,
  summarizeAdapterBytes,
  summarizeAdapterWeights,
} from '../../src/adapter-weights.js'
import { loadReputation, loadRevocations } from '../../src/context.js'
import { moduleUpdateStats } from '../../src/lora-stats.js'
import {
  computeReference,
  featureZScores,
  findPopulation,
  findPopulations,
  type GateReference,
  mahalanobis,
  readReference,
  referenceScores,
  writeReference,
} from '../../src/reference.js'
import { BASE, drawFactors, tempDir, writeAdapter } from '../helpers.js'

let tmp: { path: string; cleanup: () => Promise<void> }
let ref: GateReference
beforeAll(async () => {
  tmp = await tempDir('plora-gate-ref-')
  const dirs: string[] = []
  for (let i = 0; i < 10; i++) dirs.push(await writeAdapter(join(tmp.path, `c${i}`), { seed: 300 + i }))
  for (let i = 0; i < 4; i++) dirs.push(await writeAdapter(join(tmp.path, `r8-${i}`), { seed: 400 + i, r: 8 }))
  ref = await computeReference(dirs, { createdUnix: 1 })
})
afterAll(async () => {
  await tmp.cleanup()
})

describe('adapter weights', () => {
  it('reads PEFT pairs and computes the same statistics as the factors directly', async () => {
    const spec = { seed: 7, alpha: 16 }
    const dir = await writeAdapter(join(tmp.path, 'one'), spec)
    const s = await summarizeAdapterWeights(dir)
    expect(s.error).toBeNull()
    expect(s.ranks).toEqual([4])
    expect(s.suffixes).toEqual(['c_attn'])
    const f = drawFactors(spec)
    const first = [...f.values()][0]!
    const direct = moduleUpdateStats({ a: first.a, b: first.b, r: 4, inFeatures: 32, outFeatures: 96, scale: 16 / 4 })
    expect(s.modules[0]!.stats.spectral).toBeCloseTo(direct.spectral, 10)
    expect(s.modules[0]!.scale).toBe(4)
  })

  it('applies rsLoRA and alpha_pattern scaling as PEFT does (through @plora/peft)', () => {
    const cfg = parseAdapterConfig(
      JSON.stringify({
        peft_type: 'LORA',
        r: 16,
        lora_alpha: 32,
        use_rslora: true,
        alpha_pattern: { 'h.1.attn.c_attn': 8 },
      }),
    )!
    expect(moduleScale(cfg, 'transformer.h.0.attn.c_attn')).toBeCloseTo(32 / 4, 12)
    expect(moduleScale(cfg, 'transformer.h.1.attn.c_attn')).toBeCloseTo(8 / 4, 12)
    expect(parseAdapterConfig('not json')).toBeNull()
  })

  it('reports problems in sender data as errors instead of throwing', async () => {
    const cfg = parseAdapterConfig(JSON.stringify({ peft_type: 'LORA', r: 1, lora_alpha: 1 }))!
    const junk = await summarizeAdapterBytes(new TextEncoder().encode('dummy-legal-r4'), cfg)
    expect(junk.error).not.toBeNull()
    // the loader refuses an adapter without a config, so the gate does not guess s = 1 any more
    expect((await summarizeAdapterBytes(new TextEncoder().encode('x'), null)).errorCode).toBe('PEFT_CONFIG_INVALID')
    const unchained = encodeSafetensors({
      'base_model.model.m.lora_A.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) },
      'base_model.model.m.lora_B.weight': { dtype: 'F32', shape: [4, 3], data: new Float32Array(12) },
    })
    expect((await summarizeAdapterBytes(unchained, { ...cfg, r: 2 })).errorCode).toBe('PEFT_TENSORS_INVALID')
    const nan = encodeSafetensors({
      'base_model.model.m.lora_A.weight': { dtype: 'F32', shape: [1, 2], data: [Number.NaN, 1] },
      'base_model.model.m.lora_B.weight': { dtype: 'F32', shape: [2, 1], data: [1, 1] },
    })
    const bad = await summarizeAdapterBytes(nan, cfg)
    expect(bad.error).toMatch(/NaN/)
    expect(bad.updateInvalid).toBe(true)
    const pair = {
      'base_model.model.m.lora_A.weight': { dtype: 'F16', shape: [1, 2], data: [1, 0] },
      'base_model.model.m.lora_B.weight': { dtype: 'F16', shape: [2, 1], data: [2, 0] },
    } as const
    const ok = await summarizeAdapterBytes(encodeSafetensors(pair), cfg)
    expect(ok.error).toBeNull()
    expect(ok.modules[0]!.stats.spectral).toBeCloseTo(2, 6) // s = 1: B·A = [[2,0],[0,0]]
    // a tensor that is not a LoRA factor is refused by the loader, so by the gate too
    const extra = await summarizeAdapterBytes(
      encodeSafetensors({
        ...pair,
        'base_model.model.lm_head.weight': { dtype: 'F32', shape: [2, 2], data: [1, 2, 3, 4] },
      }),
      cfg,
    )
    expect(extra.errorCode).toBe('PEFT_TENSORS_INVALID')
    expect(extra.otherTensors).toEqual(['base_model.model.lm_head.weight'])
  })
})

describe('reference population', () => {
  it('groups clean adapters by base model, rank and targets', () => {
    expect(ref.populations.map((p) => [p.base_model, p.r, p.count])).toEqual([
      [BASE, 4, 10],
      [BASE, 8, 4],
    ])
    const pop = findPopulation(ref, { base_model: BASE, r: 4, targets: ['c_attn'] })!
    expect(Object.keys(pop.modules)).toHaveLength(3)
    expect(findPopulation(ref, { base_model: 'other', r: 4, targets: ['c_attn'] })).toBeNull()
  })

  it('round-trips through gate-ref.json and rejects a malformed file', async () => {
    const path = join(tmp.path, 'gate-ref.json')
    await writeReference(path, ref)
    expect(await readReference(path)).toEqual(ref)
    const raw = JSON.parse(await readFile(path, 'utf8'))
    raw.populations[0].mean.pop()
    await writeFile(path, JSON.stringify(raw))
    await expect(readReference(path)).rejects.toMatchObject({ code: 'GATE_REFERENCE_INVALID' })
    await writeFile(path, JSON.stringify({ schema: 'other' }))
    await expect(readReference(path)).rejects.toMatchObject({ code: 'GATE_REFERENCE_INVALID' })
  })

  it('scores the population mean at distance 0 and a scaled adapter far away', async () => {
    const pop = findPopulation(ref, { base_model: BASE, r: 4, targets: ['c_attn'] })!
    const meanFeatures = Object.fromEntries(ref.feature_names.map((f, i) => [f, pop.mean[i]!])) as never
    expect(mahalanobis(pop, meanFeatures)).toBeCloseTo(0, 9)
    const big = await summarizeAdapterWeights(await writeAdapter(join(tmp.path, 'big'), { seed: 999, bScale: 4 }))
    const z = featureZScores(pop, big.features!)
    expect(z.log_total_frobenius).toBeGreaterThan(10)
    expect(mahalanobis(pop, big.features!)).toBeGreaterThan(10)
    expect(adapterFeatures([])).toBeNull()
  })
  it('adds per-domain populations with byDomain and falls back to the pooled one for a rare domain', async () => {
    const dirs: string[] = []
    for (let i = 0; i < 4; i++)
      dirs.push(await writeAdapter(join(tmp.path, `dl${i}`), { seed: 500 + i, domain: 'legal' }))
    for (let i = 0; i < 2; i++)
      dirs.push(await writeAdapter(join(tmp.path, `dm${i}`), { seed: 600 + i, domain: 'medical' }))
    const pooledOnly = await computeReference(dirs, { createdUnix: 1 })
    expect(pooledOnly.populations.map((p) => [p.domain, p.count])).toEqual([[null, 6]])
    const byDomain = await computeReference(dirs, { createdUnix: 1, byDomain: true })
    expect(byDomain.populations.map((p) => [p.domain, p.count])).toEqual([
      [null, 6],
      ['legal', 4],
    ])
    const key = { base_model: BASE, r: 4, targets: ['c_attn'] }
    expect(findPopulation(byDomain, { ...key, domain: 'legal' })).toMatchObject({ domain: 'legal', count: 4 })
    // medical has 2 < minDomainCount samples: no population of its own, the pooled one answers
    expect(findPopulation(byDomain, { ...key, domain: 'medical' })).toMatchObject({ domain: null, count: 6 })
    expect(findPopulation(byDomain, key)).toMatchObject({ domain: null, count: 6 })
    // the legal population's statistics differ from the pooled ones (it is really fitted on its own samples)
    expect(findPopulation(byDomain, { ...key, domain: 'legal' })!.mean).not.toEqual(byDomain.populations[0]!.mean)
    // the gate's rule (issue 15 point 5): the pooled population always, the domain one in addition
    expect(findPopulations(byDomain, { ...key, domain: 'legal' })).toMatchObject({
      pooled: { domain: null, count: 6 },
      domain: { domain: 'legal', count: 4 },
    })
    expect(findPopulations(byDomain, { ...key, domain: 'no-such' })).toMatchObject({
      pooled: { count: 6 },
      domain: null,
    })
    expect(findPopulations(byDomain, { ...key, r: 8, domain: 'legal' })).toEqual({ pooled: null, domain: null })
    const big = await summarizeAdapterWeights(await writeAdapter(join(tmp.path, 'big-legal'), { seed: 998, bScale: 4 }))
    const both = referenceScores(
      byDomain,
      { ...key, domain: 'legal' },
      { features: big.features!, modules: big.modules },
    )!
    const pooled = referenceScores(byDomain, key, { features: big.features!, modules: big.modules })!
    expect(both.populations.map((p) => p.domain)).toEqual([null, 'legal'])
    expect(both.scores.norm_z).toBeGreaterThanOrEqual(pooled.scores.norm_z)
    expect(both.scores.mahalanobis).toBeGreaterThanOrEqual(pooled.scores.mahalanobis)
  })

  it('keys a mixed-rank adapter by its most common module rank (issue 15 point 4)', () => {
    expect(populationRank([{ r: 4 }, { r: 8 }, { r: 4 }])).toBe(4)
    expect(populationRank([{ r: 4 }, { r: 8 }])).toBe(8)
    expect(populationRank([])).toBeNull()
  })
})

describe('verifier trust files', () => {
  it('reads revocations (array or object of fingerprints) and reputation, rejecting free-text names', async () => {
    const fp = 'ab'.repeat(32)
    const p = join(tmp.path, 'rev.json')
    await writeFile(p, JSON.stringify([`SHA256:${fp.toUpperCase()}`]))
    expect(await loadRevocations(p)).toEqual(new Set([fp]))
    await writeFile(p, JSON.stringify({ [fp]: 2 }))
    expect(await loadRevocations(p)).toEqual(new Set([fp]))
    await writeFile(p, JSON.stringify({ 1: 2 }))
    await expect(loadRevocations(p)).rejects.toMatchObject({ code: 'GATE_TRUST_INVALID' })
    const r = join(tmp.path, 'rep.json')
    await writeFile(r, JSON.stringify({ [fp]: 0.8 }))
    expect(await loadReputation(r)).toEqual(new Map([[fp, 0.8]]))
    await writeFile(r, JSON.stringify({ 'demo-signer': 0.8 }))
    await expect(loadReputation(r)).rejects.toMatchObject({ code: 'GATE_TRUST_INVALID' })
    await writeFile(r, JSON.stringify({ [fp]: 1.5 }))
    await expect(loadReputation(r)).rejects.toMatchObject({ code: 'GATE_TRUST_INVALID' })
  })
})
