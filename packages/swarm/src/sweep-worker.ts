/**
 * Worker thread of `runSweep`: runs grid points it is sent and posts back their JSONL lines.
 * Each worker keeps its own verdict cache; its adapter folder is made (and removed) by the parent.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Verdict } from './simulate.js'
import { runSweepPoint, type SweepPoint } from './sweep.js'

const port = parentPort
if (port) {
  const workDir = (workerData as { workDir: string }).workDir
  const cache = new Map<string, Verdict>()
  port.on('message', async (m: { index: number; point: SweepPoint }) => {
    try {
      const line = JSON.stringify(await runSweepPoint(m.point, workDir, cache))
      port.postMessage({ index: m.index, line })
    } catch (e) {
      port.postMessage({ index: m.index, error: (e as Error).message })
    }
  })
}
