#!/usr/bin/env node
/**
 * λ2 of an Erdős–Rényi graph (mean degree 10, seed 42): @plora/swarm `fiedler` against scipy's
 * `eigsh` (ARPACK) in the same run (issue 21). Both sides see the same graph: Node builds it and
 * writes its CSR to a temp dir; one /usr/bin/python3 process (bench/lambda2_eigsh.py) builds the
 * Laplacian once (untimed) and times only the eigsh call. Runs are interleaved (ours, then each scipy
 * variant, repeated), medians are reported, with the ratio ours / fastest scipy variant and |Δλ2|
 * against scipy's machine-precision `which='SM'` answer. Load average is printed with the numbers.
 *
 * Run after `pnpm run build`:
 *   node packages/swarm/bench/lambda2-vs-scipy.mjs [--ns 10000,100000] [--reps 5]
 *        [--laplacians normalized,combinatorial] [--python /usr/bin/python3] [--out file.json]
 *        [--baseline path/to/module.js]   (a module exporting `fiedler`, e.g. an older build: timed
 *                                          too, interleaved, for a before/after in the same run)
 * scipy's BLAS threads follow the environment (e.g. OPENBLAS_NUM_THREADS=1 for one thread, like ours).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { writeJsonAtomic } from '@plora/common'
import { erdosRenyiGraph, fiedler, symmetricCsr } from '../dist/index.js'

const here = dirname(fileURLToPath(import.meta.url))

function parseArgs(argv) {
  const o = {
    ns: [10_000, 100_000],
    reps: 5,
    laplacians: ['normalized', 'combinatorial'],
    python: '/usr/bin/python3',
    out: null,
    baseline: null,
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = argv[i + 1]
    if (value === undefined) throw new Error(`lambda2-vs-scipy: ${flag} needs a value`)
    i++
    if (flag === '--ns') {
      o.ns = value.split(',').map(Number)
      if (o.ns.some((n) => !Number.isInteger(n) || n < 100))
        throw new Error(`lambda2-vs-scipy: --ns must be integers >= 100 (found ${value})`)
    } else if (flag === '--reps') {
      o.reps = Number(value)
      if (!Number.isInteger(o.reps) || o.reps < 1)
        throw new Error(`lambda2-vs-scipy: --reps must be an integer >= 1 (found ${value})`)
    } else if (flag === '--laplacians') {
      o.laplacians = value.split(',')
      if (o.laplacians.some((k) => k !== 'normalized' && k !== 'combinatorial'))
        throw new Error(`lambda2-vs-scipy: --laplacians takes normalized,combinatorial (found ${value})`)
    } else if (flag === '--python') o.python = value
    else if (flag === '--out') o.out = value
    else if (flag === '--baseline') o.baseline = value
    else
      throw new Error(
        `lambda2-vs-scipy: unknown flag ${flag} (expected --ns, --reps, --laplacians, --python, --out, --baseline)`,
      )
  }
  return o
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')

/** The Python eigsh server for one graph: `ask(kind, variant, seed)` → { seconds, lambda2 }. */
async function startPython(python, offPath, tgtPath) {
  const child = spawn(python, [join(here, 'lambda2_eigsh.py'), offPath, tgtPath], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const r = await lines.next()
    if (r.done)
      throw new Error(
        `lambda2-vs-scipy: ${python} ${join(here, 'lambda2_eigsh.py')} exited early (needs numpy and scipy)`,
      )
    return JSON.parse(r.value)
  }
  const hello = await next()
  return {
    hello,
    ask: async (kind, variant, seed) => {
      child.stdin.write(`${kind} ${variant} ${seed}\n`)
      return next()
    },
    close: () => child.stdin.end(),
  }
}

