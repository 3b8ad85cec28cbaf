import { describe, expect, it } from 'vitest'
import { isJsonIntegerLiteral, scanJsonText } from '../../src/index.js'

describe('scanJsonText', () => {
  it('reports every number literal as written, with its path', () => {
    const seen: Array<[string, string]> = []
    scanJsonText('{"r": 4.0, "a": [1, 2e0, {"k\\"x": -0}], "s": "3.5 [{", "t": {"u": 7}}', {
      onNumber: (lit, path) => seen.push([lit, path.join('/')]),
    })
    expect(seen).toEqual([
      ['4.0', 'r'],
      ['1', 'a/0'],
      ['2e0', 'a/1'],
      ['-0', 'a/2/k"x'],
      ['7', 't/u'],
    ])
  })

  it('bounds the depth without recursion and ignores brackets inside strings', () => {
    expect(scanJsonText('[[[]]]')).toEqual({ depth: 3, tooDeepAt: null })
    expect(scanJsonText('{"a": "[[[[[["}', { maxDepth: 1 })).toEqual({ depth: 1, tooDeepAt: null })
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`
    expect(scanJsonText(deep, { maxDepth: 32 })).toEqual({ depth: 33, tooDeepAt: 32 })
  })

  it('tells integer spellings from float ones', () => {
    for (const s of ['0', '4', '-7', '123456789']) expect(isJsonIntegerLiteral(s), s).toBe(true)
    for (const s of ['4.0', '4e0', '0.4e1', '4E+0', '-0.0', '01']) expect(isJsonIntegerLiteral(s), s).toBe(false)
  })
})
