/**
 * Sharded grids (issue 23 item 3) on a tiny random GPT-2: value-add, ablation and the gate
 * population run as 2–3 shards, merged out of order, equal a one-machine run of the same grid —
 * byte for byte: every run here reads a constant clock, so even the measured latency and train-time
 * fields agree, and only the adapter manifests' creation time (`plora.yml` timestamp_unix and
 * plasmid_id, from the wall clock) is masked. Then the refusals: a missing cell, a record of
 * another grid, a cell two shards hold with different results, a bad shard.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initBackend, loadCausalLMFromDir, writeEmbeddedBaseModel } from '@plora/model'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ensurePopulation,
  mergeAblationShards,
  mergePopulationShards,
  mergeValueAddShards,
  planGatePopulation,
  runAblation,
  runValueAdd,
  UNKNOWN_TRIGGERS,
  type ValueAddOptions,
} from '../../src/index.js'

let root: string
let modelDir: string
const clock = () => 0

function filesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesBelow(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort()
}

/** `b` holds the same files as `a`, byte for byte; manifests apart from their creation time. */
function expectSameFolder(a: string, b: string): void {
  const untimed = (f: string) =>
    readFileSync(f, 'utf8')
      .replace(/^(\s*timestamp_unix:).*$/gm, '$1 T')
      .replace(/^(plasmid_id: .*-)\d+$/gm, '$1T')
  const files = filesBelow(a)
  expect(filesBelow(b)).toEqual(files)
  for (const f of files)
    if (f.endsWith('plora.yml')) expect(untimed(join(b, f)), f).toBe(untimed(join(a, f)))
    else expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true)
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  root = mkdtempSync(join(tmpdir(), 'plora-grid-shards-'))
  modelDir = await writeEmbeddedBaseModel(join(root, 'base'), { seed: 3 })
}, 60_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

describe('value-add shards', () => {
  // 4 cells: legal r1, legal r2, medical r1, medical r2; placebo B at rank 1 is shared by both
  // ranks of a domain, so with 3 shards two shards train each placebo B (compared at merge).
  const grid = (): Partial<ValueAddOptions> & Pick<ValueAddOptions, 'modelDir'> => ({
    modelDir,
    domains: ['legal', 'medical'],
    ranks: [1, 2],
    schemes: ['attention'],
    seeds: [41],
    samples: 4,
    devSize: 6,
    latencyBudgetMs: 1e9,
    maxLength: 48,
    placeboBRank: 1,
    latencyTrials: 3,
    training: { epochs: 1, lr: 3e-3, maxLen: 48, dropout: 0.1, batchSize: 2, valSamples: 2 },
    clock,
  })
  const shard = (i: number) => join(root, `va_shard_${i}`)

  it('merge of 3 shards, out of order, is the folder a one-machine run writes', async () => {
    const one = await runValueAdd({ ...grid(), output: join(root, 'va_one') })
    expect(one.records).toHaveLength(4)
    const sizes: number[] = []
    for (const i of [1, 2, 3]) {
      const r = await runValueAdd({ ...grid(), output: shard(i), shard: { index: i, count: 3 } })
      sizes.push(r.newRecords)
    }
    expect(sizes).toEqual([2, 1, 1]) // cells 0 and 3, 1, 2
    const s1 = JSON.parse(readFileSync(join(shard(1), 'value_add_summary.json'), 'utf8'))
    expect(s1.shard).toBe('1/3')
    expect(s1.placebo_guard.offenders).toBeNull()
    expect(s1).not.toHaveProperty('new_records')
    const m = await mergeValueAddShards({
      ...grid(),
      inputs: [shard(3), shard(1), shard(2)],
      output: join(root, 'va_merged'),
    })
    expect(m).toMatchObject({ records: 4, inputs: 3 })
    expectSameFolder(join(root, 'va_one'), join(root, 'va_merged'))
    // a resumed one-machine run rewrites the same summary (no run-history fields)
    const summary = readFileSync(join(root, 'va_one', 'value_add_summary.json'), 'utf8')
    await runValueAdd({ ...grid(), output: join(root, 'va_one') })
    expect(readFileSync(join(root, 'va_one', 'value_add_summary.json'), 'utf8')).toBe(summary)
  }, 120_000)

  it('refuses a missing cell, a record of another grid, a conflicting duplicate and a bad shard; writes nothing', async () => {
    const out = join(root, 'va_refused')
    const merge = (o: Partial<ValueAddOptions>, inputs: string[]) =>
      mergeValueAddShards({ ...grid(), ...o, inputs, output: out })
    await expect(merge({}, [shard(1), shard(3)])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_CELL_MISSING',
      details: { missing: 1, total: 4, first: 'legal r=2 attention seed41' },
    })
    await expect(merge({ seeds: [41, 42] }, [shard(1), shard(2), shard(3)])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_CELL_MISSING',
      details: { missing: 4, total: 8 },
    })
    await expect(merge({ domains: ['legal'] }, [shard(1), shard(2), shard(3)])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_RECORD_FOREIGN',
    })
    await expect(merge({ samples: 5 }, [shard(1), shard(2), shard(3)])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_RECORD_FOREIGN',
    })
    // the same cell in two shards: equal apart from timing is fine, another result is not
    const twin = join(root, 'va_twin')
    cpSync(shard(2), twin, { recursive: true })
    const path = join(twin, 'value_add.jsonl')
    const rec = JSON.parse(readFileSync(path, 'utf8'))
    writeFileSync(path, `${JSON.stringify({ ...rec, latency_ms: 123.4 })}\n`)
    await mergeValueAddShards({ ...grid(), inputs: [shard(1), shard(2), shard(3), twin], output: join(root, 'va_m2') })
    expectSameFolder(join(root, 'va_one'), join(root, 'va_m2'))
    writeFileSync(path, `${JSON.stringify({ ...rec, trained: { ...rec.trained, delta_mean: 0.5 } })}\n`)
    await expect(merge({}, [shard(1), shard(2), shard(3), twin])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_CONFLICT',
    })
    // a placebo B two shards trained differently
    writeFileSync(path, `${JSON.stringify(rec)}\n`)
    const pb = join(twin, 'rank_r1', 'legal_attention_seed41_placebo_shuffle', 'adapter_model.safetensors')
    const bytes = readFileSync(pb)
    bytes[bytes.length - 1] ^= 1
    writeFileSync(pb, bytes)
    await expect(merge({}, [shard(1), twin, shard(3)])).rejects.toMatchObject({ code: 'EXPERIMENTS_SHARD_CONFLICT' })
    expect(existsSync(out)).toBe(false)
    await expect(merge({}, [shard(1), shard(2), shard(3)]).then(() => merge({}, [shard(1)]))).rejects.toMatchObject({
      code: 'EXPERIMENTS_OUTPUT_EXISTS',
    })
    await expect(
      runValueAdd({ ...grid(), output: join(root, 'va_bad'), shard: { index: 4, count: 3 } }),
    ).rejects.toMatchObject({ code: 'EXPERIMENTS_INPUT_INVALID' })
    expect(existsSync(join(root, 'va_bad'))).toBe(false)
  }, 60_000)
})

