/**
 * The fetch client: downloads one plasmid from an offer server, verifies it, and installs it
 * atomically into `DEST/<domain>` (spec core.md §20.3, pipelines.md §8.4).
 *
 * Order of checks (every one before anything appears under DEST):
 * 1. the domain is a plain folder name (`[D-38]`, so `DEST/<domain>` cannot escape DEST);
 * 2. the announced size is within `maxPayloadBytes` (`GRPC_PAYLOAD_TOO_LARGE`);
 * 3. the bytes are extracted as they arrive into a private staging folder next to the
 *    destination, entry by entry through the safe extractor (regular files with safe relative
 *    names only, bounded count and size; `[D-41]`), while the payload digest is computed;
 * 4. size and SHA-256 of the payload equal the announced ones;
 * 5. signature: with a public key, an unsigned reply is an error (`[D-40]`) and the tagged
 *    signature `PLORA|ADAPTER|v1|<sha>` must verify;
 * 6. `plora.yml` passes the manifest schema, names the requested domain, and its artefact's size
 *    and SHA-256 match (computed while extracting, so the artefact is not read twice);
 * 6b. the signed folder statement (`plora.sig.json`, issue 15 point 8) when the folder carries one
 *    or `requireStatement` is set: every file and the manifest's canonical content as signed, its
 *    signature by the given public key. A file the statement does not list is **refused**, not
 *    removed: the whole fetch fails (`GRPC_STATEMENT_INVALID`) and nothing is installed, because a
 *    sender that adds files to a signed folder is not one to take the rest from. Without a public
 *    key the statement is still checked against the files (nothing added or changed after
 *    signing), but who signed it is not;
 * 7. only then the staging folder is renamed to `DEST/<domain>` (replacing an older copy in one
 *    step). Any failure, abort or interruption removes the staging folder and leaves DEST as it was.
 *
 * One cleanup path (issue 15 point 9): the staging folder belongs to a {@link StagingSlot} that
 * `fetchPlasmid` owns and empties in its `finally`, whatever failed and in either protocol; every
 * extractor error is funnelled into one error that also cancels the call. The staging folder lives
 * in DEST when DEST exists, otherwise in DEST's nearest existing ancestor, so a failed fetch creates
 * no folder at all: DEST itself is made only by the install step ({@link installVerified}), just
 * before the final rename. Staging folders and temp files of a killed fetch are removed by the next
 * one (`createStagingDir` sweeps its folder, see @plora/common temp-files.ts).
 *
 * Text from the server (gRPC status details, in-band status, names, manifest errors) goes into
 * messages only through `untrustedText`: at most 512 characters, control characters escaped
 * (issue 15 point 12), so a hostile server cannot flood or drive the terminal.
 *
 * Why extract while receiving instead of after the signature check: a second pass over a large
 * payload would halve throughput, and the staging folder is private, bounded and deleted on any
 * failure; nothing is installed before every check has passed.
 *
 * Protocols: the streaming `plora.v2.PlasmidStream` by default, resuming from the last byte when a
 * stream breaks; when the server does not implement it (an original Python node), the unary
 * `plora.Plasmid/OfferPlasmid` (gzip tarball in one message). A deadline applies to the whole fetch.
 */
import { createHash } from 'node:crypto'
import { mkdir, rm, rmdir, stat } from 'node:fs/promises'
import { dirname, join, resolve as resolvePath } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import {
  createStagingDir,
  installDirAtomic,
  isPloraError,
  type Logger,
  NO_PROGRESS,
  type ProgressCallback,
  SILENT_LOGGER,
  untrustedText,
} from '@plora/common'
import { canonicalManifestBytes, loadManifest, type Manifest } from '@plora/manifest'
import { ADAPTER_TAG, verifyFolderStatement, verifySha256Hex } from '@plora/signer'
import { GrpcError, GrpcErrorCode } from './errors.js'
import { assertPlasmidId, assertSafeDomain, isSafeDomain, normaliseEntryName } from './names.js'
import {
  type FetchPlasmidChunk,
  loadPloraServices,
  type PlasmidHeader,
  type PlasmidInfo,
  type PlasmidReply,
  type SnapshotReply,
} from './proto.js'
import { type ExtractedTree, SafeTarExtractor } from './safe-extract.js'
import { type ClientTlsOptions, createClientCredentials } from './tls.js'

const MIB = 1024 * 1024
/** HTTP/2 flow-control window of client channels (bytes). */
export const FLOW_CONTROL_WINDOW = 16 * MIB

/** Where and how to connect. */
export interface ConnectOptions {
  /** Server host (default `localhost`, as the original). */
  host: string
  /** Server port (default 50051). */
  port: number
  /** TLS: `true` for system roots, or the CA / client pair / server name; insecure when absent or false. */
  tls?: ClientTlsOptions | boolean
  /** Deadline of the whole operation in milliseconds (default 300 000). */
  timeoutMs: number
  /** Receive limit for one message in MiB (default 64; bounds the unary payload). */
  maxMsgMb: number
}

