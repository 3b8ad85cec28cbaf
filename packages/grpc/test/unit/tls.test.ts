import { X509Certificate } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@plora/signer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDevCertificates,
  type DevCertificates,
  fetchPlasmid,
  GrpcErrorCode,
  type OfferServer,
  startOfferServer,
  writeDevCertificates,
} from '../../src/index.js'
import { cleanup, listTree, makeAdapter, tempDir } from '../helpers.js'

const keys = generateKeyPair({ type: 'ed25519' })

describe('development certificates', () => {
  it('issues server and client certificates that chain to the CA', async () => {
    const now = new Date('2026-01-01T00:00:00Z')
    const c = await createDevCertificates({ hosts: ['localhost', '127.0.0.1'], days: 30, now: () => now })
    const ca = new X509Certificate(c.caCertPem)
    const server = new X509Certificate(c.serverCertPem)
    const client = new X509Certificate(c.clientCertPem)
    expect(ca.ca).toBe(true)
    expect(server.ca).toBe(false)
    expect(server.verify(ca.publicKey)).toBe(true)
    expect(client.verify(ca.publicKey)).toBe(true)
    expect(server.checkIssued(ca)).toBe(true)
    expect(server.checkHost('localhost')).toBe('localhost')
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(server.checkHost('example.com')).toBeUndefined()
    expect(server.keyUsage).toContain('1.3.6.1.5.5.7.3.1') // serverAuth
    expect(client.keyUsage).toContain('1.3.6.1.5.5.7.3.2') // clientAuth
    // The node pair serves and dials: both usages, the server's names.
    const node = new X509Certificate(c.nodeCertPem)
    expect(node.checkIssued(ca)).toBe(true)
    expect(node.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']))
    expect(node.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(new Date(server.validTo).getTime() - new Date(server.validFrom).getTime()).toBe(30 * 86_400_000)
  })

  it('writes the files with private keys readable by the owner only', async () => {
    const dir = await tempDir()
    try {
      const paths = await writeDevCertificates(join(dir, 'certs'))
      expect((await stat(paths.serverKey)).mode & 0o777).toBe(0o600)
      expect((await stat(paths.caCert)).mode & 0o777).toBe(0o644)
      expect(await listTree(join(dir, 'certs'))).toEqual([
        'ca.key',
        'ca.pem',
        'client.key',
        'client.pem',
        'node.key',
        'node.pem',
        'server.key',
        'server.pem',
      ])
    } finally {
      await cleanup(dir)
    }
  })

  it('refuses bad options', async () => {
    await expect(createDevCertificates({ hosts: [] })).rejects.toMatchObject({ code: GrpcErrorCode.CertOptionsInvalid })
    await expect(createDevCertificates({ days: 0 })).rejects.toMatchObject({ code: GrpcErrorCode.CertOptionsInvalid })
  })
})

describe('TLS and mTLS offer/fetch', () => {
  let root: string
  let work: string
  let certs: DevCertificates
  let otherCa: DevCertificates
  let tls: OfferServer
  let mtls: OfferServer

  beforeAll(async () => {
    root = await tempDir()
    work = await tempDir()
    await makeAdapter(root, 'legal', { size: 50_000 })
    certs = await createDevCertificates()
    otherCa = await createDevCertificates()
    tls = await startOfferServer({
      root,
      port: 0,
      privateKeyPem: keys.privateKeyPem,
      tls: { certPem: certs.serverCertPem, keyPem: certs.serverKeyPem },
    })
    mtls = await startOfferServer({
      root,
      port: 0,
      privateKeyPem: keys.privateKeyPem,
      tls: { certPem: certs.serverCertPem, keyPem: certs.serverKeyPem, clientCaPem: certs.caCertPem },
    })
  })
  afterAll(async () => {
    await tls?.close()
    await mtls?.close()
    await cleanup(root, work)
  })

  const base = (port: number, dest: string) => ({
    host: '127.0.0.1',
    port,
    timeoutMs: 10_000,
    domain: 'legal',
    dest: join(work, dest),
    publicKeyPem: keys.publicKeyPem,
  })

  it('fetches over TLS with the dev CA, on both protocols', async () => {
    for (const protocol of ['stream', 'unary'] as const) {
      const r = await fetchPlasmid({
        ...base(tls.port, `tls-${protocol}`),
        protocol,
        tls: { rootCertPem: certs.caCertPem },
      })
      expect(r.signatureVerified).toBe(true)
    }
    // By host name too (the certificate lists localhost).
    const r = await fetchPlasmid({
      ...base(tls.port, 'tls-name'),
      host: 'localhost',
      tls: { rootCertPem: certs.caCertPem },
    })
    expect(r.domain).toBe('legal')
  })

  it('refuses a server whose certificate does not chain to the given CA', async () => {
    const opts = { ...base(tls.port, 'tls-wrongca'), tls: { rootCertPem: otherCa.caCertPem } }
    await expect(fetchPlasmid(opts)).rejects.toMatchObject({ code: GrpcErrorCode.ServerUnavailable })
    expect(await listTree(opts.dest)).toEqual([])
  })

  it('refuses a plaintext client on a TLS port', async () => {
    const opts = base(tls.port, 'tls-plain')
    await expect(fetchPlasmid(opts)).rejects.toMatchObject({ code: GrpcErrorCode.ServerUnavailable })
  })

  it('serves an mTLS client that presents a certificate from the client CA', async () => {
    const r = await fetchPlasmid({
      ...base(mtls.port, 'mtls-ok'),
      tls: { rootCertPem: certs.caCertPem, clientCertPem: certs.clientCertPem, clientKeyPem: certs.clientKeyPem },
    })
    expect(r.signatureVerified).toBe(true)
  })

  it('refuses an mTLS client without a certificate, or with one from another CA', async () => {
    for (const [name, t] of [
      ['mtls-none', { rootCertPem: certs.caCertPem }],
      [
        'mtls-other',
        { rootCertPem: certs.caCertPem, clientCertPem: otherCa.clientCertPem, clientKeyPem: otherCa.clientKeyPem },
      ],
    ] as const) {
      const opts = { ...base(mtls.port, name), tls: t }
      await expect(fetchPlasmid(opts)).rejects.toMatchObject({ code: GrpcErrorCode.ServerUnavailable })
      expect(await listTree(opts.dest)).toEqual([])
    }
  })

  it('refuses half a TLS configuration instead of going insecure [D-39]', async () => {
    await expect(startOfferServer({ root, port: 0, tls: { certPem: certs.serverCertPem } })).rejects.toMatchObject({
      code: GrpcErrorCode.TlsConfigInvalid,
    })
    await expect(startOfferServer({ root, port: 0, tls: { keyPem: certs.serverKeyPem } })).rejects.toMatchObject({
      code: GrpcErrorCode.TlsConfigInvalid,
    })
    await expect(startOfferServer({ root, port: 0, tls: { clientCaPem: certs.caCertPem } })).rejects.toMatchObject({
      code: GrpcErrorCode.TlsConfigInvalid,
    })
    await expect(
      fetchPlasmid({ ...base(mtls.port, 'half'), tls: { clientCertPem: certs.clientCertPem } }),
    ).rejects.toMatchObject({ code: GrpcErrorCode.TlsConfigInvalid })
  })
})
