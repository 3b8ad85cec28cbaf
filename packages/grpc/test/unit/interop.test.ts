/**
 * Wire compatibility with the original (spec core.md §20.1): a separate @grpc/grpc-js client that
 * knows ONLY the original's proto text (test/golden/original-plora.proto, loaded with
 * proto-loader's default options, not plora's) calls the unary OfferPlasmid of a plora server,
 * and checks the reply with the original client's rules, written out here with node:crypto:
 * status "OK"; sha256(bytes) == sha; RSA-PSS (SHA-256, MGF1-SHA-256, salt auto) over the UTF-8 text
 * "PLORA|ADAPTER|v1|" + sha; the gzip tarball extracts; sha256 of the artefact == plora.yml's.
 */
import { constants, createHash, verify } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { generateKeyPair } from '@plora/signer'
import * as tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OfferServer, startOfferServer } from '../../src/index.js'
import { cleanup, makeAdapter, tempDir } from '../helpers.js'

interface OriginalReply {
  status: string
  bytes: Buffer
  sha: string
  manifest: string
  signature: Buffer
}

async function untar(bytes: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  const ex = tar.extract()
  const done = (async () => {
    for await (const entry of ex) {
      const parts: Buffer[] = []
      for await (const c of entry) parts.push(c as Buffer)
      out.set(entry.header.name, Buffer.concat(parts))
    }
  })()
  ex.end(bytes)
  await done
  return out
}

describe('interop with a client generated from the original proto only', () => {
  const keys = generateKeyPair({ type: 'rsa' }) // the original's only key type (RSA-3072, PSS)
  let root: string
  let server: OfferServer
  let client: grpc.Client & Record<string, (...a: unknown[]) => unknown>

  beforeAll(async () => {
    root = await tempDir()
    await makeAdapter(root, 'legal', { size: 20_000 })
    server = await startOfferServer({ root, port: 0, privateKeyPem: keys.privateKeyPem })
    const def = protoLoader.loadSync(new URL('../golden/original-plora.proto', import.meta.url).pathname)
    const pkg = grpc.loadPackageDefinition(def) as unknown as { plora: { Plasmid: grpc.ServiceClientConstructor } }
    client = new pkg.plora.Plasmid(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    }) as never
  }, 60_000)
  afterAll(async () => {
    client?.close()
    await server?.close()
    await cleanup(root)
  })

  const offer = (domain: string): Promise<OriginalReply> =>
    new Promise((resolve, reject) =>
      client.OfferPlasmid({ domain }, (e: Error | null, r: OriginalReply) => (e ? reject(e) : resolve(r))),
    )

  it('answers OfferPlasmid with a payload that verifies under the original rules', async () => {
    const r = await offer('legal')
    expect(r.status).toBe('OK')
    expect(createHash('sha256').update(r.bytes).digest('hex')).toBe(r.sha)
    const sig = Buffer.from(r.signature.toString('ascii'), 'base64')
    const ok = verify(
      'sha256',
      Buffer.from(`PLORA|ADAPTER|v1|${r.sha}`, 'utf8'),
      { key: keys.publicKeyPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
      sig,
    )
    expect(ok).toBe(true)
    const files = await untar(gunzipSync(r.bytes))
    expect([...files.keys()].sort()).toEqual([
      'README.md',
      'adapter_config.json',
      'adapter_model.safetensors',
      'plora.yml',
    ])
    const yml = files.get('plora.yml')!.toString('utf8')
    expect(r.manifest).toBe(yml) // the manifest field carries plora.yml's text
    const want = /sha256: ['"]?([0-9a-f]{64})/.exec(yml)?.[1]
    expect(createHash('sha256').update(files.get('adapter_model.safetensors')!).digest('hex')).toBe(want)
  })

  it('answers NOT_FOUND and ERROR in-band, with gRPC status OK', async () => {
    expect((await offer('nope')).status).toBe('NOT_FOUND')
    const bad = await offer('../legal')
    expect(bad.status).toBe('ERROR')
    expect(bad.bytes.length).toBe(0)
  })
})
