import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSafetensors, openSafetensors } from '../../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-st-lazy-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('openSafetensors (lazy)', () => {
  it('reads one tensor at a time from disk, on demand', async () => {
    const path = join(dir, 'lazy.safetensors')
    const big = new Float32Array(1 << 16).map((_, i) => i)
    await writeFile(
      path,
      encodeSafetensors({
        big: { dtype: 'F32', shape: [1 << 16], data: big },
        small: { dtype: 'I32', shape: [2], data: [5, 6] },
      }),
    )
    await using f = await openSafetensors(path)
    expect(f.names().sort()).toEqual(['big', 'small'])
    expect(f.info('big').byteLength).toBe(4 << 16)
    expect([...(await f.readTensor('small')).data]).toEqual([5, 6])
    // Overwrite the small tensor's bytes on disk after opening: the next read sees them, so
    // reads happen per tensor at read time, not from a whole-file copy made by open().
    const fh = await open(path, 'r+')
    const at = f.header.dataStart + f.info('small').dataOffsets[0]
    await fh.write(new Uint8Array(new Int32Array([7, 8]).buffer), 0, 8, at)
    await fh.close()
    expect([...(await f.readTensor('small')).data]).toEqual([7, 8])
    const b = await f.readTensor<'F32'>('big')
    expect(b.data[12345]).toBe(12345)
    await expect(f.readTensor('nope')).rejects.toMatchObject({ code: 'SAFETENSORS_TENSOR_NOT_FOUND' })
  })

  it('rejects a header length beyond the file without allocating it', async () => {
    const path = join(dir, 'liar.safetensors')
    const buf = new Uint8Array(16)
    new DataView(buf.buffer).setBigUint64(0, 2n ** 62n, true)
    await writeFile(path, buf)
    await expect(openSafetensors(path)).rejects.toMatchObject({ code: 'SAFETENSORS_HEADER_LENGTH_INVALID' })
  })

  it('validates the header against the real file size (truncated file)', async () => {
    const path = join(dir, 'trunc.safetensors')
    const bytes = encodeSafetensors({ a: { dtype: 'F64', shape: [4], data: [1, 2, 3, 4] } })
    await writeFile(path, bytes.subarray(0, bytes.byteLength - 1))
    await expect(openSafetensors(path)).rejects.toMatchObject({ code: 'SAFETENSORS_OFFSETS_INVALID' })
    await expect(openSafetensors(join(dir, 'absent'))).rejects.toMatchObject({ code: 'SAFETENSORS_FILE_READ_FAILED' })
  })
})