/** Options of {@link fetchPlasmid}. */
export interface FetchPlasmidOptions extends ConnectOptions {
  /** Domain (folder name on the server) to fetch; installs into `dest/<domain>`. */
  domain?: string
  /** Alternatively a manifest `plasmid_id` (streaming protocol only); installs under the server's domain. */
  plasmidId?: string
  /** Destination folder; created when missing. */
  dest: string
  /** PEM public key: the reply must be signed by its private key. */
  publicKeyPem?: string
  /** `auto` (stream, falling back to unary when the server lacks plora.v2), `stream` or `unary` (default auto). */
  protocol: 'auto' | 'stream' | 'unary'
  /** Largest payload (and extracted content) accepted, in bytes (default 4 GiB). */
  maxPayloadBytes: number
  /** Most tar entries accepted (default 10 000). */
  maxEntries: number
  /** How many times a broken stream is resumed (default 3). */
  retries: number
  /** Replace an existing `dest/<domain>` (default true; the swap is atomic). */
  overwrite: boolean
  /** Refuse a manifest whose `domain` differs from the folder it is installed as (default true). */
  checkManifestDomain: boolean
  /** Refuse a folder without a signed statement (`plora.sig.json`); needs `publicKeyPem` (default false). */
  requireStatement: boolean
  signal?: AbortSignal
}

/** Defaults of {@link FetchPlasmidOptions} and {@link ConnectOptions}. */
export const DEFAULT_FETCH_OPTIONS = {
  host: 'localhost',
  port: 50051,
  timeoutMs: 300_000,
  maxMsgMb: 64,
  protocol: 'auto',
  maxPayloadBytes: 4096 * MIB,
  maxEntries: 10_000,
  retries: 3,
  overwrite: true,
  checkManifestDomain: true,
  requireStatement: false,
} as const satisfies Partial<FetchPlasmidOptions>

/** Collaborators of {@link fetchPlasmid}. */
export interface FetchComponents {
  logger?: Logger
  onProgress?: ProgressCallback
}

/** What {@link fetchPlasmid} installed. */
export interface FetchResult {
  /** The installed folder, `dest/<domain>`. */
  dir: string
  domain: string
  plasmidId: string
  manifest: Manifest
  /** SHA-256 hex of the payload as sent. */
  sha256: string
  /** Payload bytes. */
  size: number
  /** True when the reply carried a signature. */
  signed: boolean
  /** True when a public key was given and the signature verified. */
  signatureVerified: boolean
  /** The folder statement: `absent`, `checked` (files and manifest as listed, no key given) or `verified` (also signed by the key). */
  statement: 'absent' | 'checked' | 'verified'
  protocol: 'stream' | 'unary'
  /** How many times a broken stream was resumed. */
  resumes: number
}

function address(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
}

function channelOptions(o: ConnectOptions): grpc.ChannelOptions {
  const opts: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': o.maxMsgMb * MIB,
    'grpc.max_send_message_length': o.maxMsgMb * MIB,
    // HTTP/2 receive window: grpc-js defaults to 64 KiB, which stalls the sender every 64 KiB on
    // a fast link. 16 MiB keeps a 1 MiB-chunk stream flowing; memory stays bounded by the window.
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
  }
  if (typeof o.tls === 'object' && o.tls.serverName) opts['grpc.ssl_target_name_override'] = o.tls.serverName
  return opts
}

function isServiceError(e: unknown): e is grpc.ServiceError {
  return e instanceof Error && typeof (e as grpc.ServiceError).code === 'number' && 'details' in e
}

/** Turns a gRPC failure into a `GrpcError` with a specific code. */
function mapCallError(e: unknown, where: string, signal?: AbortSignal): GrpcError {
  if (e instanceof GrpcError) return e
  if (signal?.aborted) {
    return new GrpcError(GrpcErrorCode.FetchAborted, `${where}: fetch cancelled`, {}, { cause: e })
  }
  if (!isServiceError(e)) {
    return new GrpcError(
      GrpcErrorCode.StreamInterrupted,
      `${where}: ${untrustedText((e as Error)?.message ?? String(e))}`,
      {},
      { cause: e },
    )
  }
  const raw = e.details || e.message
  const d = untrustedText(raw)
  const details = { grpcCode: e.code, grpcDetails: d }
  switch (e.code) {
    case grpc.status.UNAVAILABLE:
      return new GrpcError(GrpcErrorCode.ServerUnavailable, `${where}: server unavailable (${d})`, details, {
        cause: e,
      })
    case grpc.status.DEADLINE_EXCEEDED:
      return new GrpcError(GrpcErrorCode.DeadlineExceeded, `${where}: deadline exceeded (${d})`, details, { cause: e })
    case grpc.status.NOT_FOUND:
      return new GrpcError(GrpcErrorCode.PlasmidNotFound, `${where}: ${d}`, details, { cause: e })
    case grpc.status.INVALID_ARGUMENT:
      return new GrpcError(GrpcErrorCode.DomainInvalid, `${where}: server refused the request (${d})`, details, {
        cause: e,
      })
    case grpc.status.RESOURCE_EXHAUSTED:
      return /larger than max|message length/i.test(raw)
        ? new GrpcError(GrpcErrorCode.PayloadTooLarge, `${where}: reply exceeds the message limit (${d})`, details, {
            cause: e,
          })
        : new GrpcError(GrpcErrorCode.ServerBusy, `${where}: ${d}`, details, { cause: e })
    case grpc.status.CANCELLED:
    case grpc.status.INTERNAL:
    case grpc.status.UNKNOWN:
      return new GrpcError(GrpcErrorCode.StreamInterrupted, `${where}: transfer broke off (${d})`, details, {
        cause: e,
      })
    default:
      return new GrpcError(
        GrpcErrorCode.ServerStatusError,
        `${where}: ${grpc.status[e.code] ?? e.code} (${d})`,
        details,
        {
          cause: e,
        },
      )
  }
}

