// Benchmark child: an offer server from the built package. argv[2] = JSON init for startOfferServer.
// Prints {"port": N} when listening; on SIGUSR2 prints {"cpuMs": …} (user+system so far); on
// SIGTERM prints {"maxRssMiB": …, "cpuMs": …} and exits.
import { startOfferServer } from '../dist/index.js'

const init = JSON.parse(process.argv[2])
const server = await startOfferServer(init)
const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`)
process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ cpuMs: cpuMs() })}\n`))
process.on('SIGTERM', async () => {
  await server.close(1000)
  process.stdout.write(`${JSON.stringify({ maxRssMiB: process.resourceUsage().maxRSS / 1024, cpuMs: cpuMs() })}\n`)
  process.exit(0)
})
