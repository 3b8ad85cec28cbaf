/**
 * Transport credentials for the offer server and the fetch client.
 *
 * Fixes `[D-39]` (spec core.md §20.2–§20.3): the original silently serves insecurely when only one
 * of the TLS certificate and key is given, and the client silently falls back to the system roots
 * when its root-certificate file is missing. Here inconsistent options are an error
 * (`GRPC_TLS_CONFIG_INVALID`) and unreadable files are an error (`GRPC_FILE_UNREADABLE`).
 * mTLS: a server given a client CA requires and checks a client certificate.
 */
import { readFile } from 'node:fs/promises'
import * as grpc from '@grpc/grpc-js'
import { GrpcError, GrpcErrorCode } from './errors.js'

/** PEM text or bytes. */
export type Pem = string | Uint8Array

/** Server TLS material. */
export interface ServerTlsOptions {
  /** Server certificate chain (PEM). */
  certPem?: Pem
  /** Server private key (PEM). */
  keyPem?: Pem
  /** CA that client certificates must chain to; setting it turns on mTLS (client certificate required). */
  clientCaPem?: Pem
}

/** Client TLS material. */
export interface ClientTlsOptions {
  /** CA to trust for the server certificate (default: the system roots). */
  rootCertPem?: Pem
  /** Client certificate for mTLS (PEM); needs `clientKeyPem`. */
  clientCertPem?: Pem
  /** Client private key for mTLS (PEM); needs `clientCertPem`. */
  clientKeyPem?: Pem
  /** Host name to check the server certificate against, when it differs from the dialled host. */
  serverName?: string
}

function buf(p: Pem): Buffer {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)
}

/** Server credentials: TLS when cert and key are given, insecure when neither is; anything else is an error. */
export function createServerCredentials(tls: ServerTlsOptions | undefined): grpc.ServerCredentials {
  const hasCert = tls?.certPem !== undefined
  const hasKey = tls?.keyPem !== undefined
  if (hasCert !== hasKey) {
    throw new GrpcError(
      GrpcErrorCode.TlsConfigInvalid,
      `TLS needs both a certificate and a key: got only the ${hasCert ? 'certificate (--tls-cert)' : 'key (--tls-key)'}; refusing to fall back to an insecure port`,
      { hasCert, hasKey },
    )
  }
  if (!hasCert) {
    if (tls?.clientCaPem !== undefined) {
      throw new GrpcError(
        GrpcErrorCode.TlsConfigInvalid,
        'a client CA (--client-ca) needs TLS: give --tls-cert and --tls-key too',
        {},
      )
    }
    return grpc.ServerCredentials.createInsecure()
  }
  const ca = tls?.clientCaPem !== undefined ? buf(tls.clientCaPem) : null
  try {
    return grpc.ServerCredentials.createSsl(
      ca,
      [{ cert_chain: buf(tls?.certPem as Pem), private_key: buf(tls?.keyPem as Pem) }],
      ca !== null,
    )
  } catch (e) {
    throw new GrpcError(
      GrpcErrorCode.TlsConfigInvalid,
      `invalid TLS material: ${(e as Error).message}`,
      {},
      { cause: e },
    )
  }
}

/** Client credentials: insecure when `tls` is false/undefined; TLS (and mTLS with a client pair) otherwise. */
export function createClientCredentials(tls: ClientTlsOptions | boolean | undefined): grpc.ChannelCredentials {
  if (tls === undefined || tls === false) return grpc.credentials.createInsecure()
  const o: ClientTlsOptions = tls === true ? {} : tls
  const hasCert = o.clientCertPem !== undefined
  const hasKey = o.clientKeyPem !== undefined
  if (hasCert !== hasKey) {
    throw new GrpcError(
      GrpcErrorCode.TlsConfigInvalid,
      `mTLS needs both a client certificate and key: got only the ${hasCert ? 'certificate (--client-cert)' : 'key (--client-key)'}`,
      { hasCert, hasKey },
    )
  }
  try {
    return grpc.credentials.createSsl(
      o.rootCertPem !== undefined ? buf(o.rootCertPem) : null,
      hasKey ? buf(o.clientKeyPem as Pem) : null,
      hasCert ? buf(o.clientCertPem as Pem) : null,
    )
  } catch (e) {
    throw new GrpcError(
      GrpcErrorCode.TlsConfigInvalid,
      `invalid TLS material: ${(e as Error).message}`,
      {},
      { cause: e },
    )
  }
}

/**
 * Reads a key or certificate file for the CLI. A missing or unreadable file is an error naming
 * the flag, never a silent fallback.
 */
export async function readPemFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    throw new GrpcError(
      GrpcErrorCode.FileUnreadable,
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { path, what },
      { cause: e },
    )
  }
}
