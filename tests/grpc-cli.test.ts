/**
 * Issue 6 CLI surface: `plora certs`, `plora offer`, `plora fetch`. The offer server runs as the
 * built bin in its own process (the globalSetup builds the CLI); fetches run both in-process
 * through `main` and as a second bin process. Covers the one-line errors and `[D-39]`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../packages/cli/src/main.js'
import { sha256Hex } from '../packages/common/src/index.js'
import { dumpManifestYaml, parseManifestYaml } from '../packages/manifest/src/index.js'
import { generateKeyPair } from '../packages/signer/src/index.js'

const REPO = resolve(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')
let dir: string
const children: ChildProcess[] = []

async function plora(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((c: string | Uint8Array) => {
    stdout += String(c)
    return true
  }) as typeof process.stdout.write
  process.stderr.write = ((c: string | Uint8Array) => {
    stderr += String(c)
    return true
  }) as typeof process.stderr.write
  try {
    const code = await main(['node', 'plora', ...args])
    return { code, stdout, stderr }
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  return new Promise((res) => child.on('exit', (code) => res({ code, stdout, stderr })))
}

/** Starts `plora offer` as a process on a free port; resolves once it logs that it is running. */
function offer(args: string[]): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  const child = spawn(process.execPath, [BIN, 'offer', '--port', '0', ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let log = ''
  return new Promise((res, rej) => {
    child.stderr?.on('data', (d: Buffer) => {
      log += d
      const m = /Offer server running on [^\s]+:(\d+)/.exec(log)
      if (m) res({ child, port: Number(m[1]), log: () => log })
    })
    child.on('exit', (code) => rej(new Error(`plora offer exited (${code}): ${log}`)))
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-grpc-cli-'))
  const keys = generateKeyPair({ type: 'ed25519' })
  await writeFile(join(dir, 'priv.pem'), keys.privateKeyPem)
  await writeFile(join(dir, 'pub.pem'), keys.publicKeyPem)
  const other = generateKeyPair({ type: 'ed25519' })
  await writeFile(join(dir, 'other.pem'), other.publicKeyPem)
  const artefact = Buffer.from('not really safetensors, but hashed all the same\n'.repeat(100))
  const m = parseManifestYaml(await readFile(join(REPO, 'packages/manifest/test/fixtures/plora.yml'), 'utf8'))
  const { mkdir } = await import('node:fs/promises')
  await mkdir(join(dir, 'out', 'legal'), { recursive: true })
  await writeFile(join(dir, 'out', 'legal', 'adapter_model.safetensors'), artefact)
  await writeFile(
    join(dir, 'out', 'legal', 'plora.yml'),
    dumpManifestYaml({
      ...m,
      domain: 'legal',
      artifacts: { ...m.artifacts, sha256: sha256Hex(artefact), size_bytes: artefact.length },
    }),
  )
})
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

describe('plora offer / fetch / certs', () => {
  it('creates development certificates', async () => {
    const r = await plora('certs', '--out', join(dir, 'certs'), '--days', '10')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('server.pem')
    expect(await readFile(join(dir, 'certs', 'ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE')
  })

  it('refuses half a TLS configuration [D-39] and a missing key file', async () => {
    const r = await plora(
      'offer',
      '--root',
      join(dir, 'out'),
      '--port',
      '0',
      '--tls-cert',
      join(dir, 'certs', 'server.pem'),
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^plora offer: TLS needs both a certificate and a key.*\[GRPC_TLS_CONFIG_INVALID\]\n$/)
    const f = await plora('fetch', '--domain', 'legal', '--dest', join(dir, 'x'), '--root-cert', join(dir, 'nope.pem'))
    expect(f.stderr).toMatch(/cannot read root certificate.*\[GRPC_FILE_UNREADABLE\]/)
  })

  it('serves over mTLS as a process; fetch verifies, refuses a wrong key, and the server stops on SIGINT', async () => {
    const c = join(dir, 'certs')
    const srv = await offer([
      '--root',
      join(dir, 'out'),
      '--private-key',
      join(dir, 'priv.pem'),
      '--tls-cert',
      join(c, 'server.pem'),
      '--tls-key',
      join(c, 'server.key'),
      '--client-ca',
      join(c, 'ca.pem'),
    ])
    const common = [
      '--host',
      '127.0.0.1',
      '--port',
      String(srv.port),
      '--root-cert',
      join(c, 'ca.pem'),
      '--client-cert',
      join(c, 'client.pem'),
      '--client-key',
      join(c, 'client.key'),
    ]
    const ok = await plora(
      'fetch',
      '--domain',
      'legal',
      '--dest',
      join(dir, 'fetched'),
      '--public-key',
      join(dir, 'pub.pem'),
      ...common,
    )
    expect(ok.stderr).not.toContain('plora fetch:')
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(
      /^Fetched dummy-001 \(legal\) into .*fetched\/legal: .* MiB over stream, signature verified; folder statement absent\n$/,
    )
    const wrong = await run([
      'fetch',
      '--domain',
      'legal',
      '--dest',
      join(dir, 'wrong'),
      '--public-key',
      join(dir, 'other.pem'),
      ...common,
    ])
    expect(wrong.code).toBe(1)
    // (grpc-js may also print Node's DEP0123 warning when TLS dials an IP address.)
    expect(wrong.stderr).toMatch(
      /^plora fetch: .*does not verify with the given public key.*\[GRPC_SIGNATURE_INVALID\]$/m,
    )
    const noCert = await plora(
      'fetch',
      '--domain',
      'legal',
      '--dest',
      join(dir, 'nocert'),
      '--host',
      '127.0.0.1',
      '--port',
      String(srv.port),
      '--root-cert',
      join(c, 'ca.pem'),
    )
    expect(noCert.stderr).toMatch(/\[GRPC_SERVER_UNAVAILABLE\]/)
    const list = await plora('fetch', '--list', ...common)
    expect(JSON.parse(list.stdout.trim())).toMatchObject({ domain: 'legal', plasmid_id: 'dummy-001', signed: true })
    srv.child.kill('SIGINT')
    const code = await new Promise((res) => srv.child.on('exit', res))
    expect(code).toBe(0)
    expect(srv.log()).toContain('Server stopped by user')
    // One log line per request that reached the server (the certificate-less one never did).
    expect(srv.log().match(/\| FetchPlasmid /g)?.length).toBe(2)
    expect(srv.log().match(/\| ListPlasmids /g)?.length).toBe(1)
  })
})
