import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  deriveSeed,
  formatPythonNumber,
  hexToBytes,
  isSha256Hex,
  pythonJsonDumps,
  sha256File,
  sha256Hex,
} from '../../src/index.js'

describe('encodings', () => {
  it('round-trips hex and rejects odd or non-hex text', () => {
    const bytes = new Uint8Array([0, 1, 254, 255])
    expect(bytesToHex(bytes)).toBe('0001feff')
    expect(hexToBytes('0001FEff')).toEqual(bytes)
    expect(() => hexToBytes('abc')).toThrow(expect.objectContaining({ code: 'COMMON_ENCODING_INVALID' }))
    expect(() => hexToBytes('zz')).toThrow(expect.objectContaining({ code: 'COMMON_ENCODING_INVALID' }))
  })
  it('accepts canonical base64 only', () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5])
    const b64 = bytesToBase64(bytes)
    expect(b64).toBe('AQIDBAU=')
    expect(base64ToBytes(b64)).toEqual(bytes)
    for (const bad of ['AQIDBAU', 'AQID BAU=', 'AQIDBAV=', 'AQ*DBAU=']) {
      expect(() => base64ToBytes(bad), bad).toThrow(expect.objectContaining({ code: 'COMMON_ENCODING_INVALID' }))
    }
  })
  it('recognises sha256 hex', () => {
    expect(isSha256Hex(sha256Hex(''))).toBe(true)
    expect(isSha256Hex('A'.repeat(64))).toBe(false)
  })
})

describe('sha256', () => {
  it('hashes strings and streams files to the same digest', async () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    const dir = await mkdtemp(join(tmpdir(), 'plora-hash-'))
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7)
    await writeFile(join(dir, 'f.bin'), data)
    const got = await sha256File(join(dir, 'f.bin'), { highWaterMark: 65536 })
    expect(got).toEqual({ sha256: sha256Hex(data), size: data.length })
  })
})

describe('deriveSeed', () => {
  it('is deterministic, label-sensitive and within 2**53', () => {
    expect(deriveSeed(42, 'agent', 3)).toBe(deriveSeed(42, 'agent', 3))
    expect(deriveSeed(42, 'agent', 3)).not.toBe(deriveSeed(42, 'agent', 4))
    expect(deriveSeed(43, 'agent', 3)).not.toBe(deriveSeed(42, 'agent', 3))
    expect(Number.isSafeInteger(deriveSeed(1))).toBe(true)
  })
})

describe('Python number formatting', () => {
  it('prints floats as Python repr does', () => {
    const cases: Array<[number, string]> = [
      [32, '32'],
      [0.0002, '0.0002'],
      [0.0001, '0.0001'],
      [1e-5, '1e-05'],
      [2.5e-7, '2.5e-07'],
      [0.25, '0.25'],
      [-0.05, '-0.05'],
      [5.0, '5'],
      [123.456, '123.456'],
      [1.5e16, '1.5e+16'],
      [Number.NaN, 'nan'],
    ]
    for (const [x, s] of cases) expect(formatPythonNumber(x), String(x)).toBe(s)
  })
  it('dumps JSON with Python default separators', () => {
    expect(pythonJsonDumps([4, 8, 16])).toBe('[4, 8, 16]')
    expect(pythonJsonDumps(['all', 'attention', 'mlp'])).toBe('["all", "attention", "mlp"]')
    expect(pythonJsonDumps({ p: 0.25, ws_k: 4 })).toBe('{"p": 0.25, "ws_k": 4}')
  })
})

describe('pythonJsonString', () => {
  it('escapes non-ASCII exactly as json.dumps (ensure_ascii) does', () => {
    // python3 -c 'import json; print(json.dumps(["é", "日本", "😀", "\x7f", "a\"b\\"]))'
    expect(pythonJsonDumps(['é', '日本', '😀', '\x7f', 'a"b\\'])).toBe(
      '["\\u00e9", "\\u65e5\\u672c", "\\ud83d\\ude00", "\\u007f", "a\\"b\\\\"]',
    )
  })
})
