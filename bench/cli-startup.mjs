#!/usr/bin/env node
/**
 * Benchmark (issue 21): wall time of short `plora` invocations, each a fresh process as a user or a
 * Makefile runs it, against the floor of starting Node itself (`node -e 0`) in the same run.
 *
 *   node bench/cli-startup.mjs [--runs N]     (after `pnpm run build`; make bench-cli)
 *
 * Runs are interleaved (one of each command per round) so load changes hit every row alike; the
 * table prints the median and best wall time and the median less the Node floor (what plora adds).
 * Subcommand help (`plora train --help`) is printed for information: it loads the library whose
 * defaults it shows (see flags.ts, setLibraryDefaults), so it costs a library import.
 */
import { spawnSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = fileURLToPath(new URL('../packages/cli/bin/plora.js', import.meta.url))
const runsFlag = process.argv.indexOf('--runs')
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 15
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`cli-startup: --runs must be a positive integer, found ${process.argv[runsFlag + 1]}\n`)
  process.exit(2)
}

const rows = [
  { name: 'node -e 0 (floor)', args: ['-e', '0'], goal: false },
  { name: 'plora --version', args: [bin, '--version'], goal: false },
  { name: 'plora --help', args: [bin, '--help'], goal: true },
  { name: 'plora config get train.lr', args: [bin, 'config', 'get', 'train.lr'], goal: true },
  { name: 'plora config show', args: [bin, 'config', 'show'], goal: false },
  { name: 'plora train --help (info)', args: [bin, 'train', '--help'], goal: false },
]

const env = { ...process.env }
for (const k of Object.keys(env)) if (k.startsWith('PLORA_')) delete env[k]

const times = rows.map(() => [])
for (let r = 0; r < runs; r++) {
  rows.forEach((row, i) => {
    const t0 = process.hrtime.bigint()
    const p = spawnSync(process.execPath, row.args, { cwd: root, env, encoding: 'utf8' })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (p.status !== 0) {
      process.stderr.write(`cli-startup: "${row.name}" exited ${p.status}: ${p.stderr.split('\n')[0]}\n`)
      process.exit(1)
    }
    times[i].push(ms)
  })
  process.stderr.write(`\rround ${r + 1}/${runs}`)
}
process.stderr.write('\n')

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const floor = median(times[0])
console.log(`node ${process.version}, ${runs} interleaved runs, load ${loadavg()[0].toFixed(2)} (1 min)`)
console.log('| command | median ms | best ms | median − node floor ms | goal |')
console.log('|---|---:|---:|---:|---|')
rows.forEach((row, i) => {
  const m = median(times[i])
  const goal = row.goal ? (m < 500 ? `< 500 ms: met` : `< 500 ms: NOT met`) : ''
  console.log(
    `| ${row.name} | ${m.toFixed(0)} | ${Math.min(...times[i]).toFixed(0)} | ${i === 0 ? '' : (m - floor).toFixed(0)} | ${goal} |`,
  )
})
