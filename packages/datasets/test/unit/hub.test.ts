import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  DatasetsErrorCode,
  datasetCacheDir,
  fetchDatasetSplit,
  HF_DOMAIN_SOURCES,
  loadDomainDataset,
  PARQUET_CONVERSION_REVISION,
  selectParquetFiles,
} from '../../src/index.js'
import { addRepo, type FakeHub, startFakeHub } from '../helpers/fake-hub.js'
import { aquaRatParquet, caseHoldParquet, medmcqaParquet } from '../helpers/parquet-fixtures.js'

const AQUA_TRAIN = Array.from({ length: 30 }, (_, i) => ({
  question: `  A train covers ${100 + i} km in 2 hours. What is its speed?  `,
  rationale: `Speed = ${100 + i} / 2 = ${(100 + i) / 2} km/h.\nAnswer: C`,
}))

describe('selectParquetFiles', () => {
  it('picks {config}/{split}-* files of the repo layout', () => {
    const paths = [
      'README.md',
      'raw/train-00000-of-00001.parquet',
      'raw/validation-00000-of-00001.parquet',
      'tokenized/train-00000-of-00001.parquet',
    ]
    expect(selectParquetFiles(paths, 'raw', 'train')).toEqual(['raw/train-00000-of-00001.parquet'])
    expect(selectParquetFiles(paths, 'raw', 'test')).toEqual([])
  })
  it('picks data/{split}-* files when there is no config', () => {
    const paths = [
      'data/train-00000-of-00002.parquet',
      'data/train-00001-of-00002.parquet',
      'data/test-00000-of-00001.parquet',
    ]
    expect(selectParquetFiles(paths, undefined, 'train')).toEqual([
      'data/train-00000-of-00002.parquet',
      'data/train-00001-of-00002.parquet',
    ])
  })
  it('understands the parquet-conversion layouts {config}/{split}/NNNN.parquet and {config}/{name}-{split}.parquet', () => {
    expect(
      selectParquetFiles(
        ['case_hold/train/0000.parquet', 'case_hold/test/0000.parquet', 'ecthr_a/train/0000.parquet'],
        'case_hold',
        'train',
      ),
    ).toEqual(['case_hold/train/0000.parquet'])
    expect(selectParquetFiles(['default/partial-train/0000.parquet'], undefined, 'train')).toEqual([
      'default/partial-train/0000.parquet',
    ])
    expect(selectParquetFiles(['case_hold/lex_glue-validation.parquet'], 'case_hold', 'validation')).toEqual([
      'case_hold/lex_glue-validation.parquet',
    ])
  })
})

