/** Generic byte mutators (seeded) shared by every corpus. */
import { int, pick } from './engine.js'
import type { Rng } from './targets.js'

export const enc = new TextEncoder()
export const dec = new TextDecoder('utf-8', { fatal: true })

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/** Flips 1–8 random bits (positions in [from, to)). */
export function flipBits(b: Uint8Array, rng: Rng, from = 0, to = b.byteLength): { bytes: Uint8Array; desc: string } {
  const out = b.slice()
  const n = int(rng, 1, 8)
  const at: string[] = []
  for (let k = 0; k < n && to > from; k++) {
    const p = from + rng.randbelow(to - from)
    const bit = rng.randbelow(8)
    out[p]! ^= 1 << bit
    at.push(`${p}.${bit}`)
  }
  return { bytes: out, desc: `flip bits ${at.join(',')}` }
}

/** Overwrites 1–4 random bytes with random values. */
export function setBytes(b: Uint8Array, rng: Rng, from = 0, to = b.byteLength): { bytes: Uint8Array; desc: string } {
  const out = b.slice()
  const n = int(rng, 1, 4)
  const at: string[] = []
  for (let k = 0; k < n && to > from; k++) {
    const p = from + rng.randbelow(to - from)
    out[p] = rng.randbelow(256)
    at.push(`${p}=0x${out[p]!.toString(16)}`)
  }
  return { bytes: out, desc: `set bytes ${at.join(',')}` }
}

/** Cuts the input at a random length (possibly 0). */
export function truncate(b: Uint8Array, rng: Rng): { bytes: Uint8Array; desc: string } {
  const n = b.byteLength === 0 ? 0 : rng.randbelow(b.byteLength)
  return { bytes: b.slice(0, n), desc: `truncate ${b.byteLength} → ${n}` }
}

/** A junk byte string: random bytes, NUL runs, 0xff runs, invalid UTF-8, long runs of one letter. */
export function junk(rng: Rng): { bytes: Uint8Array; desc: string } {
  return pick(rng, [
    [
      4,
      () => {
        const n = int(rng, 1, 64)
        return { bytes: Uint8Array.from({ length: n }, () => rng.randbelow(256)), desc: `${n} random bytes` }
      },
    ],
    [1, () => ({ bytes: new Uint8Array(int(rng, 1, 16)), desc: 'NUL bytes' })],
    [1, () => ({ bytes: new Uint8Array(int(rng, 1, 16)).fill(0xff), desc: '0xff bytes' })],
    [1, () => ({ bytes: Uint8Array.of(0xc0, 0x80), desc: 'overlong NUL (C0 80)' })],
    [1, () => ({ bytes: Uint8Array.of(0xed, 0xa0, 0x80), desc: 'UTF-8 encoded surrogate (ED A0 80)' })],
    [1, () => ({ bytes: Uint8Array.of(0x80), desc: 'lone continuation byte' })],
    [
      1,
      () => {
        const n = int(rng, 1, 4096)
        return { bytes: new Uint8Array(n).fill(0x41), desc: `${n}×"A"` }
      },
    ],
    [
      1,
      () => ({
        bytes: enc.encode(
          pick(rng, [
            [1, '{'],
            [1, '}'],
            [1, '"'],
            [1, '\\'],
            [1, ':'],
            [1, '['],
            [1, ','],
            [1, '\n'],
          ]),
        ),
        desc: 'one syntax char',
      }),
    ],
  ] as const)()
}

/** Inserts junk at a random position in [from, to]. */
export function insertJunk(b: Uint8Array, rng: Rng, from = 0, to = b.byteLength): { bytes: Uint8Array; desc: string } {
  const at = from + rng.randbelow(to - from + 1)
  const j = junk(rng)
  return { bytes: concat(b.subarray(0, at), j.bytes, b.subarray(at)), desc: `insert ${j.desc} at ${at}` }
}

/** Deletes a random range. */
export function deleteRange(b: Uint8Array, rng: Rng): { bytes: Uint8Array; desc: string } {
  if (b.byteLength === 0) return { bytes: b, desc: 'delete nothing' }
  const at = rng.randbelow(b.byteLength)
  const n = int(rng, 1, Math.min(64, b.byteLength - at))
  return { bytes: concat(b.subarray(0, at), b.subarray(at + n)), desc: `delete ${n} bytes at ${at}` }
}

/** Copies a random range to another random position. */
export function duplicateRange(b: Uint8Array, rng: Rng): { bytes: Uint8Array; desc: string } {
  if (b.byteLength === 0) return { bytes: b, desc: 'duplicate nothing' }
  const at = rng.randbelow(b.byteLength)
  const n = int(rng, 1, Math.min(64, b.byteLength - at))
  const to = rng.randbelow(b.byteLength + 1)
  return {
    bytes: concat(b.subarray(0, to), b.subarray(at, at + n), b.subarray(to)),
    desc: `copy ${n} bytes from ${at} to ${to}`,
  }
}

/** One random generic byte mutation. */
export function byteMutation(b: Uint8Array, rng: Rng): { kind: string; bytes: Uint8Array; desc: string } {
  return pick(rng, [
    [3, () => ({ kind: 'bytes:flip', ...flipBits(b, rng) })],
    [2, () => ({ kind: 'bytes:set', ...setBytes(b, rng) })],
    [2, () => ({ kind: 'bytes:truncate', ...truncate(b, rng) })],
    [2, () => ({ kind: 'bytes:insert-junk', ...insertJunk(b, rng) })],
    [1, () => ({ kind: 'bytes:delete', ...deleteRange(b, rng) })],
    [1, () => ({ kind: 'bytes:duplicate', ...duplicateRange(b, rng) })],
  ] as const)()
}

/** True when `b` is not valid UTF-8. */
export function invalidUtf8(b: Uint8Array): boolean {
  try {
    dec.decode(b)
    return false
  } catch {
    return true
  }
}
