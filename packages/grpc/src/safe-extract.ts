/**
 * Safe extraction of an untrusted tar archive into a private staging folder.
 *
 * The original extracts the received tarball straight into the destination with no path or link
 * filtering (spec core.md §20.3 step 6, `[D-41]`), so `../x`, `/etc/x` or a symlink entry writes
 * outside it. Here every entry is checked before a byte is written:
 * - only regular files (and plain folder entries, which just create folders) are accepted;
 *   symlinks, hard links, devices, FIFOs and unknown types are refused (`GRPC_TAR_ENTRY_UNSAFE`);
 * - names must be relative with no `..` segment, backslash or control character; `./x` is read as `x`;
 * - duplicate names are refused (a later entry must not silently replace a checked one);
 * - the number of entries and the total extracted size are bounded (`GRPC_PAYLOAD_TOO_LARGE`).
 * Files are created with `wx` (never through an existing path) and mode 0644, whatever the header says.
 * Each file's SHA-256 is computed while it is written, so the caller can check the artefact digest
 * without reading the file again.
 *
 * Parsing uses tar-stream (ustar, pax and GNU long names); this module only decides what is allowed.
 *
 * Errors: every failure (a refused entry, a malformed or truncated archive, a local write error)
 * ends in one place, `#fail`, which records the first error and destroys the parser; `write` and
 * `finish` then reject with it. Destroying the parser also destroys the entry stream whose data is
 * still arriving, which emits 'error'; each entry stream has a listener from the moment it is
 * handed out, so a refusal never surfaces as an uncaught exception (issue 15 point 9).
 * Names from the archive appear in messages only through `untrustedText` (capped and escaped).
 */
import { createHash } from 'node:crypto'
import { type FileHandle, mkdir, open } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { untrustedText } from '@plora/common'
import * as tar from 'tar-stream'
import { GrpcError, GrpcErrorCode } from './errors.js'
import { normaliseEntryName } from './names.js'

/** Limits of {@link SafeTarExtractor}. */
export interface SafeExtractLimits {
  /** Most entries (files and folders) accepted (default 10 000). */
  maxEntries: number
  /** Most bytes of file content accepted in total. */
  maxTotalBytes: number
}

/** What was extracted: relative file name → size and SHA-256 hex. */
export interface ExtractedTree {
  files: ReadonlyMap<string, { size: number; sha256: string }>
  /** Total bytes of file content. */
  bytes: number
}

/** Default entry limit of {@link SafeTarExtractor}. */
export const DEFAULT_MAX_ENTRIES = 10_000

type EntryStream = AsyncIterable<Buffer> & { resume(): void }

/**
 * Push-style extractor: feed archive bytes with {@link SafeTarExtractor.write} as they arrive
 * (backpressure through the returned promise), then call {@link SafeTarExtractor.finish}.
 * On any error the extractor stops; the caller removes the staging folder.
 */
export class SafeTarExtractor {
  readonly #dest: string
  readonly #limits: SafeExtractLimits
  readonly #ex: tar.Extract
  readonly #files = new Map<string, { size: number; sha256: string }>()
  readonly #dirs = new Set<string>()
  #entries = 0
  #bytes = 0
  #error: GrpcError | null = null
  #onError: ((e: GrpcError) => void) | null = null
  #finished: Promise<void>

