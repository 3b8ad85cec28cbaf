import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { sha256Hex } from '@plora/common'
import { generateKeyPair } from '@plora/signer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  fetchPlasmid,
  GrpcErrorCode,
  listPlasmids,
  loadPloraServices,
  type OfferServer,
  type PlasmidReply,
  startOfferServer,
} from '../../src/index.js'
import { cleanup, listTree, makeAdapter, tempDir } from '../helpers.js'

const keys = generateKeyPair({ type: 'ed25519' })
const otherKeys = generateKeyPair({ type: 'ed25519' })

describe('offer server and fetch client (insecure, in-process)', () => {
  let root: string
  let work: string
  let signed: OfferServer
  let unsigned: OfferServer
  const conn = () => ({ host: '127.0.0.1', port: signed.port, timeoutMs: 20_000 })

  beforeAll(async () => {
    root = await tempDir()
    work = await tempDir()
    await makeAdapter(root, 'legal', { size: 300_000 })
    await makeAdapter(root, 'big', { size: 3 * 1024 * 1024 })
    await makeAdapter(root, 'medical', { size: 5000, plasmidId: 'med-007' })
    // An adapter whose manifest digest is wrong (artefact edited after signing).
    await makeAdapter(root, 'stale', {
      manifest: (m) => ({ ...m, artifacts: { ...m.artifacts, sha256: 'a'.repeat(64) } }),
    })
    await makeAdapter(root, 'otherdomain', { manifest: (m) => ({ ...m, domain: 'legal' }) })
    // A secret outside the root, and a symlinked "domain" pointing at it.
    const outside = join(work, 'outside')
    await makeAdapter(outside, 'secret')
    await symlink(join(outside, 'secret'), join(root, 'linked'))
    signed = await startOfferServer({ root, port: 0, privateKeyPem: keys.privateKeyPem })
    unsigned = await startOfferServer({ root, port: 0 })
  })
  afterAll(async () => {
    await signed?.close()
    await unsigned?.close()
    await cleanup(root, work)
  })

  it('fetches, verifies and installs an adapter over the stream service', async () => {
    const dest = join(work, 'd1')
    const r = await fetchPlasmid({ ...conn(), domain: 'legal', dest, publicKeyPem: keys.publicKeyPem })
    expect(r).toMatchObject({
      protocol: 'stream',
      domain: 'legal',
      signed: true,
      signatureVerified: true,
      plasmidId: 'legal-r4',
    })
    expect(r.dir).toBe(join(dest, 'legal'))
    const a = await readFile(join(dest, 'legal', 'adapter_model.safetensors'))
    expect(a.equals(await readFile(join(root, 'legal', 'adapter_model.safetensors')))).toBe(true)
    expect(await listTree(dest)).toEqual([
      'legal',
      'legal/README.md',
      'legal/adapter_config.json',
      'legal/adapter_model.safetensors',
      'legal/plora.yml',
    ])
  })

  it('fetches over the original unary call with the same checks', async () => {
    const dest = join(work, 'd2')
    const r = await fetchPlasmid({
      ...conn(),
      domain: 'medical',
      dest,
      publicKeyPem: keys.publicKeyPem,
      protocol: 'unary',
    })
    expect(r).toMatchObject({ protocol: 'unary', signatureVerified: true, plasmidId: 'med-007' })
    expect((await listTree(dest)).filter((p) => !p.includes('/'))).toEqual(['medical'])
  })

  it('gives the same payload digest on every request (deterministic tarball)', async () => {
    const a = await fetchPlasmid({ ...conn(), domain: 'medical', dest: join(work, 'd3a') })
    const b = await fetchPlasmid({ ...conn(), domain: 'medical', dest: join(work, 'd3b') })
    expect(a.sha256).toBe(b.sha256)
    const u1 = await fetchPlasmid({ ...conn(), domain: 'medical', dest: join(work, 'd3c'), protocol: 'unary' })
    const u2 = await fetchPlasmid({ ...conn(), domain: 'medical', dest: join(work, 'd3d'), protocol: 'unary' })
    expect(u1.sha256).toBe(u2.sha256)
    expect(u1.sha256).not.toBe(a.sha256) // gzip vs plain tar
  })

  it('lists the offered adapters and fetches one by plasmid id', async () => {
    const list = await listPlasmids(conn())
    expect(list.map((p) => p.domain)).toEqual(['big', 'legal', 'medical', 'otherdomain', 'stale'])
    const med = list.find((p) => p.domain === 'medical')
    expect(med).toMatchObject({ plasmid_id: 'med-007', signed: true })
    expect(med?.manifest_sha256).toBe(sha256Hex(await readFile(join(root, 'medical', 'plora.yml'))))
    const r = await fetchPlasmid({
      ...conn(),
      plasmidId: 'med-007',
      dest: join(work, 'd4'),
      publicKeyPem: keys.publicKeyPem,
    })
    expect(r.domain).toBe('medical')
    expect(r.sha256).toBe(med?.payload_sha256)
    expect(r.size).toBe(med?.size)
  })

  it('replaces an existing copy atomically', async () => {
    const dest = join(work, 'd5')
    await mkdir(join(dest, 'medical'), { recursive: true })
    await writeFile(join(dest, 'medical', 'old.txt'), 'old')
    await fetchPlasmid({ ...conn(), domain: 'medical', dest })
    expect((await listTree(join(dest, 'medical'))).includes('old.txt')).toBe(false)
    expect(await listTree(dest)).toContain('medical/plora.yml')
  })

  const rejects = async (opts: Parameters<typeof fetchPlasmid>[0], code: string): Promise<void> => {
    await expect(fetchPlasmid(opts)).rejects.toMatchObject({ code })
    expect(await listTree(opts.dest)).toEqual([])
  }

  it('refuses a reply signed by another key', async () => {
    for (const protocol of ['stream', 'unary'] as const) {
      await rejects(
        {
          ...conn(),
          domain: 'legal',
          dest: join(work, `wk-${protocol}`),
          publicKeyPem: otherKeys.publicKeyPem,
          protocol,
        },
        GrpcErrorCode.SignatureInvalid,
      )
    }
  })

  it('refuses an unsigned reply when a public key is given [D-40]', async () => {
    for (const protocol of ['stream', 'unary'] as const) {
      await rejects(
        {
          ...conn(),
          port: unsigned.port,
          domain: 'legal',
          dest: join(work, `us-${protocol}`),
          publicKeyPem: keys.publicKeyPem,
          protocol,
        },
        GrpcErrorCode.SignatureMissing,
      )
    }
    // Without a key an unsigned reply is accepted (as the original), and reported as unsigned.
    const r = await fetchPlasmid({ ...conn(), port: unsigned.port, domain: 'medical', dest: join(work, 'us-ok') })
    expect(r).toMatchObject({ signed: false, signatureVerified: false })
  })

  it('refuses traversal domains on the client before any call [D-38]', async () => {
    for (const domain of ['../x', '/etc', '..', '.', '%2e%2e%2fx', '..%2Fx', 'a/b', 'a\\b', '', '.hidden', 'x\u0000']) {
      await rejects({ ...conn(), domain, dest: join(work, 'trav') }, GrpcErrorCode.DomainInvalid)
    }
  })

  it('refuses traversal domains on the server, for both services [D-38]', async () => {
    const { Plasmid, PlasmidStream } = loadPloraServices()
    const target = `127.0.0.1:${signed.port}`
    const unary = new Plasmid(target, grpc.credentials.createInsecure())
    const stream = new PlasmidStream(target, grpc.credentials.createInsecure())
    try {
      for (const domain of ['../outside/secret', `${work}/outside/secret`, '..%2Foutside%2Fsecret']) {
        const reply = await new Promise<PlasmidReply>((res, rej) =>
          unary.OfferPlasmid({ domain }, (e: Error | null, r: PlasmidReply) => (e ? rej(e) : res(r))),
        )
        expect(reply.status).toBe('ERROR')
        expect(reply.bytes.length).toBe(0)
        expect(reply.manifest).toMatch(/invalid domain/)
        const err = await new Promise<grpc.ServiceError>((res) => {
          const call = stream.FetchPlasmid({ domain, offset: 0 })
          call.on('data', () => {})
          call.on('error', res)
        })
        expect(err.code).toBe(grpc.status.INVALID_ARGUMENT)
      }
      // A symlinked domain folder is not followed out of the root.
      const reply = await new Promise<PlasmidReply>((res, rej) =>
        unary.OfferPlasmid({ domain: 'linked' }, (e: Error | null, r: PlasmidReply) => (e ? rej(e) : res(r))),
      )
      expect(reply.status).toBe('NOT_FOUND')
    } finally {
      unary.close()
      stream.close()
    }
    await rejects({ ...conn(), domain: 'linked', dest: join(work, 'lnk') }, GrpcErrorCode.PlasmidNotFound)
  })

  it('reports a missing domain as not found', async () => {
    for (const protocol of ['stream', 'unary'] as const) {
      await rejects(
        { ...conn(), domain: 'nope', dest: join(work, `nf-${protocol}`), protocol },
        GrpcErrorCode.PlasmidNotFound,
      )
    }
  })

  it('refuses an artefact whose digest differs from the manifest', async () => {
    await rejects({ ...conn(), domain: 'stale', dest: join(work, 'stale') }, GrpcErrorCode.ArtifactHashMismatch)
  })

  it('refuses a manifest naming another domain', async () => {
    await rejects({ ...conn(), domain: 'otherdomain', dest: join(work, 'od') }, GrpcErrorCode.ManifestDomainMismatch)
  })

  it('refuses an oversize payload', async () => {
    await rejects(
      { ...conn(), domain: 'legal', dest: join(work, 'big'), maxPayloadBytes: 100_000 },
      GrpcErrorCode.PayloadTooLarge,
    )
    await rejects(
      { ...conn(), domain: 'legal', dest: join(work, 'bigu'), maxPayloadBytes: 100_000, protocol: 'unary' },
      GrpcErrorCode.PayloadTooLarge,
    )
  })

  it('refuses a unary payload over the server message limit, while the stream still serves it', async () => {
    const small = await startOfferServer({ root, port: 0, maxMsgMb: 1 })
    try {
      const opts = { host: '127.0.0.1', port: small.port, timeoutMs: 20_000, domain: 'big' }
      const err = await fetchPlasmid({ ...opts, dest: join(work, 'lim-u'), protocol: 'unary' }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: GrpcErrorCode.ServerStatusError })
      expect((err as Error).message).toMatch(/over the unary message limit/)
      expect(await listTree(join(work, 'lim-u'))).toEqual([])
      const r = await fetchPlasmid({ ...opts, dest: join(work, 'lim-s') })
      expect(r.size).toBeGreaterThan(3 * 1024 * 1024)
    } finally {
      await small.close()
    }
  })

  it('runs 32 concurrent fetches that all succeed and verify', async () => {
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        fetchPlasmid({
          ...conn(),
          domain: i % 2 ? 'legal' : 'medical',
          dest: join(work, 'many', String(i)),
          publicKeyPem: keys.publicKeyPem,
        }),
      ),
    )
    expect(results.every((r) => r.signatureVerified)).toBe(true)
    expect(new Set(results.map((r) => r.sha256)).size).toBe(2)
  })

  it('leaves nothing behind when the fetch is aborted mid-stream', async () => {
    const dest = join(work, 'abort')
    const ac = new AbortController()
    let abortedAt = -1
    const p = fetchPlasmid(
      { ...conn(), domain: 'big', dest, signal: ac.signal },
      {
        onProgress: (e) => {
          if (e.status === 'progress' && abortedAt < 0) {
            abortedAt = e.done
            ac.abort()
          }
        },
      },
    )
    await expect(p).rejects.toMatchObject({ code: GrpcErrorCode.FetchAborted })
    expect(abortedAt).toBeGreaterThan(0)
    expect(abortedAt).toBeLessThan(3 * 1024 * 1024)
    expect(await listTree(dest)).toEqual([])
  })

  it('reports an unreachable server', async () => {
    await rejects(
      { host: '127.0.0.1', port: 1, timeoutMs: 5000, domain: 'legal', dest: join(work, 'down') },
      GrpcErrorCode.ServerUnavailable,
    )
  })
})