/** gRPC failures after which a stream may be resumed. */
const RESUMABLE = new Set<GrpcErrorCode>([GrpcErrorCode.StreamInterrupted, GrpcErrorCode.ServerUnavailable])

function checkSignature(
  publicKeyPem: string | undefined,
  sha256: string,
  signatureB64: string,
  where: string,
): boolean {
  if (publicKeyPem === undefined) return false
  if (signatureB64 === '') {
    throw new GrpcError(
      GrpcErrorCode.SignatureMissing,
      `${where}: the reply is unsigned but a public key was given; refusing it (start the server with --private-key)`,
      { sha256 },
    )
  }
  let ok: boolean
  try {
    ok = verifySha256Hex(publicKeyPem, sha256, signatureB64, { tag: ADAPTER_TAG })
  } catch (e) {
    throw new GrpcError(
      GrpcErrorCode.FileUnreadable,
      `cannot load the public key: ${(e as Error).message}`,
      {},
      { cause: e },
    )
  }
  if (!ok) {
    throw new GrpcError(
      GrpcErrorCode.SignatureInvalid,
      `${where}: signature over payload ${sha256} does not verify with the given public key (wrong key or tampered payload)`,
      { sha256 },
    )
  }
  return true
}

/** Checks the extracted tree's manifest and artefact; returns the manifest. */
async function checkTree(treeDir: string, tree: ExtractedTree, domain: string, o: FetchPlasmidOptions, where: string) {
  let manifest: Manifest
  try {
    manifest = await loadManifest(treeDir)
  } catch (e) {
    const msg = untrustedText((e as Error).message.replaceAll(treeDir, `<payload of ${domain}>`))
    throw new GrpcError(
      GrpcErrorCode.ManifestInvalid,
      `${where}: invalid manifest: ${msg}`,
      { cause_code: (e as { code?: string }).code },
      { cause: e },
    )
  }
  if (o.checkManifestDomain && manifest.domain !== domain) {
    throw new GrpcError(
      GrpcErrorCode.ManifestDomainMismatch,
      `${where}: the manifest's domain is ${untrustedText(JSON.stringify(manifest.domain))}, expected ${JSON.stringify(domain)}`,
      { expected: domain, found: untrustedText(manifest.domain) },
    )
  }
  const { filename, sha256, size_bytes: sizeBytes } = manifest.artifacts
  const name = normaliseEntryName(filename)
  const got = name === null ? undefined : tree.files.get(name)
  if (!got) {
    throw new GrpcError(
      GrpcErrorCode.ManifestInvalid,
      `${where}: the payload lacks the artefact ${untrustedText(filename)} named by the manifest`,
      {
        filename: untrustedText(filename),
      },
    )
  }
  // Same rule as @plora/manifest's verifyArtifact (size, then SHA-256), on the digest computed while extracting.
  if (got.size !== sizeBytes || got.sha256 !== sha256) {
    throw new GrpcError(
      GrpcErrorCode.ArtifactHashMismatch,
      got.size !== sizeBytes
        ? `${where}: artefact ${untrustedText(filename)} is ${got.size} bytes, the manifest says ${sizeBytes}`
        : `${where}: artefact hash mismatch for ${untrustedText(filename)}: expected ${untrustedText(sha256)}, got ${got.sha256}`,
      { filename, expected: { sha256, size: sizeBytes }, found: got },
    )
  }
  return manifest
}

/**
 * Step 6b: the signed folder statement, checked in the staging folder before anything is
 * installed (see the file header). A refusal is one `GRPC_STATEMENT_*` error naming the file or
 * field (`details.cause_code` holds the `SIGNER_STATEMENT_*` code).
 */
