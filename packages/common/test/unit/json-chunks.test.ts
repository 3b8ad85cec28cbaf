import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createRng, prettyJsonChunks, writeFileAtomic } from '../../src/index.js'

const text = (v: unknown, indent = 2) => [...prettyJsonChunks(v, indent)].join('')

/** A random JSON-ish value with containers large enough to be walked element by element. */
function randomValue(rand: () => number, depth: number): unknown {
  const r = rand()
  if (depth <= 0 || r < 0.3) {
    const leaves = [0, -1.5, 1e21, 'a"b\n\u2028', '', true, false, null, undefined, 42]
    return leaves[Math.floor(rand() * leaves.length)]
  }
  // At most one level of large containers, so a value stays a few thousand nodes.
  const n = depth >= 5 && rand() < 0.5 ? 1024 + Math.floor(rand() * 600) : Math.floor(rand() * 4)
  if (r < 0.65) return Array.from({ length: n }, () => randomValue(rand, depth - 2))
  const o: Record<string, unknown> = {}
  for (let i = 0; i < n; i++) o[`k${i}\t"${i % 3}`] = randomValue(rand, depth - 2)
  return o
}

describe('prettyJsonChunks', () => {
  it('is JSON.stringify(v, null, indent) byte for byte, large containers included', () => {
    const rng = createRng(7)
    const rand = () => rng.random()
    for (let i = 0; i < 40; i++) {
      const v = randomValue(rand, 5)
      expect(text(v)).toBe(JSON.stringify(v, null, 2) ?? '')
      expect(text(v, 4)).toBe(JSON.stringify(v, null, 4) ?? '')
    }
  })
  it('walks big containers: undefined in arrays is null, in objects skipped; toJSON honoured', () => {
    const arr: unknown[] = Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? undefined : [i, `d${i}`]))
    const obj: Record<string, unknown> = Object.fromEntries(arr.map((x, i) => [`a${i}`, x]))
    const v = { arr, obj, when: new Date(0), empty: [], nested: { deep: arr.slice(0, 2000) } }
    expect(text(v)).toBe(JSON.stringify(v, null, 2))
    // More than one chunk: the big array really was streamed.
    expect([...prettyJsonChunks(v)].length).toBeGreaterThan(3000)
  })
})

describe('writeFileAtomic with chunks', () => {
  it('writes the chunks of a generator in order, atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plora-chunks-'))
    const p = join(dir, 'big.txt')
    function* lines() {
      for (let i = 0; i < 200_000; i++) yield `${i}\n`
    }
    await writeFileAtomic(p, lines())
    const got = await readFile(p, 'utf8')
    expect(got.split('\n').length).toBe(200_001)
    expect(got.startsWith('0\n1\n2\n')).toBe(true)
    expect(got.endsWith('199999\n')).toBe(true)
    async function* bytes() {
      yield new Uint8Array([104, 105])
      yield '!'
    }
    await writeFileAtomic(p, bytes())
    expect(await readFile(p, 'utf8')).toBe('hi!')
    expect(await readdir(dir)).toEqual(['big.txt'])
  })
  it('leaves the old file when a chunk source throws', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plora-chunks-'))
    const p = join(dir, 'a.txt')
    await writeFileAtomic(p, 'old')
    function* broken() {
      yield 'new'
      throw new Error('source failed')
    }
    await expect(writeFileAtomic(p, broken())).rejects.toMatchObject({ code: 'COMMON_FILE_WRITE_FAILED' })
    expect(await readFile(p, 'utf8')).toBe('old')
    expect(await readdir(dir)).toEqual(['a.txt'])
  })
})
