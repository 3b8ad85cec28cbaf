// `runSwarmNode` in process: real gRPC on 127.0.0.1, real synthetic LoRA folders, the real gate.
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ATTENTION_SUFFIXES, loadGateContext, type Policy, parsePolicy } from '@plora/gate'
import { loadPloraServices, requestSnapshot, startOfferServer } from '@plora/grpc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NodeRoundRecord, prepareAdapters, runSwarmNode, type SwarmNodeHandle } from '../../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarm-node-test-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const DOMAINS = ['a', 'b', 'c']
const policy: Policy = parsePolicy({
  base_model: 'plora/synthetic-base',
  allowed_ranks: [4],
  allowed_targets: [...ATTENTION_SUFFIXES],
  require_weight_reference: false,
})

/** Synthetic artefacts: agent i holds domain `own[i]` (a trojan copy where `trojan[i]`). */
async function artefacts(name: string, own: number[], trojan: number[] = []) {
  const t = new Uint8Array(own.length)
  for (const i of trojan) t[i] = 1
  const p = await prepareAdapters({
    source: 'synthetic',
    rootDir: join(dir, name, 'artefacts'),
    domains: DOMAINS,
    ownDomain: Int32Array.from(own),
    trojan: t,
    adaptersDir: null,
    rank: 4,
    baseModel: 'plora/synthetic-base',
    variants: 1,
    seed: 3,
  })
  const roots: string[] = []
  for (let i = 0; i < own.length; i++) {
    const root = join(dir, name, `node_${i}`)
    await cp(p.dirs[p.ownArtefact[i]!]!, join(root, DOMAINS[own[i]!]!), { recursive: true })
    roots.push(root)
  }
  return roots
}

async function records(root: string): Promise<NodeRoundRecord[]> {
  const text = await readFile(join(root, '.plora-node', 'rounds.jsonl'), 'utf8')
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as NodeRoundRecord)
}

/** Starts nodes on free ports with peers from `edges`, waits for their last round, stops them. */
async function swarm(
  roots: string[],
  edges: Array<[number, number]>,
  rounds: number,
  extra: Partial<Parameters<typeof runSwarmNode>[0]> = {},
): Promise<NodeRoundRecord[][]> {
  const gateContext = await loadGateContext(policy)
  const peerFiles = roots.map((r) => join(r, '..', `${roots.indexOf(r)}.peers.json`))
  for (const f of peerFiles) await rm(f, { force: true })
  const nodes: SwarmNodeHandle[] = []
  for (let i = 0; i < roots.length; i++)
    nodes.push(
      await runSwarmNode({
        id: i,
        root: roots[i]!,
        host: '127.0.0.1',
        port: 0,
        peers: { kind: 'file', path: peerFiles[i]! },
        rounds,
        policy,
        gateContext,
        peerTimeoutMs: 20_000,
        ...extra,
      }),
    )
  const { writeJsonAtomic } = await import('@plora/common')
  for (let i = 0; i < roots.length; i++) {
    const peers = edges.flatMap(([x, y]) => (x === i ? [y] : y === i ? [x] : [])).map((j) => nodes[j]!.address)
    await writeJsonAtomic(peerFiles[i]!, peers)
  }
  await Promise.all(nodes.map((n) => n.finished))
  await Promise.all(nodes.map((n) => n.stop()))
  return Promise.all(roots.map(records))
}

const acquired = (r: NodeRoundRecord) =>
  r.offers.filter((o) => o.outcome === 'accepted').map((o) => `${o.domain}<${o.from}`)

