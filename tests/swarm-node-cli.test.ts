// `plora swarm sim --mode full`: real `plora node` processes (the built bin) on 127.0.0.1 over gRPC,
// compared with the in-process simulator on the same graph, seed and artefacts (issue 23 items 1–2).
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeRoundRecord } from '../packages/swarm/src/index.js'
import { runCli } from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-swarm-node-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

type Report = {
  meta: Record<string, unknown>
  rounds: Array<{ coverage: Record<string, number>; accepted: unknown[] }>
  // biome-ignore lint/suspicious/noExplicitAny: a parsed report, read field by field below
  final: Record<string, any>
}
const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Report
const recordsOf = (run: string, i: number): NodeRoundRecord[] =>
  readFileSync(join(run, 'nodes', `node_${i}`, 'rounds.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as NodeRoundRecord)

/** `plora swarm sim --mode full` with the topology, agents and rounds given, into `out`. */
const simFull = (out: string, topology: string, agents: string, rounds: string, ...extra: string[]) =>
  runCli(
    'swarm',
    'sim',
    '--topology',
    topology,
    '--agents',
    agents,
    '--mode',
    'full',
    '--max-rounds',
    rounds,
    ...extra,
    '--results-dir',
    out,
  )

// Up to 12 node processes each: generous limits for a loaded 2-core CI machine.
describe('plora swarm sim', { timeout: 180_000 }, () => {
  it('--mode full: 5 node processes on a line diffuse exactly as the simulator, round by round', async () => {
    const out = join(dir, 'line')
    const r = await simFull(out, 'line', '5', '6')
    expect(r.code, r.err).toBe(0)
    expect(r.out).toContain('identical to the simulator')
    const full = read(join(out, 'swarm_graph_report_line_42.json'))
    expect(full.meta).toMatchObject({ mode: 'full', topology: 'line', N: 5, protocol: 'edge' })
    // A line of 5 with domains 0,1,2,0,1: the far ends need 3 rounds.
    expect(full.final.coverage).toEqual({ arithmetic: 1, legal: 1, medical: 1 })
    expect(full.final.comparison.identical).toBe(true)
    expect(full.final.comparison.max_abs_coverage_diff).toBe(0)
    expect(full.final.rounds_to_diffuse).toEqual(full.final.comparison.rounds_to_diffuse.simulated)
    expect(full.final.installed_audit).toMatchObject({ unverified_installed: 0, trojans_installed: 0 })
    expect(full.final.installed_audit.installed).toBe(10) // 5 agents × 2 domains each fetched

    // --mode sim writes the same file name from the in-process engine: same coverage per round.
    const simDir = join(dir, 'line-sim')
    const s = await runCli(
      'swarm',
      'sim',
      '--topology',
      'line',
      '--agents',
      '5',
      '--max-rounds',
      '6',
      '--results-dir',
      simDir,
    )
    expect(s.code, s.err).toBe(0)
    const sim = read(join(simDir, 'swarm_graph_report_line_42.json'))
    expect(sim.meta.mode).toBe('sim')
    expect(readdirSync(simDir)).toEqual(['swarm_graph_report_line_42.json'])
    expect(sim.rounds.map((x) => x.coverage)).toEqual(full.rounds.map((x) => x.coverage))
    expect(sim.final.gate.accepted_clean_total).toBe(full.final.gate.accepted_clean_total)
  })

  it('--mode full: the phone-call protocols make the simulator’s exact calls; a cut is seen as a difference', async () => {
    const out = join(dir, 'push-pull')
    const r = await simFull(out, 'ws', '9', '6', '--protocol', 'push-pull', '--seed', '5', '--trojan-rate', '0.2')
    expect(r.code, r.err).toBe(0)
    const full = read(join(out, 'swarm_graph_report_watts_strogatz_5.json'))
    expect(full.meta.protocol).toBe('push-pull')
    expect(full.final.comparison.identical).toBe(true)
    expect(full.final.gate.rejected_trojan_total).toBeGreaterThan(0)
    // Each node called one neighbour a round, and recorded whom.
    const run = join(out, 'swarm_full_run')
    for (let i = 0; i < 9; i++) for (const x of recordsOf(run, i)) expect(x.contact).toBeGreaterThanOrEqual(0)

    // Cutting 1–2 on a line from the start delays the far side: the comparison says where it departs.
    const cut = join(dir, 'line-cut')
    const c = await simFull(cut, 'line', '5', '8', '--partition', '1:2:0:2')
    expect(c.code, c.err).toBe(0)
    const rc = read(join(cut, 'swarm_graph_report_line_42.json'))
    expect(rc.final.comparison).toMatchObject({ identical: false, first_different_round: 0 })
    expect(rc.final.comparison.max_abs_coverage_diff).toBeGreaterThan(0)
    // In round 0 each side of the cut found the other unreachable. (The cut disconnects the line, so
    // each side then runs its rounds at its own pace: how far diffusion gets is not fixed.)
    const cutRun = join(cut, 'swarm_full_run')
    for (const [a, b] of [
      [1, 2],
      [2, 1],
    ] as const) {
      const r0 = recordsOf(cutRun, a)[0]!
      expect(r0.peers).not.toContain(b)
      expect(r0.unreachable.length).toBe(1)
    }
  })

  it('--mode full: 12 nodes over mTLS with trojans, a node killed and restarted, a partitioned pair', async () => {
    const out = join(dir, 'faults')
    const run = join(out, 'run')
    const r = await simFull(
      out,
      'er',
      '12',
      '8',
      '--graph-p',
      '0.35',
      '--seed',
      '7',
      '--trojan-rate',
      '0.3',
      '--tls',
      '--kill',
      '3:1:1500',
      '--partition',
      '0:1:1:4',
      '--run-dir',
      run,
    )
    expect(r.code, r.err).toBe(0)
    const full = read(join(out, 'swarm_graph_report_erdos_renyi_7.json'))
    expect(full.meta.engine).toContain('(mTLS)')
    const trojans = full.meta.trojans as number[]
    expect(trojans.length).toBeGreaterThan(0)
    // The gate: every trojan offer rejected, no clean one; nothing unverified or trojan installed.
    const g = full.final.gate
    expect(g.rejected_trojan_total).toBeGreaterThan(0)
    expect(g.false_negatives).toBe(0)
    expect(g.false_positives).toBe(0)
    expect(g.rejection_reasons).toHaveProperty('tensor_norm_outlier')
    expect(full.final.installed_audit).toMatchObject({ unverified_installed: 0, trojans_installed: 0 })
    expect(full.final.installed_audit.installed).toBeGreaterThan(0)
    // Diffusion still completes as far as the simulator's does.
    const simulated = full.final.comparison.coverage_per_round.at(-1).simulated
    expect(full.final.coverage).toEqual(simulated)
    // The killed node came back (restart counted) and recorded rounds after its restart.
    const n3 = full.final.nodes[3]
    expect(n3.restarts).toBe(1)
    const r3 = recordsOf(run, 3)
    expect(r3[0]!.t).toBe(0)
    expect(r3.at(-1)!.t).toBe(7)
    // Its peers saw it go away.
    const sawDown = [...Array(12).keys()]
      .filter((i) => i !== 3)
      .some((i) => recordsOf(run, i).some((x) => x.unreachable.length > 0))
    expect(sawDown).toBe(true)
    // The partitioned pair: while cut, neither reached the other and nothing passed between them.
    for (const [a, b] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const recs = recordsOf(run, a)
      // They are neighbours (they talk outside the cut) …
      expect(recs.filter((x) => x.t === 0 || x.t >= 5).some((x) => x.peers.includes(b))).toBe(true)
      // … and were cut off inside it (named among the unreachable).
      const cut = recs.filter((x) => x.t >= 2 && x.t < 3)
      expect(cut.length).toBe(1)
      expect(cut[0]!.unreachable.length).toBeGreaterThan(0)
      for (const x of cut) {
        expect(x.peers, `node ${a} round ${x.t}`).not.toContain(b)
        expect(x.offers.some((o) => o.from === b)).toBe(false)
      }
    }
    // The records alone, as collected from a deployment, assemble into the same rounds and gate counts.
    const { loadManifest } = await import('../packages/manifest/src/index.js')
    const { writeFileSync } = await import('node:fs')
    const poisoned = await Promise.all(
      readdirSync(join(run, 'artefacts'))
        .filter((d) => d.endsWith('-trojan'))
        .map(async (d) => (await loadManifest(join(run, 'artefacts', d))).artifacts.sha256),
    )
    writeFileSync(join(out, 'poisoned.json'), JSON.stringify(poisoned))
    const files = [...Array(12).keys()].reverse().map((i) => join(run, 'nodes', `node_${i}`, 'rounds.jsonl'))
    const asm = await runCli(
      'swarm',
      'assemble',
      ...files,
      '--poisoned',
      join(out, 'poisoned.json'),
      '--out',
      join(out, 'assembled.json'),
    )
    expect(asm.code, asm.err).toBe(0)
    const assembled = read(join(out, 'assembled.json'))
    expect(assembled.meta).toMatchObject({ mode: 'assembled', N: 12, topology: 'deployment' })
    expect(assembled.rounds.map((x) => x.coverage)).toEqual(full.rounds.map((x) => x.coverage))
    expect(assembled.rounds.map((x) => x.accepted)).toEqual(full.rounds.map((x) => x.accepted))
    for (const k of ['rejected_trojan_total', 'accepted_clean_total', 'false_negatives', 'false_positives'])
      expect(assembled.final.gate[k], k).toBe(full.final.gate[k])
    const missing = await runCli('swarm', 'assemble', ...files.slice(0, -1), '--out', join(out, 'x.json'))
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('agent 0 has no records')

    // The fault-free simulator of the same swarm is on disk beside the nodes.
    const sim = read(join(run, 'simulator', 'swarm_v2_report_seed7.json'))
    expect(sim.final.gate.false_negatives).toBe(0)
  })

  it('--tls-cert: a node pair of plora certs works; a server-only certificate is refused as a client', async () => {
    const certs = join(dir, 'certs')
    expect((await runCli('certs', '--out', certs, '--host', '127.0.0.1')).code).toBe(0)
    const ok = join(dir, 'tls-node')
    const a = await simFull(
      ok,
      'mesh',
      '4',
      '3',
      '--tls_cert',
      join(certs, 'node.pem'),
      '--tls_key',
      join(certs, 'node.key'),
      '--tls-ca',
      join(certs, 'ca.pem'),
    )
    expect(a.code, a.err).toBe(0)
    const ra = read(join(ok, 'swarm_graph_report_complete_42.json'))
    expect(ra.meta.engine).toContain('(mTLS)')
    expect(ra.final.comparison.identical).toBe(true)
    // server.pem has serverAuth only: as a client certificate the peers' mTLS refuses it.
    const bad = join(dir, 'tls-server-only')
    const b = await simFull(
      bad,
      'mesh',
      '3',
      '2',
      '--tls-cert',
      join(certs, 'server.pem'),
      '--tls-key',
      join(certs, 'server.key'),
      '--tls-ca',
      join(certs, 'ca.pem'),
    )
    expect(b.code, b.err).toBe(0)
    const rb = read(join(bad, 'swarm_graph_report_complete_42.json'))
    expect(rb.final.installed_audit.installed).toBe(0)
    expect(rb.final.nodes.every((x: { unreachable: number }) => x.unreachable === 4)).toBe(true)
    expect(rb.final.comparison.identical).toBe(false)
    const partial = await runCli(
      'swarm',
      'sim',
      '--topology',
      'mesh',
      '--mode',
      'full',
      '--tls-cert',
      join(certs, 'node.pem'),
      '--results-dir',
      bad,
    )
    expect(partial.code).toBe(2)
  })

  it('refuses bad faults and a node without peers or id', async () => {
    const bad = await runCli(
      'swarm',
      'sim',
      '--topology',
      'line',
      '--mode',
      'full',
      '--kill',
      '1:x:5',
      '--results-dir',
      join(dir, 'bad'),
    )
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--kill 1:x:5')
    const far = await runCli(
      'swarm',
      'sim',
      '--topology',
      'line',
      '--agents',
      '3',
      '--mode',
      'full',
      '--kill',
      '7:0:10',
      '--results-dir',
      join(dir, 'bad2'),
    )
    expect(far.code).toBe(1)
    expect(far.err).toContain('kill')
    const noPeers = await runCli('node', '--root', join(dir, 'r'), '--id', '0')
    expect(noPeers.code).toBe(2)
    expect(noPeers.err).toContain('exactly one of --peers')
    const host = process.env.HOSTNAME
    process.env.HOSTNAME = 'laptop'
    try {
      const noId = await runCli('node', '--root', join(dir, 'r'), '--peers', '127.0.0.1:1')
      expect(noId.code).toBe(2)
      expect(noId.err).toContain('--id is required')
    } finally {
      if (host === undefined) delete process.env.HOSTNAME
      else process.env.HOSTNAME = host
    }
  })
})
