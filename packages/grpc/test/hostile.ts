/**
 * A hostile plasmid server for tests: a real grpc-js server on 127.0.0.1 built from the repo's
 * proto that serves a crafted payload (any bytes, e.g. a malicious tar) on the streaming service
 * (in 64 KiB chunks) and, gzipped, as the unary reply — optionally signed with a trusted key so
 * the check under test is the one that refuses. Used by test/unit/hostile-refusal.test.ts and the
 * CLI test tests/grpc-fetch-hostile-cli.test.ts.
 */
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import * as grpc from '@grpc/grpc-js'
import { ADAPTER_TAG, signSha256Hex } from '@plora/signer'
import {
  type FetchPlasmidChunk,
  type FetchPlasmidRequest,
  loadPloraServices,
  type PlasmidInfo,
  type PlasmidReply,
} from '../src/index.js'

/** A running hostile server. */
export interface HostileServer {
  port: number
  close(): void
}

/** What {@link serveHostile} sends besides the payload. */
export interface HostileOptions {
  /** PEM private key that signs the digests (unsigned when absent). */
  signWith?: string
  /** Domain announced in the stream header (default `legal`). */
  domain?: string
  /** Fail the stream call with this gRPC status instead of sending the payload. */
  status?: { code: number; details: string }
  /** Stream only the first `sendBytes` of the payload (the header still announces all of it). */
  sendBytes?: number
  /** Keep the stream open after the data instead of ending it (a server that stalls). */
  holdOpen?: boolean
  /** What `ListPlasmids` answers (default: it never answers). */
  list?: PlasmidInfo[]
  /** Fields that replace those of the unary reply (e.g. `status: 'ERROR'` and a `manifest` text). */
  unary?: Partial<PlasmidReply>
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Starts a server that serves `payload` as described in the file header. */
export async function serveHostile(payload: Buffer, options: HostileOptions = {}): Promise<HostileServer> {
  const sign = (hex: string): Buffer =>
    options.signWith
      ? Buffer.from(signSha256Hex(options.signWith, hex, { tag: ADAPTER_TAG }), 'ascii')
      : Buffer.alloc(0)
  const { Plasmid, PlasmidStream } = loadPloraServices()
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 << 20 })
  server.addService(PlasmidStream.service, {
    FetchPlasmid: ((call: grpc.ServerWritableStream<FetchPlasmidRequest, FetchPlasmidChunk>) => {
      if (options.status) {
        call.emit('error', options.status)
        return
      }
      const h = sha(payload)
      call.write({
        header: {
          plasmid_id: 'x',
          domain: options.domain ?? 'legal',
          total_size: payload.length,
          sha256: h,
          signature: sign(h),
          manifest: '',
          format: 'tar',
          offset: 0,
        },
      })
      const n = Math.min(options.sendBytes ?? payload.length, payload.length)
      for (let i = 0; i < n; i += 65536) call.write({ data: payload.subarray(i, Math.min(i + 65536, n)) })
      if (!options.holdOpen) call.end()
    }) as grpc.UntypedHandleCall,
    ListPlasmids: (_c: unknown, cb: grpc.sendUnaryData<{ plasmids: PlasmidInfo[] }>) => {
      if (options.list) cb(null, { plasmids: options.list })
    },
  })
  const gz = gzipSync(payload)
  server.addService(Plasmid.service, {
    OfferPlasmid: (_c: unknown, cb: grpc.sendUnaryData<PlasmidReply>) =>
      cb(null, { status: 'OK', bytes: gz, sha: sha(gz), manifest: '', signature: sign(sha(gz)), ...options.unary }),
  })
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  )
  return { port, close: () => server.forceShutdown() }
}