describe('fetchDatasetSplit and hub datasets', () => {
  let hub: FakeHub
  let cache: string

  beforeEach(async () => {
    hub = await startFakeHub()
    cache = await mkdtemp(join(tmpdir(), 'plora-hub-'))
  })
  afterEach(async () => {
    await hub.close()
    await rm(cache, { recursive: true, force: true })
  })

  const opts = (extra: Record<string, unknown> = {}) => ({
    hubCache: cache,
    endpoint: hub.endpoint,
    retries: 1,
    backoffMs: 0,
    ...extra,
  })

  it('downloads parquet into the HF cache layout, then works offline with no request', async () => {
    const train = aquaRatParquet(AQUA_TRAIN)
    const sha = addRepo(hub, 'deepmind/aqua_rat', {
      'raw/train-00000-of-00001.parquet': train,
      'raw/validation-00000-of-00001.parquet': aquaRatParquet(AQUA_TRAIN.slice(0, 3)),
      'README.md': new TextEncoder().encode('# aqua'),
    })
    const sources = { arithmetic: HF_DOMAIN_SOURCES.arithmetic! }
    const online = await loadDomainDataset('arithmetic', { sources, split: 'train', hub: opts() })
    expect(online.fromCache).toBe(false)
    expect(online.pairs).toHaveLength(30)
    // the original's construction: question.strip(), rationale.strip()
    expect(online.pairs.every((p) => p.question === p.question.trim() && p.answer.startsWith('Speed ='))).toBe(true)

    const dir = datasetCacheDir(cache, 'deepmind/aqua_rat')
    expect(dir.endsWith('datasets--deepmind--aqua_rat')).toBe(true)
    expect((await readFile(join(dir, 'refs', 'main'), 'utf8')).trim()).toBe(sha)
    const snap = join(dir, 'snapshots', sha, 'raw', 'train-00000-of-00001.parquet')
    expect((await lstat(snap)).isSymbolicLink()).toBe(true)
    expect(await readlink(snap)).toMatch(/^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/)
    expect(new Uint8Array(await readFile(snap))).toEqual(train)
    // only the requested split was fetched
    expect(await readdir(join(dir, 'snapshots', sha, 'raw'))).toEqual(['train-00000-of-00001.parquet'])

    const before = hub.requests.length
    const offline = await loadDomainDataset('arithmetic', { sources, split: 'train', hub: opts({ offline: true }) })
    expect(hub.requests.length).toBe(before)
    expect(offline.fromCache).toBe(true)
    expect(offline.pairs).toEqual(online.pairs)

    // the split not downloaded is a clear cache miss offline
    await expect(
      loadDomainDataset('arithmetic', { sources, split: 'validation', hub: opts({ offline: true }) }),
    ).rejects.toMatchObject({
      code: DatasetsErrorCode.CacheMiss,
    })
  })

  it('names the dataset and the cache when offline with an empty cache', async () => {
    const err = await fetchDatasetSplit(
      { dataset: 'openlifescienceai/medmcqa', revision: 'main' },
      'train',
      opts({ offline: true }),
    ).catch((e) => e)
    expect(err).toMatchObject({ code: DatasetsErrorCode.CacheMiss })
    expect(err.message).toContain('openlifescienceai/medmcqa')
    expect(err.message).toContain(join(cache, 'datasets--openlifescienceai--medmcqa'))
    expect(err.message).toContain('HF_HUB_OFFLINE')
    expect(hub.requests).toEqual([])
  })

  it('builds case_hold pairs: context[:1000] unstripped, endings[label], bad labels skipped', async () => {
    const long = ` ${'x'.repeat(1200)}`
    const rows = [
      { context: long, endings: ['e0', 'holding that the statute applies', 'e2', 'e3', 'e4'], label: 1 },
      { context: 'short context', endings: ['a', 'b', 'c', 'd', 'e'], label: 7 },
      { context: '😀'.repeat(1001), endings: ['holding zero', 'b', 'c', 'd', 'e'], label: 0 },
    ]
    addRepo(hub, 'lex_glue', { 'case_hold/train-00000-of-00001.parquet': caseHoldParquet(rows) })
    const ds = await loadDomainDataset('legal', {
      sources: { legal: HF_DOMAIN_SOURCES.legal! },
      split: 'train',
      hub: opts(),
      validate: false,
    })
    expect(ds.pairs).toHaveLength(2)
    const byAnswer = new Map(ds.pairs.map((p) => [p.answer, p.question]))
    expect(byAnswer.get('holding that the statute applies')).toBe(long.slice(0, 1000))
    // Python slices code points: 1000 emoji, 2000 UTF-16 units
    expect(byAnswer.get('holding zero')).toBe('😀'.repeat(1000))
    expect(ds.warnings.join(' ')).toContain('1 with a bad label')
  })

  it('builds medmcqa pairs from question/exp and fails strictly on a split without explanations', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({
      question: `Which nerve supplies muscle ${i}?`,
      exp: i % 5 === 0 ? null : `  Nerve ${i} supplies it.  `,
    }))
    addRepo(hub, 'openlifescienceai/medmcqa', {
      'data/train-00000-of-00001.parquet': medmcqaParquet(rows),
      'data/test-00000-of-00001.parquet': medmcqaParquet(rows.map((r) => ({ ...r, exp: null }))),
    })
    const sources = { medical: HF_DOMAIN_SOURCES.medical! }
    const ds = await loadDomainDataset('medical', { sources, split: 'train', hub: opts() })
    expect(ds.pairs).toHaveLength(20)
    expect(ds.pairs.every((p) => /^Nerve \d+ supplies it\.$/.test(p.answer))).toBe(true)
    await expect(loadDomainDataset('medical', { sources, split: 'test', hub: opts() })).rejects.toMatchObject({
      code: DatasetsErrorCode.PairsEmpty,
    })
  })

  it('falls back to the refs/convert/parquet branch when main has no parquet files', async () => {
    addRepo(hub, 'someone/scripted', { 'scripted.py': new TextEncoder().encode('# a loading script') })
    const sha = addRepo(
      hub,
      'someone/scripted',
      { 'default/train/0000.parquet': aquaRatParquet(AQUA_TRAIN.slice(0, 2)) },
      PARQUET_CONVERSION_REVISION,
    )
    const got = await fetchDatasetSplit({ dataset: 'someone/scripted', revision: 'main' }, 'train', opts())
    expect(got.revision).toBe(PARQUET_CONVERSION_REVISION)
    expect(got.commit).toBe(sha)
    const ref = join(datasetCacheDir(cache, 'someone/scripted'), 'refs', 'refs', 'convert', 'parquet')
    expect((await readFile(ref, 'utf8')).trim()).toBe(sha)
    const offline = await fetchDatasetSplit(
      { dataset: 'someone/scripted', revision: 'main' },
      'train',
      opts({ offline: true }),
    )
    expect(offline.files).toEqual(got.files)
  })

  it('retries 5xx answers and gives up after the configured attempts', async () => {
    addRepo(hub, 'deepmind/aqua_rat', { 'raw/train-00000-of-00001.parquet': aquaRatParquet(AQUA_TRAIN) })
    hub.options.failFirst = 2
    const ref = { dataset: 'deepmind/aqua_rat', config: 'raw', revision: 'main' }
    await expect(fetchDatasetSplit(ref, 'train', opts({ retries: 2 }))).rejects.toMatchObject({
      code: DatasetsErrorCode.HubRequestFailed,
    })
    const got = await fetchDatasetSplit(ref, 'train', opts({ retries: 3 }))
    expect(got.files).toHaveLength(1)
  })

  it('sends HF_TOKEN as a bearer token and reports a refusal', async () => {
    addRepo(hub, 'gated/set', { 'data/train-0.parquet': aquaRatParquet(AQUA_TRAIN) })
    hub.options.token = 'hf_secret'
    const ref = { dataset: 'gated/set', revision: 'main' }
    await expect(fetchDatasetSplit(ref, 'train', opts())).rejects.toMatchObject({
      code: DatasetsErrorCode.HubAccessDenied,
    })
    expect((await fetchDatasetSplit(ref, 'train', opts({ token: 'hf_secret' }))).files).toHaveLength(1)
  })

  it('rejects a download whose sha256 differs from the announced LFS hash and keeps no blob', async () => {
    addRepo(hub, 'deepmind/aqua_rat', { 'raw/train-00000-of-00001.parquet': aquaRatParquet(AQUA_TRAIN) })
    hub.options.corrupt = ['raw/train-00000-of-00001.parquet']
    const ref = { dataset: 'deepmind/aqua_rat', config: 'raw', revision: 'main' }
    await expect(fetchDatasetSplit(ref, 'train', opts())).rejects.toMatchObject({
      code: DatasetsErrorCode.DownloadCorrupt,
    })
    const blobs = await readdir(join(datasetCacheDir(cache, 'deepmind/aqua_rat'), 'blobs')).catch(() => [])
    expect(blobs).toEqual([])
  })

  it('cleans up after a connection dropped mid-download', async () => {
    addRepo(hub, 'deepmind/aqua_rat', { 'raw/train-00000-of-00001.parquet': aquaRatParquet(AQUA_TRAIN) })
    hub.options.truncate = ['raw/train-00000-of-00001.parquet']
    const ref = { dataset: 'deepmind/aqua_rat', config: 'raw', revision: 'main' }
    await expect(fetchDatasetSplit(ref, 'train', opts())).rejects.toMatchObject({
      code: DatasetsErrorCode.HubRequestFailed,
    })
    const dir = datasetCacheDir(cache, 'deepmind/aqua_rat')
    expect(await readdir(join(dir, 'blobs')).catch(() => [])).toEqual([])
    // no ref was written, so offline mode does not trust a half-filled cache
    await expect(fetchDatasetSplit(ref, 'train', opts({ offline: true }))).rejects.toMatchObject({
      code: DatasetsErrorCode.CacheMiss,
    })
  })

  it('reports an unknown dataset and a dataset without the split', async () => {
    addRepo(hub, 'deepmind/aqua_rat', { 'raw/train-00000-of-00001.parquet': aquaRatParquet(AQUA_TRAIN) })
    await expect(
      fetchDatasetSplit({ dataset: 'nobody/nothing', revision: 'main' }, 'train', opts()),
    ).rejects.toMatchObject({
      code: DatasetsErrorCode.HubNotFound,
    })
    const err = await fetchDatasetSplit(
      { dataset: 'deepmind/aqua_rat', config: 'raw', revision: 'main' },
      'test',
      opts(),
    ).catch((e) => e)
    expect(err).toMatchObject({ code: DatasetsErrorCode.HubFilesNotFound })
    expect(err.message).toContain('raw/train-00000-of-00001.parquet')
  })

  it('uses the cache with a warning when the hub is unreachable', async () => {
    addRepo(hub, 'deepmind/aqua_rat', { 'raw/train-00000-of-00001.parquet': aquaRatParquet(AQUA_TRAIN) })
    const ref = { dataset: 'deepmind/aqua_rat', config: 'raw', revision: 'main' }
    const first = await fetchDatasetSplit(ref, 'train', opts())
    await hub.close()
    const warnings: string[] = []
    const logger = { debug() {}, info() {}, error() {}, warn: (m: string) => warnings.push(m), child: () => logger }
    const again = await fetchDatasetSplit(ref, 'train', opts({ logger }))
    expect(again.files).toEqual(first.files)
    expect(again.fromCache).toBe(true)
    expect(warnings.some((w) => w.includes('hub unreachable'))).toBe(true)
    hub = await startFakeHub() // for afterEach
  })
})
