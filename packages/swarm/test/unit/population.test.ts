import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { POPULATION_MEMBER_FORMAT, populationPool, readPopulation } from '../../src/index.js'

let dir: string

function record(id: string, kind: 'clean' | 'poisoned', half: 'calibration' | 'evaluation', domain: string) {
  return {
    format: POPULATION_MEMBER_FORMAT,
    member: {
      id,
      kind,
      half,
      domain,
      seed: 1,
      samples: 4,
      poison: kind === 'poisoned' ? { rate: 0.2, trigger: 'kq', payload: 'x', trigger_in_probe_set: false } : null,
    },
    training: { samples: 4, epochs: 1, rank: 1, scheme: 'attention' },
    base_model: 'embedded',
    base_weights_sha256: '0'.repeat(64),
  }
}

async function member(rec: ReturnType<typeof record> | Record<string, unknown> | string, id: string, folder = true) {
  await writeFile(join(dir, `${id}.member.json`), typeof rec === 'string' ? rec : JSON.stringify(rec))
  if (folder) {
    await mkdir(join(dir, id), { recursive: true })
    await writeFile(join(dir, id, 'plora.yml'), 'schema_version: 0\n')
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-swarm-population-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('readPopulation', () => {
  it('reads the members, keeps the evaluation half by default, and pools by domain and kind', async () => {
    await member(record('clean-000-legal', 'clean', 'calibration', 'legal'), 'clean-000-legal')
    await member(record('clean-001-legal', 'clean', 'evaluation', 'legal'), 'clean-001-legal')
    await member(record('poisoned-001-legal', 'poisoned', 'evaluation', 'legal'), 'poisoned-001-legal')
    const pop = await readPopulation(dir)
    expect(pop.all.map((m) => m.id)).toEqual(['clean-000-legal', 'clean-001-legal', 'poisoned-001-legal'])
    expect(pop.eligible.map((m) => m.id)).toEqual(['clean-001-legal', 'poisoned-001-legal'])
    expect(pop.eligible[1]!.poison).toEqual({ rate: 0.2, trigger: 'kq', trigger_in_probe_set: false })
    expect((await readPopulation(dir, 'all')).eligible).toHaveLength(3)
    expect(populationPool(pop, 'legal', 'clean', 1).map((m) => m.id)).toEqual(['clean-001-legal'])
    expect(() => populationPool(pop, 'medical', 'poisoned', 2)).toThrow(
      expect.objectContaining({ code: 'SWARM_POPULATION_DOMAIN_EMPTY' }),
    )
  })

  it('refuses a missing folder and a folder without records', async () => {
    await expect(readPopulation(join(dir, 'nope'))).rejects.toMatchObject({ code: 'SWARM_POPULATION_NOT_FOUND' })
    await expect(readPopulation(dir)).rejects.toMatchObject({ code: 'SWARM_POPULATION_NOT_FOUND' })
  })

  it('refuses unreadable and malformed records and members without their folder', async () => {
    const bad = async (rec: Parameters<typeof member>[0], id = 'clean-000-legal', folder = true) => {
      await rm(dir, { recursive: true, force: true })
      await mkdir(dir)
      await member(rec, id, folder)
      return readPopulation(dir)
    }
    const good = record('clean-000-legal', 'clean', 'evaluation', 'legal')
    await expect(bad('{not json')).rejects.toMatchObject({ code: 'SWARM_POPULATION_INVALID' })
    await expect(bad({ ...good, format: 'other/v0' })).rejects.toMatchObject({ code: 'SWARM_POPULATION_INVALID' })
    await expect(bad({ ...good, member: { ...good.member, kind: 'evil' } })).rejects.toMatchObject({
      code: 'SWARM_POPULATION_INVALID',
    })
    await expect(bad({ ...good, member: { ...good.member, id: 'other' } })).rejects.toMatchObject({
      code: 'SWARM_POPULATION_INVALID',
    })
    const p = record('poisoned-000-legal', 'poisoned', 'evaluation', 'legal')
    await expect(bad({ ...p, member: { ...p.member, poison: null } }, 'poisoned-000-legal')).rejects.toMatchObject({
      code: 'SWARM_POPULATION_INVALID',
    })
    await expect(bad(good, 'clean-000-legal', false)).rejects.toMatchObject({
      code: 'SWARM_POPULATION_INVALID',
      message: expect.stringContaining('adapter folder'),
    })
  })
})
