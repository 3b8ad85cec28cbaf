/**
 * Deterministic tar archives of an adapter folder, readable from any byte offset.
 *
 * Format: POSIX ustar (IEEE Std 1003.1-1988 "ustar" interchange format). Each regular file is a
 * 512-byte header followed by its bytes padded to a multiple of 512; the archive ends with two
 * zero blocks. Headers are fixed so that the same folder always gives the same bytes (spec core.md
 * §20.3 "TS" note): entries sorted by path, mode 0644, uid/gid 0, empty user/group names, mtime 0,
 * type "0" (regular file). Only regular files are archived; symbolic links and other special files
 * are skipped (never followed), so nothing outside the folder can leak into a payload.
 *
 * Why not tar-stream's `pack()` for writing: serving large adapters needs the exact layout up
 * front (total size, digest) and random access from any offset to resume a fetch, which a push
 * stream cannot give. Writing a ustar header is 30 lines; reading untrusted archives is the harder
 * part, and that is left to tar-stream (see safe-extract.ts).
 */
import { type Dirent, constants as fsConstants } from 'node:fs'
import { type FileHandle, lstat, open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { GrpcError, GrpcErrorCode } from './errors.js'

const BLOCK = 512
/** Largest size the 11-digit octal ustar size field can hold (8 GiB - 1). */
const MAX_USTAR_SIZE = 0o77777777777

/** A regular file to archive. */
export interface TarSourceFile {
  /** Archive name: relative POSIX path, e.g. `plora.yml` or `sub/x.json`. */
  name: string
  /** Absolute path on disk. */
  path: string
  /** Size in bytes (from lstat). */
  size: number
  /** Cheap change detectors: a different value means the file changed since it was listed. */
  mtimeMs: number
  ino: number
}

/** One archived file with its header and position in the archive. */
export interface TarLayoutEntry extends TarSourceFile {
  /** The 512-byte ustar header. */
  header: Buffer
  /** Archive offset of the header; data starts at `offset + 512`. */
  offset: number
}

/** The byte layout of a deterministic archive. */
export interface TarLayout {
  entries: readonly TarLayoutEntry[]
  /** Total archive size in bytes, including the two trailing zero blocks. */
  size: number
}

/** Result of {@link listRegularFiles}. */
export interface ListedFiles {
  files: TarSourceFile[]
  /** Relative names of entries that were skipped (symlinks, sockets, devices, …). */
  skipped: string[]
}

/**
 * Lists the regular files under `dir` recursively, sorted by archive name. Symbolic links are
 * reported in `skipped` and never followed; sub-folders are entered only when they are real
 * folders (lstat), so a link cannot lead outside `dir`.
 */
export async function listRegularFiles(dir: string): Promise<ListedFiles> {
  const files: TarSourceFile[] = []
  const skipped: string[] = []
  const walk = async (abs: string, rel: string): Promise<void> => {
    const dirents: Dirent[] = await readdir(abs, { withFileTypes: true })
    for (const d of dirents) {
      const name = rel ? `${rel}/${d.name}` : d.name
      const path = join(abs, d.name)
      if (d.isDirectory()) {
        await walk(path, name)
      } else if (d.isFile()) {
        const st = await lstat(path)
        if (!st.isFile()) {
          skipped.push(name)
          continue
        }
        files.push({ name, path, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino })
      } else {
        skipped.push(name)
      }
    }
  }
  await walk(dir, '')
  // Byte order of the UTF-8 names, so the order does not depend on locale or UTF-16 quirks.
  files.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  return { files, skipped }
}

function writeOctal(buf: Buffer, value: number, offset: number, length: number): void {
  // length-1 octal digits, zero-padded, then NUL (the form GNU tar and Python's tarfile write).
  const s = value.toString(8).padStart(length - 1, '0')
  buf.write(`${s}\0`, offset, length, 'ascii')
}

/** Splits a long name into ustar `prefix` (≤155 bytes) and `name` (≤100 bytes) at a `/`. */
function splitUstarName(name: string): { prefix: string; base: string } | null {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name }
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue
    const prefix = name.slice(0, i)
    const base = name.slice(i + 1)
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100 && base.length > 0) return { prefix, base }
  }
  return null
}

/** Builds the deterministic 512-byte ustar header of a regular file. */
export function ustarHeader(name: string, size: number): Buffer {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: names with control characters are refused
  if (name.length === 0 || /[\u0000-\u001f\u007f\\]/.test(name) || name.startsWith('/')) {
    throw new GrpcError(GrpcErrorCode.TarNameUnsupported, `cannot archive ${JSON.stringify(name)}: unsafe file name`, {
      name,
    })
  }
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_USTAR_SIZE) {
    throw new GrpcError(
      GrpcErrorCode.TarNameUnsupported,
      `cannot archive ${name}: size ${size} exceeds the ustar limit of ${MAX_USTAR_SIZE} bytes`,
      { name, size },
    )
  }
  const split = splitUstarName(name)
  if (!split) {
    throw new GrpcError(
      GrpcErrorCode.TarNameUnsupported,
      `cannot archive ${name}: the path does not fit a ustar header (name ≤100 bytes, prefix ≤155 bytes)`,
      { name },
    )
  }
  const h = Buffer.alloc(BLOCK)
  h.write(split.base, 0, 100, 'utf8')
  writeOctal(h, 0o644, 100, 8) // mode
  writeOctal(h, 0, 108, 8) // uid
  writeOctal(h, 0, 116, 8) // gid
  writeOctal(h, size, 124, 12)
  writeOctal(h, 0, 136, 12) // mtime: fixed, so the bytes do not depend on when a file was written
  h.write('        ', 148, 8, 'ascii') // checksum field counts as spaces while summing
  h.write('0', 156, 1, 'ascii') // typeflag: regular file
  h.write('ustar\0', 257, 6, 'ascii')
  h.write('00', 263, 2, 'ascii')
  // devmajor/devminor stay NUL for regular files, as CPython's tarfile writes them.
  h.write(split.prefix, 345, 155, 'utf8')
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += h[i] as number
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii')
  return h
}

