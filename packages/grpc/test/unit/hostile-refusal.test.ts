/**
 * Issue 15 points 9 and 12: refusals while an entry's data is still arriving. Each hostile server is
 * a real grpc-js server on 127.0.0.1 that serves a crafted tar (a `../x` entry with a 1 MB body, a
 * duplicate name, an entry over the size limit, a truncated last entry, absolute and link entries)
 * over the streaming and the unary protocol, signed with the trusted key so that every check
 * before the one under test passes. For each: the fetch rejects with the expected `GRPC_*` code, no
 * staging folder is left, DEST is not created (or stays empty when it existed), and nothing is
 * raised outside the returned promise (no uncaught exception, no unhandled rejection).
 * Then: server text (a 1 MB status message full of terminal escapes) reaches the error message
 * capped and escaped, and a staging folder left by a fetch killed with SIGKILL is removed by the
 * next fetch.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import { parseTempName } from '@plora/common'
import { generateKeyPair } from '@plora/signer'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  type FetchPlasmidChunk,
  type FetchPlasmidRequest,
  fetchPlasmid,
  GrpcErrorCode,
  loadPloraServices,
} from '../../src/index.js'
import { buildTar, cleanup, listTree, makeAdapter, seededBytes, type TarEntry, tempDir } from '../helpers.js'
import { serveHostile } from '../hostile.js'

const keys = generateKeyPair({ type: 'ed25519' })
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const MB = 1 << 20

type Entry = TarEntry

/** A tar whose last entry header claims `claimed` bytes but only `body` follows (no trailer). */
async function lyingTar(good: Entry[], name: string, claimed: number, body: Buffer): Promise<Buffer> {
  const start = (await buildTar(good)).length - 1024 // the two zero trailer blocks
  const full = await buildTar([
    ...good,
    { header: { name, size: claimed }, body: Buffer.concat([body, Buffer.alloc(claimed - body.length)]) },
  ])
  return full.subarray(0, start + 512 + body.length)
}

/** Everything raised outside a promise while a test runs. */
const stray: unknown[] = []
const onStray = (e: unknown): void => {
  stray.push(e)
}

