import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { allFigures, loadFigureInputs, writeFigures } from '../../src/figures/index.js'
import { placeholderFigure } from '../../src/figures/render.js'
import { writeReport } from '../../src/figures/report.js'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'figures')
const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'plora-figures-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A results folder from the fixtures (a real small sweep, one swarm v2 report, its summary). */
async function fixtureResults(dir: string): Promise<void> {
  await mkdir(join(dir, 'value_add'), { recursive: true })
  await copyFile(join(FIXTURES, 'value_add.jsonl'), join(dir, 'value_add', 'value_add.jsonl'))
  for (const f of ['thesis_sweep.jsonl', 'swarm_v2_report_seed7.json', 'summary_v2.json'])
    await copyFile(join(FIXTURES, f), join(dir, f))
}

describe('writeFigures', () => {
  it('draws every figure of an empty results folder as a labelled placeholder, SVG and PNG', async () => {
    const dir = tmp()
    const figures = allFigures(await loadFigureInputs(join(dir, 'absent')))
    expect(figures.every((f) => f.placeholder)).toBe(true)
    const written = await writeFigures(figures, join(dir, 'figures'))
    for (const w of written) {
      expect(readFileSync(w.svg, 'utf8')).toContain('No data')
      expect(readFileSync(w.png).subarray(1, 4).toString()).toBe('PNG')
    }
    expect(written.map((w) => w.name)).toContain('value_add_summary')
  })

  it('turns a figure that cannot be drawn into a placeholder instead of failing the set', async () => {
    const dir = tmp()
    const bad = {
      ...placeholderFigure('broken', 'Broken', 'x'),
      placeholder: false,
      spec: { mark: 'nonsense' } as never,
    }
    const [w] = await writeFigures([bad], dir)
    expect(w!.placeholder).toBe(true)
    expect(w!.caption).toMatch(/could not be drawn/)
    expect(existsSync(join(dir, 'broken.png'))).toBe(true)
  })
})

describe('writeReport', () => {
  it('writes one self-contained page: config, tables, every figure as a data: URI, relative raw-file links', async () => {
    const dir = tmp()
    await fixtureResults(dir)
    const r = await writeReport({
      resultsDir: dir,
      config: { path: 'config/plora.dry.yml', value: { domains: ['legal'] } },
    })
    const html = readFileSync(r.path, 'utf8')
    expect(r.tables).toEqual(['value-add', 'sweep'])
    const imgs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!)
    expect(imgs).toHaveLength(r.figures.length)
    expect(imgs.every((s) => s.startsWith('data:image/svg+xml;base64,'))).toBe(true)
    // nothing loads from the network
    expect(html).not.toMatch(/(src|href)="https?:/)
    expect(html).toContain('<a href="thesis_sweep.jsonl">')
    expect(html).toContain('<a href="figures/spectral_convergence.png">')
    expect(html).toContain('&quot;domains&quot;')
    expect(html).toMatch(/<table>[\s\S]*<th>topology<\/th>/)
    const placeholders = r.figures.filter((f) => f.placeholder).map((f) => f.name)
    expect(placeholders).toEqual(['gate_roc', 'gate_performance', 'sample_er_n40', 'convergence_analysis', 'ablation'])
  })

  it("shows each study's Markdown table where the study wrote one, a placeholder line where not", async () => {
    const dir = tmp()
    await fixtureResults(dir)
    await mkdir(join(dir, 'alt_train_merge'), { recursive: true })
    writeFileSync(join(dir, 'alt_train_merge', 'convergence.md'), '| cycle | α |\n| --- | --- |\n| 1 | 0.75 |\n')
    writeFileSync(join(dir, 'merge_gate_study.md'), '| method | catch rate |\n| --- | --- |\n| ties | 4/6 |\n')
    const r = await writeReport({ resultsDir: dir, config: { path: 'c.yml', value: {} } })
    expect(r.tables).toEqual(['value-add', 'sweep', 'convergence', 'merge-gate'])
    const html = readFileSync(r.path, 'utf8')
    expect(html).toMatch(/<section id="convergence">[\s\S]*<td>0\.75<\/td>/)
    expect(html).toMatch(/<section id="merge-gate">[\s\S]*<td>4\/6<\/td>/)
    expect(html).toMatch(
      /<section id="ablation">[\s\S]*run `make ablation`|<section id="ablation">[\s\S]*run <code>make ablation<\/code>/,
    )
    expect(html).toContain('make compare-adapters')
  })
})
