import { type Command, Option } from 'commander'
import { parseIntFlag, parsePathFlag, parsePort, setLibraryDefaults } from '../flags.js'
import { createProgressReporter } from '../progress-bar.js'
import { readPassphraseFile } from './keys.js'

const positiveInt = parseIntFlag({ min: 1 })
const MIB = 1024 * 1024

/**
 * One JSON line that is safe to print: JSON.stringify escapes C0 controls, this also escapes DEL,
 * the C1 controls (U+009B is a CSI) and the bidirectional overrides a server may put in a name.
 */
function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

async function makeLogger() {
  const { readEnv } = await import('@plora/config')
  const { createLogger } = await import('@plora/common')
  return createLogger({ level: readEnv().logLevel, name: 'plora' })
}

interface OfferFlags {
  root: string
  host: string
  port: number
  privateKey?: string
  passphraseFile?: string
  tlsCert?: string
  tlsKey?: string
  clientCa?: string
  maxMsgMb: number
  maxConcurrent: number
}

interface FetchFlags {
  domain?: string
  plasmidId?: string
  list?: boolean
  dest?: string
  host: string
  port: number
  publicKey?: string
  requireStatement?: boolean
  tls?: boolean
  rootCert?: string
  clientCert?: string
  clientKey?: string
  serverName?: string
  timeout: number
  maxMsgMb: number
  maxPayloadMb: number
  protocol: 'auto' | 'stream' | 'unary'
  retries: number
}

