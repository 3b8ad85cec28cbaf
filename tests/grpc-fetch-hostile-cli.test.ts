/**
 * Issue 15 points 9 and 12 through the built bin: `plora fetch` against hostile servers on
 * 127.0.0.1 (run in this process) prints one line `plora fetch: <message> [GRPC_…]` and exits 1 —
 * no stack trace, no staging folder, no DEST — for a tar-slip entry whose 1 MB body is still
 * arriving, and for a 1 MB server status message full of terminal escapes.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ustarHeader } from '../packages/grpc/src/index.js'
import { type HostileServer, serveHostile } from '../packages/grpc/test/hostile.js'
import { generateKeyPair } from '../packages/signer/src/index.js'

const REPO = resolve(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')
const keys = generateKeyPair({ type: 'ed25519' })
let dir: string
let server: HostileServer
let port: number

/** A ustar archive with one `../x` entry and a 1 MB body. */
function slipTar(): Buffer {
  const body = Buffer.alloc(1 << 20, 0x41)
  return Buffer.concat([ustarHeader('../x', body.length), body, Buffer.alloc(1024)])
}

const ANSI = `\x1b[2J\x1b[H\x1b]0;pwned\x07\r${'\x1b[31mFAKE PROMPT $ '.repeat(80_000)}`

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  return new Promise((res) => child.on('exit', (code) => res({ code, stdout, stderr })))
}

/**
 * The error line of a failed run: stderr holds progress lines, then exactly one `plora fetch:`
 * line as its last line, and no stack trace.
 */
function errorLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n')
  expect(stderr.endsWith('\n')).toBe(true)
  expect(lines.filter((l) => l.startsWith('plora fetch:'))).toHaveLength(1)
  expect(stderr).not.toMatch(/^\s+at |this is a bug/m)
  return lines.at(-1) as string
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-fetch-hostile-'))
  await writeFile(join(dir, 'pub.pem'), keys.publicKeyPem)
  server = await serveHostile(slipTar(), {
    signWith: keys.privateKeyPem,
    list: [
      {
        plasmid_id: 'id\x1b]0;pwned\x07\u009b2J\u202e',
        domain: 'legal',
        manifest_sha256: '',
        size: 1,
        payload_sha256: '',
        signed: false,
      },
    ],
    unary: { status: 'ERROR', bytes: Buffer.alloc(0), sha: '', manifest: ANSI, signature: Buffer.alloc(0) },
  })
  port = server.port
})
afterAll(async () => {
  server?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('plora fetch against hostile servers', () => {
  it('refuses a tar-slip entry with a 1 MB body in one line, exit 1, leaving nothing', async () => {
    const dest = join(dir, 'fetched', 'here')
    const r = await run([
      'fetch',
      '--domain',
      'legal',
      '--dest',
      dest,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--public-key',
      join(dir, 'pub.pem'),
      '--protocol',
      'stream',
      '--retries',
      '0',
    ])
    expect(errorLine(r.stderr)).toMatch(/^plora fetch: .*unsafe tar entry name "\.\.\/x".* \[GRPC_TAR_ENTRY_UNSAFE\]$/)
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect((await readdir(dir)).sort()).toEqual(['pub.pem'])
  })

  it('prints a 1 MB escape-laden server status capped and escaped on one line', async () => {
    const r = await run([
      'fetch',
      '--domain',
      'legal',
      '--dest',
      join(dir, 'u'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--protocol',
      'unary',
    ])
    expect(r.code).toBe(1)
    expect(errorLine(r.stderr)).toMatch(/^plora fetch: .*\\e\[2J.*… \(\d+ more bytes\) \[GRPC_SERVER_STATUS_ERROR\]$/)
    expect(r.stderr.length).toBeLessThan(2048)
    expect(r.stderr).not.toContain('\x1b')
    expect(r.stderr).not.toContain('\r')
    expect((await readdir(dir)).sort()).toEqual(['pub.pem'])
  })
  it('prints --list lines as JSON with every control character escaped', async () => {
    const r = await run(['fetch', '--list', '--host', '127.0.0.1', '--port', String(port)])
    expect(r.code).toBe(0)
    expect([...r.stdout].filter((c) => (c.codePointAt(0) as number) < 0x20 && c !== '\n')).toEqual([])
    expect(r.stdout).not.toMatch(/[\u007f-\u009f\u202e]/)
    expect(JSON.parse(r.stdout)).toMatchObject({ plasmid_id: 'id\x1b]0;pwned\x07\u009b2J\u202e' })
  })
})
