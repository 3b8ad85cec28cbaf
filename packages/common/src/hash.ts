/** SHA-256 helpers; file hashing streams, so memory does not grow with the file. */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

/** Lowercase SHA-256 hex of bytes or of a UTF-8 string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Lowercase SHA-256 hex and byte size of a file, read as a stream in `highWaterMark` chunks. */
export async function sha256File(
  path: string,
  options: { highWaterMark?: number; signal?: AbortSignal } = {},
): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256')
  let size = 0
  const stream = createReadStream(path, {
    highWaterMark: options.highWaterMark ?? 1 << 20,
    ...(options.signal ? { signal: options.signal } : {}),
  })
  for await (const chunk of stream) {
    const buf = chunk as Buffer
    size += buf.length
    h.update(buf)
  }
  return { sha256: h.digest('hex'), size }
}

/** Lowercase SHA-256 hex of a file (streamed). */
export async function sha256FileHex(path: string): Promise<string> {
  return (await sha256File(path)).sha256
}
