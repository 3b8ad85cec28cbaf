/**
 * A fake Hugging Face hub on 127.0.0.1 for the dataset tests (the shared @plora/testing fake hub did
 * not exist when these tests were written). It serves, for each repo it holds:
 *   GET /api/datasets/<repo>/revision/<rev>[?blobs=true]  → {id, sha, siblings: [{rfilename, size, lfs}]}
 *   GET /datasets/<repo>/resolve/<rev|sha>/<path>          → the file bytes
 * and records every request, so tests can assert that offline runs made none.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One repo revision: its commit sha and files. */
export interface FakeRepo {
  sha: string
  files: Record<string, Uint8Array>
}

/** Behaviour switches. */
export interface FakeHubOptions {
  /** Answer 401 unless this bearer token is sent. */
  token?: string
  /** Answer 503 to this many requests first (retry tests). */
  failFirst?: number
  /** Serve these paths with one byte flipped (integrity tests). */
  corrupt?: string[]
  /** Send half of these files, then drop the connection. */
  truncate?: string[]
}

export interface FakeHub {
  endpoint: string
  requests: string[]
  /** repo id → revision name → repo. */
  repos: Map<string, Map<string, FakeRepo>>
  options: FakeHubOptions
  close(): Promise<void>
}

function send(res: ServerResponse, status: number, body: string | Uint8Array, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** Starts the fake hub on an ephemeral loopback port. */
export async function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const repos = new Map<string, Map<string, FakeRepo>>()
  const requests: string[] = []
  let failures = 0
  const hub: FakeHub = { endpoint: '', requests, repos, options, close: async () => {} }

  const findRevision = (repo: string, rev: string): FakeRepo | undefined => {
    const revs = repos.get(repo)
    if (!revs) return undefined
    return revs.get(rev) ?? [...revs.values()].find((r) => r.sha === rev)
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    requests.push(`${req.method} ${url.pathname}${url.search}`)
    if (hub.options.failFirst && failures < hub.options.failFirst) {
      failures++
      send(res, 503, '{"error":"unavailable"}')
      return
    }
    if (hub.options.token && req.headers.authorization !== `Bearer ${hub.options.token}`) {
      send(res, 401, '{"error":"unauthorized"}')
      return
    }
    const path = url.pathname
    const api = /^\/api\/datasets\/(.+)\/revision\/([^/]+)$/.exec(path)
    if (api) {
      const repo = api[1]!
      const rev = decodeURIComponent(api[2]!)
      const r = findRevision(repo, rev)
      if (!r) {
        send(res, 404, '{"error":"Repository not found"}')
        return
      }
      const siblings = Object.entries(r.files).map(([rfilename, bytes]) => ({
        rfilename,
        size: bytes.length,
        lfs: { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length },
      }))
      send(res, 200, JSON.stringify({ id: repo, sha: r.sha, siblings }))
      return
    }
    const file = /^\/datasets\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path)
    if (file) {
      const r = findRevision(file[1]!, decodeURIComponent(file[2]!))
      const name = file[3]!.split('/').map(decodeURIComponent).join('/')
      const bytes = r?.files[name]
      if (!bytes) {
        send(res, 404, '{"error":"Entry not found"}')
        return
      }
      if (hub.options.truncate?.includes(name)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length })
        res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy())
        return
      }
      let body = bytes
      if (hub.options.corrupt?.includes(name)) {
        body = Uint8Array.from(bytes)
        body[body.length >> 1] ^= 0xff
      }
      send(res, 200, body, 'application/octet-stream')
      return
    }
    send(res, 404, '{"error":"no route"}')
  }

  const server: Server = createServer(handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  hub.endpoint = `http://127.0.0.1:${port}`
  hub.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections()
      server.close((e) => (e ? reject(e) : resolve()))
    })
  return hub
}

/** Adds a repo revision with the given files; returns its sha. */
export function addRepo(hub: FakeHub, repo: string, files: Record<string, Uint8Array>, revision = 'main'): string {
  const sha = createHash('sha1')
    .update(`${repo}@${revision}@${Object.keys(files).join(',')}`)
    .digest('hex')
  let revs = hub.repos.get(repo)
  if (!revs) {
    revs = new Map()
    hub.repos.set(repo, revs)
  }
  revs.set(revision, { sha, files })
  return sha
}