describe('refusals while an entry is still arriving (issue 15 point 9)', () => {
  let root: string
  let work: string
  let good: Entry[]
  const big = seededBytes(MB, 'big-body')

  beforeAll(async () => {
    root = await tempDir()
    work = await tempDir()
    const a = await makeAdapter(root, 'legal', { size: 8192 })
    const yml = await readFile(join(a.dir, 'plora.yml'))
    good = [
      { header: { name: 'plora.yml', size: yml.length }, body: yml },
      { header: { name: 'adapter_model.safetensors', size: a.artefact.length }, body: a.artefact },
    ]
  })
  afterAll(async () => {
    await cleanup(root, work)
  })
  beforeEach(() => {
    stray.length = 0
    process.on('uncaughtException', onStray)
    process.on('unhandledRejection', onStray)
  })
  afterEach(() => {
    process.off('uncaughtException', onStray)
    process.off('unhandledRejection', onStray)
  })

  const cases: Array<{ name: string; code: string; tar: () => Promise<Buffer>; maxPayloadBytes?: number }> = [
    {
      name: 'a tar-slip ../x entry with a 1 MB body',
      code: GrpcErrorCode.TarEntryUnsafe,
      tar: () => buildTar([{ header: { name: '../x', size: big.length }, body: big }, ...good]),
    },
    {
      name: 'an absolute /tmp path with a 1 MB body',
      code: GrpcErrorCode.TarEntryUnsafe,
      tar: () =>
        buildTar([...good.slice(0, 1), { header: { name: '/tmp/plora-evil-abs', size: big.length }, body: big }]),
    },
    {
      name: 'a duplicate entry name whose second copy has a 1 MB body',
      code: GrpcErrorCode.TarEntryUnsafe,
      tar: () => buildTar([...good, { header: { name: 'plora.yml', size: big.length }, body: big }]),
    },
    {
      name: 'an entry over the size limit (header claims 8 MB, the limit is 2 MB)',
      code: GrpcErrorCode.PayloadTooLarge,
      tar: () => lyingTar(good, 'README.md', 8 * MB, big),
      maxPayloadBytes: 2 * MB,
    },
    {
      name: 'a truncated last entry (1 MB announced, 600 KB sent)',
      code: GrpcErrorCode.TarInvalid,
      tar: () => lyingTar(good, 'README.md', big.length, big.subarray(0, 600_000)),
    },
    {
      name: 'a symlink entry before a 1 MB file',
      code: GrpcErrorCode.TarEntryUnsafe,
      tar: () =>
        buildTar([
          { header: { name: 'evil-link', type: 'symlink', linkname: '/etc/passwd' } },
          ...good,
          { header: { name: 'z', size: big.length }, body: big },
        ]),
    },
    {
      name: 'a hard link entry before a 1 MB file',
      code: GrpcErrorCode.TarEntryUnsafe,
      tar: () =>
        buildTar([
          ...good,
          { header: { name: 'evil-hard', type: 'link', linkname: '../x' } },
          { header: { name: 'z', size: big.length }, body: big },
        ]),
    },
  ]

  for (const c of cases) {
    for (const protocol of ['stream', 'unary'] as const) {
      for (const withKey of [true, false]) {
        it(`refuses ${c.name} (${protocol}, ${withKey ? 'with' : 'without'} a key), leaving nothing`, async () => {
          const s = await serveHostile(await c.tar(), { signWith: keys.privateKeyPem })
          const base = join(work, `${protocol}-${withKey}-${c.name.replace(/\W+/g, '-')}`)
          await mkdir(base)
          // DEST does not exist (nor its parent): a failed fetch must not create either.
          const dest = join(base, 'parent', 'dest')
          // And a DEST that exists stays empty.
          const existing = join(base, 'existing')
          await mkdir(existing)
          try {
            for (const d of [dest, existing]) {
              await expect(
                fetchPlasmid({
                  host: '127.0.0.1',
                  port: s.port,
                  timeoutMs: 20_000,
                  domain: 'legal',
                  dest: d,
                  protocol,
                  retries: 0,
                  ...(withKey ? { publicKeyPem: keys.publicKeyPem } : {}),
                  ...(c.maxPayloadBytes ? { maxPayloadBytes: c.maxPayloadBytes } : {}),
                }),
              ).rejects.toMatchObject({ name: 'GrpcError', code: c.code })
            }
            expect(await listTree(base)).toEqual(['existing'])
            // The absolute entry names /tmp/plora-evil-abs: a top-level entry (a recursive walk of the
            // machine's /tmp would cost minutes on a busy machine).
            expect((await readdir('/tmp')).filter((p) => p.startsWith('plora-evil'))).toEqual([])
            expect(stray).toEqual([])
          } finally {
            s.close()
          }
        })
      }
    }
  }

  it('stops at once when a refused entry arrives from a server that then holds the stream open', async () => {
    const t = await buildTar([{ header: { name: '../x', size: big.length }, body: big }, ...good])
    const s = await serveHostile(t, { signWith: keys.privateKeyPem, sendBytes: 4096, holdOpen: true })
    const dest = join(work, 'stalled')
    try {
      // The deadline is far beyond the test's timeout: only cancelling on the refusal ends the fetch in time.
      await expect(
        fetchPlasmid({
          host: '127.0.0.1',
          port: s.port,
          timeoutMs: 600_000,
          domain: 'legal',
          dest,
          protocol: 'stream',
          retries: 0,
        }),
      ).rejects.toMatchObject({ code: GrpcErrorCode.TarEntryUnsafe })
      expect(await listTree(work)).not.toContain('stalled')
      expect(stray).toEqual([])
    } finally {
      s.close()
    }
  }, 20_000)

  it('refuses a DEST that is a file, or lies under one, with GRPC_LOCAL_IO_FAILED before connecting', async () => {
    const file = join(work, 'a-file')
    await writeFile(file, 'keep')
    for (const dest of [file, join(file, 'sub')]) {
      await expect(
        fetchPlasmid({ host: '127.0.0.1', port: 1, domain: 'legal', dest, retries: 0 }),
      ).rejects.toMatchObject({
        code: GrpcErrorCode.LocalIoFailed,
      })
    }
    expect(await readFile(file, 'utf8')).toBe('keep')
    expect(stray).toEqual([])
  })

  it('installs the same files when the archive is honest (control)', async () => {
    const s = await serveHostile(await buildTar(good), { signWith: keys.privateKeyPem })
    try {
      for (const protocol of ['stream', 'unary'] as const) {
        const dest = join(work, `honest-${protocol}`, 'deep', 'dest')
        const r = await fetchPlasmid({
          host: '127.0.0.1',
          port: s.port,
          domain: 'legal',
          dest,
          protocol,
          publicKeyPem: keys.publicKeyPem,
        })
        expect(r.signatureVerified).toBe(true)
        expect(await readdir(dest)).toEqual(['legal'])
        expect((await readdir(join(dest, 'legal'))).sort()).toEqual(['adapter_model.safetensors', 'plora.yml'])
      }
    } finally {
      s.close()
    }
  })
})

/** True when `text` holds a C0/C1 control character (ESC, CR, BEL, CSI, …). */
function hasControl(text: string): boolean {
  return [...text].some((ch) => {
    const cp = ch.codePointAt(0) as number
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)
  })
}

