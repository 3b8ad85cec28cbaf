// `plora probes calibrate --workers 2` (issue 20 item 3): the population's members train on two
// worker threads of the built CLI (Node 20 cannot start workers from .ts sources) and come out
// byte for byte as a one-thread run trains them; ranks cycle over the members, both halves alike
// (the plan's balance over kinds and schemes is unit-tested in packages/experiments).
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useTinyModelProject } from './helpers.js'

const REPO = join(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')
const project = useTinyModelProject('plora-population-workers-')

function calibrate(dir: string, workers: number) {
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'probes',
      'calibrate',
      '--base-model',
      project.modelDir,
      '--population-dir',
      join(dir, 'pop'),
      '--out',
      join(dir, 'probes_calib.json'),
      '--reference-out',
      join(dir, 'gate-ref.json'),
      '--clean',
      '8',
      '--poisoned',
      '4',
      '--domains',
      'legal',
      '--samples',
      '4',
      '--epochs',
      '1',
      '--ranks',
      '1,2',
      '--schemes',
      'attention',
      '--probes-max',
      '2',
      '--bootstrap',
      '50',
      '--workers',
      String(workers),
    ],
    { env: process.env, encoding: 'utf8', timeout: 200_000 },
  )
  return { code: r.status, err: r.stderr, out: r.stdout }
}

describe('gate population on worker threads', () => {
  it('trains every member as one thread does, with ranks and schemes cycled over both halves and kinds', () => {
    const one = join(project.path, 'one')
    const two = join(project.path, 'two')
    const r1 = calibrate(one, 1)
    expect(r1.err).not.toMatch(/Error/)
    expect(r1.code, r1.err.slice(-2000)).toBe(0)
    const r2 = calibrate(two, 2)
    expect(r2.err).not.toMatch(/Error/)
    expect(r2.code, r2.err.slice(-2000)).toBe(0)
    const ids = readdirSync(join(one, 'pop'))
      .filter((f) => f.endsWith('.member.json'))
      .map((f) => f.replace('.member.json', ''))
      .sort()
    expect(ids).toHaveLength(12)
    const members = ids.map(
      (id) =>
        JSON.parse(readFileSync(join(one, 'pop', `${id}.member.json`), 'utf8')).member as {
          kind: string
          half: string
          rank: number
          scheme: string
        },
    )
    for (const half of ['calibration', 'evaluation']) {
      const group = members.filter((m) => m.kind === 'clean' && m.half === half)
      expect(group.map((m) => m.rank).sort(), half).toEqual([1, 1, 2, 2])
    }
    expect(new Set(members.map((m) => m.scheme))).toEqual(new Set(['attention']))
    for (const id of ids) {
      const m = members[ids.indexOf(id)]!
      const cfg = JSON.parse(readFileSync(join(one, 'pop', id, 'adapter_config.json'), 'utf8'))
      expect(cfg.r, id).toBe(m.rank)
      expect(readFileSync(join(two, 'pop', id, 'adapter_model.safetensors')), id).toEqual(
        readFileSync(join(one, 'pop', id, 'adapter_model.safetensors')),
      )
      expect(readFileSync(join(two, 'pop', `${id}.member.json`), 'utf8')).toBe(
        readFileSync(join(one, 'pop', `${id}.member.json`), 'utf8'),
      )
    }
    // the calibration is the same too (it reads the same adapters)
    const strip = (f: string) => {
      const j = JSON.parse(readFileSync(f, 'utf8'))
      delete j.created_at
      delete j.created_unix
      if (j.provenance) delete j.provenance.calibration_report // the two runs' own paths
      return j
    }
    expect(strip(join(two, 'gate-ref.json'))).toEqual(strip(join(one, 'gate-ref.json')))
  }, 420_000)
})
