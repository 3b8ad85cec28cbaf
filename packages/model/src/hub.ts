/**
 * Resolves a model reference to a local Hugging Face model folder (issue 4 item 3):
 *
 * 1. an existing local folder is used as is;
 * 2. a repo id (`org/name`) is looked up in the Hugging Face cache
 *    (`<cacheDir>/models--org--name/refs/<rev>` → `snapshots/<commit>/`);
 * 3. otherwise, unless offline (`HF_HUB_OFFLINE=1`), the needed files are downloaded from the hub
 *    (`<endpoint>/api/models/<repo>[/revision/<rev>]` for the file list and commit,
 *    `<endpoint>/<repo>/resolve/<commit>/<file>` for each file, `Authorization: Bearer <token>`)
 *    into a staging folder that is renamed to `snapshots/<commit>/` once complete, and
 *    `refs/<rev>` is written. Files are stored directly in the snapshot (the layout huggingface_hub
 *    uses where symlinks are unavailable), so Python tools read the same cache.
 *
 * The CLI maps `HF_HOME`, `HF_HUB_CACHE`, `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE` to options.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { createStagingDir, installDirAtomic, writeFileAtomic } from '@plora/common'
import { ModelError, ModelErrorCode } from './errors.js'

/** Options of {@link resolveModelDir}. */
export interface ResolveModelOptions {
  /** Hugging Face hub cache (`HF_HUB_CACHE`); default `<hfHome>/hub`. */
  cacheDir: string | undefined
  /** `HF_HOME`; default `~/.cache/huggingface`. */
  hfHome: string | undefined
  /** `HF_HUB_OFFLINE=1`: use the cache only. Default false. */
  offline: boolean
  /** `HF_ENDPOINT`. Default `https://huggingface.co`. */
  endpoint: string
  /** `HF_TOKEN`, sent as a bearer token. */
  token: string | undefined
  /** Branch, tag or commit. Default `main`. */
  revision: string
  /** The fetch implementation (injectable for tests). */
  fetch: typeof fetch
}

/** Defaults of {@link ResolveModelOptions}. */
export const DEFAULT_RESOLVE_MODEL_OPTIONS: ResolveModelOptions = {
  cacheDir: undefined,
  hfHome: undefined,
  offline: false,
  endpoint: 'https://huggingface.co',
  token: undefined,
  revision: 'main',
  fetch: (...args) => fetch(...args),
}

/** The files a model folder needs; everything else in a repo (PyTorch .bin, ONNX, …) is skipped. */
const WANTED = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'model.safetensors.index.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
]

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/

/** The hub cache folder for the given options (`HF_HUB_CACHE`, else `HF_HOME/hub`). */
export function hubCacheDir(o: Pick<ResolveModelOptions, 'cacheDir' | 'hfHome'>): string {
  return o.cacheDir ?? join(o.hfHome ?? join(homedir(), '.cache', 'huggingface'), 'hub')
}

/** `models--org--name` for `org/name`. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`
}

/** The cached snapshot folder of `repoId` at `revision`, or undefined. */
export function findCachedSnapshot(repoId: string, revision: string, cache: string): string | undefined {
  const repoDir = join(cache, repoFolderName(repoId))
  const refFile = join(repoDir, 'refs', revision)
  const commit = existsSync(refFile) ? readFileSync(refFile, 'utf8').trim() : revision
  const snap = join(repoDir, 'snapshots', commit)
  if (existsSync(join(snap, 'config.json'))) return snap
  return undefined
}

function isLocalPathLike(ref: string): boolean {
  return ref.startsWith('.') || ref.startsWith('/') || ref.startsWith('~') || ref.includes('\\') || !REPO_ID.test(ref)
}

async function hubJson(o: ResolveModelOptions, url: string, repoId: string): Promise<{ sha: string; files: string[] }> {
  let res: Response
  try {
    res = await o.fetch(url, { headers: o.token ? { Authorization: `Bearer ${o.token}` } : {} })
  } catch (e) {
    throw new ModelError(
      ModelErrorCode.HubDownloadFailed,
      `cannot reach the Hugging Face hub at ${o.endpoint} for ${repoId}: ${(e as Error).message} (set HF_HUB_OFFLINE=1 to use the cache only)`,
      { repoId, url },
      { cause: e },
    )
  }
  if (!res.ok) {
    const code = res.headers.get('x-error-code') ?? ''
    const hint = res.status === 401 || res.status === 403 ? ' (gated or private: set HF_TOKEN)' : ''
    throw new ModelError(
      res.status === 404 ? ModelErrorCode.FolderNotFound : ModelErrorCode.HubDownloadFailed,
      `model ${repoId} not available from ${o.endpoint}: HTTP ${res.status} ${code}${hint}`,
      { repoId, url, status: res.status },
    )
  }
  const body = (await res.json()) as { sha?: unknown; siblings?: Array<{ rfilename?: unknown }> }
  if (typeof body.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha) || !Array.isArray(body.siblings)) {
    throw new ModelError(
      ModelErrorCode.HubDownloadFailed,
      `unexpected hub reply for ${repoId} from ${url}: no commit sha / siblings`,
      {
        repoId,
        url,
      },
    )
  }
  return { sha: body.sha, files: body.siblings.map((s) => String(s.rfilename)) }
}

