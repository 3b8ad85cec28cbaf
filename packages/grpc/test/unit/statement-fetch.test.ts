/**
 * Issue 15 point 8 on the wire: a fetched folder's signed statement (`plora.sig.json`) is checked
 * in the staging folder before anything is installed. Real offer server on 127.0.0.1, stream and
 * unary. A changed or unlisted file refuses the whole fetch (nothing reaches `dest`).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { canonicalManifestBytes } from '@plora/manifest'
import { generateKeyPair, signAdapterFolder } from '@plora/signer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchPlasmid, type OfferServer, startOfferServer } from '../../src/index.js'
import { cleanup, listTree, makeAdapter, tempDir } from '../helpers.js'

const keys = generateKeyPair({ type: 'ed25519' })
const otherKeys = generateKeyPair({ type: 'ed25519' })

async function signedAdapter(root: string, domain: string, key = keys.privateKeyPem): Promise<string> {
  const { dir, manifest } = await makeAdapter(root, domain)
  await signAdapterFolder(dir, key, { manifestBytes: canonicalManifestBytes(manifest) })
  return dir
}

describe.each(['stream', 'unary'] as const)('fetch checks the folder statement (%s)', (protocol) => {
  let root: string
  let work: string
  let server: OfferServer
  let n = 0
  const fetch = (domain: string, extra: Record<string, unknown> = {}) => {
    const dest = join(work, `d${n++}`)
    const p = fetchPlasmid({
      host: '127.0.0.1',
      port: server.port,
      timeoutMs: 20_000,
      protocol,
      domain,
      dest,
      publicKeyPem: keys.publicKeyPem,
      ...extra,
    })
    return { p, dest }
  }

  beforeAll(async () => {
    root = await tempDir()
    work = await tempDir()
    await signedAdapter(root, 'clean')
    const alpha = await signedAdapter(root, 'alpha')
    const cfg = join(alpha, 'adapter_config.json')
    await writeFile(cfg, (await readFile(cfg, 'utf8')).replace('"lora_alpha":8', '"lora_alpha":8000'))
    const extra = await signedAdapter(root, 'extra')
    await writeFile(join(extra, 'adapter_model.bin'), 'a second set of weights')
    await signedAdapter(root, 'otherkey', otherKeys.privateKeyPem)
    await makeAdapter(root, 'legacy')
    server = await startOfferServer({ root, port: 0, privateKeyPem: keys.privateKeyPem })
  })
  afterAll(async () => {
    await server?.close()
    await cleanup(root, work)
  })

  it('installs a folder whose statement holds, sidecar included', async () => {
    const { p, dest } = fetch('clean', { requireStatement: true })
    const r = await p
    expect(r.statement).toBe('verified')
    expect(await listTree(dest)).toContain('clean/plora.sig.json')
  })

  it.each([
    ['alpha', 'adapter_config.json', 'SIGNER_STATEMENT_FILE_MISMATCH'],
    ['extra', 'adapter_model.bin', 'SIGNER_STATEMENT_FILE_UNLISTED'],
    ['otherkey', 'plora.sig.json', 'SIGNER_STATEMENT_SIGNATURE_INVALID'],
  ])('refuses %s (the whole fetch; nothing installed, no staging left)', async (domain, file, cause) => {
    const { p, dest } = fetch(domain)
    await expect(p).rejects.toMatchObject({ code: 'GRPC_STATEMENT_INVALID', details: { file, cause_code: cause } })
    expect(await listTree(dest)).toEqual([])
  })

  it('without a key, a present statement is still checked against the files', async () => {
    const { p, dest } = fetch('extra', { publicKeyPem: undefined })
    await expect(p).rejects.toMatchObject({ code: 'GRPC_STATEMENT_INVALID', details: { file: 'adapter_model.bin' } })
    expect(await listTree(dest)).toEqual([])
    const ok = fetch('clean', { publicKeyPem: undefined })
    expect((await ok.p).statement).toBe('checked')
  })

  it('a legacy-only folder installs unless a statement is required', async () => {
    expect((await fetch('legacy').p).statement).toBe('absent')
    const { p, dest } = fetch('legacy', { requireStatement: true })
    await expect(p).rejects.toMatchObject({ code: 'GRPC_STATEMENT_MISSING' })
    expect(await listTree(dest)).toEqual([])
    await expect(fetch('legacy', { requireStatement: true, publicKeyPem: undefined }).p).rejects.toMatchObject({
      code: 'GRPC_OPTIONS_INVALID',
    })
  })
})