/** `plora offer`, `plora fetch`, `plora certs`: plasmid exchange over gRPC (spec core.md §20). */
export function register(program: Command): void {
  const offer = program
    .command('offer')
    .description(
      'serve the adapter folders under --root over gRPC (plora.Plasmid unary + plora.v2 streaming) until SIGINT/SIGTERM',
    )
    .option('--root <dir>', 'folder whose sub-folders are the offered adapters', parsePathFlag, 'plasmids')
    .option('--host <host>', 'interface to listen on (0.0.0.0 for all)')
    .option('--port <n>', 'port (0 = any free port)', parsePort)
    .option(
      '--private-key <path>',
      'PEM private key that signs each payload digest (tagged PLORA|ADAPTER|v1|)',
      parsePathFlag,
    )
    .option('--passphrase-file <path>', 'passphrase of an encrypted private key (first line)', parsePathFlag)
    .option('--tls-cert <path>', 'server certificate chain (PEM); needs --tls-key', parsePathFlag)
    .option('--tls-key <path>', 'server private key (PEM); needs --tls-cert', parsePathFlag)
    .option('--client-ca <path>', 'require client certificates issued by this CA (mTLS)', parsePathFlag)
    .option('--max-msg-mb <n>', 'gRPC send/receive message limit in MiB', positiveInt)
    .option('--max-concurrent <n>', 'payloads produced at once (more calls wait)', positiveInt)
  setLibraryDefaults(offer, async () => {
    const { DEFAULT_OFFER_SERVER_INIT: d } = await import('@plora/grpc')
    return { host: d.host, port: d.port, maxMsgMb: d.maxMsgMb, maxConcurrent: d.maxConcurrent }
  })
  offer.action(async (opts: OfferFlags) => {
    const { startOfferServer, readPemFile } = await import('@plora/grpc')
    const logger = await makeLogger()
    const passphrase = await readPassphraseFile(opts.passphraseFile)
    const tls = {
      ...(opts.tlsCert ? { certPem: await readPemFile(opts.tlsCert, 'TLS certificate (--tls-cert)') } : {}),
      ...(opts.tlsKey ? { keyPem: await readPemFile(opts.tlsKey, 'TLS key (--tls-key)') } : {}),
      ...(opts.clientCa ? { clientCaPem: await readPemFile(opts.clientCa, 'client CA (--client-ca)') } : {}),
    }
    const server = await startOfferServer(
      {
        root: opts.root,
        host: opts.host,
        port: opts.port,
        maxMsgMb: opts.maxMsgMb,
        maxConcurrent: opts.maxConcurrent,
        ...(opts.privateKey
          ? { privateKeyPem: await readPemFile(opts.privateKey, 'private key (--private-key)') }
          : {}),
        ...(passphrase ? { passphrase } : {}),
        ...(Object.keys(tls).length > 0 ? { tls } : {}),
      },
      { logger },
    )
    process.stderr.write(`Offer server running on ${server.address} (root ${opts.root})\n`)
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        resolve()
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
    await server.close()
    logger.info('Server stopped by user')
  })

  const fetch = program
    .command('fetch')
    .description(
      'fetch a plasmid, verify digest, size, signature, tar entries, manifest and artefact, then install it into DEST/<domain>',
    )
    .option('--domain <name>', 'domain (folder name on the server) to fetch')
    .option('--plasmid-id <id>', 'fetch by manifest plasmid_id instead (streaming servers)')
    .option('--list', 'print what the server offers (JSON lines) and exit')
    .option('--dest <dir>', 'destination folder; the plasmid lands in DEST/<domain>', parsePathFlag)
    .option('--host <host>', 'server host')
    .option('--port <n>', 'server port', parseIntFlag({ min: 1, max: 65535 }))
    .option(
      '--public-key <path>',
      'PEM public key; the reply must carry a valid signature by its private key',
      parsePathFlag,
    )
    .option(
      '--require-statement',
      'refuse a folder without a signed statement (plora.sig.json) by --public-key; a present one is always checked',
    )
    .option('--tls', 'use TLS (system roots unless --root-cert)')
    .option('--root-cert <path>', 'CA certificate to trust for the server (implies --tls)', parsePathFlag)
    .option('--client-cert <path>', 'client certificate for mTLS (implies --tls; needs --client-key)', parsePathFlag)
    .option('--client-key <path>', 'client private key for mTLS (needs --client-cert)', parsePathFlag)
    .option('--server-name <name>', 'host name to check the server certificate against')
    .option('--timeout <s>', 'deadline of the whole fetch in seconds', positiveInt)
    .option('--max-msg-mb <n>', 'gRPC message limit in MiB (bounds unary replies)', positiveInt)
    .option('--max-payload-mb <n>', 'largest payload accepted, in MiB', positiveInt)
    .addOption(new Option('--protocol <p>', 'transfer protocol').choices(['auto', 'stream', 'unary']))
    .option('--retries <n>', 'resume attempts after a broken stream', parseIntFlag({ min: 0 }))
  setLibraryDefaults(fetch, async () => {
    const { DEFAULT_FETCH_OPTIONS: d } = await import('@plora/grpc')
    return {
      host: d.host,
      port: d.port,
      timeout: d.timeoutMs / 1000,
      maxMsgMb: d.maxMsgMb,
      maxPayloadMb: d.maxPayloadBytes / MIB,
      protocol: d.protocol,
      retries: d.retries,
    }
  })
  fetch.action(async (opts: FetchFlags) => {
    const { fetchPlasmid, listPlasmids, readPemFile, GrpcError, GrpcErrorCode } = await import('@plora/grpc')
    const { untrustedText } = await import('@plora/common')
    const usage = (msg: string): never => {
      throw new GrpcError(GrpcErrorCode.OptionsInvalid, msg, {})
    }
    const useTls =
      opts.tls || opts.rootCert !== undefined || opts.clientCert !== undefined || opts.clientKey !== undefined
    const tls = useTls
      ? {
          ...(opts.rootCert ? { rootCertPem: await readPemFile(opts.rootCert, 'root certificate (--root-cert)') } : {}),
          ...(opts.clientCert
            ? { clientCertPem: await readPemFile(opts.clientCert, 'client certificate (--client-cert)') }
            : {}),
          ...(opts.clientKey ? { clientKeyPem: await readPemFile(opts.clientKey, 'client key (--client-key)') } : {}),
          ...(opts.serverName ? { serverName: opts.serverName } : {}),
        }
      : false
    const conn = { host: opts.host, port: opts.port, tls, timeoutMs: opts.timeout * 1000, maxMsgMb: opts.maxMsgMb }
    if (opts.list) {
      for (const p of await listPlasmids(conn)) process.stdout.write(`${terminalSafeJson(p)}\n`)
      return
    }
    if ((opts.domain === undefined) === (opts.plasmidId === undefined))
      usage('give --domain or --plasmid-id (or --list)')
    if (opts.dest === undefined) usage('--dest is required')
    const logger = await makeLogger()
    const ac = new AbortController()
    const abort = (): void => ac.abort()
    process.once('SIGINT', abort)
    process.once('SIGTERM', abort)
    try {
      const r = await fetchPlasmid(
        {
          ...conn,
          dest: opts.dest as string,
          ...(opts.domain !== undefined ? { domain: opts.domain } : {}),
          ...(opts.plasmidId !== undefined ? { plasmidId: opts.plasmidId } : {}),
          ...(opts.publicKey ? { publicKeyPem: await readPemFile(opts.publicKey, 'public key (--public-key)') } : {}),
          ...(opts.requireStatement ? { requireStatement: true } : {}),
          protocol: opts.protocol,
          maxPayloadBytes: opts.maxPayloadMb * MIB,
          retries: opts.retries,
          signal: ac.signal,
        },
        { logger, onProgress: createProgressReporter() },
      )
      process.stdout.write(
        `Fetched ${untrustedText(r.plasmidId)} (${r.domain}) into ${r.dir}: ${(r.size / 1048576).toFixed(2)} MiB over ${r.protocol}, ${
          r.signatureVerified ? 'signature verified' : r.signed ? 'signed (no key given, not checked)' : 'unsigned'
        }; folder statement ${r.statement}\n`,
      )
    } finally {
      process.off('SIGINT', abort)
      process.off('SIGTERM', abort)
    }
  })

  const certs = program
    .command('certs')
    .description(
      'create a development CA and server/client certificates (and a node pair for plora node) for TLS and mTLS demos',
    )
    .option(
      '--out <dir>',
      'output folder (ca.pem, ca.key, server.pem, server.key, client.pem, client.key; node.pem, node.key: server and client, for plora node)',
      parsePathFlag,
      'keys/certs',
    )
    .option('--host <name...>', 'host names / IP addresses the server certificate is valid for')
    .option('--days <n>', 'validity in days', positiveInt)
  setLibraryDefaults(certs, async () => {
    const { DEFAULT_DEV_CERTIFICATES_OPTIONS: d } = await import('@plora/grpc')
    return { host: [...d.hosts], days: d.days }
  })
  certs.action(async (opts: { out: string; host: string[]; days: number }) => {
    const { writeDevCertificates } = await import('@plora/grpc')
    const paths = await writeDevCertificates(opts.out, { hosts: opts.host, days: opts.days })
    process.stdout.write(`Wrote development certificates to ${opts.out}: ${Object.values(paths).join(', ')}\n`)
  })
}