async function checkFolderStatementBeforeInstall(
  treeDir: string,
  manifest: Manifest,
  domain: string,
  o: FetchPlasmidOptions,
  where: string,
): Promise<FetchResult['statement']> {
  const withKey = o.publicKeyPem !== undefined
  let r: Awaited<ReturnType<typeof verifyFolderStatement>>
  try {
    r = await verifyFolderStatement(treeDir, {
      manifestBytes: canonicalManifestBytes(manifest),
      trustedKeys: withKey ? [o.publicKeyPem as string] : [],
      require: o.requireStatement,
      signatures: withKey,
    })
  } catch (e) {
    throw new GrpcError(
      GrpcErrorCode.StatementInvalid,
      `${where}: cannot check the folder statement: ${untrustedText((e as Error).message.replaceAll(treeDir, `<payload of ${domain}>`), { maxChars: 1024 })}`,
      { cause_code: (e as { code?: string }).code },
      { cause: e },
    )
  }
  const first = r.problems[0]
  if (first) {
    const more = r.problems.length > 1 ? ` (+${r.problems.length - 1} more)` : ''
    throw new GrpcError(
      r.present ? GrpcErrorCode.StatementInvalid : GrpcErrorCode.StatementMissing,
      `${where}: folder statement refused, nothing installed: ${untrustedText(first.message.replaceAll(treeDir, `<payload of ${domain}>`), { maxChars: 1024 })}${more}`,
      {
        cause_code: first.code,
        file: first.file ?? null,
        problems: r.problems.map((p) => ({ code: p.code, file: p.file ?? null })),
      },
    )
  }
  return !r.present ? 'absent' : withKey ? 'verified' : 'checked'
}

/** A fetch in progress: staging folder, extractor and running digest. */
class Transfer {
  readonly hash = createHash('sha256')
  received = 0
  readonly staging: string
  readonly treeDir: string
  readonly extractor: SafeTarExtractor
  constructor(staging: string, treeDir: string, extractor: SafeTarExtractor) {
    this.staging = staging
    this.treeDir = treeDir
    this.extractor = extractor
  }
}

/**
 * The staging folder of one fetch. `fetchPlasmid` owns the slot and calls {@link StagingSlot.discard}
 * in its `finally`, so every failure of either protocol ends in the same cleanup; after a
 * successful install the slot is empty and `discard` does nothing.
 */
class StagingSlot {
  transfer: Transfer | null = null
  readonly #o: FetchPlasmidOptions

  constructor(o: FetchPlasmidOptions) {
    this.#o = o
  }

  /** Creates the staging folder and extractor for `name` (in DEST or its nearest existing ancestor). */
  async open(name: string): Promise<Transfer> {
    await this.discard()
    const o = this.#o
    const t = await localIo(`create a staging folder for ${o.dest}`, async () => {
      const parent = await nearestExistingDir(o.dest)
      const staging = await createStagingDir(join(parent, name))
      const treeDir = join(staging, 'tree')
      await mkdir(treeDir)
      return new Transfer(
        staging,
        treeDir,
        new SafeTarExtractor(treeDir, { maxTotalBytes: o.maxPayloadBytes, maxEntries: o.maxEntries }),
      )
    })
    this.transfer = t
    return t
  }

  /** Stops the extractor and removes the staging folder (no-op when nothing is staged). */
  async discard(): Promise<void> {
    const t = this.transfer
    if (!t) return
    this.transfer = null
    t.extractor.abort(new Error('fetch abandoned'))
    await rm(t.staging, { recursive: true, force: true })
  }
}

/** `dest` when it is a folder, else its nearest existing ancestor (which must be a folder). */
async function nearestExistingDir(dest: string): Promise<string> {
  let dir = resolvePath(dest)
  for (;;) {
    try {
      const st = await stat(dir)
      if (!st.isDirectory()) {
        throw new GrpcError(GrpcErrorCode.LocalIoFailed, `cannot install into ${dest}: ${dir} is not a folder`, {
          dest,
          path: dir,
        })
      }
      return dir
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(dir) === dir) throw e
      dir = dirname(dir)
    }
  }
}

/** Runs a local file operation, turning an OS error into `GRPC_LOCAL_IO_FAILED`. */
async function localIo<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (isPloraError(e)) throw e
    throw new GrpcError(
      GrpcErrorCode.LocalIoFailed,
      `cannot ${what}: ${(e as Error).message}`,
      { errno: (e as NodeJS.ErrnoException).code },
      { cause: e },
    )
  }
}

/**
 * Fetches, verifies and installs one plasmid (see the file header for the checks).
 *
 * @example
 * const r = await fetchPlasmid({ domain: 'legal', dest: 'fetched', host: '127.0.0.1', publicKeyPem })
 * r.dir // 'fetched/legal'
 */
