/**
 * The offer server: serves the adapter folders under a root over gRPC (spec core.md §20.2,
 * pipelines.md §8.3).
 *
 * - `plora.Plasmid/OfferPlasmid`: the original's unary call, wire-compatible, errors in-band
 *   (`status` "NOT_FOUND" / "ERROR", gRPC status OK), one gzip tarball per reply bounded by the
 *   message limit (`maxMsgMb`, 64 by default, applied to send and receive as in the original).
 * - `plora.v2.PlasmidStream`: `ListPlasmids` and `FetchPlasmid` (header, then chunks read from
 *   disk as they are sent, with backpressure; resumable from an offset). Memory per fetch is a few
 *   chunks, whatever the adapter size.
 *
 * Both share one payload store (deterministic tar, digest and signature computed once per
 * adapter version) and one concurrency limit: at most `maxConcurrent` payloads are produced at a
 * time, up to `maxQueued` more calls wait, and further calls are refused as busy.
 * Every request logs one line (method, domain, outcome, bytes, milliseconds, peer).
 */
import * as grpc from '@grpc/grpc-js'
import { type Logger, SILENT_LOGGER, untrustedText } from '@plora/common'
import { ADAPTER_TAG, loadPrivateKey, signSha256Hex } from '@plora/signer'
import { GrpcError, GrpcErrorCode } from './errors.js'
import { assertPlasmidId, assertSafeDomain } from './names.js'
import { type PayloadSigner, PlasmidStore, type PreparedPlasmid } from './plasmid-store.js'
import {
  DATA_CHUNK_HEADROOM,
  type EncodedChunk,
  encodeDataChunkInPlace,
  type FetchPlasmidChunk,
  type FetchPlasmidRequest,
  loadPloraServices,
  type PlasmidInfo,
  type PlasmidReply,
  type PlasmidRequest,
} from './proto.js'
import { Semaphore } from './semaphore.js'
import { readTarFrames } from './tar.js'
import { createServerCredentials, type ServerTlsOptions } from './tls.js'

const MIB = 1024 * 1024
/** Chunk buffers kept for reuse per streaming call. */
const MAX_SPARE_FRAMES = 4

/** Numbers and flags of an offer server. */
export interface OfferServerInit {
  /** Folder whose direct sub-folders are the offered adapters (`--root`). */
  root: string
  /** Interface to listen on (default 127.0.0.1; the original's 0.0.0.0 must be asked for). */
  host: string
  /** Port (default 50051; 0 picks a free one, see {@link OfferServer.port}). */
  port: number
  /** gRPC send/receive message limit in MiB (default 64, as the original). */
  maxMsgMb: number
  /** Most payloads produced at once (default 8). */
  maxConcurrent: number
  /** Most calls waiting for a slot before new ones are refused as busy (default 256). */
  maxQueued: number
  /** Data bytes per streamed message (default 1 MiB). */
  chunkSize: number
  /** PEM private key that signs payload digests (`--private-key`); unsigned when absent. */
  privateKeyPem?: string
  /** Passphrase of an encrypted private key. */
  passphrase?: string
  /** TLS / mTLS material; insecure when absent. */
  tls?: ServerTlsOptions
  /** Grace period of {@link OfferServer.close} before in-flight calls are cut (default 5000 ms). */
  shutdownGraceMs: number
}

/** Defaults of {@link OfferServerInit}. */
export const DEFAULT_OFFER_SERVER_INIT = {
  host: '127.0.0.1',
  port: 50051,
  maxMsgMb: 64,
  maxConcurrent: 8,
  maxQueued: 256,
  chunkSize: 1 * MIB,
  shutdownGraceMs: 5000,
} as const satisfies Partial<OfferServerInit>

/** Collaborators of an offer server. */
export interface OfferServerComponents {
  logger?: Logger
  /** Replaces the key-based signer (tests, HSMs). */
  signer?: PayloadSigner
  /** More services served on the same port (a swarm node's `plora.node.v1.SwarmNode`). */
  services?: readonly ExtraService[]
}

