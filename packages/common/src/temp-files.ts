/**
 * Names of plora's temporary files and folders, and the sweep that removes the ones a killed
 * process left behind.
 *
 * Every temporary that plora creates next to an output (the `writeFileAtomic` temp file, a staging
 * folder, the old copy moved aside while a folder is replaced) is called
 * `.<name>.<pid>.<12 hex>.tmp`, `.<name>.<pid>.<12 hex>.staging.tmp` or `.<name>.<pid>.<12 hex>.old.tmp`:
 * hidden, tied to the output `<name>`, and carrying the id of the process that made it. A process
 * killed with SIGKILL runs no cleanup, so {@link removeStaleTemps} removes, on the next run, every
 * such name whose process is gone (or that is older than a threshold, which covers a reused pid).
 * Names of running processes (this one included) are left alone, so concurrent writers are safe.
 * An old copy moved aside is put back when its output is missing (the process died between the two
 * renames of a replace), so a kill never loses the last complete version.
 */
import { randomBytes } from 'node:crypto'
import { lstat, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** What a temporary is for: a file being written, a folder being assembled, an old copy moved aside. */
export type TempKind = 'file' | 'staging' | 'old'

/** Age after which a temporary is removed even though its pid is alive (the pid may have been reused). */
export const DEFAULT_STALE_TEMP_AGE_MS = 24 * 60 * 60 * 1000

const SUFFIX: Record<TempKind, string> = { file: 'tmp', staging: 'staging.tmp', old: 'old.tmp' }
const TEMP_RE = /^\.(.+)\.(\d{1,10})\.([0-9a-f]{12})\.(?:(staging|old)\.)?tmp$/

/** The temporary name for output `name` (a base name, no folder), e.g. `.plora.yml.4242.a1b2c3d4e5f6.tmp`. */
export function tempName(name: string, kind: TempKind = 'file'): string {
  return `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.${SUFFIX[kind]}`
}

/** A parsed temporary name, or null when `entry` is not one of plora's temporaries. */
export function parseTempName(entry: string): { name: string; pid: number; kind: TempKind } | null {
  const m = TEMP_RE.exec(entry)
  if (!m) return null
  return { name: m[1] as string, pid: Number(m[2]), kind: (m[4] as TempKind | undefined) ?? 'file' }
}

/** True when a process with this id exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  // pid 0 and negative ids address process groups; never signal those.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Options of {@link removeStaleTemps}. */
export interface RemoveStaleTempsOptions {
  /** Remove temporaries older than this even when their pid is alive (default {@link DEFAULT_STALE_TEMP_AGE_MS}). */
  olderThanMs?: number
  /** Clock for the age test (default `Date.now()`). */
  now?: number
}

/** What {@link removeStaleTemps} did. */
export interface RemoveStaleTempsResult {
  /** Entries removed. */
  removed: string[]
  /** Old copies put back under their output name (the output itself was missing). */
  restored: string[]
}

/**
 * Removes the temporaries in `dir` (not recursive) left by processes that no longer run, or older
 * than `olderThanMs`. Only names of the {@link tempName} pattern are touched, never this process's
 * own. Best effort: a missing `dir` or an entry that vanishes meanwhile is not an error.
 *
 * @example
 * await removeStaleTemps('out/legal') // before writing into out/legal
 */
export async function removeStaleTemps(
  dir: string,
  options: RemoveStaleTempsOptions = {},
): Promise<RemoveStaleTempsResult> {
  const olderThanMs = options.olderThanMs ?? DEFAULT_STALE_TEMP_AGE_MS
  const now = options.now ?? Date.now()
  const result: RemoveStaleTempsResult = { removed: [], restored: [] }
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch {
    return result
  }
  for (const entry of entries) {
    const t = parseTempName(entry)
    if (!t || t.pid === process.pid) continue
    const path = join(dir, entry)
    try {
      if (isProcessAlive(t.pid)) {
        const st = await lstat(path)
        if (now - st.mtimeMs <= olderThanMs) continue
      }
      if (t.kind === 'old' && (await missing(join(dir, t.name)))) {
        await rename(path, join(dir, t.name))
        result.restored.push(entry)
        continue
      }
      await rm(path, { recursive: true, force: true })
      result.removed.push(entry)
    } catch {
      /* another process got there first, or the entry is not ours to remove */
    }
  }
  return result
}

async function missing(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return false
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT'
  }
}

const swept = new Set<string>()

/**
 * {@link removeStaleTemps} at most once per folder and process: the writers call this before
 * their first write into a folder, so a run cleans what a killed run left, at the cost of one
 * `readdir` per folder.
 */
export async function sweepStaleTempsOnce(dir: string): Promise<void> {
  if (swept.has(dir)) return
  if (swept.size >= 10_000) swept.clear()
  swept.add(dir)
  await removeStaleTemps(dir)
}
