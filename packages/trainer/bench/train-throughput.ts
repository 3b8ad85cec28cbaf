/**
 * Benchmark: training throughput and peak memory of `trainAdapter` on the default base model with
 * the dry config's training settings (32 samples, r = 1, attention, lr 2e-4, max_len 128, batch 1,
 * one epoch) — what `make train-all` runs per domain. Prints tokens/s (forward + backward over
 * real tokens), peak RSS and the machine's load. Run: `pnpm --filter @plora/trainer bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import { trainAdapter } from '../src/index.js'
import { benchSetup, machineLine, peakRssMiB } from './common.js'

const { backend, modelDir, machine } = await benchSetup()
const out = mkdtempSync(join(tmpdir(), 'plora-bench-train-'))
let peakTfMiB = 0
try {
  for (const domain of ['arithmetic', 'legal', 'medical']) {
    const t0 = performance.now()
    const r = await trainAdapter({
      domain,
      output: join(out, domain),
      modelDir,
      samples: 32,
      rank: 1,
      scheme: 'attention',
      lr: 2e-4,
      maxLen: 128,
      onProgress: () => {
        peakTfMiB = Math.max(peakTfMiB, tf.memory().numBytes / 2 ** 20)
      },
    })
    const wall = (performance.now() - t0) / 1000
    const m = r.manifest.metrics
    process.stdout.write(
      `train ${domain}: ${r.training.tokens} tokens in ${r.training.seconds.toFixed(1)} s = ${r.training.tokensPerSecond.toFixed(0)} tokens/s ` +
        `(backend ${backend}); whole call ${wall.toFixed(1)} s; val_ppl ${m.val_ppl_before.toFixed(3)} -> ${m.val_ppl_after.toFixed(3)}\n`,
    )
  }
  process.stdout.write(`peak RSS ${peakRssMiB().toFixed(0)} MiB, peak tfjs tensor memory ${peakTfMiB.toFixed(1)} MiB\n`)
  process.stdout.write(`machine at start: ${machine}; at end: ${machineLine()}\n`)
} finally {
  rmSync(out, { recursive: true, force: true })
}
