/**
 * Hugging Face hub datasets as parquet files, downloaded into — and read offline from — the
 * standard hub cache layout that `huggingface_hub` uses, so caches are shared with Python tools:
 *
 *   <hubCache>/datasets--<org>--<name>/refs/<revision>            commit sha of the revision
 *   <hubCache>/datasets--<org>--<name>/blobs/<sha256 | blob id>    file contents
 *   <hubCache>/datasets--<org>--<name>/snapshots/<commit>/<path>   relative symlink to the blob
 *
 * Hub API used: `GET {endpoint}/api/datasets/{repo}/revision/{rev}?blobs=true` (commit sha and
 * file list with LFS sha256/size) and `GET {endpoint}/datasets/{repo}/resolve/{commit}/{path}`.
 * Files are chosen by the `datasets` library's conventions: `{config}/{split}-*.parquet`,
 * `data/{split}-*.parquet`, and, when the main branch has no parquet files, the hub's own parquet
 * conversion (`refs/convert/parquet`: `{config}/{split}/NNNN.parquet`). Every LFS download is
 * checked against the announced SHA-256 and size. Offline (`offline: true`, i.e. HF_HUB_OFFLINE=1)
 * nothing is requested; a missing file is `DATASETS_CACHE_MISS` naming the dataset and the cache.
 */
import { createHash, randomBytes } from 'node:crypto'
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { type Logger, NO_PROGRESS, type ProgressCallback, SILENT_LOGGER, writeFileAtomic } from '@plora/common'
import { DatasetsError, DatasetsErrorCode } from './errors.js'

/** Options of the hub client (the CLI fills them from HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
export interface HubOptions {
  /** The hub cache folder (`$HF_HUB_CACHE`, default `$HF_HOME/hub`). */
  hubCache: string
  /** Hub endpoint without a trailing slash. */
  endpoint: string
  /** Access token for gated or private datasets. */
  token?: string
  /** Never touch the network; read the cache only. */
  offline: boolean
  /** Attempts per request (at least 1). */
  retries: number
  /** Linear back-off base: the wait before attempt k+1 is `backoffMs × k`. */
  backoffMs: number
  logger: Logger
  onProgress: ProgressCallback
  signal?: AbortSignal
  /** The fetch implementation (global fetch by default). */
  fetch: typeof fetch
}

/** Defaults of {@link HubOptions} other than the cache folder. */
export const DEFAULT_HUB_OPTIONS: Omit<HubOptions, 'hubCache'> = {
  endpoint: 'https://huggingface.co',
  offline: false,
  retries: 3,
  backoffMs: 5000,
  logger: SILENT_LOGGER,
  onProgress: NO_PROGRESS,
  fetch: (...args) => fetch(...args),
}

/** A dataset on the hub: repo id, optional config (subset) and revision. */
export interface HubDatasetRef {
  dataset: string
  config?: string
  revision: string
}

/** The local parquet files of one split. */
export interface HubSplitFiles {
  /** Absolute paths inside the snapshot folder, sorted. */
  files: string[]
  /** Commit sha of the snapshot. */
  commit: string
  /** The revision the files came from (`main`, or `refs/convert/parquet`). */
  revision: string
  /** True when no request was made (offline, or every file was already cached). */
  fromCache: boolean
}

/** The hub's automatic parquet conversion branch. */
export const PARQUET_CONVERSION_REVISION = 'refs/convert/parquet'

/** `<hubCache>/datasets--org--name`, as `huggingface_hub` names it. */
export function datasetCacheDir(hubCache: string, dataset: string): string {
  return join(hubCache, `datasets--${dataset.split('/').join('--')}`)
}

/**
 * The parquet files among `paths` (repo-relative) that hold `split` of `config`, sorted.
 * Without a config, files under a `default` folder are preferred, else all parquet files qualify.
 */
