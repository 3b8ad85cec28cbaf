import { PloraError } from '@plora/common'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createProgram, main, setExitCodes } from '../../src/index.js'

describe('main', () => {
  afterEach(() => vi.restoreAllMocks())

  it('maps a PloraError to one stderr line and the command exit-code map', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const program = createProgram()
    const cmd = program.commands.find((c) => c.name() === 'config')!
    // A command's own exit map wins over the default status 1.
    setExitCodes(cmd, { CONFIG_KEY_NOT_FOUND: 7 })
    expect(await main(['node', 'plora', 'config', 'get', 'no.such.key'])).toBe(1)
    expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/^plora config get: .*\[CONFIG_KEY_NOT_FOUND\]\n$/)
  })

  it('treats a non-PloraError as a bug: stack and a report hint', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => {
      throw new TypeError('boom')
    })
    expect(await main(['node', 'plora', 'config', 'get', 'samples'])).toBe(1)
    out.mockRestore()
    const text = err.mock.calls.map((c) => String(c[0])).join('')
    expect(text).toMatch(/TypeError: boom/)
    expect(text).toMatch(/internal error/)
  })

  it('keeps PloraError subclasses recognisable', () => {
    expect(new PloraError('X_Y_Z', 'm').toObject()).toEqual({
      name: 'PloraError',
      code: 'X_Y_Z',
      message: 'm',
      details: {},
    })
  })
})
