import { describe, expect, it } from 'vitest'
import { assertSafeDomain, GrpcErrorCode, isSafeDomain, normaliseEntryName, Semaphore } from '../../src/index.js'

describe('domain names [D-38]', () => {
  it('accepts plain folder names', () => {
    for (const d of ['legal', 'medical', 'math', 'a', 'A-1_b.c', 'x'.repeat(128)]) expect(isSafeDomain(d), d).toBe(true)
  })
  it('refuses traversal, absolute, encoded and hidden names', () => {
    const bad = [
      '',
      '.',
      '..',
      '../x',
      'x/..',
      '/etc',
      '/',
      'a/b',
      'a\\b',
      '..\\x',
      '%2e%2e',
      '%2e%2e%2fx',
      '..%2Fx',
      'C:x',
      '.hidden',
      '.legal.staging-1',
      'x\u0000y',
      'x\n',
      ' legal',
      'legal ',
      'a..b',
      'ｌｅｇａｌ',
      'x'.repeat(129),
      '~root',
    ]
    for (const d of bad) expect(isSafeDomain(d), JSON.stringify(d)).toBe(false)
    expect(() => assertSafeDomain('../x')).toThrow(expect.objectContaining({ code: GrpcErrorCode.DomainInvalid }))
    expect(() => assertSafeDomain(42)).toThrow(expect.objectContaining({ code: GrpcErrorCode.DomainInvalid }))
  })
})

describe('tar entry names [D-41]', () => {
  it('normalises safe relative names', () => {
    expect(normaliseEntryName('./plora.yml')).toBe('plora.yml')
    expect(normaliseEntryName('.')).toBe('')
    expect(normaliseEntryName('./')).toBe('')
    expect(normaliseEntryName('a//b/./c')).toBe('a/b/c')
  })
  it('refuses unsafe names', () => {
    for (const n of ['../x', 'a/../../x', 'a/..', '/etc/passwd', 'C:\\x', 'c:x', 'a\\..\\b', 'x\u0000', '']) {
      expect(normaliseEntryName(n), JSON.stringify(n)).toBeNull()
    }
  })
})

describe('Semaphore', () => {
  it('bounds holders, queues in order, refuses past the queue and drops aborted waiters', async () => {
    const s = new Semaphore(2, 2)
    const r1 = await s.acquire()
    const r2 = await s.acquire()
    const order: number[] = []
    const w3 = s.acquire().then((r) => {
      order.push(3)
      return r
    })
    const ac = new AbortController()
    const w4 = s.acquire(ac.signal)
    await expect(s.acquire()).rejects.toMatchObject({ code: GrpcErrorCode.ServerBusy })
    ac.abort(new Error('gone'))
    await expect(w4).rejects.toThrow('gone')
    expect(s.waiting).toBe(1)
    r1()
    r1() // releasing twice is harmless
    const r3 = await w3
    expect(order).toEqual([3])
    expect(s.active).toBe(2)
    r2()
    r3()
    expect(s.active).toBe(0)
  })
})
