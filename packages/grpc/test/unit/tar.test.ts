import { mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import * as tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GrpcErrorCode, listRegularFiles, planTar, readTarRange, ustarHeader } from '../../src/index.js'
import { cleanup, seededBytes, tempDir } from '../helpers.js'

// The same files scripts/golden/grpc_tar_golden.py archives with CPython's tarfile.
const FILES: Record<string, number> = {
  'README.md': 0,
  'adapter_config.json': 100,
  'adapter_model.safetensors': 5000,
  'plora.yml': 512,
  [`sub/${'d'.repeat(90)}/${'n'.repeat(60)}.json`]: 7,
}

async function readAll(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of gen) parts.push(c)
  return Buffer.concat(parts)
}

async function writeFiles(dir: string): Promise<void> {
  for (const [name, n] of Object.entries(FILES)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), seededBytes(n, name))
  }
}

describe('deterministic tar', () => {
  let dir: string
  let bytes: Buffer

  beforeAll(async () => {
    dir = await tempDir()
    await writeFiles(join(dir, 'a'))
    bytes = await readAll(readTarRange(planTar((await listRegularFiles(join(dir, 'a'))).files)))
  })
  afterAll(() => cleanup(dir))

  it('writes the same bytes as CPython tarfile (USTAR) with the same fixed fields', async () => {
    const golden = await readFile(new URL('../golden/python-ustar.tar', import.meta.url))
    expect(bytes.length % 512).toBe(0)
    expect(bytes.equals(golden.subarray(0, bytes.length))).toBe(true)
    // tarfile pads to a 10240-byte record; the padding is zeros only.
    expect(golden.subarray(bytes.length).every((b) => b === 0)).toBe(true)
  })

  it('gives the same bytes for a copy written at another time', async () => {
    await writeFiles(join(dir, 'b'))
    await utimes(join(dir, 'b', 'plora.yml'), new Date(2001, 1, 1), new Date(2001, 1, 1))
    const again = await readAll(readTarRange(planTar((await listRegularFiles(join(dir, 'b'))).files)))
    expect(again.equals(bytes)).toBe(true)
  })

  it('reads from any offset with any chunk size', async () => {
    const layout = planTar((await listRegularFiles(join(dir, 'a'))).files)
    expect(layout.size).toBe(bytes.length)
    for (const start of [0, 1, 511, 512, 513, 1000, 6000, bytes.length - 1, bytes.length]) {
      for (const chunkSize of [1, 100, 512, 4096, 1 << 20]) {
        if (chunkSize === 1 && start < bytes.length - 2000) continue
        const part = await readAll(readTarRange(layout, { start, chunkSize }))
        expect(part.equals(bytes.subarray(start)), `start ${start} chunk ${chunkSize}`).toBe(true)
      }
    }
    await expect(readAll(readTarRange(layout, { start: bytes.length + 1 }))).rejects.toMatchObject({
      code: GrpcErrorCode.OptionsInvalid,
    })
  })

  it('is read back by tar-stream with the right names, sizes and contents', async () => {
    const ex = tar.extract()
    const seen: Record<string, Buffer> = {}
    const done = (async () => {
      for await (const entry of ex) {
        const parts: Buffer[] = []
        for await (const c of entry) parts.push(c as Buffer)
        seen[entry.header.name] = Buffer.concat(parts)
        expect(entry.header).toMatchObject({ type: 'file', mode: 0o644, uid: 0, gid: 0 })
        expect(entry.header.mtime?.getTime()).toBe(0)
      }
    })()
    ex.end(bytes)
    await done
    expect(Object.keys(seen)).toEqual(Object.keys(FILES).sort())
    for (const [name, n] of Object.entries(FILES)) expect(seen[name]?.equals(seededBytes(n, name))).toBe(true)
  })

  it('archives regular files only and never follows links', async () => {
    const d = join(dir, 'links')
    await writeFiles(d)
    await symlink('/etc/passwd', join(d, 'passwd-link'))
    await symlink(join(dir, 'a'), join(d, 'dir-link'))
    const listed = await listRegularFiles(d)
    expect(listed.skipped.sort()).toEqual(['dir-link', 'passwd-link'])
    expect(listed.files.map((f) => f.name)).toEqual(Object.keys(FILES).sort())
  })

  it('refuses names a ustar header cannot hold', () => {
    expect(() => ustarHeader('x'.repeat(101), 1)).toThrow(
      expect.objectContaining({ code: GrpcErrorCode.TarNameUnsupported }),
    )
    expect(() => ustarHeader(`${'p'.repeat(156)}/x`, 1)).toThrow(
      expect.objectContaining({ code: GrpcErrorCode.TarNameUnsupported }),
    )
    expect(() => ustarHeader('a\nb', 1)).toThrow(expect.objectContaining({ code: GrpcErrorCode.TarNameUnsupported }))
    expect(() => ustarHeader('ok', 2 ** 33)).toThrow(
      expect.objectContaining({ code: GrpcErrorCode.TarNameUnsupported }),
    )
    expect(ustarHeader('ok', 0o77777777777).length).toBe(512)
  })

  it('fails when a file shrinks while it is served', async () => {
    const d = join(dir, 'shrink')
    await writeFiles(d)
    const layout = planTar((await listRegularFiles(d)).files)
    await writeFile(join(d, 'adapter_model.safetensors'), Buffer.alloc(10))
    await expect(readAll(readTarRange(layout))).rejects.toMatchObject({ code: GrpcErrorCode.TarInvalid })
  })
})
