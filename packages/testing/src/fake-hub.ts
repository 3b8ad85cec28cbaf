/**
 * A fake Hugging Face hub on 127.0.0.1 for tests: serves files from an in-memory map of
 * repo → path → bytes with the hub's URL shapes, so download code is tested over real HTTP
 * without the network.
 *
 *   GET  /api/models/{repo}[/revision/{rev}]      → {id, sha, siblings: [{rfilename}]}
 *   GET  /api/datasets/{repo}[/revision/{rev}]    → same for datasets
 *   GET|HEAD /{repo}/resolve/{rev}/{path}          → file bytes (X-Repo-Commit, ETag headers)
 *   GET|HEAD /datasets/{repo}/resolve/{rev}/{path} → same for datasets
 *
 * `rev` may be the branch name (`main`) or the repo's commit sha. With `token` set, every request
 * must carry `Authorization: Bearer <token>` (401 otherwise), like a gated/private repo.
 * Missing repos/files answer 404 with the hub's `X-Error-Code` (`RepoNotFound`, `EntryNotFound`).
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One repository of the fake hub. */
export interface FakeHubRepo {
  /** Files by repo-relative path. */
  files: Record<string, Uint8Array | string>
  /** Commit sha (40 hex); default: derived from the file contents. */
  sha?: string
}

/** Options of {@link startFakeHub}. */
export interface FakeHubOptions {
  /** Model repos by id (`org/name`). */
  models?: Record<string, FakeHubRepo>
  /** Dataset repos by id. */
  datasets?: Record<string, FakeHubRepo>
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token?: string
}

/** A running fake hub. */
export interface FakeHub {
  /** Base URL, e.g. `http://127.0.0.1:43121` (use as `HF_ENDPOINT`). */
  url: string
  /** Every request seen, as `METHOD /path`. */
  requests: string[]
  /** Stops the server. */
  close(): Promise<void>
}

interface Repo {
  files: Map<string, Uint8Array>
  sha: string
}

function toRepo(r: FakeHubRepo): Repo {
  const files = new Map<string, Uint8Array>()
  const h = createHash('sha1')
  for (const [path, content] of Object.entries(r.files).sort(([a], [b]) => a.localeCompare(b))) {
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content
    files.set(path, bytes)
    h.update(path).update('\0').update(bytes)
  }
  return { files, sha: r.sha ?? h.digest('hex') }
}

function send(
  res: ServerResponse,
  status: number,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Length': String(body.length), ...headers })
  res.end(body)
}

/** Starts a fake hub on an ephemeral port of 127.0.0.1. */
export async function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const kinds = {
    models: new Map(Object.entries(options.models ?? {}).map(([id, r]) => [id, toRepo(r)])),
    datasets: new Map(Object.entries(options.datasets ?? {}).map(([id, r]) => [id, toRepo(r)])),
  }
  const requests: string[] = []

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = decodeURIComponent(url.pathname)
    requests.push(`${req.method} ${path}`)
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      send(res, 401, JSON.stringify({ error: 'Invalid credentials' }), { 'X-Error-Code': 'GatedRepo' })
      return
    }
    const notFound = (code: string): void => send(res, 404, JSON.stringify({ error: code }), { 'X-Error-Code': code })
    const api = /^\/api\/(models|datasets)\/(.+?)(?:\/revision\/([^/]+))?$/.exec(path)
    if (api) {
      const repo = kinds[api[1] as 'models' | 'datasets'].get(api[2]!)
      const rev = api[3] ?? 'main'
      if (!repo || (rev !== 'main' && rev !== repo.sha)) {
        notFound('RepoNotFound')
        return
      }
      const body = JSON.stringify({
        id: api[2],
        sha: repo.sha,
        siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      })
      send(res, 200, body, { 'Content-Type': 'application/json' })
      return
    }
    const resolve = /^\/(datasets\/)?(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path)
    if (resolve) {
      const repo = kinds[resolve[1] ? 'datasets' : 'models'].get(resolve[2]!)
      const rev = resolve[3]!
      if (!repo || (rev !== 'main' && rev !== repo.sha)) {
        notFound('RepoNotFound')
        return
      }
      const file = repo.files.get(resolve[4]!)
      if (!file) {
        notFound('EntryNotFound')
        return
      }
      const etag = `"${createHash('sha256').update(file).digest('hex')}"`
      const headers = { 'X-Repo-Commit': repo.sha, ETag: etag, 'Content-Type': 'application/octet-stream' }
      if (req.method === 'HEAD') {
        res.writeHead(200, { ...headers, 'Content-Length': String(file.length) })
        res.end()
        return
      }
      send(res, 200, file, headers)
      return
    }
    notFound('RepoNotFound')
  }

  const server: Server = createServer(handle)
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolveClose, reject) => {
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolveClose()))
      }),
  }
}
