// Benchmark child: one timed operation against a running server, printed as JSON.
//   mode "fetch": fetchPlasmid (stream, verify everything, extract, install);
//   mode "raw":   the bare plora.v2 stream drained without hashing or writing (transport ceiling).
import { rm } from 'node:fs/promises'
import { createClientCredentials, FLOW_CONTROL_WINDOW, fetchPlasmid, loadPloraServices } from '../dist/index.js'

const { mode, options } = JSON.parse(process.argv[2])
const t0 = performance.now()
const c0 = process.cpuUsage()
let bytes = 0
if (mode === 'fetch') {
  const r = await fetchPlasmid(options)
  bytes = r.size
  if (options.publicKeyPem && !r.signatureVerified) throw new Error('signature not verified')
} else {
  const { PlasmidStream } = loadPloraServices()
  const client = new PlasmidStream(`${options.host}:${options.port}`, createClientCredentials(options.tls), {
    'grpc.max_receive_message_length': 64 << 20,
    ...(process.env.RAW_DEFAULT_WINDOW ? {} : { 'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW }),
  })
  for await (const chunk of client.FetchPlasmid({ domain: options.domain, offset: 0 }))
    if (chunk.data) bytes += chunk.data.length
  client.close()
}
const ms = performance.now() - t0
const c1 = process.cpuUsage(c0)
const cpuMs = (c1.user + c1.system) / 1000
if (mode === 'fetch') await rm(options.dest, { recursive: true, force: true })
process.stdout.write(`${JSON.stringify({ ms, cpuMs, bytes, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`)
