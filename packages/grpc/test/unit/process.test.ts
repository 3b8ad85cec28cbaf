/**
 * Server and client in separate processes: the offer server runs from the built package in a
 * child process (test/fixtures/offer-process.mjs); the client runs here. `make test` builds first;
 * `beforeAll` runs an incremental `tsc -b` of this package so the test also works on its own.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generateKeyPair } from '@plora/signer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchPlasmid, GrpcErrorCode } from '../../src/index.js'
import { cleanup, listTree, makeAdapter, tempDir } from '../helpers.js'

const PKG = fileURLToPath(new URL('../../', import.meta.url))
const REPO = join(PKG, '../..')
const keys = generateKeyPair({ type: 'ed25519' })

function startChild(args: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [join(PKG, 'test/fixtures/offer-process.mjs'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    rl.once('line', (line) => resolve({ child, port: (JSON.parse(line) as { port: number }).port, stderr: () => err }))
    child.once('exit', (code) => reject(new Error(`offer child exited early (${code}): ${err}`)))
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })
}

describe('offer server in a separate process', () => {
  let root: string
  let work: string
  const children: ChildProcess[] = []

  beforeAll(async () => {
    await promisify(execFile)(join(REPO, 'node_modules/.bin/tsc'), ['-b', join(PKG, 'tsconfig.json')], { cwd: REPO })
    root = await tempDir()
    work = await tempDir()
    await makeAdapter(root, 'legal', { size: 200_000 })
    await makeAdapter(root, 'big', { size: 24 * 1024 * 1024 })
    await writeFile(join(work, 'priv.pem'), keys.privateKeyPem)
  }, 120_000)
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    await cleanup(root, work)
  })

  it('serves a fetch and stops cleanly on SIGTERM', async () => {
    const { child, port, stderr } = await startChild([root, join(work, 'priv.pem')])
    children.push(child)
    const r = await fetchPlasmid({
      host: '127.0.0.1',
      port,
      domain: 'legal',
      dest: join(work, 'ok'),
      publicKeyPem: keys.publicKeyPem,
    })
    expect(r.signatureVerified).toBe(true)
    const u = await fetchPlasmid({
      host: '127.0.0.1',
      port,
      domain: 'legal',
      dest: join(work, 'oku'),
      protocol: 'unary',
      publicKeyPem: keys.publicKeyPem,
    })
    expect(u.protocol).toBe('unary')
    child.kill('SIGTERM')
    expect(await exited(child)).toBe(0)
    // One log line per request, then the shutdown line.
    expect(stderr().match(/FetchPlasmid/g)?.length).toBe(1)
    expect(stderr().match(/OfferPlasmid/g)?.length).toBe(1)
    expect(stderr()).toContain('offer-child stopped')
  })

  it('leaves the destination untouched when the server is killed mid-stream', async () => {
    const { child, port } = await startChild([root, join(work, 'priv.pem'), String(64 * 1024)])
    children.push(child)
    const dest = join(work, 'killed')
    await mkdir(join(dest, 'big'), { recursive: true })
    await writeFile(join(dest, 'big', 'plora.yml'), 'old copy\n')
    let killedAt = -1
    const p = fetchPlasmid(
      { host: '127.0.0.1', port, domain: 'big', dest, publicKeyPem: keys.publicKeyPem, retries: 1 },
      {
        onProgress: (e) => {
          if (e.status === 'progress' && killedAt < 0 && e.done > 1024 * 1024) {
            killedAt = e.done
            child.kill('SIGKILL')
          }
        },
      },
    )
    const err = (await p.then(
      () => null,
      (e: unknown) => e,
    )) as { code?: string } | null
    expect(killedAt).toBeGreaterThan(0)
    expect([GrpcErrorCode.StreamInterrupted, GrpcErrorCode.ServerUnavailable]).toContain(err?.code)
    expect(await listTree(dest)).toEqual(['big', 'big/plora.yml'])
    expect(await readFile(join(dest, 'big', 'plora.yml'), 'utf8')).toBe('old copy\n')
  })
})
