import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DATA_CHUNK_HEADROOM,
  EncodedChunk,
  encodeDataChunkInPlace,
  type FetchPlasmidChunk,
  loadPloraServices,
} from '../../src/proto.js'
import { listRegularFiles, planTar, readTarFrames, readTarRange, type TarLayout } from '../../src/tar.js'
import { cleanup, seededBytes, tempDir } from '../helpers.js'

const method = () => loadPloraServices().PlasmidStream.service.FetchPlasmid

describe('data chunks encoded in place', () => {
  it('gives the bytes protobufjs gives, for every varint length', () => {
    const { responseSerialize, responseDeserialize } = method()
    for (const n of [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 20, (1 << 21) + 5]) {
      const data = seededBytes(n, `chunk-${n}`)
      const frame = Buffer.alloc(DATA_CHUNK_HEADROOM + n + 3, 0xee)
      data.copy(frame, DATA_CHUNK_HEADROOM)
      const encoded = encodeDataChunkInPlace(frame, DATA_CHUNK_HEADROOM, n)
      const wire = responseSerialize(encoded)
      expect(wire.equals(responseSerialize({ data }))).toBe(true)
      // No copy: the message shares memory with the frame.
      expect(wire.buffer).toBe(frame.buffer)
      const back = responseDeserialize(wire) as FetchPlasmidChunk
      expect(back.kind).toBe('data')
      expect((back.data as Buffer).equals(data)).toBe(true)
    }
  })

  it('still serializes plain messages (the header) through protobufjs', () => {
    const { responseSerialize, responseDeserialize } = method()
    const header = { domain: 'legal', total_size: 5, sha256: 'a'.repeat(64), format: 'tar' }
    const back = responseDeserialize(responseSerialize({ header })) as FetchPlasmidChunk
    expect(back.kind).toBe('header')
    expect(back.header).toMatchObject(header)
    expect(responseSerialize(new EncodedChunk(Buffer.from([0x12, 0]))).equals(Buffer.from([0x12, 0]))).toBe(true)
  })

  it('refuses too little headroom or a length past the buffer', () => {
    expect(() => encodeDataChunkInPlace(Buffer.alloc(10), 1, 5)).toThrow(RangeError)
    expect(() => encodeDataChunkInPlace(Buffer.alloc(200), 2, 150)).toThrow(RangeError)
    expect(() => encodeDataChunkInPlace(Buffer.alloc(10), 6, 5)).toThrow(RangeError)
  })
})

describe('readTarFrames', () => {
  let dir: string
  let layout: TarLayout
  let bytes: Buffer

  beforeAll(async () => {
    dir = await tempDir()
    await mkdir(join(dir, 'a'))
    await writeFile(join(dir, 'a', 'plora.yml'), seededBytes(700, 'm'))
    await writeFile(join(dir, 'a', 'adapter_model.safetensors'), seededBytes(70_000, 'w'))
    layout = planTar((await listRegularFiles(join(dir, 'a'))).files)
    const parts: Buffer[] = []
    for await (const c of readTarRange(layout)) parts.push(c)
    bytes = Buffer.concat(parts)
  })
  afterAll(() => cleanup(dir))

  it('gives the readTarRange bytes after the headroom, in recycled buffers too', async () => {
    for (const start of [0, 513, 10_000]) {
      const spare: Buffer[] = []
      let fresh = 0
      const parts: Buffer[] = []
      const frames = readTarFrames(layout, {
        start,
        chunkSize: 4096,
        headroom: 6,
        allocate: (size) => {
          const b = spare.pop()
          if (b) return b
          fresh++
          return Buffer.alloc(size + 100, 0xaa)
        },
      })
      for await (const { buf, length } of frames) {
        expect(buf.length).toBe(6 + length)
        parts.push(Buffer.from(buf.subarray(6)))
        spare.push(Buffer.from(buf.buffer))
      }
      expect(Buffer.concat(parts).equals(bytes.subarray(start))).toBe(true)
      expect(fresh).toBe(1)
    }
  })
})