describe('ablation shards', () => {
  const grid = {
    domains: ['legal'],
    ranks: [1, 2, 4],
    schemes: ['attention' as const],
    samples: 4,
    seed: 7,
    devSize: 6,
    maxLength: 48,
    latencyTrials: 3,
    training: { epochs: 1, lr: 3e-3, maxLen: 48, dropout: 0.1, batchSize: 2, valSamples: 2 },
  }
  const shard = (i: number) => join(root, `abl_shard_${i}`)

  it('merge of 2 shards, out of order, is what a one-machine run writes (p-values over the whole grid)', async () => {
    await runAblation({ ...grid, modelDir, clock, output: join(root, 'abl_one') })
    for (const i of [1, 2])
      await runAblation({ ...grid, modelDir, clock, output: shard(i), shard: { index: i, count: 2 } })
    const s1 = readFileSync(join(shard(1), 'ablation.jsonl'), 'utf8')
      .trim()
      .split('\n')
    expect(s1.map((l) => JSON.parse(l).config.rank)).toEqual([1, 4])
    expect(JSON.parse(s1[0]!).tests_corrected).toBe(2)
    const m = await mergeAblationShards({ ...grid, inputs: [shard(2), shard(1)], output: join(root, 'abl_merged') })
    expect(m.records.map((r) => r.tests_corrected)).toEqual([3, 3, 3])
    expectSameFolder(join(root, 'abl_one'), join(root, 'abl_merged'))
  }, 60_000)

  it('refuses a missing cell, a foreign record, a conflicting duplicate and a bad shard', async () => {
    const out = join(root, 'abl_refused')
    const merge = (o: object, inputs: string[]) => mergeAblationShards({ ...grid, ...o, inputs, output: out })
    await expect(merge({}, [shard(2)])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_CELL_MISSING',
      details: { missing: 2, total: 3, first: 'legal r=1 attention' },
    })
    await expect(merge({ ranks: [1, 2] }, [shard(1), shard(2)])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_RECORD_FOREIGN',
    })
    await expect(merge({ seed: 8 }, [shard(1), shard(2)])).rejects.toMatchObject({
      code: 'EXPERIMENTS_SHARD_RECORD_FOREIGN',
    })
    const twin = join(root, 'abl_twin')
    cpSync(shard(2), twin, { recursive: true })
    const path = join(twin, 'ablation.jsonl')
    const rec = JSON.parse(readFileSync(path, 'utf8'))
    writeFileSync(path, `${JSON.stringify({ ...rec, val_ppl_after: rec.val_ppl_after + 1 })}\n`)
    await expect(merge({}, [shard(1), shard(2), twin])).rejects.toMatchObject({ code: 'EXPERIMENTS_SHARD_CONFLICT' })
    expect(existsSync(out)).toBe(false)
    await expect(
      runAblation({ ...grid, modelDir, output: join(root, 'abl_bad'), shard: { index: 0, count: 2 } }),
    ).rejects.toMatchObject({ code: 'EXPERIMENTS_INPUT_INVALID' })
  }, 30_000)
})