describe('plora node', () => {
  it('pulls by the edge rule from start-of-round snapshots: a line of three diffuses in two rounds', async () => {
    const roots = await artefacts('line', [0, 1, 2])
    const recs = await swarm(
      roots,
      [
        [0, 1],
        [1, 2],
      ],
      3,
    )
    // Round 0: the middle node takes both ends' domains; each end takes only the middle's own
    // domain, not what the middle acquired during the round (snapshot semantics).
    expect(recs.map((r) => acquired(r[0]!))).toEqual([['b<1'], ['a<0', 'c<2'], ['b<1']])
    expect(recs.map((r) => acquired(r[1]!))).toEqual([['c<1'], [], ['a<1']])
    expect(recs.map((r) => acquired(r[2]!))).toEqual([[], [], []])
    expect(recs[1]![0]!.held_start.map(([d]) => d)).toEqual(['b'])
    for (const [i, root] of roots.entries()) {
      expect((await readdir(root)).filter((x) => !x.startsWith('.')).sort(), `node ${i}`).toEqual(DOMAINS)
      // pool order: own first, then acquisitions in order
      expect(recs[i]!.at(-1)!.held_end.map(([d]) => d)[0]).toBe(DOMAINS[i])
    }
    expect(recs[0]!.at(-1)!.last).toBe(true)
  })

  it('rejects a trojan by the gate, never installs it, and judges a repeated offer from the cache', async () => {
    const roots = await artefacts('trojan', [0, 1, 2], [2])
    const recs = await swarm(
      roots,
      [
        [0, 1],
        [1, 2],
      ],
      3,
    )
    const fromTrojan = recs[1]!.flatMap((r) => r.offers.filter((o) => o.from === 2))
    expect(fromTrojan.map((o) => o.outcome)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(fromTrojan[0]!.reasons).toContain('tensor_norm_outlier')
    expect(fromTrojan[0]!.fetched_bytes).toBeGreaterThan(0)
    expect(fromTrojan.slice(1).map((o) => o.fetched_bytes)).toEqual([0, 0])
    expect(fromTrojan[1]!.artifact_sha256).toBe(fromTrojan[0]!.artifact_sha256)
    expect((await readdir(roots[1]!)).filter((x) => !x.startsWith('.')).sort()).toEqual(['a', 'b'])
    expect((await readdir(roots[0]!)).filter((x) => !x.startsWith('.')).sort()).toEqual(['a', 'b'])
    // The trojan node itself still learns the clean domains.
    expect((await readdir(roots[2]!)).filter((x) => !x.startsWith('.')).sort()).toEqual(DOMAINS)
  })

  it('installs only once `quorum` distinct peers offered the same payload', async () => {
    // Star: node 0 (domain a) between nodes 1 and 2, which hold the same b artefact; node 3 holds c alone.
    const roots = await artefacts('quorum', [0, 1, 1, 2])
    const recs = await swarm(
      roots,
      [
        [0, 1],
        [0, 2],
        [0, 3],
      ],
      2,
      { quorum: 2 },
    )
    expect(recs[0]![0]!.offers.map((o) => `${o.domain}<${o.from}:${o.outcome}`)).toEqual([
      'b<1:pending',
      'b<2:accepted',
      'c<3:pending',
    ])
    expect(recs[0]![1]!.offers.map((o) => `${o.domain}<${o.from}:${o.outcome}`)).toEqual(['c<3:pending'])
    expect((await readdir(roots[0]!)).filter((x) => !x.startsWith('.')).sort()).toEqual(['a', 'b'])
  })

  it('resumes after a restart from its root and state: next round, same pool order', async () => {
    const roots = await artefacts('restart', [0, 1])
    await swarm(roots, [[0, 1]], 2)
    const before = await records(roots[0]!)
    expect(before.map((r) => r.t)).toEqual([0, 1])
    // As if killed while appending a record: the restarted node cuts the partial line.
    const { appendFile } = await import('node:fs/promises')
    await appendFile(join(roots[0]!, '.plora-node', 'rounds.jsonl'), '{"format":"plora-node-ro')
    const again = await swarm(roots, [[0, 1]], 4)
    const after = again[0]!
    expect(after.map((r) => r.t)).toEqual([0, 1, 2, 3])
    expect(after[2]!.held_start).toEqual(before[1]!.held_end)
    expect(after[2]!.offers).toEqual([])
  })

  it('refuses a peer whose payload is not the one it advertised, and a malformed snapshot', async () => {
    const roots = await artefacts('liar', [0, 1])
    const { SwarmNode } = loadPloraServices()
    const store = roots[1]!
    let lie: 'sha' | 'domain' = 'sha'
    const fake = await startOfferServer(
      { root: store, host: '127.0.0.1', port: 0 },
      {
        services: [
          {
            service: SwarmNode.service,
            implementation: {
              Snapshot: (call: { request: { round: number } }, cb: (e: null, r: unknown) => void) =>
                cb(null, {
                  node_id: 1,
                  round: call.request.round,
                  found: true,
                  finished: false,
                  plasmids: [
                    {
                      domain: lie === 'sha' ? 'b' : '../b',
                      plasmid_id: 'synthetic-b-v0',
                      score: 0,
                      payload_sha256: 'ab'.repeat(32),
                      size: 10,
                    },
                  ],
                }),
            } as never,
          },
        ],
      },
    )
    try {
      await expect(
        requestSnapshot({ host: '127.0.0.1', port: fake.port, round: 0, wait: false, fromId: 0, timeoutMs: 5000 }),
      ).resolves.toMatchObject({ node_id: 1, found: true })
      const node = await runSwarmNode({
        id: 0,
        root: roots[0]!,
        host: '127.0.0.1',
        port: 0,
        peers: { kind: 'static', addresses: [fake.address] },
        rounds: 1,
        policy,
        gateContext: await loadGateContext(policy),
      })
      await node.finished
      await node.stop()
      const [r] = await records(roots[0]!)
      expect(r!.offers).toMatchObject([
        { from: 1, domain: 'b', outcome: 'fetch_failed', reasons: ['PAYLOAD_NOT_AS_ADVERTISED'] },
      ])
      expect((await readdir(roots[0]!)).filter((x) => !x.startsWith('.'))).toEqual(['a'])
      expect(await readdir(join(roots[0]!, '.plora-node', 'incoming'))).toEqual([])

      lie = 'domain'
      await expect(
        requestSnapshot({ host: '127.0.0.1', port: fake.port, round: 0, wait: false, fromId: 0, timeoutMs: 5000 }),
      ).rejects.toMatchObject({ code: 'GRPC_PROTOCOL_VIOLATION' })
    } finally {
      await fake.close(100)
    }
  })

  it('finds peers by DNS name and skips itself behind it; refuses a bad address and another node’s state', async () => {
    const roots = await artefacts('dns', [0])
    const first = await runSwarmNode({
      id: 0,
      root: roots[0]!,
      host: '127.0.0.1',
      port: 0,
      peers: { kind: 'static', addresses: [] },
      rounds: 1,
    })
    await first.finished
    const port = Number(first.address.split(':').at(-1))
    await first.stop()
    const node = await runSwarmNode({
      id: 0,
      root: roots[0]!,
      host: '127.0.0.1',
      port,
      peers: { kind: 'dns', name: 'localhost', port },
      rounds: 2,
    })
    await node.finished
    await node.stop()
    const recs = await records(roots[0]!)
    expect(recs.map((r) => [r.t, r.peers])).toEqual([
      [0, []],
      [1, []],
    ])
    await expect(
      runSwarmNode({ id: 0, root: roots[0]!, peers: { kind: 'static', addresses: ['nope'] } }),
    ).rejects.toMatchObject({ code: 'SWARM_OPTION_INVALID' })
    await expect(
      runSwarmNode({ id: 5, root: roots[0]!, host: '127.0.0.1', port: 0, peers: { kind: 'static', addresses: [] } }),
    ).rejects.toThrow(/belongs to node 0/)
  })
})
