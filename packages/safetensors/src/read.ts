import { open, readFile } from 'node:fs/promises'
import { decodeTensorBytes, type SafetensorsTensor } from './codec.js'
import type { SafetensorsDtype } from './dtype.js'
import { SafetensorsError, SafetensorsErrorCode } from './errors.js'
import {
  parseHeaderJson,
  parseHeaderLength,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  type TensorInfo,
} from './header.js'

/** A fully read safetensors file. */
export interface SafetensorsContents {
  header: SafetensorsHeader
  /** `__metadata__` (e.g. `{format: 'pt'}`), or null. */
  metadata: Record<string, string> | null
  /** Tensors by name, in file order. */
  tensors: Map<string, SafetensorsTensor>
}

function readFailed(path: string, e: unknown): SafetensorsError {
  return new SafetensorsError(
    SafetensorsErrorCode.FileReadFailed,
    `${path}: cannot read (${(e as Error).message})`,
    { path },
    { cause: e },
  )
}

/** Decodes all tensors of an in-memory file after validating its header. */
export function decodeSafetensors(bytes: Uint8Array, source = '<safetensors>'): SafetensorsContents {
  const header = parseSafetensorsHeader(bytes, source)
  const tensors = new Map<string, SafetensorsTensor>()
  for (const t of header.tensors) {
    const at = header.dataStart + t.dataOffsets[0]
    tensors.set(t.name, {
      dtype: t.dtype,
      shape: [...t.shape],
      data: decodeTensorBytes(t.dtype, bytes.subarray(at, at + t.byteLength)),
    } as SafetensorsTensor)
  }
  return { header, metadata: header.metadata, tensors }
}

/**
 * Reads and validates a whole safetensors file (a path, or the bytes themselves).
 *
 * @example
 * const { tensors, metadata } = await readSafetensors('out/legal/adapter_model.safetensors')
 * const a = tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight') // {dtype, shape, data}
 */
export async function readSafetensors(pathOrBytes: string | Uint8Array): Promise<SafetensorsContents> {
  if (typeof pathOrBytes !== 'string') return decodeSafetensors(pathOrBytes)
  let bytes: Uint8Array
  try {
    bytes = await readFile(pathOrBytes)
  } catch (e) {
    throw readFailed(pathOrBytes, e)
  }
  return decodeSafetensors(bytes, pathOrBytes)
}

/**
 * A safetensors file opened for lazy access: only the header is read up front; each
 * `readTensor` reads just that tensor's byte range. Close it (or use `await using`).
 */
export interface SafetensorsFile extends AsyncDisposable {
  readonly path: string
  readonly header: SafetensorsHeader
  readonly metadata: Record<string, string> | null
  /** Tensor names in file order. */
  names(): string[]
  /** Header info of one tensor (throws `SAFETENSORS_TENSOR_NOT_FOUND`). */
  info(name: string): TensorInfo
  has(name: string): boolean
  /** Raw little-endian bytes of one tensor. */
  readTensorBytes(name: string): Promise<Uint8Array>
  /** One tensor decoded to its typed array. */
  readTensor<D extends SafetensorsDtype = SafetensorsDtype>(name: string): Promise<SafetensorsTensor<D>>
  close(): Promise<void>
}

/** Opens a safetensors file, validating its header against the real file size. */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  let fh: Awaited<ReturnType<typeof open>>
  try {
    fh = await open(path, 'r')
  } catch (e) {
    throw readFailed(path, e)
  }
  try {
    const size = (await fh.stat()).size
    const prefix = new Uint8Array(8)
    if (size >= 8) await fh.read(prefix, 0, 8, 0)
    const n = parseHeaderLength(prefix, size, path)
    // n was checked against the file size above, so this allocation is bounded by the file.
    const json = new Uint8Array(n)
    const { bytesRead } = await fh.read(json, 0, n, 8)
    if (bytesRead !== n) throw readFailed(path, new Error(`short read of the header (${bytesRead}/${n})`))
    const header = parseHeaderJson(json, n, size - 8 - n, path)
    const byName = new Map(header.tensors.map((t) => [t.name, t]))
    let closed = false
    const info = (name: string): TensorInfo => {
      const t = byName.get(name)
      if (!t) {
        throw new SafetensorsError(
          SafetensorsErrorCode.TensorNotFound,
          `${path}: no tensor named ${JSON.stringify(name)}`,
          {
            path,
            tensor: name,
          },
        )
      }
      return t
    }
    const readTensorBytes = async (name: string): Promise<Uint8Array> => {
      const t = info(name)
      if (closed) throw readFailed(path, new Error('file is closed'))
      const buf = new Uint8Array(t.byteLength)
      let done = 0
      while (done < t.byteLength) {
        const { bytesRead } = await fh.read(buf, done, t.byteLength - done, header.dataStart + t.dataOffsets[0] + done)
        if (bytesRead === 0) throw readFailed(path, new Error(`file shrank while reading ${name}`))
        done += bytesRead
      }
      return buf
    }
    const close = async (): Promise<void> => {
      if (closed) return
      closed = true
      await fh.close()
    }
    return {
      path,
      header,
      metadata: header.metadata,
      names: () => header.tensors.map((t) => t.name),
      info,
      has: (name) => byName.has(name),
      readTensorBytes,
      readTensor: async <D extends SafetensorsDtype>(name: string) => {
        const t = info(name)
        const bytes = await readTensorBytes(name)
        return { dtype: t.dtype, shape: [...t.shape], data: decodeTensorBytes(t.dtype, bytes) } as SafetensorsTensor<D>
      },
      close,
      [Symbol.asyncDispose]: close,
    }
  } catch (e) {
    await fh.close()
    throw e
  }
}