describe('server text in errors (issue 15 point 12)', () => {
  let work: string
  beforeAll(async () => {
    work = await tempDir()
  })
  afterAll(async () => {
    await cleanup(work)
  })
  const ansi = `\x1b[2J\x1b[H\x1b]0;pwned\x07\r\u009b31m${'\x1b[31mFAKE PROMPT $ '.repeat(70_000)}`

  it('caps and escapes a 1 MB in-band status message full of terminal escapes (unary)', async () => {
    expect(ansi.length).toBeGreaterThan(MB)
    const s = await serveHostile(Buffer.alloc(0), {
      unary: { status: `ERR\x1b[0m${'x'.repeat(5000)}`, manifest: ansi },
    })
    try {
      const e = (await fetchPlasmid({
        host: '127.0.0.1',
        port: s.port,
        domain: 'legal',
        dest: join(work, 'u'),
        protocol: 'unary',
      }).catch((x: unknown) => x)) as Error & { code: string }
      expect(e.code).toBe(GrpcErrorCode.ServerStatusError)
      expect(e.message.length).toBeLessThan(2048)
      expect(hasControl(e.message)).toBe(false)
      expect(e.message).toContain('\\e[2J')
      expect(e.message).toMatch(/… \(\d+ more bytes\)$/)
      expect(JSON.stringify((e as unknown as { details: unknown }).details).length).toBeLessThan(512)
    } finally {
      s.close()
    }
  })

  it('caps and escapes a gRPC status message full of terminal escapes (stream)', async () => {
    // grpc-js bounds received metadata (8 KiB by default), so the status text that arrives is smaller.
    for (const details of [ansi.slice(0, 6000)]) {
      const s = await serveHostile(Buffer.alloc(0), { status: { code: grpc.status.PERMISSION_DENIED, details } })
      try {
        const e = (await fetchPlasmid({
          host: '127.0.0.1',
          port: s.port,
          domain: 'legal',
          dest: join(work, 's'),
          protocol: 'stream',
          retries: 0,
        }).catch((x: unknown) => x)) as Error & { code: string }
        expect(e.code).toMatch(/^GRPC_/)
        expect(e.message.length).toBeLessThan(2048)
        expect(hasControl(e.message)).toBe(false)
      } finally {
        s.close()
      }
    }
  })
})

describe('a fetch killed with SIGKILL (issue 15 point 9, orphans)', () => {
  it('leaves a staging folder that the next fetch into that DEST removes', async () => {
    const root = await tempDir()
    const dest = await tempDir()
    try {
      await makeAdapter(root, 'legal', { size: 4096 })
      const { PlasmidStore, readTarRange } = await import('../../src/index.js')
      const p = await new PlasmidStore(root).prepare('legal')
      const parts: Buffer[] = []
      for await (const c of readTarRange(p!.layout)) parts.push(c)
      const payload = Buffer.concat(parts)
      // A server that sends half the payload and then holds the stream open, so the child is
      // mid-fetch (staging folder on disk) when it is killed.
      const { PlasmidStream } = loadPloraServices()
      const server = new grpc.Server()
      let calls = 0
      server.addService(PlasmidStream.service, {
        FetchPlasmid: ((call: grpc.ServerWritableStream<FetchPlasmidRequest, FetchPlasmidChunk>) => {
          const first = calls++ === 0
          const h = sha(payload)
          call.write({
            header: {
              plasmid_id: 'x',
              domain: 'legal',
              total_size: payload.length,
              sha256: h,
              signature: Buffer.alloc(0),
              manifest: '',
              format: 'tar',
              offset: 0,
            },
          })
          if (first) call.write({ data: payload.subarray(0, 2048) })
          else {
            call.write({ data: payload })
            call.end()
          }
        }) as grpc.UntypedHandleCall,
        ListPlasmids: () => {},
      })
      const port = await new Promise<number>((res, rej) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, pt) => (e ? rej(e) : res(pt))),
      )
      try {
        const fixture = fileURLToPath(new URL('../fixtures/fetch-child.ts', import.meta.url))
        const child = spawn(
          process.execPath,
          ['--conditions=@plora/source', '--import', 'tsx', fixture, String(port), dest],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        )
        let err = ''
        child.stderr?.on('data', (d: Buffer) => {
          err += d.toString()
        })
        await new Promise<void>((resolve, reject) => {
          createInterface({ input: child.stdout! }).once('line', () => resolve())
          child.once('exit', (code) => reject(new Error(`fetch child exited early (${code}): ${err}`)))
        })
        const staged = (await readdir(dest)).filter((n) => parseTempName(n)?.kind === 'staging')
        expect(staged).toHaveLength(1)
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve())
          child.kill('SIGKILL')
        })
        expect(await readdir(dest)).toEqual(staged) // the kill ran no cleanup
        const r = await fetchPlasmid({ host: '127.0.0.1', port, domain: 'legal', dest })
        expect(r.dir).toBe(join(dest, 'legal'))
        expect(await readdir(dest)).toEqual(['legal'])
      } finally {
        server.forceShutdown()
      }
    } finally {
      await cleanup(root, dest)
    }
  }, 30_000)
})
