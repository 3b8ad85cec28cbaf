import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  appendJsonl,
  createLogger,
  createStagingDir,
  installDirAtomic,
  parseJsonl,
  readJsonl,
  writeFileAtomic,
  writeJsonAtomic,
} from '../../src/index.js'

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'plora-common-'))
}

describe('writeFileAtomic', () => {
  it('replaces the file and leaves no temporary sibling', async () => {
    const dir = await tmp()
    const p = join(dir, 'sub', 'a.json')
    await writeJsonAtomic(p, { a: 1 })
    await writeFileAtomic(p, 'second')
    expect(await readFile(p, 'utf8')).toBe('second')
    expect(await readdir(join(dir, 'sub'))).toEqual(['a.json'])
  })
  it('fails with a PloraError and cleans up when the target is a directory', async () => {
    const dir = await tmp()
    await mkdir(join(dir, 'taken'))
    await expect(writeFileAtomic(join(dir, 'taken'), 'x')).rejects.toMatchObject({ code: 'COMMON_FILE_WRITE_FAILED' })
    expect(await readdir(dir)).toEqual(['taken'])
  })
  it('fails with a PloraError, not a raw mkdir error, when a parent is a regular file', async () => {
    const dir = await tmp()
    await writeFile(join(dir, 'plain'), 'x')
    // mkdir -p gives EEXIST for `plain/out`, ENOTDIR for `plain/sub/out`.
    for (const p of [join(dir, 'plain', 'out'), join(dir, 'plain', 'sub', 'out')]) {
      await expect(writeFileAtomic(p, 'y')).rejects.toMatchObject({ code: 'COMMON_FILE_WRITE_FAILED' })
      await expect(createStagingDir(p)).rejects.toMatchObject({ code: 'COMMON_FILE_WRITE_FAILED' })
    }
    expect(await readdir(dir)).toEqual(['plain'])
    expect(await readFile(join(dir, 'plain'), 'utf8')).toBe('x')
  })
})

describe('installDirAtomic', () => {
  it('installs a staged directory and replaces an old one only when asked', async () => {
    const dir = await tmp()
    const dest = join(dir, 'adapter')
    const s1 = await createStagingDir(dest)
    await writeFile(join(s1, 'f'), 'v1')
    await installDirAtomic(s1, dest)
    const s2 = await createStagingDir(dest)
    await writeFile(join(s2, 'f'), 'v2')
    await expect(installDirAtomic(s2, dest)).rejects.toMatchObject({ code: 'COMMON_DIRECTORY_INSTALL_FAILED' })
    expect(await readFile(join(dest, 'f'), 'utf8')).toBe('v1')
    await installDirAtomic(s2, dest, { replace: true })
    expect(await readFile(join(dest, 'f'), 'utf8')).toBe('v2')
    expect((await readdir(dir)).sort()).toEqual(['adapter'])
  })
})

describe('JSONL', () => {
  it('appends lines and reads them back', async () => {
    const p = join(await tmp(), 'log.jsonl')
    await appendJsonl(p, { i: 1 })
    await appendJsonl(p, { i: 2 })
    expect(await readJsonl(p)).toEqual([{ i: 1 }, { i: 2 }])
  })
  it('names the line of a malformed record', () => {
    expect(() => parseJsonl('{"a":1}\n{oops}\n', 'f.jsonl')).toThrow(
      expect.objectContaining({ code: 'COMMON_JSONL_INVALID', details: { source: 'f.jsonl', line: 2 } }),
    )
  })
})

describe('logger', () => {
  it('filters by level and formats lines', () => {
    const lines: string[] = []
    const log = createLogger({ level: 'info', name: 'plora', write: (l) => lines.push(l), now: () => 0 })
    log.debug('hidden')
    log.child('grpc').warn('slow', { ms: 12 })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d \| WARN {5}\| plora:grpc \| slow ms=12\n$/)
  })
})
