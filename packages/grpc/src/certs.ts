/**
 * Development certificates for the TLS and mTLS demos (`plora certs --out DIR`): a self-signed CA
 * and a server and a client certificate issued by it, made with `@peculiar/x509` over Node's
 * WebCrypto (no openssl CLI).
 *
 * Keys are ECDSA P-256, certificates are X.509 v3 signed with ECDSA-SHA256:
 * - CA: basicConstraints CA:true (critical), keyUsage keyCertSign|cRLSign, SKI;
 * - server: CA:false, keyUsage digitalSignature, extKeyUsage serverAuth, SAN = the given host
 *   names and IP addresses (default `localhost`, `127.0.0.1`, `::1`), AKI/SKI;
 * - client: CA:false, keyUsage digitalSignature, extKeyUsage clientAuth, SAN DNS `plora-client`.
 * Private keys are PKCS#8 PEM written with mode 0600; everything is written atomically.
 * These are for local demos and tests only: the CA key sits next to the certificates.
 */
import { randomBytes, webcrypto } from 'node:crypto'
import { isIP } from 'node:net'
import { join } from 'node:path'
import type * as X509 from '@peculiar/x509'
import { writeFileAtomic } from '@plora/common'
import { GrpcError, GrpcErrorCode } from './errors.js'

/** Options of {@link createDevCertificates}. */
export interface DevCertificatesOptions {
  /** Host names and IP addresses the server certificate is valid for. */
  hosts: string[]
  /** Validity in days (default 365). */
  days: number
  /** Common name of the CA (default `plora development CA`). */
  caName: string
  /** Clock, injectable for tests (default: now). */
  now: () => Date
}

/** Defaults of {@link DevCertificatesOptions}. */
export const DEFAULT_DEV_CERTIFICATES_OPTIONS: DevCertificatesOptions = {
  hosts: ['localhost', '127.0.0.1', '::1'],
  days: 365,
  caName: 'plora development CA',
  now: () => new Date(),
}

/** PEM texts of the generated material. */
export interface DevCertificates {
  caCertPem: string
  caKeyPem: string
  serverCertPem: string
  serverKeyPem: string
  clientCertPem: string
  clientKeyPem: string
  /** A swarm node's pair: server and client of its peers (both key usages, the server's names). */
  nodeCertPem: string
  nodeKeyPem: string
}

/** File names written by {@link writeDevCertificates}. */
export const DEV_CERT_FILES = {
  caCert: 'ca.pem',
  caKey: 'ca.key',
  serverCert: 'server.pem',
  serverKey: 'server.key',
  clientCert: 'client.pem',
  clientKey: 'client.key',
  nodeCert: 'node.pem',
  nodeKey: 'node.key',
} as const

// The DOM lib (Crypto, CryptoKey) is not in our compiler settings; take the types from x509's signatures.
type X509Crypto = Parameters<typeof X509.cryptoProvider.set>[0]
type X509KeyPair = Parameters<typeof X509.X509CertificateGenerator.createSelfSigned>[0]['keys']
type X509Key = X509KeyPair['publicKey']

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const

/**
 * Loads @peculiar/x509 on first use: it needs the reflect-metadata polyfill (its DI container,
 * tsyringe, checks for it at load time) and is heavy, so fetch/offer never pay for it.
 */
async function loadX509(): Promise<typeof X509> {
  await import('reflect-metadata')
  return import('@peculiar/x509')
}

function serial(): string {
  // Positive 16-byte serial (top bit cleared), as RFC 5280 §4.1.2.2 asks.
  const b = randomBytes(16)
  b[0] = (b[0] as number) & 0x7f
  return b.toString('hex')
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n')
  return `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`
}

