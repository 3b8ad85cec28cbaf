/**
 * Crash-safe outputs: a file is written to a temporary sibling, flushed to disk and renamed over
 * the target, so a reader sees either the old or the new content, never half of it. A directory
 * (an adapter, a fetched plasmid) is assembled in a staging sibling and renamed into place.
 * Temporaries are named by {@link tempName} (output name + pid), and each writer first removes the
 * ones a killed process left in its folder (temp-files.ts).
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { CommonError, CommonErrorCode } from './errors.js'
import { prettyJsonChunks } from './json-chunks.js'
import { removeStaleTemps, sweepStaleTempsOnce, type TempKind, tempName } from './temp-files.js'

function tempSibling(path: string, kind: TempKind): string {
  return join(dirname(path), tempName(basename(path), kind))
}

async function fsyncDir(dir: string): Promise<void> {
  // Persist the rename itself. Some file systems refuse fsync on a directory: that is not an error.
  try {
    const fh = await open(dir, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch {
    /* best effort */
  }
}

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** File mode of the new file (default 0o644; use 0o600 for private keys). */
  mode?: number
  /** Create missing parent directories (default true). */
  mkdirs?: boolean
}

/** Content of {@link writeFileAtomic}: the whole text or bytes, or chunks of them (a file larger than a string can be). */
export type AtomicFileData = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>

/** Chunks are gathered to about this many bytes before a write. */
const WRITE_BUFFER_BYTES = 1 << 20

async function writeChunks(
  fh: import('node:fs/promises').FileHandle,
  chunks: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
): Promise<void> {
  let pending: Uint8Array[] = []
  let size = 0
  const flush = async () => {
    if (size === 0) return
    await fh.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending, size))
    pending = []
    size = 0
  }
  for await (const c of chunks) {
    const b = typeof c === 'string' ? Buffer.from(c, 'utf8') : c
    pending.push(b)
    size += b.byteLength
    if (size >= WRITE_BUFFER_BYTES) await flush()
  }
  await flush()
}

/**
 * Writes `data` to `path` atomically: temp file in the same directory, fsync, rename. `data` may
 * be chunks (an iterable or async iterable), written in order, for outputs too large for one string.
 */
export async function writeFileAtomic(
  path: string,
  data: AtomicFileData,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = dirname(path)
  const fail = (e: unknown): CommonError =>
    new CommonError(
      CommonErrorCode.FileWriteFailed,
      `cannot write ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  // A parent that is a regular file (EEXIST/ENOTDIR from mkdir) is bad input, not a crash.
  if (options.mkdirs !== false) await mkdir(dir, { recursive: true }).catch((e: unknown) => Promise.reject(fail(e)))
  await sweepStaleTempsOnce(dir)
  const tmp = tempSibling(path, 'file')
  try {
    const fh = await open(tmp, 'wx', options.mode ?? 0o644)
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data)
      else await writeChunks(fh, data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined)
    throw fail(e)
  }
  await fsyncDir(dir)
}

/**
 * Writes `value` as pretty JSON (2-space indent, trailing newline) atomically: the bytes of
 * `JSON.stringify(value, null, 2)`, streamed, so a value whose text exceeds a string's limit (a
 * 10⁶-agent swarm report) is written too.
 */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  await writeFileAtomic(
    path,
    (function* () {
      yield* prettyJsonChunks(value)
      yield '\n'
    })(),
    options,
  )
}

/**
 * Creates an empty staging directory next to `dest` (same file system, so the final rename is
 * atomic), after removing the temporaries that killed processes left there.
 */
export async function createStagingDir(dest: string): Promise<string> {
  try {
    await mkdir(dirname(dest), { recursive: true })
  } catch (e) {
    throw new CommonError(
      CommonErrorCode.FileWriteFailed,
      `cannot create ${dirname(dest)}: ${(e as Error).message}`,
      { path: dest },
      { cause: e },
    )
  }
  await removeStaleTemps(dirname(dest))
  const staging = tempSibling(dest, 'staging')
  await mkdir(staging, { mode: 0o700 })
  return staging
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/**
 * Moves a fully written `staging` directory to `dest`. An existing `dest` is replaced only when
 * `replace` is set; it is first moved aside and restored if the final rename fails, so `dest`
 * always holds one complete version.
 */
export async function installDirAtomic(
  staging: string,
  dest: string,
  options: { replace?: boolean } = {},
): Promise<void> {
  const had = await exists(dest)
  if (had && !options.replace) {
    throw new CommonError(CommonErrorCode.DirectoryInstallFailed, `cannot install into ${dest}: it already exists`, {
      dest,
    })
  }
  const aside = had ? tempSibling(dest, 'old') : null
  try {
    if (aside) await rename(dest, aside)
    try {
      await rename(staging, dest)
    } catch (e) {
      if (aside) await rename(aside, dest)
      throw e
    }
  } catch (e) {
    throw new CommonError(
      CommonErrorCode.DirectoryInstallFailed,
      `cannot install ${staging} as ${dest}: ${(e as Error).message}`,
      { staging, dest },
      { cause: e },
    )
  }
  if (aside) await rm(aside, { recursive: true, force: true })
  await fsyncDir(dirname(dest))
}
