/**
 * Benchmark (issue 21: grids use all cores): a grid of the active config (the dry preset by
 * default) run by the built CLI with `--workers 1` and `--workers 2`, each into a fresh folder:
 * - `ablation`: the rank × scheme ablation (dry: arithmetic, legal, medical × r 1, 4 × attention,
 *   mlp; 32 training pairs, 256 evaluation pairs);
 * - `value-add`: the value-add cells (dry: the three domains × r 1 × attention × seed 41; each
 *   cell trains its adapter and placebo B and scores the adapter, both placebos and the other
 *   domains).
 * Prints both wall times, the speed-up, the machine's load average before and after, and checks
 * the two runs wrote the same records (timing fields aside). Arguments after the grid name go to
 * the command (e.g. `--domains legal` for a reduced grid).
 * Run: `pnpm run build && pnpm --filter @plora/experiments bench:grid-workers -- ablation|value-add [flags]`.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const BIN = resolve(import.meta.dirname, '../../cli/bin/plora.js')
const args = process.argv.slice(2).filter((a) => a !== '--')
const GRIDS = {
  ablation: {
    command: ['ablation'],
    out: '--out',
    jsonl: 'ablation.jsonl',
    timing: new Set(['train_seconds', 'inject_remove_ms', 'inject_remove_trials_ms']),
  },
  'value-add': {
    command: ['value-add', 'run', '--ignore-latency-guard', '--placebo-min-effect', '1e9'],
    out: '--output',
    jsonl: 'value_add.jsonl',
    timing: new Set(['latency_ms', 'latency_trials_ms']),
  },
} as const
const gridName = args[0] as keyof typeof GRIDS
const grid = GRIDS[gridName]
if (!grid) {
  process.stderr.write(
    `grid-workers: the first argument must be ablation or value-add, found ${args[0] ?? 'nothing'}\n`,
  )
  process.exit(2)
}
const extra = args.slice(1)

function machine(): string {
  const [l1, l5, l15] = loadavg()
  return `${cpus().length} cores, load average ${l1!.toFixed(2)} ${l5!.toFixed(2)} ${l15!.toFixed(2)}`
}

function untimed(out: string): string {
  return readFileSync(join(out, grid.jsonl), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.stringify(Object.entries(JSON.parse(l) as object).filter(([k]) => !grid.timing.has(k))))
    .join('\n')
}

function run(workers: number, out: string): { seconds: number; cells: number } {
  const t0 = performance.now()
  const argv = [BIN, ...grid.command, grid.out, out, '--workers', String(workers), ...extra]
  const r = spawnSync(process.execPath, argv, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const seconds = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`plora ${gridName} --workers ${workers} exited ${r.status}: ${r.stdout}`)
  const cells = readFileSync(join(out, grid.jsonl), 'utf8').trim().split('\n').length
  return { seconds, cells }
}

const root = mkdtempSync(join(tmpdir(), `plora-bench-${gridName}-workers-`))
try {
  const before = machine()
  const one = run(1, join(root, 'one'))
  const two = run(2, join(root, 'two'))
  const after = machine()
  const same = untimed(join(root, 'one')) === untimed(join(root, 'two'))
  process.stdout.write(
    [
      `${gridName} grid: ${one.cells} cells${extra.length ? ` (plora ${grid.command.join(' ')} ${extra.join(' ')})` : ' (active config)'}`,
      `machine before: ${before}; after: ${after}`,
      `1 worker : ${one.seconds.toFixed(1)} s (${(one.seconds / one.cells).toFixed(1)} s/cell)`,
      `2 workers: ${two.seconds.toFixed(1)} s (${(two.seconds / two.cells).toFixed(1)} s/cell)`,
      `speed-up : ${(one.seconds / two.seconds).toFixed(2)}×`,
      `records identical (timing fields aside): ${same ? 'yes' : 'NO'}`,
      '',
    ].join('\n'),
  )
  if (!same) process.exitCode = 1
} finally {
  rmSync(root, { recursive: true, force: true })
}
