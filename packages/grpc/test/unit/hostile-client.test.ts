/**
 * The offer server against a hostile client (issue 15 point 12, the server's side): a requested
 * domain or plasmid id of 100 KB full of terminal escapes is refused, and the server's log lines
 * carry it capped and escaped, so a client cannot flood or drive the operator's terminal.
 */
import * as grpc from '@grpc/grpc-js'
import { createLogger } from '@plora/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPloraServices, type OfferServer, startOfferServer } from '../../src/index.js'
import { cleanup, makeAdapter, tempDir } from '../helpers.js'

describe('offer server against a hostile client', () => {
  let root: string
  let server: OfferServer
  const lines: string[] = []
  beforeAll(async () => {
    root = await tempDir()
    await makeAdapter(root, 'legal')
    server = await startOfferServer(
      { root, port: 0, host: '127.0.0.1' },
      { logger: createLogger({ level: 'info', name: 'offer', write: (l) => lines.push(l) }) },
    )
  })
  afterAll(async () => {
    await server.close()
    await cleanup(root)
  })

  it('logs an escape-laden 100 KB domain and plasmid id capped and escaped', async () => {
    const evil = `\x1b[2J\x1b]0;pwned\x07\r${'\x1b[31mX'.repeat(20_000)}`
    const { Plasmid, PlasmidStream } = loadPloraServices()
    const target = `127.0.0.1:${server.port}`
    const unary = new Plasmid(target, grpc.credentials.createInsecure())
    const stream = new PlasmidStream(target, grpc.credentials.createInsecure())
    try {
      const reply = await new Promise<{ status: string }>((res, rej) =>
        unary.OfferPlasmid({ domain: evil }, (e: Error | null, r: { status: string }) => (e ? rej(e) : res(r))),
      )
      expect(reply.status).not.toBe('OK')
      for (const req of [{ domain: evil }, { plasmid_id: evil }]) {
        const call = stream.FetchPlasmid({ ...req, offset: 0 }) as grpc.ClientReadableStream<unknown>
        await new Promise<void>((res) => {
          call.on('error', () => res())
          call.on('end', () => res())
          call.on('data', () => {})
        })
      }
    } finally {
      unary.close()
      stream.close()
    }
    const logged = lines.filter((l) => /OfferPlasmid|FetchPlasmid/.test(l))
    expect(logged).toHaveLength(3)
    for (const l of logged) {
      expect(l.length).toBeLessThan(4096)
      for (const c of ['\r', '\n', '\x07', '\x1b']) expect(l.slice(0, -1)).not.toContain(c)
      expect(l).toContain('\\e[2J')
    }
  })
})