export async function fetchPlasmid(
  options: Partial<FetchPlasmidOptions> & Pick<FetchPlasmidOptions, 'dest'>,
  components: FetchComponents = {},
): Promise<FetchResult> {
  const o: FetchPlasmidOptions = { ...DEFAULT_FETCH_OPTIONS, ...options }
  const logger = components.logger ?? SILENT_LOGGER
  const onProgress = components.onProgress ?? NO_PROGRESS
  if ((o.domain === undefined) === (o.plasmidId === undefined)) {
    throw new GrpcError(GrpcErrorCode.OptionsInvalid, 'give exactly one of domain and plasmidId', {})
  }
  if (o.domain !== undefined) assertSafeDomain(o.domain)
  if (o.requireStatement && o.publicKeyPem === undefined) {
    throw new GrpcError(GrpcErrorCode.OptionsInvalid, 'requiring a signed folder statement needs a public key', {})
  }
  if (o.plasmidId !== undefined) {
    assertPlasmidId(o.plasmidId)
    if (o.protocol === 'unary') {
      throw new GrpcError(GrpcErrorCode.OptionsInvalid, 'fetching by plasmid id needs the streaming protocol', {})
    }
  }
  const creds = createClientCredentials(o.tls)
  const deadline = Date.now() + o.timeoutMs
  const target = address(o.host, o.port)
  o.signal?.throwIfAborted()
  const slot = new StagingSlot(o)
  try {
    // DEST is not created here: only the install step makes it, so a failed fetch leaves none.
    await nearestExistingDir(o.dest)
    if (o.protocol !== 'unary') {
      try {
        return await fetchStream(o, creds, deadline, target, logger, onProgress, slot)
      } catch (e) {
        const unimplemented =
          e instanceof GrpcError && (e.details as { grpcCode?: number }).grpcCode === grpc.status.UNIMPLEMENTED
        if (!(unimplemented && o.protocol === 'auto' && o.domain !== undefined)) throw e
        logger.info('server has no plora.v2 streaming service; using the unary plora.Plasmid call', { target })
        await slot.discard()
      }
    }
    return await fetchUnary(o, creds, deadline, target, logger, onProgress, slot)
  } catch (e) {
    throw asFetchError(e)
  } finally {
    await slot.discard()
  }
}

/**
 * The one error shape leaving {@link fetchPlasmid}: a `PloraError` whose message is one bounded
 * line (a last guard on top of the per-field escaping), and OS errors as `GRPC_LOCAL_IO_FAILED`.
 */
function asFetchError(e: unknown): unknown {
  if (isPloraError(e)) {
    e.message = untrustedText(e.message, { maxChars: 4096 })
    return e
  }
  if (e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === 'string') {
    return new GrpcError(
      GrpcErrorCode.LocalIoFailed,
      `fetch failed on a local file operation: ${e.message}`,
      { errno: (e as NodeJS.ErrnoException).code },
      { cause: e },
    )
  }
  return e
}

/**
 * The install step, the same for both protocols: waits for the extractor, checks the extracted
 * tree (manifest, artefact), and moves it to `DEST/<domain>`. Nothing reaches DEST before this.
 */
async function installVerified(
  slot: StagingSlot,
  t: Transfer,
  domain: string,
  o: FetchPlasmidOptions,
  where: string,
): Promise<{ dir: string; manifest: Manifest; statement: FetchResult['statement'] }> {
  const tree = await t.extractor.finish()
  const manifest = await checkTree(t.treeDir, tree, domain, o, where)
  const statement = await checkFolderStatementBeforeInstall(t.treeDir, manifest, domain, o, where)
  throwIfAborted(o.signal, where)
  const dir = await install(t, o.dest, domain, o.overwrite)
  slot.transfer = null
  return { dir, manifest, statement }
}

