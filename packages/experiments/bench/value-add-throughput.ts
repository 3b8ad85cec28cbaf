/**
 * Benchmark: the value-add runner on the dry config's cells (arithmetic, legal, medical; r = 1,
 * attention, seed 41; 32 training pairs, 256 evaluation pairs; config train.* of the dry preset),
 * on the default base model (the pretrained embedded GPT-2 in `$PLORA_CACHE_DIR`, else
 * `~/.cache/plora`). Prints cells per minute, the time per cell and the peak RSS.
 * Run: `pnpm --filter @plora/experiments bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, homedir, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { initBackend } from '@plora/model'
import { ensurePretrainedBaseModel } from '@plora/trainer'
import { runValueAdd } from '../src/index.js'

function machine(): string {
  const [l1, l5, l15] = loadavg()
  return `${cpus().length} cores, load average ${l1!.toFixed(2)} ${l5!.toFixed(2)} ${l15!.toFixed(2)}`
}

const backend = await initBackend({ backend: (process.env.PLORA_BACKEND as 'auto' | undefined) ?? 'auto' })
const cacheDir = process.env.PLORA_CACHE_DIR ?? join(homedir(), '.cache', 'plora')
const modelDir = await ensurePretrainedBaseModel({ cacheDir })
const start = machine()
const out = mkdtempSync(join(tmpdir(), 'plora-bench-value-add-'))
try {
  const times: string[] = []
  const t0 = performance.now()
  // The dry config's cells are the library defaults (DEFAULT_VALUE_ADD_OPTIONS).
  const r = await runValueAdd({
    modelDir,
    output: out,
    ignoreLatencyGuard: true,
    placeboMinEffect: Number.POSITIVE_INFINITY, // measure, never abort
    onCell: (p) => times.push(`${p.label} ${p.seconds.toFixed(1)} s`),
  })
  const minutes = (performance.now() - t0) / 60_000
  process.stdout.write(
    `value-add dry cells: ${r.newRecords} in ${(minutes * 60).toFixed(1)} s = ${(r.newRecords / minutes).toFixed(2)} cells/min (backend ${backend})\n` +
      `per cell: ${times.join('; ')}\n` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n` +
      `machine at start: ${start}; at end: ${machine()}\n`,
  )
} finally {
  rmSync(out, { recursive: true, force: true })
}
