/**
 * Orphaned temporaries (issue 15 point 9): a process killed with SIGKILL leaves its temp file and
 * staging folder behind; the next writer into that folder removes them, and leaves alone those of
 * a process that still runs. The children are real processes running the real writers.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createStagingDir,
  installDirAtomic,
  isProcessAlive,
  parseTempName,
  removeStaleTemps,
  tempName,
  untrustedText,
  writeFileAtomic,
} from '../../src/index.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/leave-temps.ts', import.meta.url))
const children: ChildProcess[] = []

function startChild(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${err}`)))
  })
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

describe('temporary names', () => {
  it('carry the output name and the pid, and parse back', () => {
    const n = tempName('plora.yml')
    expect(n).toMatch(new RegExp(`^\\.plora\\.yml\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`))
    expect(parseTempName(n)).toEqual({ name: 'plora.yml', pid: process.pid, kind: 'file' })
    expect(parseTempName(tempName('legal', 'staging'))).toMatchObject({ name: 'legal', kind: 'staging' })
    expect(parseTempName(tempName('a.b', 'old'))).toMatchObject({ name: 'a.b', kind: 'old' })
    for (const other of ['plora.yml', '.plora.yml', '.x.12.abc.tmp', 'x.123.0123456789ab.tmp', '.x.staging-AbC123'])
      expect(parseTempName(other), other).toBeNull()
  })
})

describe('orphaned temporaries after SIGKILL', () => {
  it('are removed by the next writeFileAtomic and createStagingDir in that folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plora-orphans-'))
    const victim = await startChild(dir)
    const before = await readdir(dir)
    expect(before.map((n) => parseTempName(n)?.kind).sort()).toEqual(['file', 'staging'])
    expect(before.every((n) => parseTempName(n)?.pid === victim.pid)).toBe(true)
    await killed(victim)
    expect(isProcessAlive(victim.pid as number)).toBe(false)

    // A process that still runs keeps its temporaries.
    const alive = await startChild(dir)
    const aliveTemps = (await readdir(dir)).filter((n) => parseTempName(n)?.pid === alive.pid)
    expect(aliveTemps).toHaveLength(2)

    await writeFileAtomic(join(dir, 'plora.yml'), 'schema_version: 0\n')
    const afterWrite = await readdir(dir)
    expect(afterWrite.filter((n) => parseTempName(n)?.pid === victim.pid)).toEqual([])
    expect(afterWrite.filter((n) => parseTempName(n)?.pid === alive.pid).sort()).toEqual(aliveTemps.sort())
    expect(await readFile(join(dir, 'plora.yml'), 'utf8')).toBe('schema_version: 0\n')

    // The staging path (pretraining's writeModelFolder, hub downloads, merges, fetch) sweeps too.
    await killed(alive)
    const s = await createStagingDir(join(dir, 'model'))
    expect((await readdir(dir)).sort()).toEqual(['plora.yml', s.slice(dir.length + 1)].sort())
  }, 30_000)

  it('puts back an old copy moved aside when its output is missing, and removes old age-expired names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plora-orphans-'))
    // A replace killed between its two renames: DEST moved aside, the new copy not yet in place.
    const aside = `.adapter.999999999.0123456789ab.old.tmp`
    await mkdir(join(dir, aside))
    await writeFile(join(dir, aside, 'f'), 'v1')
    // A temp of a live pid (ours is skipped, so use pid 1) that is older than the threshold.
    const ancient = '.x.json.1.0123456789ab.tmp'
    await writeFile(join(dir, ancient), 'x')
    await utimes(join(dir, ancient), new Date(0), new Date(0))
    const r = await removeStaleTemps(dir, { olderThanMs: 60_000 })
    expect(r).toEqual({ removed: [ancient], restored: [aside] })
    expect(await readFile(join(dir, 'adapter', 'f'), 'utf8')).toBe('v1')
    // The restored folder installs over normally.
    const s = await createStagingDir(join(dir, 'adapter'))
    await writeFile(join(s, 'f'), 'v2')
    await installDirAtomic(s, join(dir, 'adapter'), { replace: true })
    expect(await readdir(dir)).toEqual(['adapter'])
    expect(await removeStaleTemps(join(dir, 'missing'))).toEqual({ removed: [], restored: [] })
  })
})

describe('untrustedText', () => {
  it('escapes control characters and caps the length', () => {
    expect(untrustedText('\x1b[2Jok\r\n\x07\x9b\u202e')).toBe('\\e[2Jok\\r\\n\\x07\\x9b\\u202e')
    const big = `${'\x1b[31m'.repeat(200_000)}tail`
    const out = untrustedText(big)
    expect(out.length).toBeLessThan(2048)
    expect(out).toMatch(/… \(\d+ more bytes\)$/)
    expect([...out].filter((c) => (c.codePointAt(0) as number) < 0x20 || /[\x7f-\x9f]/u.test(c))).toEqual([])
    expect(untrustedText(Buffer.from('plain'))).toBe('plain')
    expect(untrustedText('😀😀', { maxChars: 1 })).toBe('… (8 more bytes)')
  })
})