async function fetchStream(
  o: FetchPlasmidOptions,
  creds: grpc.ChannelCredentials,
  deadline: number,
  target: string,
  logger: Logger,
  onProgress: ProgressCallback,
  slot: StagingSlot,
): Promise<FetchResult> {
  const { PlasmidStream } = loadPloraServices()
  const client = new PlasmidStream(target, creds, channelOptions(o))
  const what = o.domain ?? `id:${o.plasmidId}`
  const where = `fetch ${what} from ${target}`
  let transfer: Transfer | null = null
  let header: PlasmidHeader | null = null
  let cancelCall: (() => void) | null = null
  let resumes = 0
  try {
    for (let attempt = 0; ; attempt++) {
      const req =
        o.domain !== undefined
          ? { domain: o.domain, offset: transfer?.received ?? 0, expect_sha256: header?.sha256 ?? '' }
          : { plasmid_id: o.plasmidId, offset: transfer?.received ?? 0, expect_sha256: header?.sha256 ?? '' }
      const call = client.FetchPlasmid(req, { deadline }) as grpc.ClientReadableStream<FetchPlasmidChunk>
      const onAbort = (): void => call.cancel()
      o.signal?.addEventListener('abort', onAbort)
      cancelCall = onAbort
      let gotHeader = false
      try {
        for await (const chunk of call as AsyncIterable<FetchPlasmidChunk>) {
          if (chunk.kind === 'header' && chunk.header) {
            if (gotHeader) throw protocolError(where, 'a second header in one stream')
            gotHeader = true
            const h = chunk.header
            if (header === null) {
              header = checkHeader(h, o, where)
              transfer = await slot.open(header.domain)
              // A refused entry stops the transfer at once (the server may hold the stream open).
              transfer.extractor.onError(() => cancelCall?.())
              onProgress({ status: 'start', task: `fetch ${header.domain}`, total: header.total_size })
            } else if (h.sha256 !== header.sha256 || h.total_size !== header.total_size || h.domain !== header.domain) {
              throw protocolError(where, 'the resumed stream announces a different payload')
            }
            if (h.offset !== (transfer as Transfer).received) {
              throw protocolError(
                where,
                `the stream starts at ${h.offset}, expected ${(transfer as Transfer).received}`,
              )
            }
          } else {
            if (!gotHeader || !header || !transfer) throw protocolError(where, 'data before the header')
            const data = chunk.data as Buffer
            if (transfer.received + data.length > header.total_size) {
              throw new GrpcError(
                GrpcErrorCode.PayloadSizeMismatch,
                `${where}: more data than the announced ${header.total_size} bytes`,
                { announced: header.total_size },
              )
            }
            transfer.hash.update(data)
            transfer.received += data.length
            await transfer.extractor.write(data)
            onProgress({
              status: 'progress',
              task: `fetch ${header.domain}`,
              done: transfer.received,
              total: header.total_size,
            })
          }
        }
      } catch (e) {
        call.cancel()
        // The extractor's refusal is the reason, not the cancelled call it caused.
        const err = transfer?.extractor.error ?? mapCallError(e, where, o.signal)
        const resumable = header !== null && RESUMABLE.has(err.code) && !o.signal?.aborted
        if (resumable && attempt >= o.retries) {
          throw new GrpcError(
            GrpcErrorCode.StreamInterrupted,
            `${where}: the stream broke off at ${transfer?.received ?? 0} of ${header?.total_size} bytes and ${o.retries} resume attempts did not complete it (${err.message})`,
            { received: transfer?.received ?? 0, total: header?.total_size, resumes },
            { cause: err },
          )
        }
        if (!resumable) throw err
        resumes++
        logger.warn('stream broke off; resuming', {
          target,
          received: transfer?.received,
          attempt: attempt + 1,
          error: err.message,
        })
        await sleep(Math.min(250 * (attempt + 1), 2000), o.signal)
        continue
      } finally {
        o.signal?.removeEventListener('abort', onAbort)
        cancelCall = null
      }
      if (!header || !transfer) throw protocolError(where, 'the stream ended without a header')
      if (transfer.received < header.total_size && attempt < o.retries) {
        resumes++
        continue
      }
      break
    }
    const h = header as PlasmidHeader
    const t = transfer as Transfer
    throwIfAborted(o.signal, where)
    if (t.received !== h.total_size) {
      throw new GrpcError(
        GrpcErrorCode.PayloadSizeMismatch,
        `${where}: received ${t.received} bytes, the server announced ${h.total_size}`,
        { received: t.received, announced: h.total_size },
      )
    }
    const sha256 = t.hash.digest('hex')
    if (sha256 !== h.sha256) {
      throw new GrpcError(
        GrpcErrorCode.PayloadDigestMismatch,
        `${where}: payload corrupted: SHA-256 ${sha256}, the server announced ${h.sha256}`,
        { expected: h.sha256, found: sha256 },
      )
    }
    const signatureB64 = h.signature.toString('ascii')
    const verified = checkSignature(o.publicKeyPem, sha256, signatureB64, where)
    const { dir, manifest, statement } = await installVerified(slot, t, h.domain, o, where)
    onProgress({ status: 'done', task: `fetch ${h.domain}`, info: { bytes: h.total_size, resumes } })
    logger.info('fetched plasmid', {
      plasmid_id: manifest.plasmid_id,
      domain: h.domain,
      mb: (h.total_size / MIB).toFixed(2),
      signed: signatureB64 !== '',
      verified,
      dir,
    })
    return {
      dir,
      domain: h.domain,
      plasmidId: manifest.plasmid_id,
      manifest,
      sha256,
      size: h.total_size,
      signed: signatureB64 !== '',
      signatureVerified: verified,
      statement,
      protocol: 'stream',
      resumes,
    }
  } finally {
    client.close()
  }
}

function throwIfAborted(signal: AbortSignal | undefined, where: string): void {
  if (signal?.aborted) throw new GrpcError(GrpcErrorCode.FetchAborted, `${where}: fetch cancelled`, {})
}

function protocolError(where: string, what: string): GrpcError {
  return new GrpcError(GrpcErrorCode.ProtocolViolation, `${where}: protocol violation: ${what}`, {})
}

