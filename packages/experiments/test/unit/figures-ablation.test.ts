import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readAblationRecords } from '../../src/ablation.js'
import { ablationData, ablationFigure } from '../../src/figures/ablation.js'
import { allFigures, loadFigureInputs } from '../../src/figures/index.js'
import { renderSvg } from '../../src/figures/render.js'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'figures')
type Spec = {
  datasets: Record<string, unknown[]>
  facet: { column: { field: string; sort: string[] } }
  resolve: unknown
  spec: { layer: Array<{ mark: { type: string }; encoding: Record<string, { field?: string; scale?: unknown }> }> }
}

describe('ablation figure (golden)', () => {
  it('gives the spec one row per cell: ΔNLL and CI per domain, rank, scheme, sorted; significance = Holm p < 0.05 and Δ < 0', async () => {
    const records = await readAblationRecords(join(FIXTURES, 'ablation.jsonl'))
    const rows = ablationData(records)
    expect(rows).toEqual([
      {
        domain: 'legal',
        rank: 1,
        scheme: 'attention',
        delta: -0.01,
        lo: -0.02,
        hi: 0,
        p_holm: 0.06,
        significant: false,
      },
      { domain: 'legal', rank: 1, scheme: 'mlp', delta: 0.004, lo: -0.001, hi: 0.009, p_holm: 0.3, significant: false },
      {
        domain: 'legal',
        rank: 4,
        scheme: 'attention',
        delta: -0.03,
        lo: -0.05,
        hi: -0.02,
        p_holm: 0.2,
        significant: false,
      },
      { domain: 'legal', rank: 4, scheme: 'mlp', delta: -0.02, lo: -0.03, hi: -0.01, p_holm: 0.01, significant: true },
      {
        domain: 'medical',
        rank: 4,
        scheme: 'attention',
        delta: -0.3,
        lo: -0.6,
        hi: -0.1,
        p_holm: 0.04,
        significant: true,
      },
      { domain: 'medical', rank: 4, scheme: 'all', delta: -0.8, lo: -1.1, hi: -0.5, p_holm: 0.001, significant: true },
    ])
    const f = ablationFigure(records)
    expect(f.placeholder).toBe(false)
    const spec = f.spec as unknown as Spec
    expect(spec.datasets.cells).toEqual(rows)
    // faceted by domain, each facet with its own y scale
    expect(spec.facet.column).toMatchObject({ field: 'domain', sort: ['legal', 'medical'] })
    expect(spec.resolve).toEqual({ scale: { y: 'independent' } })
    const bars = spec.spec.layer.find((l) => l.mark.type === 'errorbar')!
    expect([bars.encoding.x!.field, bars.encoding.y!.field, bars.encoding.y2!.field]).toEqual(['rank', 'lo', 'hi'])
    expect(bars.encoding.color).toMatchObject({
      field: 'scheme',
      scale: { domain: ['attention', 'mlp', 'all'], range: ['#0072B2', '#D55E00', '#009E73'] },
    })
    const svg = await renderSvg(f.spec)
    expect(svg).toContain('medical')
    expect(svg).toContain('LoRA rank')
  })

  it('is a placeholder without records, and is read from <results>/ablation.jsonl by the figure set', async () => {
    expect(ablationFigure([]).placeholder).toBe(true)
    const figs = allFigures(await loadFigureInputs(FIXTURES))
    const f = figs.find((x) => x.name === 'ablation')!
    expect(f.placeholder).toBe(false)
    expect((f.spec as unknown as Spec).datasets.cells).toHaveLength(6)
  })
})
