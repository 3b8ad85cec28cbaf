/**
 * The seeded mutation run of issue 15 ("Done when", second point): mutated manifests,
 * safetensors files, plora configs, adapter configs and env values through the real validators,
 * plus the kill-mid-write check of the atomic writers. Prints counts per outcome and error code,
 * the slowest case of each corpus with its mutation, and writes results/fuzz/summary.json.
 *
 * Usage (also `make fuzz`):
 *   node --conditions=@plora/source --import tsx bench/fuzz/run.ts --seed 1 \
 *     --manifests 10000 --safetensors 10000 --configs 1000 [--adapter-configs N] [--env N] [--kills 150]
 *     [--only safetensors:123,456] [--out results/fuzz/summary.json] [--no-pyyaml]
 * Reproducers of the first problem cases per class go to bench/tmp/fuzz/ (git-ignored).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { adapterConfigCorpus, configCorpus, envCorpus, setupConfigRoot } from './config.js'
import { type Corpus, type CorpusSummary, runCorpus } from './engine.js'
import { manifestCorpus } from './manifest.js'
import { type PartialSummary, runPartial } from './partial.js'
import { startPyYaml } from './pyyaml.js'
import { safetensorsCorpus } from './safetensors.js'

const REPO = resolve(import.meta.dirname, '../..')
const { values: a } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    manifests: { type: 'string', default: '10000' },
    safetensors: { type: 'string', default: '10000' },
    configs: { type: 'string', default: '1000' },
    'adapter-configs': { type: 'string' },
    env: { type: 'string' },
    kills: { type: 'string', default: '150' },
    only: { type: 'string' },
    out: { type: 'string', default: join(REPO, 'results/fuzz/summary.json') },
    scratch: { type: 'string', default: join(REPO, 'bench/tmp/fuzz') },
    'no-pyyaml': { type: 'boolean', default: false },
  },
})

function count(name: string, v: string | undefined): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0 || !/^[0-9]+$/.test(v ?? '')) {
    process.stderr.write(`fuzz: --${name} expects a non-negative integer, found ${JSON.stringify(v)}\n`)
    process.exit(2)
  }
  return n
}

const seed = count('seed', a.seed)
const configs = count('configs', a.configs)
const counts: Record<string, number> = {
  safetensors: count('safetensors', a.safetensors),
  manifest: count('manifests', a.manifests),
  config: configs,
  'adapter-config': count('adapter-configs', a['adapter-configs'] ?? String(configs)),
  env: count('env', a.env ?? String(Math.ceil(configs / 10))),
}
const kills = count('kills', a.kills)
const only = new Map<string, number[]>()
for (const part of a.only ? a.only.split(';') : []) {
  const [corpus, list] = part.split(':')
  only.set(corpus!, (list ?? '').split(',').map(Number))
}

const scratch = resolve(a.scratch)
rmSync(scratch, { recursive: true, force: true })
mkdirSync(join(scratch, 'work'), { recursive: true })
setupConfigRoot(join(scratch, 'work/config-root'))
const py = a['no-pyyaml'] ? null : startPyYaml()
const corpora: Corpus[] = [
  safetensorsCorpus(join(scratch, 'work')),
  manifestCorpus(join(scratch, 'work'), py),
  configCorpus(join(scratch, 'work/config-root')),
  adapterConfigCorpus(join(scratch, 'work')),
  envCorpus(),
]

const log = (s: string) => process.stdout.write(`${s}\n`)
const ms = (x: number) => `${x.toFixed(1)} ms`
const t0 = performance.now()
const summaries: CorpusSummary[] = []
log(`fuzz: seed ${seed}; PyYAML reference ${py ? 'on' : 'off'}`)
for (const c of corpora) {
  if (only.size && !only.has(c.name)) continue
  const n = counts[c.name]!
  if (n === 0 && !only.has(c.name)) continue
  const s = await runCorpus(c, {
    seed,
    count: n,
    scratchDir: join(scratch, 'repro'),
    ...(only.has(c.name) ? { only: only.get(c.name)! } : {}),
  })
  summaries.push(s)
  const codes = Object.entries(s.codes)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  log(`\n${c.name}: ${s.cases} cases in ${(s.wallMs / 1000).toFixed(1)} s`)
  log(`  outcomes: accepted ${s.outcomes.accepted}, rejected ${s.outcomes.rejected}, crashed ${s.outcomes.crashed}`)
  log(
    `  classes:  wrongly accepted ${s.classes.wrongly_accepted}, crashed ${s.classes.crashed}, inconsistent ${s.classes.inconsistent}, wrongly rejected ${s.classes.wrongly_rejected}`,
  )
  log(`  codes:    ${codes || '-'}`)
  log(
    `  slowest:  #${s.slowest.index} ${s.slowest.kind} (${s.slowest.desc.slice(0, 80)}) ${ms(s.slowest.ms)} → ${s.slowest.outcome} ${s.slowest.code ?? ''}`,
  )
  if (s.slowestRejection)
    log(
      `  slowest rejection: #${s.slowestRejection.index} ${s.slowestRejection.kind} ${ms(s.slowestRejection.ms)}; rejections over 1 s: ${s.rejectionsOver1s}`,
    )
  const bad = Object.entries(s.kinds).filter(([, k]) => k.wa || k.crashed || k.wr)
  for (const [kind, k] of bad)
    log(`    ${kind}: ${k.cases} cases, wrongly accepted ${k.wa}, crashed ${k.crashed}, wrongly rejected ${k.wr}`)
}
py?.close()

const partial: PartialSummary[] = []
if (kills > 0 && !only.size) {
  for (const kind of ['safetensors', 'manifest'] as const) {
    const p = await runPartial(kind, { seed, kills, dir: join(scratch, 'work') })
    partial.push(p)
    log(
      `\npartial files (${kind}): ${p.kills} kills (SIGKILL ${p.sigkill}, file-size limit/EFBIG ${p.efbig}, SIGXFSZ ${p.sigxfsz})`,
    )
    log(
      `  destination: complete A ${p.destA}, complete B ${p.destB}, absent ${p.destAbsent}, PARTIAL ${p.partial}; orphaned temp files ${p.orphanTemps}`,
    )
    log(
      `  error paths (ENOTDIR, EISDIR): PloraError ${p.errorPaths.ploraError}, other ${p.errorPaths.otherOutcome}, leftovers ${p.errorPaths.leftovers}`,
    )
    for (const d of p.details.slice(0, 5)) log(`    ${d}`)
  }
}

const totals = {
  cases: summaries.reduce((x, s) => x + s.cases, 0),
  wronglyAccepted: summaries.reduce((x, s) => x + s.classes.wrongly_accepted, 0),
  crashed: summaries.reduce((x, s) => x + s.classes.crashed, 0),
  inconsistent: summaries.reduce((x, s) => x + s.classes.inconsistent, 0),
  wronglyRejected: summaries.reduce((x, s) => x + s.classes.wrongly_rejected, 0),
  partialFiles: partial.reduce((x, p) => x + p.partial, 0),
  writerErrorPathFailures: partial.reduce((x, p) => x + p.errorPaths.otherOutcome + p.errorPaths.leftovers, 0),
  slowestMs: Math.max(0, ...summaries.map((s) => s.slowest.ms)),
  wallS: (performance.now() - t0) / 1000,
}
log(
  `\ntotal: ${totals.cases} cases, wrongly accepted ${totals.wronglyAccepted}, crashed ${totals.crashed}, inconsistent ${totals.inconsistent}, partial files ${totals.partialFiles}, writer error paths without a PloraError ${totals.writerErrorPathFailures}; slowest case ${ms(totals.slowestMs)}; ${totals.wallS.toFixed(0)} s`,
)
mkdirSync(dirname(resolve(a.out)), { recursive: true })
writeFileSync(
  resolve(a.out),
  `${JSON.stringify({ seed, counts, kills, pyyaml: py !== null, totals, corpora: summaries, partial }, null, 2)}\n`,
)
log(`summary: ${resolve(a.out)}; reproducers: ${join(scratch, 'repro')}`)
