// The convergence figure's data (golden, from a hand-written convergence.json in plora's format,
// one rejected cycle and one missing NLL) and its fallbacks: the original's bare
// `{"param_delta_fro": [...]}` and a placeholder when there is no file.
import { mkdtempSync, rmSync } from 'node:fs'
import { cp, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { convergenceDeltaData, convergenceFigure, convergenceNllData } from '../../src/figures/convergence.js'
import { allFigures, loadFigureInputs } from '../../src/figures/index.js'
import { renderSvg } from '../../src/figures/render.js'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'figures')
const datasets = (f: { spec: unknown }) => (f.spec as { datasets: Record<string, unknown[]> }).datasets

async function loadFixture() {
  const dir = mkdtempSync(join(tmpdir(), 'plora-fig-conv-'))
  await mkdir(join(dir, 'alt_train_merge'))
  await cp(join(FIXTURES, 'convergence.json'), join(dir, 'alt_train_merge', 'convergence.json'))
  try {
    return await loadFigureInputs(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('convergence figure data (golden)', () => {
  it('NLL per domain and cycle from cycle 0 (the base) and its change from the base; a missing value is left out, not 0', async () => {
    const r = (await loadFixture()).convergence!
    expect(convergenceNllData(r)).toEqual([
      { cycle: 0, domain: 'legal', nll: 4.4, delta_vs_base: 0 },
      { cycle: 0, domain: 'medical', nll: 4.3, delta_vs_base: 0 },
      { cycle: 1, domain: 'legal', nll: 4.2, delta_vs_base: 4.2 - 4.4 },
      { cycle: 1, domain: 'medical', nll: 4.25, delta_vs_base: 4.25 - 4.3 },
      { cycle: 2, domain: 'legal', nll: 4.2, delta_vs_base: 4.2 - 4.4 },
      { cycle: 2, domain: 'medical', nll: 4.25, delta_vs_base: 4.25 - 4.3 },
      { cycle: 3, domain: 'legal', nll: 4.1, delta_vs_base: 4.1 - 4.4 },
    ])
  })

  it('param_delta_fro per cycle with the chosen α; a rejected merge is a 0 bar with α = 0', async () => {
    const r = (await loadFixture()).convergence!
    expect(convergenceDeltaData(r)).toEqual([
      { cycle: 1, transition: '0→1', param_delta_fro: 0.05, alpha: 1, accepted: true },
      { cycle: 2, transition: '1→2', param_delta_fro: 0, alpha: 0, accepted: false },
      { cycle: 3, transition: '2→3', param_delta_fro: 0.02, alpha: 0.5, accepted: true },
    ])
    const f = convergenceFigure(r)
    expect(f.placeholder).toBe(false)
    expect(datasets(f)).toEqual({ nll: convergenceNllData(r), deltas: convergenceDeltaData(r) })
    expect(f.caption).toContain('test split')
    expect(await renderSvg(f.spec)).toContain('Held-out NLL − base NLL (test split)')
  })

  it('draws only the deltas for the original format, and a placeholder without a file', async () => {
    const original = convergenceFigure({ param_delta_fro: [0.9, 0.2] })
    expect(original.placeholder).toBe(false)
    expect(datasets(original).nll).toEqual([])
    expect(datasets(original).deltas).toEqual([
      { cycle: 1, transition: '0→1', param_delta_fro: 0.9, alpha: null, accepted: null },
      { cycle: 2, transition: '1→2', param_delta_fro: 0.2, alpha: null, accepted: null },
    ])
    const empty = await loadFigureInputs(join(tmpdir(), 'plora-no-such-results-dir'))
    expect(empty.convergence).toBeNull()
    const fig = allFigures(empty).find((x) => x.name === 'convergence_analysis')!
    expect(fig.placeholder).toBe(true)
    expect(fig.caption).toContain('make alt-train-merge')
    // the real figure takes the placeholder's place in the set
    expect(allFigures(await loadFixture()).find((x) => x.name === 'convergence_analysis')!.placeholder).toBe(false)
  })
})