const VARIANTS = {
  sm: "eigsh(L, k=2, which='SM') [default tol]",
  sa: "eigsh(L, k=2, which='SA', tol=1e-10)",
  shift: "eigsh(c·I − L, k=2, which='LA', tol=1e-10)",
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  let baseline = null
  if (o.baseline) {
    baseline = (await import(pathToFileURL(o.baseline).href)).fiedler
    if (typeof baseline !== 'function') throw new Error(`lambda2-vs-scipy: ${o.baseline} does not export fiedler`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'lambda2-bench-'))
  const results = []
  try {
    for (const n of o.ns) {
      process.stderr.write(`[lambda2-bench] building ER n=${n} mean degree 10 seed 42\n`)
      const g = symmetricCsr(erdosRenyiGraph(n, 10 / (n - 1), 42))
      const offPath = join(dir, `off-${n}.bin`)
      const tgtPath = join(dir, `tgt-${n}.bin`)
      writeFileSync(offPath, Buffer.from(g.offsets.buffer, g.offsets.byteOffset, g.offsets.byteLength))
      writeFileSync(tgtPath, Buffer.from(g.targets.buffer, g.targets.byteOffset, g.targets.byteLength))
      const py = await startPython(o.python, offPath, tgtPath)
      try {
        for (const kind of o.laplacians) {
          const normalized = kind === 'normalized'
          // Warm-up (JIT, page cache) on both sides, not counted.
          fiedler(g, { normalized })
          await py.ask(kind, 'sa', 0)
          const ours = []
          const base = []
          let fb
          if (baseline) baseline(g, { normalized })
          const theirs = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, []]))
          let f
          const loadBefore = load()
          for (let rep = 0; rep < o.reps; rep++) {
            process.stderr.write(`[lambda2-bench] n=${n} ${kind} rep ${rep + 1}/${o.reps} (load ${load()})\n`)
            const t0 = performance.now()
            f = fiedler(g, { normalized })
            ours.push((performance.now() - t0) / 1000)
            if (baseline) {
              const t1 = performance.now()
              fb = baseline(g, { normalized })
              base.push((performance.now() - t1) / 1000)
            }
            for (const v of Object.keys(VARIANTS)) theirs[v].push(await py.ask(kind, v, rep + 1))
          }
          const ref = theirs.sm[0].lambda2
          const scipy = Object.entries(theirs).map(([v, rs]) => ({
            variant: v,
            call: VARIANTS[v],
            median_s: median(rs.map((r) => r.seconds)),
            lambda2: rs[0].lambda2,
            abs_diff_vs_ref: Math.abs(rs[0].lambda2 - ref),
          }))
          const fastest = scipy.reduce((a, b) => (b.median_s < a.median_s ? b : a))
          const row = {
            n,
            laplacian: kind,
            ours_median_s: median(ours),
            ours_runs_s: ours,
            ours_lambda2: f.lambda2,
            ours_iterations: f.iterations,
            ours_residual: f.residual,
            ours_abs_diff_vs_ref: Math.abs(f.lambda2 - ref),
            scipy,
            fastest_scipy: fastest.variant,
            ratio_vs_fastest: median(ours) / fastest.median_s,
            baseline: baseline
              ? {
                  module: o.baseline,
                  median_s: median(base),
                  lambda2: fb.lambda2,
                  iterations: fb.iterations,
                  abs_diff_vs_ref: Math.abs(fb.lambda2 - ref),
                  ratio_vs_fastest: median(base) / fastest.median_s,
                }
              : null,
            load_before: loadBefore,
            load_after: load(),
          }
          results.push(row)
          console.log(
            `n=${n} ${kind}: ours ${row.ours_median_s.toFixed(3)} s (median of ${o.reps}; ${f.iterations} iterations, ` +
              `λ2 ${f.lambda2}, |Δ| vs ref ${row.ours_abs_diff_vs_ref.toExponential(1)}, residual ${f.residual.toExponential(1)})`,
          )
          if (row.baseline)
            console.log(
              `    baseline ${o.baseline}: ${row.baseline.median_s.toFixed(3)} s (${fb.iterations} iterations, |Δ| vs ref ` +
                `${row.baseline.abs_diff_vs_ref.toExponential(1)}, ratio vs fastest scipy ${row.baseline.ratio_vs_fastest.toFixed(2)})`,
            )
          for (const s of scipy)
            console.log(
              `    scipy ${s.call.padEnd(46)} ${s.median_s.toFixed(3)} s  λ2 ${s.lambda2}  |Δ| vs ref ${s.abs_diff_vs_ref.toExponential(1)}`,
            )
          console.log(
            `    ratio ours / fastest scipy (${fastest.variant}) = ${row.ratio_vs_fastest.toFixed(2)}   load ${row.load_before} → ${row.load_after}`,
          )
        }
      } finally {
        py.close()
      }
    }
    console.log(
      `(ref = scipy ${VARIANTS.sm}; numpy/scipy from ${o.python}; Node ${process.version}; ours = fiedler(csr, { normalized }) with default options, single thread)`,
    )
    if (o.out) await writeJsonAtomic(o.out, { bench: 'lambda2-vs-scipy', results })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e)
  process.exit(1)
})
