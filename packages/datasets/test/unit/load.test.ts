import { describe, expect, it } from 'vitest'
import { loadDomainDataset, loadPairs, prepareDatasets, splitPairs } from '../../src/index.js'

describe('loadDomainDataset on embedded sources', () => {
  it('gives disjoint train/validation/test splits for every embedded domain', async () => {
    for (const domain of ['arithmetic', 'legal', 'medical', 'science']) {
      const [train, val, test] = await Promise.all(
        (['train', 'validation', 'test'] as const).map((split) => loadDomainDataset(domain, { split, validate: true })),
      )
      const q = (d: typeof train) => new Set(d!.pairs.map((p) => p.question))
      const tq = q(train)
      for (const other of [val, test])
        for (const p of other!.pairs) expect(tq.has(p.question), `${domain}: ${p.question}`).toBe(false)
      expect(val!.pairs.length, domain).toBeGreaterThan(50)
      expect(train!.pairs.length, domain).toBeGreaterThan(val!.pairs.length)
      expect(train!.source).toEqual({ type: 'embedded', name: domain })
    }
  })

  it('caps to a prefix: --samples 32 ⊂ --samples 64, and the split of each pair is unchanged', async () => {
    const small = await loadPairs('legal', { split: 'validation', samples: 32 })
    const big = await loadDomainDataset('legal', { split: 'validation', samples: 64 })
    expect(small).toHaveLength(32)
    expect(big.pairs.slice(0, 32)).toEqual(small)
    expect(big.available).toBeGreaterThan(64)
    const all = splitPairs([...(await loadPairs('legal', { split: 'train' })), ...big.pairs])
    for (const p of small) expect(all.validation).toContainEqual(p)
  })

  it('is reproducible, and the generator seed changes the arithmetic problems', async () => {
    const a = await loadPairs('arithmetic', { split: 'train', samples: 20 })
    expect(await loadPairs('arithmetic', { split: 'train', samples: 20 })).toEqual(a)
    expect(await loadPairs('arithmetic', { split: 'train', samples: 20, seed: 1 })).not.toEqual(a)
  })

  it('rejects unknown domains and splits with the known values listed', async () => {
    const err = await loadDomainDataset('poetry').catch((e) => e)
    expect(err).toMatchObject({ code: 'DATASETS_DOMAIN_UNKNOWN' })
    expect(err.message).toContain('arithmetic, legal, medical, science')
    await expect(loadDomainDataset('legal', { split: 'dev' as never })).rejects.toMatchObject({
      code: 'DATASETS_SPLIT_INVALID',
    })
    await expect(
      loadDomainDataset('arithmetic', {
        sources: {
          arithmetic: {
            type: 'hf',
            dataset: 'deepmind/aqua_rat',
            revision: 'main',
            pairs: 'aqua_rat',
            question: 'q',
            answer: 'a',
          },
        },
      }),
    ).rejects.toMatchObject({ code: 'DATASETS_OPTIONS_INVALID' })
  })

  it('prepares every (split, domain) with splits outermost', async () => {
    const out = await prepareDatasets(['arithmetic', 'medical'], ['train', 'validation'], { samples: 8 })
    expect(out.map((d) => `${d.split}/${d.domain}/${d.pairs.length}`)).toEqual([
      'train/arithmetic/8',
      'train/medical/8',
      'validation/arithmetic/8',
      'validation/medical/8',
    ])
  })
})