async function download(
  o: ResolveModelOptions,
  repoId: string,
  commit: string,
  file: string,
  dest: string,
): Promise<void> {
  const url = `${o.endpoint}/${repoId}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`
  let res: Response
  try {
    res = await o.fetch(url, { headers: o.token ? { Authorization: `Bearer ${o.token}` } : {} })
  } catch (e) {
    throw new ModelError(
      ModelErrorCode.HubDownloadFailed,
      `download of ${repoId}/${file} failed: ${(e as Error).message}`,
      { url },
      { cause: e },
    )
  }
  if (!res.ok) {
    throw new ModelError(ModelErrorCode.HubDownloadFailed, `download of ${repoId}/${file} failed: HTTP ${res.status}`, {
      url,
      status: res.status,
    })
  }
  await mkdir(dirname(dest), { recursive: true })
  await writeFile(dest, new Uint8Array(await res.arrayBuffer()))
}

async function downloadSnapshot(repoId: string, o: ResolveModelOptions, cache: string): Promise<string> {
  const api = `${o.endpoint}/api/models/${repoId}${o.revision === 'main' ? '' : `/revision/${encodeURIComponent(o.revision)}`}`
  const { sha, files } = await hubJson(o, api, repoId)
  const present = new Set(files)
  const wanted = WANTED.filter((f) => present.has(f))
  if (
    !present.has('config.json') ||
    (!present.has('model.safetensors') && !present.has('model.safetensors.index.json'))
  ) {
    throw new ModelError(
      ModelErrorCode.WeightsMissing,
      `hub repo ${repoId}@${sha} has no config.json plus model.safetensors (or a sharded index): found ${files.slice(0, 12).join(', ')}`,
      { repoId, files },
    )
  }
  const repoDir = join(cache, repoFolderName(repoId))
  const snap = join(repoDir, 'snapshots', sha)
  if (!existsSync(join(snap, 'config.json'))) {
    const staging = await createStagingDir(snap)
    try {
      for (const f of wanted) await download(o, repoId, sha, f, join(staging, f))
      if (present.has('model.safetensors.index.json') && !present.has('model.safetensors')) {
        const index = JSON.parse(readFileSync(join(staging, 'model.safetensors.index.json'), 'utf8')) as {
          weight_map?: Record<string, string>
        }
        for (const shard of new Set(Object.values(index.weight_map ?? {}))) {
          if (shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
            throw new ModelError(
              ModelErrorCode.WeightsInvalid,
              `shard name "${shard}" in ${repoId} is not a plain file name`,
              {
                repoId,
                shard,
              },
            )
          }
          await download(o, repoId, sha, shard, join(staging, shard))
        }
      }
      await installDirAtomic(staging, snap, { replace: false })
    } catch (e) {
      await rm(staging, { recursive: true, force: true })
      throw e
    }
  }
  await writeFileAtomic(join(repoDir, 'refs', o.revision), sha)
  return snap
}

/**
 * The local folder for a model reference: a folder path, a repo id in the Hugging Face cache, or
 * (when online) a repo id downloaded from the hub into that cache.
 *
 * @example
 * ```ts
 * const dir = await resolveModelDir('sshleifer/tiny-gpt2', { offline: true })
 * ```
 */
export async function resolveModelDir(ref: string, options: Partial<ResolveModelOptions> = {}): Promise<string> {
  const o = { ...DEFAULT_RESOLVE_MODEL_OPTIONS, ...options }
  const expanded = ref.startsWith('~/') ? join(homedir(), ref.slice(2)) : ref
  if (existsSync(expanded) && statSync(expanded).isDirectory()) return expanded
  if (isLocalPathLike(ref)) {
    throw new ModelError(ModelErrorCode.FolderNotFound, `model folder ${ref} does not exist`, { path: ref })
  }
  const cache = hubCacheDir(o)
  const cached = findCachedSnapshot(ref, o.revision, cache)
  if (cached !== undefined) return cached
  if (o.offline) {
    let have = ''
    const snaps = join(cache, repoFolderName(ref), 'snapshots')
    if (existsSync(snaps)) have = ` (snapshots present: ${readdirSync(snaps).join(', ') || 'none'})`
    throw new ModelError(
      ModelErrorCode.HubOffline,
      `model ${ref}@${o.revision} is not in the Hugging Face cache ${cache} and HF_HUB_OFFLINE=1 forbids downloading it${have}: download it once online, or pass a local folder`,
      { repoId: ref, revision: o.revision, cache },
    )
  }
  return downloadSnapshot(ref, o, cache)
}
