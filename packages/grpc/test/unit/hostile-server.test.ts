/**
 * The client against servers that misbehave: tampered bytes, wrong signatures, unsafe archives,
 * lying headers, and streams that break off (resume). Each hostile server is a real grpc-js server
 * on 127.0.0.1 built from the same proto; payloads are signed with the trusted key where the test
 * needs every earlier check to pass, so the check under test is the one that refuses.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import * as grpc from '@grpc/grpc-js'
import { ADAPTER_TAG, generateKeyPair, signSha256Hex } from '@plora/signer'
import type * as tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type FetchPlasmidChunk,
  type FetchPlasmidRequest,
  fetchPlasmid,
  GrpcErrorCode,
  loadPloraServices,
  type PlasmidReply,
  PlasmidStore,
  readTarRange,
} from '../../src/index.js'
import { buildTar, cleanup, listTree, makeAdapter, tempDir } from '../helpers.js'

const keys = generateKeyPair({ type: 'ed25519' })
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const sign = (hex: string): string => signSha256Hex(keys.privateKeyPem, hex, { tag: ADAPTER_TAG })

type StreamHandler = (call: grpc.ServerWritableStream<FetchPlasmidRequest, FetchPlasmidChunk>, attempt: number) => void
type UnaryHandler = () => PlasmidReply

async function hostile(
  stream: StreamHandler | null,
  unary: UnaryHandler | null,
): Promise<{ port: number; close(): void }> {
  const { Plasmid, PlasmidStream } = loadPloraServices()
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 << 20 })
  let attempt = 0
  if (stream)
    server.addService(PlasmidStream.service, {
      FetchPlasmid: ((call: grpc.ServerWritableStream<FetchPlasmidRequest, FetchPlasmidChunk>) =>
        stream(call, attempt++)) as grpc.UntypedHandleCall,
      ListPlasmids: () => {},
    })
  if (unary)
    server.addService(Plasmid.service, {
      OfferPlasmid: (_c: unknown, cb: grpc.sendUnaryData<PlasmidReply>) => cb(null, unary()),
    })
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  )
  return { port, close: () => server.forceShutdown() }
}

function header(payload: Buffer, over: Partial<FetchPlasmidChunk['header']> = {}): FetchPlasmidChunk {
  const h = sha(payload)
  return {
    header: {
      plasmid_id: 'x',
      domain: 'legal',
      total_size: payload.length,
      sha256: h,
      signature: Buffer.from(sign(h), 'ascii'),
      manifest: '',
      format: 'tar',
      offset: 0,
      ...over,
    },
  }
}

function sendAll(
  call: grpc.ServerWritableStream<FetchPlasmidRequest, FetchPlasmidChunk>,
  first: FetchPlasmidChunk,
  payload: Buffer,
): void {
  call.write(first)
  for (let i = call.request.offset; i < payload.length; i += 65536) call.write({ data: payload.subarray(i, i + 65536) })
  call.end()
}

describe('fetch client against hostile servers', () => {
  let root: string
  let work: string
  let payload: Buffer
  let plasmidFiles: Array<{ name: string; body: Buffer }>

  beforeAll(async () => {
    root = await tempDir()
    work = await tempDir()
    await makeAdapter(root, 'legal', { size: 400_000 })
    const store = new PlasmidStore(root)
    const p = await store.prepare('legal')
    const parts: Buffer[] = []
    for await (const c of readTarRange(p!.layout)) parts.push(c)
    payload = Buffer.concat(parts)
    plasmidFiles = []
    for (const f of ['plora.yml', 'adapter_model.safetensors'])
      plasmidFiles.push({ name: f, body: await readFile(join(root, 'legal', f)) })
  })
  afterAll(async () => {
    await cleanup(root, work)
  })

  const expectRejected = async (
    port: number,
    code: string,
    extra: Partial<Parameters<typeof fetchPlasmid>[0]> = {},
  ) => {
    const dest = join(work, `d-${Math.random().toString(36).slice(2)}`)
    await expect(
      fetchPlasmid({
        host: '127.0.0.1',
        port,
        timeoutMs: 10_000,
        domain: 'legal',
        dest,
        publicKeyPem: keys.publicKeyPem,
        retries: 0,
        ...extra,
      }),
    ).rejects.toMatchObject({ code })
    expect(await listTree(dest)).toEqual([])
    // Nothing escaped the destination either.
    expect((await listTree(work)).filter((p) => p.includes('evil'))).toEqual([])
  }

  it('accepts the honest payload from the test server (control)', async () => {
    const s = await hostile((call) => sendAll(call, header(payload), payload), null)
    try {
      const r = await fetchPlasmid({
        host: '127.0.0.1',
        port: s.port,
        domain: 'legal',
        dest: join(work, 'ok'),
        publicKeyPem: keys.publicKeyPem,
      })
      expect(r.signatureVerified).toBe(true)
    } finally {
      s.close()
    }
  })

  it('refuses a tampered stream payload (digest mismatch)', async () => {
    const bad = Buffer.from(payload)
    bad[1000] = (bad[1000] as number) ^ 1
    const s = await hostile((call) => sendAll(call, header(payload), bad), null)
    try {
      await expectRejected(s.port, GrpcErrorCode.PayloadDigestMismatch)
    } finally {
      s.close()
    }
  })

  it('refuses a payload shorter or longer than announced', async () => {
    const short = await hostile(
      (call) => sendAll(call, header(payload), payload.subarray(0, payload.length - 512)),
      null,
    )
    const long = await hostile(
      (call) => sendAll(call, header(payload), Buffer.concat([payload, Buffer.alloc(512)])),
      null,
    )
    try {
      await expectRejected(short.port, GrpcErrorCode.PayloadSizeMismatch)
      await expectRejected(long.port, GrpcErrorCode.PayloadSizeMismatch)
    } finally {
      short.close()
      long.close()
    }
  })

  it('refuses a re-signed payload under another key, and an announced size over the limit', async () => {
    const other = generateKeyPair({ type: 'ed25519' })
    const h = sha(payload)
    const forged = header(payload, {
      signature: Buffer.from(signSha256Hex(other.privateKeyPem, h, { tag: ADAPTER_TAG }), 'ascii'),
    })
    const s = await hostile((call) => sendAll(call, forged, payload), null)
    const big = await hostile((call) => sendAll(call, header(payload, { total_size: 2 ** 40 }), payload), null)
    try {
      await expectRejected(s.port, GrpcErrorCode.SignatureInvalid)
      await expectRejected(big.port, GrpcErrorCode.PayloadTooLarge)
    } finally {
      s.close()
      big.close()
    }
  })

  it('refuses headers that break the protocol', async () => {
    const cases: Array<[StreamHandler, string]> = [
      [
        (call) => {
          call.write({ data: payload.subarray(0, 10) })
          call.end()
        },
        GrpcErrorCode.ProtocolViolation,
      ],
      [(call) => sendAll(call, header(payload, { domain: '../evil' }), payload), GrpcErrorCode.DomainInvalid],
      [(call) => sendAll(call, header(payload, { domain: 'medical' }), payload), GrpcErrorCode.ProtocolViolation],
      [(call) => sendAll(call, header(payload, { format: 'zip' }), payload), GrpcErrorCode.ProtocolViolation],
      [
        (call) => {
          call.end()
        },
        GrpcErrorCode.ProtocolViolation,
      ],
    ]
    for (const [handler, code] of cases) {
      const s = await hostile(handler, null)
      try {
        await expectRejected(s.port, code)
      } finally {
        s.close()
      }
    }
  })

  it('refuses archives with unsafe entries, signed and digest-correct [D-41]', async () => {
    const good = plasmidFiles.map((f) => ({ header: { name: f.name, size: f.body.length }, body: f.body }))
    const evil = Buffer.from('evil\n')
    const cases: Array<Array<{ header: Partial<tar.Header> & { name: string }; body?: Buffer }>> = [
      [...good, { header: { name: '../evil.txt', size: evil.length }, body: evil }],
      [...good, { header: { name: 'sub/../../evil.txt', size: evil.length }, body: evil }],
      [...good, { header: { name: '/tmp/evil-abs.txt', size: evil.length }, body: evil }],
      [{ header: { name: 'evil-link', type: 'symlink', linkname: '/etc/passwd' } }, ...good],
      [...good, { header: { name: 'evil-hard', type: 'link', linkname: '../x' } }],
      [...good, { header: { name: 'evil-fifo', type: 'fifo' } }],
      [...good, { header: { name: 'plora.yml', size: evil.length }, body: evil }], // duplicate replaces a checked file
    ]
    for (const entries of cases) {
      const t = await buildTar(entries)
      const s = await hostile((call) => sendAll(call, header(t), t), null)
      try {
        await expectRejected(s.port, GrpcErrorCode.TarEntryUnsafe)
      } finally {
        s.close()
      }
    }
  })

  it('bounds the extracted size and the number of entries', async () => {
    const many = await buildTar(
      Array.from({ length: 50 }, (_, i) => ({ header: { name: `f${i}`, size: 1 }, body: Buffer.from('x') })),
    )
    const s = await hostile((call) => sendAll(call, header(many), many), null)
    try {
      await expectRejected(s.port, GrpcErrorCode.PayloadTooLarge, { maxEntries: 10 })
    } finally {
      s.close()
    }
  })

  it('refuses tampered and re-signed unary replies, and gzip bombs', async () => {
    const gz = gzipSync(payload)
    const h = sha(gz)
    const ok: PlasmidReply = { status: 'OK', bytes: gz, sha: h, manifest: '', signature: Buffer.from(sign(h), 'ascii') }
    const flipped = Buffer.from(gz)
    flipped[gz.length - 20] = (flipped[gz.length - 20] as number) ^ 0xff
    const cases: Array<[PlasmidReply, string, Partial<Parameters<typeof fetchPlasmid>[0]>]> = [
      [{ ...ok, bytes: flipped }, GrpcErrorCode.PayloadDigestMismatch, {}],
      [{ ...ok, bytes: flipped, sha: sha(flipped) }, GrpcErrorCode.SignatureInvalid, {}],
      [{ ...ok, signature: Buffer.alloc(0) }, GrpcErrorCode.SignatureMissing, {}],
      [{ ...ok, status: 'ERROR', manifest: 'boom' }, GrpcErrorCode.ServerStatusError, {}],
      [ok, GrpcErrorCode.PayloadTooLarge, { maxPayloadBytes: 100_000 }],
    ]
    for (const [reply, code, extra] of cases) {
      const s = await hostile(null, () => reply)
      try {
        await expectRejected(s.port, code, { protocol: 'auto', ...extra })
      } finally {
        s.close()
      }
    }
    // The control: the untampered reply installs (found through the auto fallback to unary).
    const s = await hostile(null, () => ok)
    try {
      const r = await fetchPlasmid({
        host: '127.0.0.1',
        port: s.port,
        domain: 'legal',
        dest: join(work, 'u-ok'),
        publicKeyPem: keys.publicKeyPem,
      })
      expect(r.protocol).toBe('unary')
    } finally {
      s.close()
    }
  })

  it('resumes a broken stream from the last byte received', async () => {
    const offsets: number[] = []
    const s = await hostile((call, attempt) => {
      offsets.push(call.request.offset)
      expect(call.request.expect_sha256).toBe(attempt === 0 ? '' : sha(payload))
      const from = call.request.offset
      call.write(header(payload, { offset: from }))
      const cut = attempt === 0 ? 150_000 : attempt === 1 ? 300_000 : payload.length
      for (let i = from; i < cut; i += 50_000) call.write({ data: payload.subarray(i, Math.min(i + 50_000, cut)) })
      if (cut < payload.length) {
        // Give the client time to take the data, then break the stream.
        setTimeout(() => call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'link lost' }), 50)
      } else call.end()
    }, null)
    try {
      const r = await fetchPlasmid({
        host: '127.0.0.1',
        port: s.port,
        domain: 'legal',
        dest: join(work, 'resumed'),
        publicKeyPem: keys.publicKeyPem,
      })
      expect(r.resumes).toBe(2)
      expect(offsets).toEqual([0, 150_000, 300_000])
      expect(r.sha256).toBe(sha(payload))
      expect(
        (await readFile(join(work, 'resumed', 'legal', 'adapter_model.safetensors'))).equals(plasmidFiles[1]!.body),
      ).toBe(true)
    } finally {
      s.close()
    }
  })

  it('gives up after the retry budget and installs nothing', async () => {
    const s = await hostile((call) => {
      call.write(header(payload, { offset: call.request.offset }))
      call.write({ data: payload.subarray(call.request.offset, call.request.offset + 1000) })
      setTimeout(() => call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'link lost' }), 20)
    }, null)
    try {
      await expectRejected(s.port, GrpcErrorCode.StreamInterrupted, { retries: 2 })
    } finally {
      s.close()
    }
  })
})
