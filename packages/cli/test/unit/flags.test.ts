import { Command, InvalidArgumentError } from 'commander'
import { describe, expect, it } from 'vitest'
import {
  addAlias,
  defaultNote,
  oneLine,
  parseCsvEnum,
  parseCsvFloats,
  parseCsvInts,
  parseCsvStrings,
  parseEnum,
  parseFloatFlag,
  parseIntFlag,
  parseOnOff,
  parsePathFlag,
  parsePort,
  parseProbability,
  resolveLibraryDefaults,
  setLibraryDefaults,
  shownAs,
} from '../../src/flags.js'

function rejects(f: () => unknown): void {
  expect(f).toThrow(InvalidArgumentError)
}

describe('flags.ts parsers', () => {
  it('parseIntFlag accepts decimal integers in range only', () => {
    const p = parseIntFlag({ min: 1, max: 10 })
    expect(p('1')).toBe(1)
    expect(p('10')).toBe(10)
    expect(p(' 7 ')).toBe(7)
    expect(p('+3')).toBe(3)
    for (const bad of ['0', '11', 'abc', '', ' ', '1.5', '1e1', '0x5', 'Infinity', 'NaN', '5abc', '--5'])
      rejects(() => p(bad))
    expect(parseIntFlag()('-4')).toBe(-4)
    rejects(() => parseIntFlag()('99999999999999999999'))
  })

  it('parsePort accepts 0–65535', () => {
    expect(parsePort('0')).toBe(0)
    expect(parsePort('65535')).toBe(65535)
    for (const bad of ['abc', '70000', '65536', '-1', '80.5']) rejects(() => parsePort(bad))
  })

  it('parseFloatFlag checks syntax and inclusive/exclusive bounds', () => {
    expect(parseFloatFlag()('-0.05')).toBe(-0.05)
    expect(parseFloatFlag()('3e-3')).toBe(0.003)
    expect(parseFloatFlag()('.5')).toBe(0.5)
    for (const bad of ['abc', '', '1,5', 'Infinity', '0x10', '1e400', '1.2.3']) rejects(() => parseFloatFlag()(bad))
    const open = parseFloatFlag({ min: 0, max: 1, exclusive: true })
    rejects(() => open('0'))
    rejects(() => open('1'))
    expect(open('0.5')).toBe(0.5)
    const half = parseFloatFlag({ min: 0, max: 1, exclusive: 'max' })
    expect(half('0')).toBe(0)
    rejects(() => half('1'))
    expect(parseProbability('1')).toBe(1)
    rejects(() => parseProbability('1.01'))
    rejects(() => parseProbability('-0.1'))
  })

  it('parses comma-separated lists strictly', () => {
    expect(parseCsvInts({ min: 1 })('4, 8,16')).toEqual([4, 8, 16])
    rejects(() => parseCsvInts({ min: 1 })('4,,8'))
    rejects(() => parseCsvInts({ min: 1 })('4,0'))
    rejects(() => parseCsvInts()(''))
    expect(parseCsvFloats({ min: 0, max: 1 })('0.0,0.3')).toEqual([0, 0.3])
    rejects(() => parseCsvFloats({ min: 0, max: 1 })('0.3,2'))
    expect(parseCsvStrings('a, b')).toEqual(['a', 'b'])
    rejects(() => parseCsvStrings('a,'))
    expect(parseCsvEnum(['er', 'ws'] as const)('er,ws')).toEqual(['er', 'ws'])
    rejects(() => parseCsvEnum(['er', 'ws'] as const)('er,xx'))
  })

  it('parses enums, on/off and paths', () => {
    expect(parseEnum(['a', 'b'] as const)('b')).toBe('b')
    rejects(() => parseEnum(['a', 'b'] as const)('c'))
    expect(parseOnOff('on')).toBe(true)
    expect(parseOnOff('off')).toBe(false)
    rejects(() => parseOnOff('yes'))
    expect(parsePathFlag('a/b.json')).toBe('a/b.json')
    rejects(() => parsePathFlag(''))
    rejects(() => parsePathFlag('a\u0000b'))
    rejects(() => parsePathFlag('a\nb'))
  })

  it('error messages are one line and quote what was found', () => {
    try {
      parseIntFlag({ min: 1 })('a\nb')
      expect.unreachable()
    } catch (e) {
      expect((e as Error).message).toBe('expected a decimal integer ≥ 1, found "a\\nb"')
    }
  })
})

describe('oneLine', () => {
  it('turns a usage error into one terminal-safe line', () => {
    expect(oneLine("error: unknown command 'fetc'\n(Did you mean fetch?)\n")).toBe(
      "error: unknown command 'fetc' (Did you mean fetch?)\n",
    )
    expect(oneLine("argument '1\u001b[31m\u0007'")).toBe("argument '1\\x1b[31m\\x07'\n")
  })
})

describe('addAlias and library defaults', () => {
  it('an alias parses like the option it stands for and stores into its key', async () => {
    const cmd = new Command('x').exitOverride()
    cmd.option('--graph-p <p>', 'p', parseProbability)
    addAlias(cmd, 'graph_p', cmd.options[0]!)
    cmd.configureOutput({ writeErr: () => {} })
    await cmd.parseAsync(['--graph_p', '0.5'], { from: 'user' })
    expect(cmd.opts().graphP).toBe(0.5)
    const bad = new Command('y').exitOverride().configureOutput({ writeErr: () => {} })
    bad.option('--graph-p <p>', 'p', parseProbability)
    addAlias(bad, 'graph_p', bad.options[0]!)
    await expect(bad.parseAsync(['--graph_p', '2'], { from: 'user' })).rejects.toMatchObject({
      code: 'commander.invalidArgument',
    })
  })

  it('applies lazy defaults to values and help; notes only to help', async () => {
    const cmd = new Command('x')
    cmd.option('--port <n>', 'port', parsePort)
    cmd.option('--on <on|off>', 'switch', parseOnOff)
    cmd.option('--tau <x>', 'threshold', parseFloatFlag())
    cmd.option('--ns <list>', 'sizes', parseCsvInts())
    setLibraryDefaults(cmd, async () => ({
      port: 50051,
      on: shownAs(true, 'on'),
      tau: defaultNote('config, else 0.2'),
    }))
    setLibraryDefaults(cmd, async () => ({ ns: [20, 40] }))
    await resolveLibraryDefaults(cmd)
    expect(cmd.opts()).toEqual({ port: 50051, on: true, ns: [20, 40] })
    const help = cmd.helpInformation().replace(/\s+/g, ' ')
    expect(help).toContain('port (default: 50051)')
    expect(help).toContain('switch (default: on)')
    expect(help).toContain('threshold (default: config, else 0.2)')
    expect(help).toContain('sizes (default: 20,40)')
  })

  it('refuses a default for an option the command lacks', async () => {
    const cmd = new Command('x')
    setLibraryDefaults(cmd, async () => ({ nope: 1 }))
    await expect(resolveLibraryDefaults(cmd)).rejects.toThrow(/no option for "nope"/)
  })
})
