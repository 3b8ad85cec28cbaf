/**
 * Renders report.html in a real headless Chromium (Debian's `chromium`) over the DevTools protocol
 * (`--remote-debugging-pipe`, no extra dependency) and checks that every image loads and that no
 * console error or exception occurs. Without a Chromium binary the test is skipped with the reason
 * printed (install one with `apt-get install -y chromium`, or point CHROMIUM at it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { writeReport } from '../../src/figures/report.js'

function findChromium(): string | null {
  const names = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']
  const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM] : []
  for (const dir of (process.env.PATH ?? '').split(delimiter)) for (const n of names) candidates.push(join(dir, n))
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK)
      return c
    } catch {
      // not here
    }
  }
  return null
}

const CHROMIUM = findChromium()
// the printed reason for the skip (STYLE: a skipped test says why)
if (CHROMIUM === null)
  process.stderr.write(
    'report-chromium.test.ts skipped: no Chromium binary on PATH (apt-get install -y chromium, or set CHROMIUM=/path)\n',
  )

/** A minimal DevTools-protocol client over Chromium's pipe (fd 3 in, fd 4 out, NUL-separated JSON). */
class Cdp {
  private id = 0
  private buf = ''
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly events: Array<{ method: string; params: Record<string, unknown>; sessionId?: string }> = []
  private waiters: Array<{ method: string; resolve: () => void }> = []
  private readonly input: Writable
  constructor(input: Writable, output: Readable) {
    this.input = input
    output.setEncoding('utf8')
    output.on('data', (chunk: string) => {
      this.buf += chunk
      let i = this.buf.indexOf('\0')
      while (i >= 0) {
        const msg = JSON.parse(this.buf.slice(0, i)) as {
          id?: number
          result?: unknown
          error?: { message: string }
          method?: string
          params?: Record<string, unknown>
          sessionId?: string
        }
        this.buf = this.buf.slice(i + 1)
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id)
          this.pending.delete(msg.id)
          if (msg.error) p?.reject(new Error(msg.error.message))
          else p?.resolve(msg.result)
        } else if (msg.method) {
          this.events.push({
            method: msg.method,
            params: msg.params ?? {},
            ...(msg.sessionId ? { sessionId: msg.sessionId } : {}),
          })
          const ready = this.waiters.filter((w) => w.method === msg.method)
          this.waiters = this.waiters.filter((w) => w.method !== msg.method)
          for (const w of ready) w.resolve()
        }
        i = this.buf.indexOf('\0')
      }
    })
  }
  send<T = Record<string, unknown>>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = ++this.id
    this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`)
    return new Promise((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }))
  }
  waitFor(method: string): Promise<void> {
    if (this.events.some((e) => e.method === method)) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ method, resolve }))
  }
}

const dirs: string[] = []
let browser: ChildProcess | undefined
afterAll(async () => {
  const b = browser
  if (b !== undefined && b.exitCode === null && b.signalCode === null) {
    const exited = new Promise((resolve) => b.once('exit', resolve))
    b.kill()
    await exited
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
})

describe.runIf(CHROMIUM !== null)('report.html in headless Chromium', () => {
  it('loads every image and logs no console error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plora-report-'))
    dirs.push(dir)
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'figures')
    await mkdir(join(dir, 'value_add'), { recursive: true })
    await copyFile(join(fixtures, 'value_add.jsonl'), join(dir, 'value_add', 'value_add.jsonl'))
    for (const f of ['thesis_sweep.jsonl', 'swarm_v2_report_seed7.json', 'summary_v2.json'])
      await copyFile(join(fixtures, f), join(dir, f))
    const report = await writeReport({ resultsDir: dir, config: { path: 'fixture', value: { seed: 42 } } })

    browser = spawn(
      CHROMIUM!,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--remote-debugging-pipe',
        `--user-data-dir=${join(dir, 'profile')}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    )
    const cdp = new Cdp(browser.stdio[3] as Writable, browser.stdio[4] as Readable)
    const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' })
    const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true })
    for (const d of ['Runtime.enable', 'Log.enable', 'Page.enable']) await cdp.send(d, {}, sessionId)
    await cdp.send('Page.navigate', { url: pathToFileURL(report.path).href }, sessionId)
    await cdp.waitFor('Page.loadEventFired')
    const { result } = await cdp.send<{ result: { value: string } }>(
      'Runtime.evaluate',
      {
        expression: `JSON.stringify({
          images: [...document.images].map((i) => ({ alt: i.alt, ok: i.complete && i.naturalWidth > 0 })),
          figures: document.querySelectorAll('figure').length,
          external: [...document.querySelectorAll('[src]')].filter((e) => !e.getAttribute('src').startsWith('data:')).length,
        })`,
        returnByValue: true,
      },
      sessionId,
    )
    const page = JSON.parse(result.value) as {
      images: Array<{ alt: string; ok: boolean }>
      figures: number
      external: number
    }
    const exited = new Promise((resolve) => browser!.once('exit', resolve))
    await cdp.send('Browser.close').catch(() => undefined)
    await exited

    expect(page.images).toHaveLength(report.figures.length)
    expect(page.figures).toBe(report.figures.length)
    expect(page.images.filter((i) => !i.ok)).toEqual([])
    expect(page.external).toBe(0)
    const errors = cdp.events.filter(
      (e) =>
        e.method === 'Runtime.exceptionThrown' ||
        (e.method === 'Runtime.consoleAPICalled' && e.params.type === 'error') ||
        (e.method === 'Log.entryAdded' && (e.params.entry as { level?: string }).level === 'error'),
    )
    expect(errors).toEqual([])
  }, 60_000)
})