/** A service served next to the plasmid services (its definition from {@link loadPloraServices}). */
export interface ExtraService {
  service: grpc.ServiceDefinition
  implementation: grpc.UntypedServiceImplementation
}

/** A running offer server. */
export interface OfferServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number
  readonly host: string
  /** `host:port` to dial. */
  readonly address: string
  readonly tls: boolean
  readonly store: PlasmidStore
  /** Stops accepting calls, lets running ones finish for the grace period, then cuts them. */
  close(graceMs?: number): Promise<void>
}

/** Builds the payload signer for a PEM private key; the key is loaded (and checked) once, here. */
export function createKeySigner(privateKeyPem: string, passphrase?: string): PayloadSigner {
  const key = loadPrivateKey(privateKeyPem, passphrase)
  return (sha256Hex) => signSha256Hex(key, sha256Hex, { tag: ADAPTER_TAG })
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
}

function statusError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() })
}

/** Maps a failure while serving to a gRPC status (streaming service). */
function toStatus(e: unknown): grpc.ServiceError {
  if (e instanceof GrpcError) {
    switch (e.code) {
      case GrpcErrorCode.DomainInvalid:
      case GrpcErrorCode.PlasmidIdInvalid:
      case GrpcErrorCode.OptionsInvalid:
        return statusError(grpc.status.INVALID_ARGUMENT, e.message)
      case GrpcErrorCode.ServerBusy:
        return statusError(grpc.status.RESOURCE_EXHAUSTED, e.message)
      default:
        return statusError(grpc.status.INTERNAL, e.message)
    }
  }
  return statusError(grpc.status.INTERNAL, `internal error: ${(e as Error)?.message ?? String(e)}`)
}

/**
 * Starts an offer server and resolves once it listens.
 *
 * @example
 * const server = await startOfferServer({ root: 'out', port: 0, privateKeyPem })
 * // … fetchPlasmid({ domain: 'legal', dest: 'fetched', port: server.port, publicKeyPem })
 * await server.close()
 */