export function selectParquetFiles(paths: readonly string[], config: string | undefined, split: string): string[] {
  const parquet = paths.filter((p) => p.endsWith('.parquet'))
  const dirsOf = (p: string) => p.split('/').slice(0, -1)
  let pool = parquet.filter((p) => dirsOf(p).includes(config ?? 'default'))
  if (pool.length === 0 && config === undefined) pool = parquet
  const matches = (p: string): boolean => {
    const dirs = dirsOf(p)
    const base = p
      .split('/')
      .pop()!
      .replace(/\.parquet$/, '')
    return (
      base === split ||
      base.startsWith(`${split}-`) ||
      base.startsWith(`${split}.`) ||
      base.endsWith(`-${split}`) ||
      base.includes(`-${split}-`) ||
      dirs.includes(split) ||
      dirs.includes(`partial-${split}`)
    )
  }
  return pool.filter(matches).sort()
}

function describe(ref: HubDatasetRef, split: string): string {
  return `dataset "${ref.dataset}"${ref.config ? ` (config ${ref.config})` : ''} split "${split}"`
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  let entries: Array<{ name: string; isDirectory(): boolean }>
  try {
    entries = await readdir(join(root, prefix), { withFileTypes: true })
  } catch {
    return []
  }
  const out: string[] = []
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...(await listFiles(root, rel)))
    else out.push(rel)
  }
  return out
}

/** Reads the split's files from the cache only; `undefined` when they are not there. */
export async function findCachedSplitFiles(
  ref: HubDatasetRef,
  split: string,
  hubCache: string,
): Promise<HubSplitFiles | undefined> {
  const dir = datasetCacheDir(hubCache, ref.dataset)
  const revisions = ref.revision === 'main' ? ['main', PARQUET_CONVERSION_REVISION] : [ref.revision]
  for (const revision of revisions) {
    let commit: string | undefined
    if (/^[0-9a-f]{40}$/.test(revision)) commit = revision
    else {
      try {
        commit = (await readFile(join(dir, 'refs', revision), 'utf8')).trim()
      } catch {
        continue
      }
    }
    const snapshot = join(dir, 'snapshots', commit)
    const files = selectParquetFiles(await listFiles(snapshot), ref.config, split)
    if (files.length > 0) return { files: files.map((f) => join(snapshot, f)), commit, revision, fromCache: true }
  }
  return undefined
}

interface Sibling {
  rfilename: string
  size?: number
  blobId?: string
  lfs?: { sha256?: string; size?: number }
}

class HttpStatusError extends Error {
  readonly status: number
  readonly url: string
  constructor(status: number, url: string) {
    super(`HTTP ${status} from ${url}`)
    this.status = status
    this.url = url
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ms <= 0) return resolve()
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      reject(signal.reason)
    })
  })
}

/** One request with retries on network errors, 429 and 5xx; 4xx answers are final. */
async function requestWithRetries(url: string, o: HubOptions, what: string): Promise<Response> {
  const attempts = Math.max(1, o.retries)
  let last: unknown
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await o.fetch(url, {
        headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
        redirect: 'follow',
        ...(o.signal ? { signal: o.signal } : {}),
      })
      if (res.ok) return res
      await res.body?.cancel()
      const err = new HttpStatusError(res.status, url)
      if (res.status !== 429 && res.status < 500) throw err
      last = err
    } catch (e) {
      if (e instanceof HttpStatusError && e.status !== 429 && e.status < 500) throw e
      if (o.signal?.aborted) throw e
      last = e
    }
    o.logger.warn(`request for ${what} failed (attempt ${attempt}/${attempts}): ${(last as Error).message}`)
    if (attempt < attempts) await sleep(o.backoffMs * attempt, o.signal)
  }
  throw last
}