/** Computes the archive layout of `files` (already sorted) without reading their contents. */
export function planTar(files: readonly TarSourceFile[]): TarLayout {
  const entries: TarLayoutEntry[] = []
  let offset = 0
  for (const f of files) {
    entries.push({ ...f, header: ustarHeader(f.name, f.size), offset })
    offset += BLOCK + paddedSize(f.size)
  }
  return { entries, size: offset + 2 * BLOCK }
}

function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK
}

/** Options of {@link readTarRange}. */
export interface ReadTarRangeOptions {
  /** First archive byte to produce (default 0). */
  start?: number
  /** Size of the produced chunks (default 1 MiB); the last one may be shorter. */
  chunkSize?: number
  signal?: AbortSignal
}

/** Options of {@link readTarFrames}. */
export interface ReadTarFramesOptions extends ReadTarRangeOptions {
  /** Bytes left free in front of each chunk's data, for a message header written in place (default 0). */
  headroom?: number
  /**
   * Supplies the buffer of each chunk (at least `size` bytes; only the first `size` are used), so a
   * sender can recycle buffers it has finished with. Default: a fresh `Buffer.allocUnsafe(size)`.
   */
  allocate?: (size: number) => Buffer
}

/** One chunk of {@link readTarFrames}: the archive bytes are `buf.subarray(headroom)`. */
export interface TarFrame {
  buf: Buffer
  /** Archive bytes in this chunk (`buf.length - headroom`). */
  length: number
}

/**
 * Produces the archive bytes from `start` to the end in chunks of `chunkSize`, reading the files
 * as it goes (memory stays at one chunk). Each chunk is a fresh Buffer, so a consumer may keep it.
 * A file that shrank since it was listed fails with `GRPC_TAR_INVALID`; a file whose contents
 * changed is caught by the digest check of whoever receives the bytes.
 */
export async function* readTarRange(layout: TarLayout, options: ReadTarRangeOptions = {}): AsyncGenerator<Buffer> {
  for await (const f of readTarFrames(layout, { ...options, headroom: 0 })) yield f.buf
}

/**
 * {@link readTarRange} with free bytes in front of each chunk, so a sender can write a message
 * header in place and send header and data as one buffer without copying the data (offer-server.ts).
 */
export async function* readTarFrames(layout: TarLayout, options: ReadTarFramesOptions = {}): AsyncGenerator<TarFrame> {
  const headroom = options.headroom ?? 0
  const allocate = options.allocate ?? Buffer.allocUnsafe
  const start = options.start ?? 0
  const chunkSize = options.chunkSize ?? 1 << 20
  if (!Number.isSafeInteger(start) || start < 0 || start > layout.size) {
    throw new GrpcError(GrpcErrorCode.OptionsInvalid, `offset ${start} is outside the payload (0..${layout.size})`, {
      start,
      size: layout.size,
    })
  }
  let pos = start
  let entryIndex = 0
  // Skip entries that end before `start`.
  while (entryIndex < layout.entries.length) {
    const e = layout.entries[entryIndex] as TarLayoutEntry
    if (e.offset + BLOCK + paddedSize(e.size) > pos) break
    entryIndex++
  }
  let fh: FileHandle | null = null
  let fhIndex = -1
  try {
    while (pos < layout.size) {
      options.signal?.throwIfAborted()
      const n = Math.min(chunkSize, layout.size - pos)
      const given = allocate(headroom + n)
      const frame = given.length === headroom + n ? given : given.subarray(0, headroom + n)
      const buf = headroom === 0 ? frame : frame.subarray(headroom)
      let filled = 0
      while (filled < n) {
        const e = layout.entries[entryIndex]
        if (!e) {
          // Trailer: two zero blocks.
          buf.fill(0, filled, n)
          filled = n
          break
        }
        const dataStart = e.offset + BLOCK
        const dataEnd = dataStart + e.size
        const entryEnd = dataStart + paddedSize(e.size)
        const at = pos + filled
        if (at < dataStart) {
          const k = Math.min(dataStart - at, n - filled)
          e.header.copy(buf, filled, at - e.offset, at - e.offset + k)
          filled += k
        } else if (at < dataEnd) {
          if (fhIndex !== entryIndex) {
            await fh?.close()
            fh = null
            fh = await open(e.path, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0))
            fhIndex = entryIndex
          }
          const k = Math.min(dataEnd - at, n - filled)
          const { bytesRead } = await (fh as FileHandle).read(buf, filled, k, at - dataStart)
          if (bytesRead === 0) {
            throw new GrpcError(
              GrpcErrorCode.TarInvalid,
              `${e.path} shrank while it was being served (expected ${e.size} bytes)`,
              { path: e.path, size: e.size },
            )
          }
          filled += bytesRead
        } else if (at < entryEnd) {
          const k = Math.min(entryEnd - at, n - filled)
          buf.fill(0, filled, filled + k)
          filled += k
        } else {
          entryIndex++
        }
      }
      pos += n
      yield { buf: frame, length: n }
    }
  } finally {
    await fh?.close()
  }
}
