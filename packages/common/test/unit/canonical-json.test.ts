import { describe, expect, it } from 'vitest'
import { canonicalJson, canonicalJsonBytes } from '../../src/index.js'

describe('canonicalJson (RFC 8785 subset)', () => {
  it('sorts keys by UTF-16 code units and drops whitespace (RFC 8785 §3.2.3 example)', () => {
    const v = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
      '</script>': 'Browser Challenge',
    }
    // (Object.keys would put the integer-like "1" first, so read the order off the text.)
    const order = [...canonicalJson(v).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]}"`))
    expect(order).toEqual(['\r', '1', '</script>', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'])
    expect(canonicalJson({ b: [1, { d: true, c: null }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":null,"d":true}]}')
  })
  it('writes numbers as ECMAScript does (RFC 8785 Appendix B values)', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [-0, '0'],
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
      [4.0, '4'],
      [9007199254740991, '9007199254740991'],
      [333333333.3333333, '333333333.3333333'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
    ]
    for (const [n, text] of cases) expect(canonicalJson(n), String(n)).toBe(text)
  })
  it('escapes strings like JSON.stringify and encodes UTF-8', () => {
    expect(canonicalJson('a"\\\n\u0001é')).toBe('"a\\"\\\\\\n\\u0001é"')
    expect(Buffer.from(canonicalJsonBytes('é')).toString('hex')).toBe('22c3a922')
  })
  it('omits undefined properties but refuses values outside the subset', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}')
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, '\ud800', [undefined], new Date(0), 1n, () => 1]) {
      expect(() => canonicalJson({ x: bad })).toThrow(
        expect.objectContaining({ code: 'COMMON_CANONICAL_JSON_INVALID' }),
      )
    }
  })
})