  constructor(dest: string, limits: Partial<SafeExtractLimits> & Pick<SafeExtractLimits, 'maxTotalBytes'>) {
    this.#dest = dest
    this.#limits = { maxEntries: DEFAULT_MAX_ENTRIES, ...limits }
    this.#ex = tar.extract()
    this.#ex.on('entry', (header, stream, next) => {
      // Destroying the parser destroys this stream with the parser's error; without a listener
      // that 'error' is an uncaught exception. The error itself reaches #fail through the parser.
      stream.on('error', () => {})
      this.#onEntry(header, stream as unknown as EntryStream).then(
        () => next(),
        (e: unknown) => this.#fail(e as Error),
      )
    })
    this.#finished = new Promise<void>((resolve, reject) => {
      this.#ex.on('finish', () => resolve())
      this.#ex.on('error', (e: Error) => reject(this.#record(e)))
      this.#ex.on('close', () => {
        if (this.#error) reject(this.#error)
        else resolve()
      })
    })
    // Keep an early failure from surfacing as an unhandled rejection before finish() is awaited.
    this.#finished.catch(() => {})
  }

  #wrap(e: Error): GrpcError {
    if (e instanceof GrpcError) return e
    if (typeof (e as NodeJS.ErrnoException).syscall === 'string') {
      return new GrpcError(
        GrpcErrorCode.LocalIoFailed,
        `cannot write the received files into the staging folder: ${e.message}`,
        { errno: (e as NodeJS.ErrnoException).code },
        { cause: e },
      )
    }
    return new GrpcError(
      GrpcErrorCode.TarInvalid,
      `the payload is not a valid tar archive: ${untrustedText(e.message)}`,
      {},
      { cause: e },
    )
  }

  /** Keeps the first error (and tells the listener); returns the kept one. */
  #record(e: Error): GrpcError {
    if (!this.#error) {
      this.#error = this.#wrap(e)
      this.#onError?.(this.#error)
    }
    return this.#error
  }

  #fail(e: Error): void {
    this.#ex.destroy(this.#record(e))
  }

  /** Calls `listener` once when the extractor stops on an error (the fetch then cancels its transfer). */
  onError(listener: (e: GrpcError) => void): void {
    this.#onError = listener
    if (this.#error) listener(this.#error)
  }

  async #onEntry(header: tar.Header, stream: EntryStream): Promise<void> {
    const rawName = header.name
    const name = normaliseEntryName(rawName)
    if (name === null) {
      throw new GrpcError(GrpcErrorCode.TarEntryUnsafe, `unsafe tar entry name ${quoted(rawName)}`, {
        entry: untrustedText(rawName),
        type: header.type,
      })
    }
    if (header.type !== 'file' && header.type !== 'directory') {
      throw new GrpcError(
        GrpcErrorCode.TarEntryUnsafe,
        `unsafe tar entry ${quoted(rawName)}: type ${untrustedText(header.type ?? 'unknown')} (only regular files are accepted)`,
        {
          entry: untrustedText(rawName),
          type: header.type,
          linkname: header.linkname == null ? null : untrustedText(header.linkname),
        },
      )
    }
    if (++this.#entries > this.#limits.maxEntries) {
      throw new GrpcError(
        GrpcErrorCode.PayloadTooLarge,
        `the payload has more than ${this.#limits.maxEntries} tar entries`,
        { maxEntries: this.#limits.maxEntries },
      )
    }
    if (header.type === 'directory') {
      if (name !== '' && !this.#dirs.has(name)) {
        if (this.#files.has(name)) throw this.#duplicate(rawName)
        await mkdir(join(this.#dest, name), { recursive: true })
        this.#dirs.add(name)
      }
      stream.resume()
      return
    }
    if (name === '' || this.#files.has(name) || this.#dirs.has(name)) throw this.#duplicate(rawName)
    const size = header.size ?? 0
    if (this.#bytes + size > this.#limits.maxTotalBytes) {
      throw new GrpcError(
        GrpcErrorCode.PayloadTooLarge,
        `extracting ${name} (${size} bytes) would exceed the limit of ${this.#limits.maxTotalBytes} bytes`,
        { entry: name, size, maxTotalBytes: this.#limits.maxTotalBytes },
      )
    }
    this.#bytes += size
    const path = join(this.#dest, name)
    let fh: FileHandle
    try {
      await mkdir(dirname(path), { recursive: true })
      fh = await open(path, 'wx', 0o644)
    } catch (e) {
      throw new GrpcError(
        GrpcErrorCode.TarEntryUnsafe,
        `tar entry ${quoted(rawName)} conflicts with another entry: ${(e as Error).message}`,
        { entry: untrustedText(rawName) },
        { cause: e },
      )
    }
    const h = createHash('sha256')
    let written = 0
    try {
      for await (const chunk of stream) {
        h.update(chunk)
        written += chunk.length
        await fh.write(chunk)
      }
    } finally {
      await fh.close()
    }
    if (written !== size) {
      throw new GrpcError(GrpcErrorCode.TarInvalid, `tar entry ${name} is truncated (${written} of ${size} bytes)`, {
        entry: name,
      })
    }
    this.#files.set(name, { size, sha256: h.digest('hex') })
  }

  #duplicate(rawName: string): GrpcError {
    return new GrpcError(GrpcErrorCode.TarEntryUnsafe, `duplicate tar entry ${quoted(rawName)}`, {
      entry: untrustedText(rawName),
    })
  }

  /** The first error that stopped the extractor, or null while it runs. */
  get error(): GrpcError | null {
    return this.#error
  }

  /** Feeds archive bytes; resolves when the extractor can take more. */
  async write(chunk: Buffer): Promise<void> {
    if (this.#error) throw this.#error
    if (this.#ex.write(chunk)) return
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.#ex.off('drain', done)
        this.#ex.off('close', done)
        if (this.#error) reject(this.#error)
        else resolve()
      }
      this.#ex.on('drain', done)
      this.#ex.on('close', done)
    })
  }

  /** Ends the input and waits until every entry is written. */
  async finish(): Promise<ExtractedTree> {
    if (this.#error) throw this.#error
    // streamx's typing wants an argument; undefined ends without writing more.
    this.#ex.end(undefined)
    await this.#finished
    if (this.#error) throw this.#error
    return { files: this.#files, bytes: this.#bytes }
  }

  /** Stops extraction (the caller removes the staging folder). */
  abort(reason: Error): void {
    this.#fail(reason)
  }
}

/** An archive name for a message: JSON-quoted, capped and with control characters escaped. */
function quoted(name: string): string {
  return untrustedText(JSON.stringify(name))
}