function checkHeader(h: PlasmidHeader, o: FetchPlasmidOptions, where: string): PlasmidHeader {
  assertSafeDomain(h.domain, 'domain announced by the server')
  if (o.domain !== undefined && h.domain !== o.domain) {
    throw protocolError(where, `asked for ${o.domain}, the server sends ${h.domain}`)
  }
  if (h.format !== 'tar') {
    throw protocolError(where, `unknown payload format ${untrustedText(JSON.stringify(h.format) ?? String(h.format))}`)
  }
  if (!/^[0-9a-f]{64}$/.test(h.sha256)) throw protocolError(where, 'the header has no valid sha256')
  if (!Number.isSafeInteger(h.total_size) || h.total_size < 0) throw protocolError(where, 'invalid total_size')
  if (h.total_size > o.maxPayloadBytes) {
    throw new GrpcError(
      GrpcErrorCode.PayloadTooLarge,
      `${where}: the payload is ${h.total_size} bytes, over the limit of ${o.maxPayloadBytes}`,
      { size: h.total_size, maxPayloadBytes: o.maxPayloadBytes },
    )
  }
  return h
}

async function fetchUnary(
  o: FetchPlasmidOptions,
  creds: grpc.ChannelCredentials,
  deadline: number,
  target: string,
  logger: Logger,
  onProgress: ProgressCallback,
  slot: StagingSlot,
): Promise<FetchResult> {
  const domain = o.domain as string
  const where = `fetch ${domain} from ${target}`
  const { Plasmid } = loadPloraServices()
  const client = new Plasmid(target, creds, channelOptions(o))
  try {
    onProgress({ status: 'start', task: `fetch ${domain}` })
    const reply = await new Promise<PlasmidReply>((resolve, reject) => {
      const call = client.OfferPlasmid({ domain }, { deadline }, (err: grpc.ServiceError | null, r: PlasmidReply) =>
        err ? reject(err) : resolve(r),
      )
      o.signal?.addEventListener('abort', () => call.cancel(), { once: true })
    }).catch((e: unknown) => {
      throw mapCallError(e, where, o.signal)
    })
    if (reply.status !== 'OK') {
      if (reply.status === 'NOT_FOUND') {
        throw new GrpcError(GrpcErrorCode.PlasmidNotFound, `${where}: server returned status NOT_FOUND`, {
          status: reply.status,
        })
      }
      const status = untrustedText(reply.status, { maxChars: 64 })
      throw new GrpcError(
        GrpcErrorCode.ServerStatusError,
        `${where}: server returned status ${status}${reply.manifest ? `: ${untrustedText(reply.manifest)}` : ''}`,
        { status },
      )
    }
    if (reply.bytes.length > o.maxPayloadBytes) {
      throw new GrpcError(
        GrpcErrorCode.PayloadTooLarge,
        `${where}: payload of ${reply.bytes.length} bytes is over the limit`,
        {
          size: reply.bytes.length,
        },
      )
    }
    const sha256 = createHash('sha256').update(reply.bytes).digest('hex')
    if (sha256 !== reply.sha) {
      throw new GrpcError(
        GrpcErrorCode.PayloadDigestMismatch,
        `${where}: SHA mismatch: payload corrupted (got ${sha256}, the server announced ${untrustedText(reply.sha, { maxChars: 64 })})`,
        { expected: untrustedText(reply.sha, { maxChars: 64 }), found: sha256 },
      )
    }
    const signatureB64 = reply.signature.toString('ascii')
    const verified = checkSignature(o.publicKeyPem, sha256, signatureB64, where)
    const transfer = await slot.open(domain)
    await gunzipInto(reply.bytes, transfer.extractor, o.maxPayloadBytes + 1024 * 1024, where)
    const { dir, manifest, statement } = await installVerified(slot, transfer, domain, o, where)
    onProgress({ status: 'done', task: `fetch ${domain}`, info: { bytes: reply.bytes.length } })
    logger.info('fetched plasmid', {
      plasmid_id: manifest.plasmid_id,
      domain,
      mb: (reply.bytes.length / MIB).toFixed(2),
      signed: signatureB64 !== '',
      verified,
      dir,
      protocol: 'unary',
    })
    return {
      dir,
      domain,
      plasmidId: manifest.plasmid_id,
      manifest,
      sha256,
      size: reply.bytes.length,
      signed: signatureB64 !== '',
      signatureVerified: verified,
      statement,
      protocol: 'unary',
      resumes: 0,
    }
  } finally {
    client.close()
  }
}

/** Decompresses a gzip payload into the extractor, bounding the decompressed size (gzip bombs). */
async function gunzipInto(gz: Buffer, extractor: SafeTarExtractor, maxBytes: number, where: string): Promise<void> {
  const { createGunzip } = await import('node:zlib')
  const { Readable } = await import('node:stream')
  const gunzip = Readable.from([gz]).pipe(createGunzip({ chunkSize: 256 * 1024 }))
  let total = 0
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > maxBytes) {
        throw new GrpcError(
          GrpcErrorCode.PayloadTooLarge,
          `${where}: the payload decompresses to more than ${maxBytes} bytes`,
          {
            maxBytes,
          },
        )
      }
      await extractor.write(chunk)
    }
  } catch (e) {
    gunzip.destroy()
    if (e instanceof GrpcError) throw e
    throw new GrpcError(
      GrpcErrorCode.TarInvalid,
      `${where}: the payload is not gzip data: ${(e as Error).message}`,
      {},
      { cause: e },
    )
  }
}