export async function startOfferServer(
  init: Partial<OfferServerInit> & Pick<OfferServerInit, 'root'>,
  components: OfferServerComponents = {},
): Promise<OfferServer> {
  const o = { ...DEFAULT_OFFER_SERVER_INIT, ...init }
  const logger = components.logger ?? SILENT_LOGGER
  for (const [k, v] of [
    ['maxMsgMb', o.maxMsgMb],
    ['maxConcurrent', o.maxConcurrent],
    ['chunkSize', o.chunkSize],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new GrpcError(GrpcErrorCode.OptionsInvalid, `${k} must be a positive integer, found ${v}`, { [k]: v })
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new GrpcError(GrpcErrorCode.OptionsInvalid, `port must be 0..65535, found ${o.port}`, { port: o.port })
  }
  const maxMsgBytes = o.maxMsgMb * MIB
  const chunkSize = Math.min(o.chunkSize, maxMsgBytes - 1024)
  const credentials = createServerCredentials(o.tls)
  let signer = components.signer
  if (!signer && o.privateKeyPem !== undefined) {
    try {
      signer = createKeySigner(o.privateKeyPem, o.passphrase)
    } catch (e) {
      throw new GrpcError(
        GrpcErrorCode.FileUnreadable,
        `cannot load the private key: ${(e as Error).message}`,
        {},
        { cause: e },
      )
    }
  }
  const store = new PlasmidStore(o.root, { logger, ...(signer ? { signer } : {}) })
  await store.checkRoot()
  const slots = new Semaphore(o.maxConcurrent, o.maxQueued)

  const offerPlasmid: grpc.handleUnaryCall<PlasmidRequest, PlasmidReply> = (call, callback) => {
    const t0 = performance.now()
    const domain = call.request.domain
    const reply = (r: Partial<PlasmidReply>, outcome: string): void => {
      const full: PlasmidReply = {
        status: r.status ?? 'ERROR',
        bytes: r.bytes ?? Buffer.alloc(0),
        sha: r.sha ?? '',
        manifest: r.manifest ?? '',
        signature: r.signature ?? Buffer.alloc(0),
      }
      logger.info('OfferPlasmid', {
        // The client's text, capped and escaped so it cannot flood or drive the server's terminal.
        domain: untrustedText(domain),
        status: full.status,
        outcome,
        bytes: full.bytes.length,
        ms: Math.round(performance.now() - t0),
        peer: call.getPeer(),
      })
      callback(null, full)
    }
    ;(async () => {
      let release: (() => void) | null = null
      try {
        assertSafeDomain(domain)
        release = await slots.acquire()
        const p = await store.prepare(domain)
        if (!p) return reply({ status: 'NOT_FOUND' }, 'not found')
        const u = await store.unaryPayload(p, maxMsgBytes - 64 * 1024)
        return reply(
          {
            status: 'OK',
            bytes: u.bytes,
            sha: u.sha256,
            manifest: u.manifestText,
            signature: Buffer.from(u.signatureB64, 'ascii'),
          },
          'sent',
        )
      } catch (e) {
        // In-band error, as the original: the gRPC status stays OK.
        return reply({ status: 'ERROR', manifest: (e as Error).message }, (e as GrpcError).code ?? 'error')
      } finally {
        release?.()
      }
    })()
  }

  const listPlasmids: grpc.handleUnaryCall<Record<string, never>, { plasmids: PlasmidInfo[] }> = (call, callback) => {
    const t0 = performance.now()
    ;(async () => {
      let release: (() => void) | null = null
      try {
        release = await slots.acquire()
        const all = await store.list()
        const plasmids = all.map((p) => ({
          plasmid_id: p.plasmidId,
          domain: p.domain,
          manifest_sha256: p.manifestSha256,
          size: p.size,
          payload_sha256: p.sha256,
          signed: p.signatureB64 !== '',
        }))
        logger.info('ListPlasmids', {
          count: plasmids.length,
          ms: Math.round(performance.now() - t0),
          peer: call.getPeer(),
        })
        callback(null, { plasmids })
      } catch (e) {
        logger.info('ListPlasmids', { outcome: (e as GrpcError).code ?? 'error', peer: call.getPeer() })
        callback(toStatus(e))
      } finally {
        release?.()
      }
    })()
  }

  const fetchPlasmid: grpc.handleServerStreamingCall<FetchPlasmidRequest, FetchPlasmidChunk | EncodedChunk> = (
    call,
  ) => {
    const t0 = performance.now()
    const req = call.request
    const abort = new AbortController()
    call.on('cancelled', () => abort.abort(new Error('cancelled by the client')))
    let sent = 0
    let label = req.selector === 'plasmid_id' ? `id:${req.plasmid_id}` : (req.domain ?? '')
    const log = (outcome: string): void => {
      logger.info('FetchPlasmid', {
        target: untrustedText(label),
        offset: req.offset,
        outcome,
        bytes: sent,
        ms: Math.round(performance.now() - t0),
        peer: call.getPeer(),
      })
    }
    ;(async () => {
      let release: (() => void) | null = null
      try {
        let p: PreparedPlasmid | null
        if (req.selector === 'plasmid_id') {
          assertPlasmidId(req.plasmid_id)
          release = await slots.acquire(abort.signal)
          p = await store.findByPlasmidId(req.plasmid_id as string)
        } else {
          assertSafeDomain(req.domain)
          release = await slots.acquire(abort.signal)
          p = await store.prepare(req.domain as string)
        }
        if (!p) {
          call.emit('error', statusError(grpc.status.NOT_FOUND, `no plasmid ${label} offered here`))
          return log('not found')
        }
        label = p.domain
        if (req.expect_sha256 && req.expect_sha256 !== p.sha256) {
          call.emit(
            'error',
            statusError(
              grpc.status.FAILED_PRECONDITION,
              `the payload of ${p.domain} changed: now ${p.sha256}, the client resumes ${req.expect_sha256}`,
            ),
          )
          return log('changed')
        }
        if (!Number.isSafeInteger(req.offset) || req.offset < 0 || req.offset > p.size) {
          call.emit(
            'error',
            statusError(grpc.status.OUT_OF_RANGE, `offset ${req.offset} is past the payload end (${p.size})`),
          )
          return log('bad offset')
        }
        const header = {
          plasmid_id: p.plasmidId,
          domain: p.domain,
          total_size: p.size,
          sha256: p.sha256,
          signature: Buffer.from(p.signatureB64, 'ascii'),
          manifest: p.manifestText,
          format: 'tar',
          offset: req.offset,
        }
        if (!call.write({ header })) await drained(call, abort.signal)
        // Chunk buffers are recycled: grpc-js has copied a message into its own frame by the time
        // the write callback runs, so the buffer can take the next read (no allocation per chunk).
        const spare: Buffer[] = []
        const frameSize = DATA_CHUNK_HEADROOM + chunkSize
        const frames = readTarFrames(p.layout, {
          start: req.offset,
          chunkSize,
          signal: abort.signal,
          headroom: DATA_CHUNK_HEADROOM,
          allocate: (size) =>
            size <= frameSize ? (spare.pop() ?? Buffer.allocUnsafe(frameSize)) : Buffer.allocUnsafe(size),
        })
        for await (const { buf, length } of frames) {
          // Encoded in place (no copy into a protobuf writer); grpc-js still frames it with one copy.
          const recycle = (): void => {
            if (spare.length < MAX_SPARE_FRAMES && buf.buffer.byteLength === frameSize)
              spare.push(Buffer.from(buf.buffer))
          }
          const more = call.write(encodeDataChunkInPlace(buf, DATA_CHUNK_HEADROOM, length), recycle)
          sent += length
          if (!more) await drained(call, abort.signal)
        }
        call.end()
        log('sent')
      } catch (e) {
        if (abort.signal.aborted) return log('cancelled')
        call.emit('error', toStatus(e))
        log((e as GrpcError).code ?? 'error')
      } finally {
        release?.()
      }
    })()
  }

  const { Plasmid, PlasmidStream } = loadPloraServices()
  const server = new grpc.Server({
    'grpc.max_send_message_length': maxMsgBytes,
    'grpc.max_receive_message_length': maxMsgBytes,
  })
  server.addService(Plasmid.service, { OfferPlasmid: offerPlasmid })
  server.addService(PlasmidStream.service, { ListPlasmids: listPlasmids, FetchPlasmid: fetchPlasmid })
  for (const s of components.services ?? []) server.addService(s.service, s.implementation)
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(o.host, o.port), credentials, (err, bound) => {
      if (err) {
        reject(
          new GrpcError(
            GrpcErrorCode.OptionsInvalid,
            `cannot listen on ${formatAddress(o.host, o.port)}: ${err.message}`,
            { host: o.host, port: o.port },
            { cause: err },
          ),
        )
      } else resolve(bound)
    })
  })
  const tls = o.tls?.certPem !== undefined
  logger.info('offer server listening', {
    address: formatAddress(o.host, port),
    root: o.root,
    tls: tls ? (o.tls?.clientCaPem !== undefined ? 'mtls' : 'tls') : 'off',
    signing: store.signs,
  })
  let closing: Promise<void> | null = null
  return {
    port,
    host: o.host,
    address: formatAddress(o.host, port),
    tls,
    store,
    close(graceMs = o.shutdownGraceMs) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown()
          resolve()
        }, graceMs)
        server.tryShutdown(() => {
          clearTimeout(timer)
          resolve()
        })
      })
      return closing
    },
  }
}

/** Waits until a server stream can take more data, or fails when the call ends first. */
function drained(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      call.off('drain', done)
      signal.removeEventListener('abort', done)
      if (signal.aborted) reject(signal.reason)
      else resolve()
    }
    call.on('drain', done)
    signal.addEventListener('abort', done)
  })
}
