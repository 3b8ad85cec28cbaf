import { describe, expect, it } from 'vitest'
import { DEFAULT_STRICT_YAML_OPTIONS, decodeYamlBytes, parseStrictYaml } from '../../src/index.js'

const reason = (text: string, options: Parameters<typeof parseStrictYaml>[1] = {}) => {
  const r = parseStrictYaml(text, options)
  return r.ok ? 'ok' : r.problem.reason
}

describe('parseStrictYaml', () => {
  it('parses one plain document', () => {
    expect(parseStrictYaml('a: 1\nb: [x, 2.5, -3]\nc: {d: true}\n')).toEqual({
      ok: true,
      value: { a: 1, b: ['x', 2.5, -3], c: { d: true } },
    })
    expect(parseStrictYaml('')).toEqual({ ok: true, value: null })
    expect(parseStrictYaml('# only a comment\n')).toEqual({ ok: true, value: null })
  })

  it('refuses more than one document, with the position of the second', () => {
    expect(parseStrictYaml('a: 1\n...\njunk\n')).toMatchObject({
      ok: false,
      problem: { reason: 'multiple_documents', line: 3, col: 1 },
    })
    expect(reason('a: 1\n---\nb: 2\n')).toBe('multiple_documents')
  })

  it('refuses a directive after "..." with no document (the yaml library dropped it; PyYAML raises)', () => {
    for (const version of ['1.1', '1.2'] as const) {
      expect(parseStrictYaml('a: 1\n...\n%YAML 1.2\n', { version })).toMatchObject({
        ok: false,
        problem: { reason: 'multiple_documents', line: 3, col: 1 },
      })
      expect(reason('a: 1\n...\n%TAG ! tag:x,2000:\n', { version })).toBe('multiple_documents')
      expect(reason('a: 1\n...\n# only a comment\n\n', { version })).toBe('ok')
      expect(reason('a: 1\n# trailing comment\n', { version })).toBe('ok')
    }
  })

  it('refuses control, bidi and stray BOM characters but allows tab, CR LF and a leading BOM', () => {
    for (const c of ['\0', '\u0007', '\u000b', '\u001f', '\u007f', '\u0090', '\u202e', '\u2066', '\ufffe']) {
      expect(reason(`a: "x${c}y"\n`), JSON.stringify(c)).toBe('control_character')
    }
    expect(reason('a: 1\n\ufeffb: 2\n')).toBe('control_character')
    expect(parseStrictYaml('\ufeffa:\t1\r\nb: 2\r\n')).toEqual({ ok: true, value: { a: 1, b: 2 } })
  })

  it('finds duplicate keys in nested and flow mappings and refuses complex keys, __proto__ and <<', () => {
    expect(parseStrictYaml('a:\n  b: 1\n  c: 2\n  b: 3\n')).toMatchObject({
      ok: false,
      problem: { reason: 'duplicate_key', line: 4, col: 3 },
    })
    expect(reason('x: {a: 1, a: 2}\n')).toBe('duplicate_key')
    expect(reason('"a": 1\na: 2\n')).toBe('duplicate_key')
    expect(reason('1: x\n"1": y\n')).toBe('duplicate_key')
    expect(reason('? {a: 1}\n: 2\n')).toBe('key_not_scalar')
    expect(reason('__proto__: {x: 1}\n')).toBe('reserved_key')
    expect(reason('base: {a: 1}\nother:\n  <<: {a: 1}\n')).toBe('reserved_key')
  })

  it('reads numbers in decimal only and refuses unsafe integers (both YAML versions)', () => {
    for (const version of ['1.1', '1.2'] as const) {
      for (const v of ['0x1f', '017', '12345678901234567890', '-9007199254740993']) {
        expect(reason(`n: ${v}\n`, { version }), `${version} ${v}`).not.toBe('ok')
      }
      for (const v of ['0', '-7', '+7', '9007199254740991', '1.5', '0.25', '-.5', '.inf', '.nan']) {
        expect(reason(`n: ${v}\n`, { version }), `${version} ${v}`).toBe('ok')
      }
    }
    expect(reason('n: 1:30\n', { version: '1.1' })).toBe('number_form')
    expect(reason('n: 0b101\n', { version: '1.1' })).toBe('number_form')
    expect(reason('n: 1_000\n', { version: '1.1' })).toBe('number_form')
    // Under 1.2 these are strings, which a schema expecting a number refuses.
    expect(parseStrictYaml('n: 1_000\n', { version: '1.2' })).toEqual({ ok: true, value: { n: '1_000' } })
    expect(reason('n: 0o17\n', { version: '1.2' })).toBe('number_form')
    expect(reason('n: 1e3\n', { version: '1.2' })).toBe('ok')
    // PyYAML (YAML 1.1) needs a "." and a signed exponent: these are strings there, numbers in `yaml`.
    for (const v of ['1e3', '0e0', '544355400e0', '1.5e3', '4E0']) {
      expect(reason(`n: ${v}\n`, { version: '1.1' }), v).toBe('number_form')
    }
    for (const v of ['1.0e-10', '1.0e+16', '5.', '.5', '-2.5E+3'])
      expect(reason(`n: ${v}\n`, { version: '1.1' }), v).toBe('ok')
    expect(reason('n: !!int "0x10"\n')).toBe('number_form')
    expect(reason('n: "0x10"\n')).toBe('ok')
  })

  it('refuses anchors and aliases by default, and bounds them when allowed', () => {
    expect(reason('a: &x 1\nb: *x\n')).toBe('alias')
    expect(parseStrictYaml('a: &x 1\nb: *x\n', { maxAliases: 5 })).toEqual({ ok: true, value: { a: 1, b: 1 } })
    const many = `a: &x 1\n${Array.from({ length: 6 }, (_, i) => `b${i}: *x`).join('\n')}\n`
    expect(reason(many, { maxAliases: 5 })).toBe('alias')
    const lines = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
    for (let i = 1; i < 9; i++)
      lines.push(
        `l${i}: &l${i} [${Array(9)
          .fill(`*l${i - 1}`)
          .join(', ')}]`,
      )
    expect(reason(lines.join('\n'), { maxAliases: 100 })).toBe('alias')
  })

  it('refuses unknown tags and syntax errors with a position', () => {
    expect(parseStrictYaml('a: !evil 1\n')).toMatchObject({ ok: false, problem: { reason: 'syntax', line: 1 } })
    expect(reason('a: [1, 2\n')).toBe('syntax')
    expect(reason('%FOO bar\n')).toBe('syntax')
  })

  it('refuses nesting deep enough to exhaust the stack as a problem, not an exception', () => {
    const deep = `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`
    expect(reason(deep)).toBe('syntax')
    expect(reason(`a: ${'['.repeat(50)}${']'.repeat(50)}\n`)).toBe('ok')
  })

  it('checks the size before parsing', () => {
    const text = `a: ${'x'.repeat(100)}\n`
    expect(reason(text, { maxBytes: 50 })).toBe('too_large')
    expect(reason(`a: ${'é'.repeat(30)}\n`, { maxBytes: 50 })).toBe('too_large')
    expect(DEFAULT_STRICT_YAML_OPTIONS.maxBytes).toBeGreaterThan(0)
  })
})

describe('decodeYamlBytes', () => {
  it('decodes UTF-8 strictly and checks the size first', () => {
    expect(decodeYamlBytes(Buffer.from('a: é\n'), 100)).toEqual({ ok: true, text: 'a: é\n' })
    expect(decodeYamlBytes(Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]), 100)).toMatchObject({
      ok: false,
      problem: { reason: 'not_utf8' },
    })
    expect(decodeYamlBytes(Buffer.alloc(101), 100)).toMatchObject({ ok: false, problem: { reason: 'too_large' } })
  })
})
