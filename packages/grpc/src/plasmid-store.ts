/**
 * What an offer server serves: the adapter folders directly under its root, each turned into a
 * deterministic payload (tar layout, digest, size, signature) that is computed once and reused
 * until a file in the folder changes.
 *
 * Fixes against the original (spec core.md §20.2):
 * - `[D-38]` the requested domain must be a plain folder name directly under the root; symbolic
 *   links are never followed (neither the domain folder nor anything inside it);
 * - the tarball is deterministic (see tar.ts), so the same adapter always has the same digest, and
 *   the payload is signed once per digest instead of on every request (the key need not sign under load).
 */
import { createHash } from 'node:crypto'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import type { Logger } from '@plora/common'
import { SILENT_LOGGER } from '@plora/common'
import { MANIFEST_FILENAME, parseManifestYaml } from '@plora/manifest'
import { GrpcError, GrpcErrorCode } from './errors.js'
import { assertSafeDomain, isSafeDomain } from './names.js'
import { listRegularFiles, planTar, readTarRange, type TarLayout } from './tar.js'

/** Signs a payload digest; returns the base64 signature (tagged with `PLORA|ADAPTER|v1|`). */
export type PayloadSigner = (sha256Hex: string) => string | Promise<string>

/** A served adapter, ready to stream. */
export interface PreparedPlasmid {
  domain: string
  dir: string
  /** `plasmid_id` of the manifest, or '' when the manifest does not parse (the client will refuse it). */
  plasmidId: string
  manifestText: string
  manifestSha256: string
  layout: TarLayout
  /** SHA-256 hex of the tar payload. */
  sha256: string
  size: number
  /** Base64 signature over the tagged payload digest, or '' when the server has no key. */
  signatureB64: string
  /** Files skipped because they are not regular files (symlinks, …). */
  skipped: readonly string[]
}

/** A gzip payload for the original's unary reply. */
export interface UnaryPayload {
  bytes: Buffer
  sha256: string
  signatureB64: string
  manifestText: string
}

/** Collaborators of {@link PlasmidStore}. */
export interface PlasmidStoreComponents {
  logger?: Logger
  signer?: PayloadSigner
}

/** Outcome of a lookup: the folder, or why there is none. */
type Lookup = { kind: 'found'; dir: string } | { kind: 'missing'; why: string }

const MAX_SIGNATURE_MEMO = 1024

/** Serves adapter folders under one root (see the file header). */
export class PlasmidStore {
  readonly root: string
  readonly #logger: Logger
  readonly #signer: PayloadSigner | undefined
  readonly #prepared = new Map<string, { fingerprint: string; value: Promise<PreparedPlasmid> }>()
  readonly #signatures = new Map<string, Promise<string>>()

  constructor(root: string, components: PlasmidStoreComponents = {}) {
    this.root = root
    this.#logger = components.logger ?? SILENT_LOGGER
    this.#signer = components.signer
  }

  /** True when payloads are signed. */
  get signs(): boolean {
    return this.#signer !== undefined
  }

  /** Checks that the root is an existing folder (raises `GRPC_ROOT_INVALID`). */
  async checkRoot(): Promise<void> {
    try {
      const st = await lstat(this.root)
      if (!st.isDirectory()) throw new Error('not a folder')
    } catch (e) {
      throw new GrpcError(
        GrpcErrorCode.RootInvalid,
        `adapter root ${this.root} is not a readable folder: ${(e as Error).message}`,
        { root: this.root },
        { cause: e },
      )
    }
  }