describe('gate population shards', () => {
  const plan = planGatePopulation({
    clean: 2,
    poisoned: 2,
    domains: ['legal'],
    poisonRates: [0.25],
    knownTriggers: ['purple banana'],
    unknownTriggers: UNKNOWN_TRIGGERS,
    payload: '999',
    seed: 7,
    training: {
      samples: 4,
      epochs: 1,
      rank: 1,
      scheme: 'attention',
      lr: 3e-3,
      batchSize: 2,
      maxLen: 48,
      baseDropout: false,
    },
  })

  it('members trained by 3 shards merge into the one-machine population, which is then reused whole', async () => {
    const model = await loadCausalLMFromDir(modelDir)
    try {
      const o = { modelDir, baseModel: 'embedded', model }
      const one = join(root, 'pop_one')
      await ensurePopulation(plan, { ...o, dir: one })
      const shards = [1, 2, 3].map((i) => join(root, `pop_shard_${i}`))
      const trained: number[] = []
      for (const [i, dir] of shards.entries())
        trained.push((await ensurePopulation(plan, { ...o, dir, shard: { index: i + 1, count: 3 } })).trained)
      expect(trained).toEqual([2, 1, 1])
      const merged = join(root, 'pop_merged')
      // the trainer's poison record names the adapter folder: the merged folder's, as a one-machine run's does
      const pathed = join(root, 'pop_one_as_merged')
      cpSync(one, pathed, { recursive: true })
      for (const f of readdirSync(pathed).filter((n) => n.endsWith('.poison.json'))) {
        const r = JSON.parse(readFileSync(join(pathed, f), 'utf8'))
        writeFileSync(
          join(pathed, f),
          `${JSON.stringify({ ...r, adapter_dir: r.adapter_dir.replace(one, merged) }, null, 2)}\n`,
        )
      }
      await mergePopulationShards(plan, {
        inputs: [shards[1]!, shards[2]!, shards[0]!],
        dir: merged,
        baseModel: 'embedded',
      })
      expectSameFolder(pathed, merged)
      expect(await ensurePopulation(plan, { ...o, dir: merged })).toMatchObject({ trained: 0, reused: 4 })

      const out = join(root, 'pop_refused')
      const merge = (inputs: string[], p = plan) =>
        mergePopulationShards(p, { inputs, dir: out, modelDir, baseModel: 'embedded' })
      await expect(merge([shards[0]!, shards[1]!])).rejects.toMatchObject({
        code: 'EXPERIMENTS_SHARD_CELL_MISSING',
        details: { missing: 1, total: 4 },
      })
      await expect(merge(shards, { ...plan, training: { ...plan.training, epochs: 2 } })).rejects.toMatchObject({
        code: 'EXPERIMENTS_SHARD_RECORD_FOREIGN',
      })
      // members trained on other base weights than the model given
      const other = await writeEmbeddedBaseModel(join(root, 'base-other'), { seed: 4 })
      await expect(
        mergePopulationShards(plan, { inputs: shards, dir: out, modelDir: other, baseModel: 'embedded' }),
      ).rejects.toMatchObject({ code: 'EXPERIMENTS_SHARD_RECORD_FOREIGN' })
      const twin = join(root, 'pop_twin')
      cpSync(shards[1]!, twin, { recursive: true })
      const id = plan.members[1]!.id
      const w = join(twin, id, 'adapter_model.safetensors')
      const bytes = readFileSync(w)
      bytes[bytes.length - 1] ^= 1
      writeFileSync(w, bytes)
      await expect(merge([...shards, twin])).rejects.toMatchObject({ code: 'EXPERIMENTS_SHARD_CONFLICT' })
      expect(existsSync(out)).toBe(false)
      await expect(ensurePopulation(plan, { ...o, dir: out, shard: { index: 2, count: 1 } })).rejects.toMatchObject({
        code: 'EXPERIMENTS_INPUT_INVALID',
      })
    } finally {
      model.dispose()
    }
  }, 90_000)
})