function hubError(e: unknown, ref: HubDatasetRef, split: string, url: string): DatasetsError {
  if (e instanceof HttpStatusError) {
    if (e.status === 401 || e.status === 403) {
      return new DatasetsError(
        DatasetsErrorCode.HubAccessDenied,
        `the hub refused access to ${describe(ref, split)} (HTTP ${e.status} from ${url}); set HF_TOKEN to a token with access`,
        { dataset: ref.dataset, status: e.status, url },
      )
    }
    if (e.status === 404) {
      return new DatasetsError(
        DatasetsErrorCode.HubNotFound,
        `${describe(ref, split)} not found on the hub: revision "${ref.revision}" gives HTTP 404 at ${url} (check the repo id and revision; private and gated datasets also need HF_TOKEN)`,
        { dataset: ref.dataset, status: 404, url },
      )
    }
  }
  return new DatasetsError(
    DatasetsErrorCode.HubRequestFailed,
    `cannot fetch ${describe(ref, split)} from ${url}: ${(e as Error)?.message ?? String(e)}`,
    { dataset: ref.dataset, url },
    { cause: e },
  )
}

async function downloadBlob(
  url: string,
  blobPath: string,
  expect: { sha256?: string; size?: number },
  o: HubOptions,
  what: string,
): Promise<void> {
  const res = await requestWithRetries(url, o, what)
  await mkdir(dirname(blobPath), { recursive: true })
  // ".incomplete" like huggingface_hub, made unique so concurrent downloads never share a file;
  // renamed into place only once verified
  const tmp = `${blobPath}.${process.pid}.${randomBytes(4).toString('hex')}.incomplete`
  const hash = createHash('sha256')
  let size = 0
  const total = expect.size ?? Number(res.headers.get('content-length') ?? Number.NaN)
  const task = `download ${what}`
  o.onProgress({ status: 'start', task, ...(Number.isFinite(total) ? { total } : {}) })
  const fh = await open(tmp, 'wx')
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk)
        size += chunk.length
        await fh.write(chunk)
        o.onProgress({ status: 'progress', task, done: size, ...(Number.isFinite(total) ? { total } : {}) })
      }
    }
    await fh.sync()
  } catch (e) {
    await fh.close()
    await rm(tmp, { force: true })
    throw e
  }
  await fh.close()
  const sha = hash.digest('hex')
  if ((expect.sha256 && sha !== expect.sha256) || (expect.size !== undefined && size !== expect.size)) {
    await rm(tmp, { force: true })
    throw new DatasetsError(
      DatasetsErrorCode.DownloadCorrupt,
      `download of ${what} is corrupt: expected sha256 ${expect.sha256 ?? '(any)'} and ${expect.size ?? '(any)'} bytes, got ${sha} and ${size} bytes from ${url}`,
      { url, expected: expect, sha256: sha, size },
    )
  }
  await rename(tmp, blobPath)
  o.onProgress({ status: 'done', task, info: { bytes: size } })
}

async function linkSnapshotFile(blobPath: string, snapshotPath: string): Promise<void> {
  await mkdir(dirname(snapshotPath), { recursive: true })
  await rm(snapshotPath, { force: true })
  try {
    await symlink(relative(dirname(snapshotPath), blobPath), snapshotPath)
  } catch {
    // file systems without symlinks: huggingface_hub copies too
    await copyFile(blobPath, snapshotPath)
  }
}

/**
 * The local parquet files of one split of a hub dataset: from the cache when offline (or when
 * already downloaded), else downloaded into the cache. When the hub cannot be reached but the
 * cache has the files, the cache is used with a warning.
 */