function quoteDn(value: string): string {
  // RFC 4514 escaping of the characters that are special in a distinguished-name string.
  return value.replace(/([,+"\\<>;=#])/g, '\\$1')
}

/** Creates a development CA and server/client certificates in memory. */
export async function createDevCertificates(options: Partial<DevCertificatesOptions> = {}): Promise<DevCertificates> {
  const o = { ...DEFAULT_DEV_CERTIFICATES_OPTIONS, ...options }
  if (o.hosts.length === 0 || o.hosts.some((h) => h.trim() === '' || /[\s,]/.test(h))) {
    throw new GrpcError(
      GrpcErrorCode.CertOptionsInvalid,
      `server certificate hosts must be non-empty names or IP addresses, found ${JSON.stringify(o.hosts)}`,
      { hosts: o.hosts },
    )
  }
  if (!Number.isInteger(o.days) || o.days < 1 || o.days > 3650) {
    throw new GrpcError(GrpcErrorCode.CertOptionsInvalid, `days must be an integer in 1..3650, found ${o.days}`, {
      days: o.days,
    })
  }
  const x509 = await loadX509()
  const crypto = webcrypto as unknown as X509Crypto
  x509.cryptoProvider.set(crypto)
  const notBefore = new Date(o.now().getTime() - 60_000)
  const notAfter = new Date(notBefore.getTime() + o.days * 86_400_000)
  const gen = (): Promise<webcrypto.CryptoKeyPair> =>
    webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>

  const caKeys = await gen()
  const caName = `CN=${quoteDn(o.caName)}, O=plora`
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: caName,
      notBefore,
      notAfter,
      signingAlgorithm: SIGN_ALG,
      keys: caKeys as unknown as X509KeyPair,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as unknown as X509Key),
      ],
    },
    crypto,
  )

  const leaf = async (
    cn: string,
    usage: X509.ExtendedKeyUsage[],
    san: Array<{ type: 'dns' | 'ip'; value: string }>,
  ): Promise<{ cert: string; key: string }> => {
    const keys = await gen()
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: `CN=${quoteDn(cn)}, O=plora`,
        issuer: ca.subject,
        notBefore,
        notAfter,
        signingAlgorithm: SIGN_ALG,
        publicKey: keys.publicKey as unknown as X509Key,
        signingKey: caKeys.privateKey as unknown as X509Key,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension(usage, false),
          new x509.SubjectAlternativeNameExtension(san, false),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as X509Key),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey as unknown as X509Key),
        ],
      },
      crypto,
    )
    return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) }
  }

  const hostSan = o.hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))
  const hostCn = o.hosts.find((h) => isIP(h) === 0) ?? (o.hosts[0] as string)
  const server = await leaf(hostCn, [x509.ExtendedKeyUsage.serverAuth], hostSan)
  const client = await leaf(
    'plora-client',
    [x509.ExtendedKeyUsage.clientAuth],
    [{ type: 'dns', value: 'plora-client' }],
  )
  const node = await leaf(hostCn, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], hostSan)
  return {
    caCertPem: ca.toString('pem'),
    caKeyPem: await keyPem(caKeys.privateKey),
    serverCertPem: server.cert,
    serverKeyPem: server.key,
    clientCertPem: client.cert,
    clientKeyPem: client.key,
    nodeCertPem: node.cert,
    nodeKeyPem: node.key,
  }
}

/**
 * Creates the development certificates and writes them to `outDir` (see {@link DEV_CERT_FILES});
 * returns the written paths.
 *
 * @example
 * await writeDevCertificates('certs')
 * // plora offer --tls-cert certs/server.pem --tls-key certs/server.key --client-ca certs/ca.pem
 * // plora fetch --root-cert certs/ca.pem --client-cert certs/client.pem --client-key certs/client.key
 */
export async function writeDevCertificates(
  outDir: string,
  options: Partial<DevCertificatesOptions> = {},
): Promise<Record<keyof typeof DEV_CERT_FILES, string>> {
  const c = await createDevCertificates(options)
  const paths = Object.fromEntries(Object.entries(DEV_CERT_FILES).map(([k, f]) => [k, join(outDir, f)])) as Record<
    keyof typeof DEV_CERT_FILES,
    string
  >
  await writeFileAtomic(paths.caCert, c.caCertPem)
  await writeFileAtomic(paths.caKey, c.caKeyPem, { mode: 0o600 })
  await writeFileAtomic(paths.serverCert, c.serverCertPem)
  await writeFileAtomic(paths.serverKey, c.serverKeyPem, { mode: 0o600 })
  await writeFileAtomic(paths.clientCert, c.clientCertPem)
  await writeFileAtomic(paths.clientKey, c.clientKeyPem, { mode: 0o600 })
  await writeFileAtomic(paths.nodeCert, c.nodeCertPem)
  await writeFileAtomic(paths.nodeKey, c.nodeKeyPem, { mode: 0o600 })
  return paths
}