  async #lookup(domain: string): Promise<Lookup> {
    assertSafeDomain(domain)
    const dir = join(this.root, domain)
    let st: Awaited<ReturnType<typeof lstat>>
    try {
      st = await lstat(dir)
    } catch {
      return { kind: 'missing', why: 'no such folder' }
    }
    // A symbolic link could point anywhere; offering only real sub-folders keeps the server inside its root.
    if (st.isSymbolicLink()) return { kind: 'missing', why: 'is a symbolic link (not followed)' }
    if (!st.isDirectory()) return { kind: 'missing', why: 'not a folder' }
    return { kind: 'found', dir }
  }

  /** Prepares the adapter under `domain`; `null` when the server does not offer it. */
  async prepare(domain: string): Promise<PreparedPlasmid | null> {
    const found = await this.#lookup(domain)
    if (found.kind === 'missing') {
      this.#logger.debug('not offered', { domain, why: found.why })
      return null
    }
    const listed = await listRegularFiles(found.dir)
    const fingerprint = JSON.stringify(listed.files.map((f) => [f.name, f.size, f.mtimeMs, f.ino]))
    const cached = this.#prepared.get(domain)
    if (cached && cached.fingerprint === fingerprint) return cached.value
    const value = this.#build(domain, found.dir, listed.files, listed.skipped)
    this.#prepared.set(domain, { fingerprint, value })
    value.catch(() => this.#prepared.delete(domain))
    return value
  }

  async #build(
    domain: string,
    dir: string,
    files: Awaited<ReturnType<typeof listRegularFiles>>['files'],
    skipped: string[],
  ): Promise<PreparedPlasmid> {
    if (!files.some((f) => f.name === MANIFEST_FILENAME)) {
      throw new GrpcError(GrpcErrorCode.ManifestInvalid, `${dir} has no ${MANIFEST_FILENAME}`, { dir })
    }
    if (skipped.length > 0) this.#logger.warn('skipping non-regular files', { domain, skipped })
    const layout = planTar(files)
    const h = createHash('sha256')
    for await (const chunk of readTarRange(layout)) h.update(chunk)
    const sha256 = h.digest('hex')
    const manifestText = await readFile(join(dir, MANIFEST_FILENAME), 'utf8')
    let plasmidId = ''
    try {
      plasmidId = parseManifestYaml(manifestText, join(dir, MANIFEST_FILENAME)).plasmid_id
    } catch (e) {
      this.#logger.warn('offered adapter has an invalid manifest', { domain, error: (e as Error).message })
    }
    const signatureB64 = await this.sign(sha256)
    return {
      domain,
      dir,
      plasmidId,
      manifestText,
      manifestSha256: createHash('sha256').update(manifestText, 'utf8').digest('hex'),
      layout,
      sha256,
      size: layout.size,
      signatureB64,
      skipped,
    }
  }

  /** Signs a digest once; later calls with the same digest reuse the signature. */
  sign(sha256Hex: string): Promise<string> {
    const signer = this.#signer
    if (!signer) return Promise.resolve('')
    let sig = this.#signatures.get(sha256Hex)
    if (!sig) {
      sig = Promise.resolve().then(() => signer(sha256Hex))
      if (this.#signatures.size >= MAX_SIGNATURE_MEMO) {
        const oldest = this.#signatures.keys().next().value
        if (oldest !== undefined) this.#signatures.delete(oldest)
      }
      this.#signatures.set(sha256Hex, sig)
      sig.catch(() => this.#signatures.delete(sha256Hex))
    }
    return sig
  }

  /** Every adapter folder directly under the root (plain names, real folders with a plora.yml), prepared. */
  async list(): Promise<PreparedPlasmid[]> {
    const out: PreparedPlasmid[] = []
    const dirents = await readdir(this.root, { withFileTypes: true })
    const names = dirents
      .filter((d) => d.isDirectory() && isSafeDomain(d.name))
      .map((d) => d.name)
      .sort()
    for (const name of names) {
      try {
        await lstat(join(this.root, name, MANIFEST_FILENAME))
      } catch {
        continue
      }
      try {
        const p = await this.prepare(name)
        if (p) out.push(p)
      } catch (e) {
        this.#logger.warn('cannot prepare adapter for listing', { domain: name, error: (e as Error).message })
      }
    }
    return out
  }

  /** Finds an offered adapter by its manifest's `plasmid_id`. */
  async findByPlasmidId(plasmidId: string): Promise<PreparedPlasmid | null> {
    for (const p of await this.list()) if (p.plasmidId === plasmidId) return p
    return null
  }

  /**
   * Builds the original's unary payload: the same deterministic tar, gzip-compressed (zlib's
   * gzip header carries no time stamp, so the bytes and digest are stable too). Raises
   * `GRPC_PAYLOAD_TOO_LARGE` when the compressed payload would exceed `maxBytes`.
   */
  async unaryPayload(p: PreparedPlasmid, maxBytes: number): Promise<UnaryPayload> {
    const parts: Buffer[] = []
    let total = 0
    const h = createHash('sha256')
    const tooLarge = new GrpcError(
      GrpcErrorCode.PayloadTooLarge,
      `adapter ${p.domain} compresses to more than ${maxBytes} bytes, over the unary message limit; fetch it with the streaming service (plora.v2)`,
      { domain: p.domain, maxBytes },
    )
    try {
      await pipeline(Readable.from(readTarRange(p.layout)), createGzip({ level: 6 }), async (source) => {
        for await (const chunk of source as AsyncIterable<Buffer>) {
          total += chunk.length
          if (total > maxBytes) throw tooLarge
          h.update(chunk)
          parts.push(chunk)
        }
      })
    } catch (e) {
      // pipeline() reports a sink failure as an AbortError of the source; say what really happened.
      throw total > maxBytes ? tooLarge : e
    }
    const sha256 = h.digest('hex')
    return {
      bytes: Buffer.concat(parts, total),
      sha256,
      signatureB64: await this.sign(sha256),
      manifestText: p.manifestText,
    }
  }
}
