#!/usr/bin/env node
/**
 * Benchmark (issue 6): fetch of a large adapter on loopback, insecure and TLS, streaming.
 *
 * Server and client run in separate processes (as in real use). Per row:
 * - wall MiB/s of the whole `fetchPlasmid` (stream + payload SHA-256 + signature + safe extraction
 *   + manifest/artefact check + atomic install), median and best of RUNS;
 * - CPU-bound MiB/s = bytes / max(client CPU time, server CPU time) for the same transfer: the rate
 *   when each process has a core to itself (client_cpu and server_cpu: bytes / that process's CPU time). On a shared, loaded machine the wall figure mostly
 *   measures the other load; both are printed, neither is adjusted.
 * - peak RSS of the client (per row) and of the server (over all rows of its size/transport).
 * `raw` rows drain the same stream without checks or writes (the transport ceiling).
 * Memory flatness: rows are repeated for each payload size; peak RSS should not follow the size.
 * load_1min: the 1-minute load average when the row finished (2 cores here; above ~2 the wall
 * figures measure the other load more than this code).
 *
 * Measured (node 20, 2-core AMD EPYC VM shared with other jobs, 256 MiB adapter, 1 MiB chunks):
 * - Before (commit 0bc2615), quiet machine: raw 248 insecure / 184 TLS MiB/s wall; full fetch
 *   137 / 114. Under load 5-6, A/B interleaved with the change below: server CPU-bound rate of the
 *   raw stream 197-247 insecure / 177-230 TLS MiB/s; full fetch 189-218 / 174-215.
 * - After encoding data chunks in place and recycling chunk buffers on the server (no protobufjs
 *   copy, no fresh 1 MiB allocation per chunk), same interleaved runs at load 5-6: server
 *   356-487 insecure / 243-283 TLS raw, 272-323 / 236-345 full fetch; one full run of this script
 *   at load 3.2-4.4: raw 208 / 163 MiB/s wall (cpu-bound 456 / 353), full fetch 101 / 69 wall
 *   (cpu-bound 177 / 134, now set by the client). Peak RSS about 110-160 MiB client and 125-135
 *   MiB server for both 64 and 256 MiB payloads. The server's per-chunk work alone (read + encode
 *   + grpc-js framing, in one process, gc() between rounds, 6 rounds each): median 311 -> 600 MiB
 *   per CPU-second. Wall and server-CPU figures of the two-process runs are bimodal on this shared
 *   machine (the same build gave 197 and 696 MiB/s of server CPU minutes apart), so compare
 *   interleaved runs only.
 * - Where the client's time goes in a full fetch (cpu profile): two SHA-256 passes (payload and
 *   artefact, required) ~1.6 ms/MiB, grpc-js message reassembly (Buffer.concat) and GC of its
 *   1 MiB buffers, the file writes. Tried and dropped: 256 KiB and 4 MiB chunks (no gain over
 *   1 MiB), a larger V8 young generation (no gain), a second write in flight during extraction
 *   (no gain), and hashing on a worker thread fed through a shared ring (more CPU and lower wall
 *   on 2 cores: 304-331 vs 441-472 MiB/s of CPU for extract+hash alone).
 * - Quiet machine (load 0.6-1.3, nothing else running; 2026-11-23), 256 MiB, median of 3 (best):
 *   raw stream 382 (419) insecure / 264 (300) TLS MiB/s wall; full verified fetch 175 (177) /
 *   145 (157). Peak RSS: client 108 raw / 155 fetch, server 130-133 MiB (64 MiB payloads: 107 /
 *   145 and 125-128: memory does not follow the payload size). The streaming transport meets the
 *   issue's targets (>= 350 / >= 200; plain grpc-js streaming measured about 390 / 250); the full
 *   verified fetch is bounded by the client's CPU at ~6 ms per MiB (165 MiB per CPU-second; two
 *   SHA-256 passes at ~1.4 GB/s with SHA-NI are ~1.5 ms of it, the rest is tar parsing, file
 *   writes and grpc-js buffer reassembly), so it reaches about half the transport rate.
 * - Under load 3-6 (shared machine) the same rows measure the other load more than this code.
 *
 * Usage: pnpm --filter @plora/grpc bench   (builds first)    env: SIZES_MIB=64,256 RUNS=3 CHUNK_KIB=1024,
 * TMPDIR=/dev/shm (files on tmpfs: no disk in the figures), CLIENT_NODE_FLAGS (node flags of the client)
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { dumpManifestYaml } from '@plora/manifest'
import { generateKeyPair } from '@plora/signer'
import { createDevCertificates } from '../dist/index.js'

const HERE = new URL('.', import.meta.url).pathname
const SIZES = (process.env.SIZES_MIB ?? '64,256').split(',').map(Number)
const RUNS = Number(process.env.RUNS ?? 3)
const MIB = 1024 * 1024

/** Writes `mib` MiB of seeded pseudo-random bytes (AES-256-CTR keystream, fixed key); returns their SHA-256. */
async function writeArtefact(path, mib) {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 0))
  const h = createHash('sha256')
  const out = createWriteStream(path)
  const zero = Buffer.alloc(MIB)
  for (let i = 0; i < mib; i++) {
    const block = cipher.update(zero)
    h.update(block)
    if (!out.write(block)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return h.digest('hex')
}

function child(script, arg) {
  // CLIENT_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the fetching process.
  const flags = script === 'client.mjs' ? (process.env.CLIENT_NODE_FLAGS ?? '').split(' ').filter(Boolean) : []
  const p = spawn(process.execPath, ['--no-deprecation', ...flags, join(HERE, script), JSON.stringify(arg)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: p.stdout })
  const queue = []
  const waiters = []
  p.setMaxListeners(100)
  lines.on('line', (l) => (waiters.length ? waiters.shift()(JSON.parse(l)) : queue.push(JSON.parse(l))))
  const next = () =>
    queue.length
      ? Promise.resolve(queue.shift())
      : new Promise((res, rej) => {
          waiters.push(res)
          p.once('exit', (c) => c !== 0 && rej(new Error(`${script} exited ${c}`)))
        })
  return { p, next }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const f = (x, w) => (typeof x === 'number' ? x.toFixed(0) : x).padStart(w)

const work = await mkdtemp(join(tmpdir(), 'plora-grpc-bench-'))
try {
  const keys = generateKeyPair({ type: 'ed25519' })
  const certs = await createDevCertificates()
  console.log(
    `node ${process.version}, ${RUNS} runs per row, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  )
  console.log(
    'size_MiB  transport  mode   wall_MiB/s(median)  wall_MiB/s(best)  cpu_bound_MiB/s  client_cpu  server_cpu  client_peak_RSS_MiB  server_peak_RSS_MiB  load_1min',
  )
  for (const mib of SIZES) {
    const root = join(work, `root-${mib}`)
    const dir = join(root, 'big')
    await mkdir(dir, { recursive: true })
    const sha256 = await writeArtefact(join(dir, 'adapter_model.safetensors'), mib)
    await writeFile(
      join(dir, 'plora.yml'),
      dumpManifestYaml({
        schema_version: 0,
        plasmid_id: `big-${mib}`,
        domain: 'big',
        base_model: 'bench',
        peft_format: 'lora',
        lora: { r: 4, alpha: 8, dropout: 0, target_modules: [] },
        artifacts: { filename: 'adapter_model.safetensors', sha256, size_bytes: mib * MIB },
        train_meta: { seed: 0, epochs: 1, dataset_id: 'bench', sample_count: 1, timestamp_unix: 0 },
        metrics: { val_ppl_before: 0, val_ppl_after: 0, delta_ppl: 0 },
        safety: { licence: 'bench', poisoning_score: 0 },
        signer: { algo: 'none', pubkey_fingerprint: '', signature_b64: '' },
        compatibility: { peft_min: '0.12.0', transformers: '>=4.42' },
      }),
    )
    for (const transport of ['insecure', 'tls']) {
      const tls = transport === 'tls'
      const server = child('server.mjs', {
        root,
        port: 0,
        privateKeyPem: keys.privateKeyPem,
        ...(process.env.CHUNK_KIB ? { chunkSize: Number(process.env.CHUNK_KIB) * 1024 } : {}),
        ...(tls ? { tls: { certPem: certs.serverCertPem, keyPem: certs.serverKeyPem } } : {}),
      })
      const { port } = await server.next()
      const base = { host: '127.0.0.1', port, tls: tls ? { rootCertPem: certs.caCertPem } : false, domain: 'big' }
      // Warm-up: the server computes the payload digest and signature once per adapter version.
      await child('client.mjs', { mode: 'raw', options: base }).next()
      const rows = []
      for (const mode of ['raw', 'fetch']) {
        const wall = []
        const cpu = []
        let clientRss = 0
        for (let i = 0; i < RUNS; i++) {
          const options =
            mode === 'fetch'
              ? { ...base, dest: join(work, `dest-${i}`), publicKeyPem: keys.publicKeyPem, maxPayloadBytes: 8192 * MIB }
              : base
          server.p.kill('SIGUSR2')
          const s0 = (await server.next()).cpuMs
          const r = await child('client.mjs', { mode, options }).next()
          server.p.kill('SIGUSR2')
          const s1 = (await server.next()).cpuMs
          wall.push(r.bytes / MIB / (r.ms / 1000))
          cpu.push([r.bytes / MIB / (r.cpuMs / 1000), r.bytes / MIB / ((s1 - s0) / 1000)])
          clientRss = Math.max(clientRss, r.maxRssMiB)
        }
        const cc = median(cpu.map((c) => c[0]))
        const sc = median(cpu.map((c) => c[1]))
        rows.push([mode, median(wall), Math.max(...wall), Math.min(cc, sc), cc, sc, clientRss, loadavg()[0]])
      }
      server.p.kill('SIGTERM')
      const { maxRssMiB } = await server.next()
      for (const [mode, mw, bw, mc, cc, sc, crss, load] of rows) {
        console.log(
          `${f(mib, 8)}  ${transport.padEnd(9)}  ${mode.padEnd(5)}  ${f(mw, 18)}  ${f(bw, 16)}  ${f(mc, 15)}  ${f(cc, 10)}  ${f(sc, 10)}  ${f(crss, 19)}  ${f(maxRssMiB, 19)}  ${load.toFixed(2).padStart(9)}`,
        )
      }
    }
    await rm(root, { recursive: true, force: true })
  }
} finally {
  await rm(work, { recursive: true, force: true })
}