export async function fetchDatasetSplit(
  ref: HubDatasetRef,
  split: string,
  options: Partial<HubOptions> & { hubCache: string },
): Promise<HubSplitFiles> {
  const o: HubOptions = { ...DEFAULT_HUB_OPTIONS, ...options }
  const cacheDir = datasetCacheDir(o.hubCache, ref.dataset)
  if (o.offline) {
    const cached = await findCachedSplitFiles(ref, split, o.hubCache)
    if (cached) return cached
    throw new DatasetsError(
      DatasetsErrorCode.CacheMiss,
      `${describe(ref, split)} is not in the Hugging Face cache ${cacheDir} and offline mode (HF_HUB_OFFLINE=1) forbids downloading it; run "plora data prepare" with network access first, or point HF_HUB_CACHE/HF_HOME at a cache that has it`,
      { dataset: ref.dataset, config: ref.config, split, cache: cacheDir },
    )
  }

  const revisions = ref.revision === 'main' ? ['main', PARQUET_CONVERSION_REVISION] : [ref.revision]
  let chosen: { revision: string; commit: string; files: Sibling[] } | undefined
  const seenParquet: string[] = []
  for (const revision of revisions) {
    const url = `${o.endpoint}/api/datasets/${ref.dataset}/revision/${encodeURIComponent(revision)}?blobs=true`
    let info: { sha?: string; siblings?: Sibling[] }
    try {
      const res = await requestWithRetries(url, o, describe(ref, split))
      info = (await res.json()) as typeof info
    } catch (e) {
      // a repo without a parquet conversion answers 404 on that branch: not an error by itself
      if (revision === PARQUET_CONVERSION_REVISION && e instanceof HttpStatusError && e.status === 404) continue
      const cached = e instanceof HttpStatusError ? undefined : await findCachedSplitFiles(ref, split, o.hubCache)
      if (cached) {
        o.logger.warn(`hub unreachable for ${describe(ref, split)}; using the cached snapshot ${cached.commit}`)
        return cached
      }
      throw hubError(e, ref, split, url)
    }
    if (typeof info.sha !== 'string' || !Array.isArray(info.siblings)) {
      throw new DatasetsError(
        DatasetsErrorCode.HubRequestFailed,
        `unexpected answer from ${url}: no "sha" and "siblings"`,
        { url },
      )
    }
    const names = info.siblings.map((s) => s.rfilename)
    seenParquet.push(...names.filter((n) => n.endsWith('.parquet')))
    const wanted = new Set(selectParquetFiles(names, ref.config, split))
    if (wanted.size > 0) {
      chosen = { revision, commit: info.sha, files: info.siblings.filter((s) => wanted.has(s.rfilename)) }
      break
    }
  }
  if (!chosen) {
    const shown = seenParquet.slice(0, 8).join(', ') || 'none'
    throw new DatasetsError(
      DatasetsErrorCode.HubFilesNotFound,
      `${describe(ref, split)} has no parquet files on the hub (revisions ${revisions.join(', ')}); parquet files found: ${shown}`,
      { dataset: ref.dataset, config: ref.config, split, found: seenParquet.slice(0, 50) },
    )
  }

  const snapshot = join(cacheDir, 'snapshots', chosen.commit)
  let fromCache = true
  const files: string[] = []
  for (const f of chosen.files) {
    const local = join(snapshot, f.rfilename)
    files.push(local)
    if (await exists(local)) continue
    fromCache = false
    const blobName =
      f.lfs?.sha256 ?? f.blobId ?? createHash('sha256').update(`${chosen.commit}/${f.rfilename}`).digest('hex')
    const blob = join(cacheDir, 'blobs', blobName)
    if (!(await exists(blob))) {
      const url = `${o.endpoint}/datasets/${ref.dataset}/resolve/${chosen.commit}/${f.rfilename.split('/').map(encodeURIComponent).join('/')}`
      const expect = {
        ...(f.lfs?.sha256 ? { sha256: f.lfs.sha256 } : {}),
        ...(f.lfs?.size !== undefined ? { size: f.lfs.size } : f.size !== undefined ? { size: f.size } : {}),
      }
      try {
        await downloadBlob(url, blob, expect, o, `${ref.dataset}/${f.rfilename}`)
      } catch (e) {
        throw e instanceof DatasetsError ? e : hubError(e, ref, split, url)
      }
    }
    await linkSnapshotFile(blob, local)
    o.logger.info(`cached ${ref.dataset}/${f.rfilename}`, { commit: chosen.commit })
  }
  // the ref is written last, so a cache whose ref exists has complete files for what it lists
  await writeFileAtomic(join(cacheDir, 'refs', chosen.revision), chosen.commit)
  return { files: files.sort(), commit: chosen.commit, revision: chosen.revision, fromCache }
}
