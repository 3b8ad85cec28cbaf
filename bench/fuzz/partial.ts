/**
 * "No partial files": the real atomic writers (`writeSafetensors`, `writeManifestFile` → common's
 * `writeFileAtomic`) run in a child process that is SIGKILLed at a seeded moment mid-write, or
 * killed by SIGXFSZ when its file-size limit (`ulimit -f`, a disk-full stand-in) is hit; after each
 * kill the destination must be absent, the complete old version or the complete new one. Orphaned
 * temp files left by the kill are counted (issue 15 §9 wants them cleaned on the next run) and
 * removed. In-process, writes onto a path under a regular file (ENOTDIR) or onto a directory
 * (EISDIR) must fail with a PloraError and leave nothing behind.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { attempt } from './engine.js'
import { createRng, deriveSeed, writeManifestFile, writeSafetensors } from './targets.js'
import { writerVersions } from './writer-versions.js'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

export interface PartialSummary {
  kind: 'safetensors' | 'manifest'
  kills: number
  sigkill: number
  sigxfsz: number
  /** Rounds under a file-size limit where the write failed with EFBIG (Node ignores SIGXFSZ) and the writer raised its error. */
  efbig: number
  /** Destination holds complete version A / complete version B, or is absent (killed before the first rename). */
  destA: number
  destB: number
  destAbsent: number
  /** Destination present but neither version: a partial file. */
  partial: number
  orphanTemps: number
  /** ENOTDIR / EISDIR writes: [PloraError, other error or success, leftovers]. */
  errorPaths: { ploraError: number; otherOutcome: number; leftovers: number }
  details: string[]
}

function runChild(
  kind: string,
  dest: string,
  delayMs: number,
  fsizeBlocks: number | null,
): Promise<{ signal: string | null; stderr: string }> {
  const tsx = [
    '--conditions=@plora/source',
    '--import',
    'tsx',
    join(import.meta.dirname, 'writer-child.ts'),
    kind,
    dest,
  ]
  const child =
    fsizeBlocks === null
      ? spawn(process.execPath, tsx, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('bash', ['-c', `ulimit -f ${fsizeBlocks}; exec "$0" "$@"`, process.execPath, ...tsx], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
  return new Promise((resolve) => {
    let killed = false
    child.stdout.on('data', (d: Buffer) => {
      if (!killed && d.toString().includes('ready') && fsizeBlocks === null) {
        killed = true
        setTimeout(() => child.kill('SIGKILL'), delayMs)
      }
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('close', (_code, signal) => resolve({ signal, stderr }))
  })
}

export async function runPartial(
  kind: 'safetensors' | 'manifest',
  o: { seed: number; kills: number; dir: string },
): Promise<PartialSummary> {
  const v = writerVersions(kind)
  const hashes = { a: sha(v.a.bytes), b: sha(v.b.bytes) }
  const dir = join(o.dir, `partial-${kind}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const dest = join(dir, kind === 'safetensors' ? 'adapter_model.safetensors' : 'plora.yml')
  const s: PartialSummary = {
    kind,
    kills: 0,
    sigkill: 0,
    sigxfsz: 0,
    efbig: 0,
    destA: 0,
    destB: 0,
    destAbsent: 0,
    partial: 0,
    orphanTemps: 0,
    errorPaths: { ploraError: 0, otherOutcome: 0, leftovers: 0 },
    details: [],
  }
  const rng = createRng(deriveSeed(o.seed, 'partial', kind))
  for (let k = 0; k < o.kills; k++) {
    // One round in eight is a file-size limit below the output size (the child dies of SIGXFSZ mid-write).
    const limit = k % 8 === 7 ? Math.max(1, Math.floor((v.a.bytes.byteLength / 1024) * rng.random())) : null
    const { signal, stderr } = await runChild(kind, dest, rng.randbelow(250), limit)
    s.kills++
    if (signal === 'SIGKILL') s.sigkill++
    else if (signal === 'SIGXFSZ') s.sigxfsz++
    else if (limit !== null && /COMMON_FILE_WRITE_FAILED|EFBIG/.test(stderr)) s.efbig++
    else s.details.push(`round ${k}: child ended with ${signal ?? 'an exit code'}: ${stderr.slice(0, 200)}`)
    for (const f of readdirSync(dir)) {
      if (join(dir, f) !== dest) {
        s.orphanTemps++
        rmSync(join(dir, f), { force: true, recursive: true })
      }
    }
    if (!existsSync(dest)) {
      s.destAbsent++
      continue
    }
    const h = sha(readFileSync(dest))
    if (h !== hashes.a && h !== hashes.b) {
      s.partial++
      s.details.push(`round ${k}: destination is neither version (${readFileSync(dest).byteLength} bytes)`)
      continue
    }
    if (h === hashes.a) s.destA++
    else s.destB++
  }
  // Error paths in-process: a parent that is a regular file, and a destination that is a directory.
  const write = (path: string) =>
    kind === 'safetensors' ? writeSafetensors(path, v.a.tensors!, null) : writeManifestFile(path, v.a.manifest!)
  writeFileSync(join(dir, 'plain-file'), 'x')
  mkdirSync(join(dir, 'a-directory'), { recursive: true })
  for (const path of [join(dir, 'plain-file', 'out'), join(dir, 'a-directory')]) {
    const before = new Set(readdirSync(dir))
    const r = await attempt(() => write(path))
    if (r.outcome === 'rejected') s.errorPaths.ploraError++
    else {
      s.errorPaths.otherOutcome++
      s.details.push(`write to ${path}: ${r.outcome} ${r.error ?? ''}`)
    }
    const after = readdirSync(dir).filter((f) => !before.has(f))
    s.errorPaths.leftovers +=
      after.length + (existsSync(join(dir, 'a-directory')) ? readdirSync(join(dir, 'a-directory')).length : 0)
  }
  return s
}
