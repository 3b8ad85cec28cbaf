import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { main } from '../../src/index.js'

// `plora net-it` / `plora mine-calib` in-process (engineer B's command group, commands/it.ts).
let dir = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-it-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})
afterEach(() => vi.restoreAllMocks())

function capture(): { out: () => string; err: () => string } {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  return {
    out: () => out.mock.calls.map((c) => String(c[0])).join(''),
    err: () => err.mock.calls.map((c) => String(c[0])).join(''),
  }
}

describe('plora net-it', () => {
  it('writes net_it_metrics.json with the original keys plus the new ones', async () => {
    const history = Array.from({ length: 8 }, (_, t) => ({
      '0': ['arithmetic', 'legal', 'medical'].slice(0, 1 + (t % 3)),
      '1': ['legal', 'medical'].slice(0, 1 + ((t + 1) % 2)),
      '2': ['medical'],
    }))
    const hist = join(dir, 'history.json')
    const out = join(dir, 'net_it_metrics.json')
    await writeFile(hist, JSON.stringify(history))
    const io = capture()
    expect(
      await main(['node', 'plora', 'net-it', '--history', hist, '--out', out, '--boot', '20', '--perm', '16']),
    ).toBe(0)
    expect(io.out()).toMatch(/net-it: 3 agents, 8 snapshots; MI discoveries \d+\/3, TE discoveries \d+\/6/)
    const r = JSON.parse(await readFile(out, 'utf8'))
    for (const key of [
      'agents',
      'adaptive',
      'mi_matrix',
      'mi_ci',
      'mi_pvals',
      'mi_bh',
      'te_matrix',
      'te_pvals',
      'te_bh',
      'te_ci',
      'settings',
    ]) {
      expect(r, key).toHaveProperty(key)
    }
    expect(r.agents).toEqual([0, 1, 2])
    expect(r.settings.n_perm_te).toBeGreaterThanOrEqual(Math.ceil(6 / 0.05))
  })

  it('fails with exit 1 and the error code on a malformed history', async () => {
    const bad = join(dir, 'bad.json')
    await writeFile(bad, JSON.stringify({ rounds: 3 }))
    const io = capture()
    expect(await main(['node', 'plora', 'net-it', '--history', bad, '--out', join(dir, 'x.json')])).toBe(1)
    expect(io.err()).toMatch(/^plora net-it: .*\[IT_HISTORY_INVALID\]\n$/)
  })

  it('rejects an unknown estimator as a usage error', async () => {
    capture()
    expect(await main(['node', 'plora', 'net-it', '--history', 'h.json', '--mi-estimator', 'nope'])).toBe(2)
  })
})

describe('plora mine-calib', () => {
  it('writes the calibration report including the truth', async () => {
    const out = join(dir, 'mine_calib.json')
    const io = capture()
    vi.stubEnv('PLORA_BACKEND', 'wasm')
    const code = await main([
      'node',
      'plora',
      'mine-calib',
      '--rho',
      '0.8',
      '--n',
      '400',
      '--epochs',
      '2',
      '--batch-size',
      '128',
      '--out',
      out,
    ])
    vi.unstubAllEnvs()
    expect(code, io.err()).toBe(0)
    expect(io.out()).toMatch(/^MINE estimate: -?\d+\.\d{3} nats \(truth 1\.022/)
    const r = JSON.parse(await readFile(out, 'utf8'))
    expect(r).toMatchObject({ rho: 0.8, dims: 2, n: 400, epochs: 2 })
    expect(r.mi_true).toBeCloseTo(1.0216512475319814, 12)
  })
})