async function install(t: Transfer, dest: string, domain: string, overwrite: boolean): Promise<string> {
  const dir = join(dest, domain)
  let created: string | undefined
  try {
    created = await mkdir(dest, { recursive: true })
    await installDirAtomic(t.treeDir, dir, { replace: overwrite })
  } catch (e) {
    if (created !== undefined) await removeEmptyDirs(resolvePath(dest), resolvePath(created))
    throw new GrpcError(
      GrpcErrorCode.InstallFailed,
      `cannot install into ${dir}: ${(e as Error).message}`,
      { dir },
      { cause: e },
    )
  }
  await rm(t.staging, { recursive: true, force: true })
  return dir
}

/** Removes the empty folders from `dir` up to `top` (the ones an install made before it failed). */
async function removeEmptyDirs(dir: string, top: string): Promise<void> {
  for (let d = dir; d.startsWith(top); d = dirname(d)) {
    try {
      await rmdir(d)
    } catch {
      return
    }
    if (d === top) return
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })
}

/**
 * Lists what a server offers (streaming service).
 *
 * @example
 * for (const p of await listPlasmids({ host: '127.0.0.1', port: 50051 })) console.log(p.domain, p.size)
 */
export async function listPlasmids(
  options: Partial<ConnectOptions> & { signal?: AbortSignal } = {},
): Promise<PlasmidInfo[]> {
  const o = { ...DEFAULT_FETCH_OPTIONS, ...options }
  const target = address(o.host, o.port)
  const { PlasmidStream } = loadPloraServices()
  const client = new PlasmidStream(target, createClientCredentials(o.tls), channelOptions(o))
  try {
    const reply = await new Promise<{ plasmids: PlasmidInfo[] }>((resolve, reject) => {
      const call = client.ListPlasmids(
        {},
        { deadline: Date.now() + o.timeoutMs },
        (err: grpc.ServiceError | null, r: { plasmids: PlasmidInfo[] }) => (err ? reject(err) : resolve(r)),
      )
      o.signal?.addEventListener('abort', () => call.cancel(), { once: true })
    }).catch((e: unknown) => {
      throw mapCallError(e, `list plasmids at ${target}`, o.signal)
    })
    return reply.plasmids
  } finally {
    client.close()
  }
}

/**
 * A swarm node's holdings at the start of a round (`plora.node.v1.SwarmNode/Snapshot`), waiting
 * up to `timeoutMs` for the node to reach the round when `wait` is set.
 *
 * @throws GrpcError `GRPC_SERVER_UNAVAILABLE` (nobody listening, or a partition),
 *   `GRPC_DEADLINE_EXCEEDED`, `GRPC_PROTOCOL_VIOLATION` (a reply that breaks the protocol's rules)
 * @example
 * const s = await requestSnapshot({ host: '127.0.0.1', port: 7070, round: 3, wait: true, fromId: 0 })
 */
export async function requestSnapshot(
  options: Partial<ConnectOptions> & { round: number; wait: boolean; fromId: number; signal?: AbortSignal },
): Promise<SnapshotReply> {
  const o = { ...DEFAULT_FETCH_OPTIONS, ...options }
  const target = address(o.host, o.port)
  const { SwarmNode } = loadPloraServices()
  const client = new SwarmNode(target, createClientCredentials(o.tls), channelOptions(o))
  const where = `snapshot of round ${o.round} from ${target}`
  try {
    const reply = await new Promise<SnapshotReply>((resolve, reject) => {
      const call = client.Snapshot(
        { round: o.round, wait: o.wait, from_id: o.fromId },
        { deadline: Date.now() + o.timeoutMs },
        (err: grpc.ServiceError | null, r: SnapshotReply) => (err ? reject(err) : resolve(r)),
      )
      o.signal?.addEventListener('abort', () => call.cancel(), { once: true })
    }).catch((e: unknown) => {
      throw mapCallError(e, where, o.signal)
    })
    const bad = (what: string) =>
      new GrpcError(GrpcErrorCode.ProtocolViolation, `${where}: ${what}`, { nodeId: reply.node_id })
    if (reply.found && reply.plasmids.length > 64) throw bad(`${reply.plasmids.length} plasmids; at most 64 expected`)
    const seen = new Set<string>()
    for (const p of reply.plasmids) {
      if (!isSafeDomain(p.domain)) throw bad(`domain ${JSON.stringify(untrustedText(p.domain))} is not a folder name`)
      if (seen.has(p.domain)) throw bad(`domain ${p.domain} listed twice`)
      seen.add(p.domain)
      if (!/^[0-9a-f]{64}$/.test(p.payload_sha256)) throw bad(`${p.domain}: payload_sha256 is not a SHA-256 hex digest`)
      if (!Number.isFinite(p.score)) throw bad(`${p.domain}: score ${p.score} is not finite`)
      assertPlasmidId(p.plasmid_id)
    }
    return reply
  } finally {
    client.close()
  }
}
