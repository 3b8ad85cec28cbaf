/**
 * `plora sweep` — the thesis grid (spec swarm.md §12.5): topology → n → seed → trojan rate →
 * τ_trigger → τ_norm_z → τ_clean_delta, one JSONL line per grid point with the original's keys.
 *
 * Every grid point is an independent swarm v2 run with synthetic plasmids and the real gate (the
 * original used dummy adapters and an oracle gate that read `poisoning_score`, [D-09]); verdicts
 * are cached per (policy, artefact) within a worker. Grid points run on worker threads (one per
 * core by default) and lines are written in grid order as they complete; a re-run skips the grid
 * points already in the output file (resumable). Deviations: WS uses `ws_beta` ([D-24]); the C of
 * each topology comes from `--calib_dir` and is recorded with its source in every line ([D-25]);
 * `t_obs` counts completed rounds (as calibrate-c's t_all, [D-13] fixed: one convention).
 */

import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { availableParallelism, platform, release, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { type ProgressCallback, writeFileAtomic, writeJsonAtomic } from '@plora/common'
import { meanC } from './calibrate.js'
import { requireOption, SwarmError, SwarmErrorCode } from './errors.js'
import type { GraphKind } from './graph.js'
import type { ExchangeProtocol } from './simulate.js'
import { predictedRoundsSpectral } from './spectral.js'

/** Options of {@link runSweep} (flags of §12.5). */
export interface SweepOptions {
  topos: readonly GraphKind[]
  ns: readonly number[]
  seeds: readonly number[]
  p: number
  wsK: number
  wsBeta: number
  baM: number
  rounds: number
  trojanRates: readonly number[]
  tauTrigger: readonly number[]
  tauNormZ: readonly number[]
  tauCleanDelta: readonly number[]
  out: string
  /** Folder of `c_calib_{topology}.json` (fallback C = 2.0, as the original). */
  calibDir: string
  protocol: ExchangeProtocol
  dropoutPeriod: number
  earlyStop: boolean
  /** Worker threads (default: one per core; 1 = in this thread). */
  workers: number
  /** Skip grid points already in `out` (default true); false truncates it. */
  resume: boolean
  /**
   * Run only this shard of the grid: point g (0-based, grid order) belongs to shard
   * `g % count + 1`. Each shard writes its own `out`; {@link mergeSweepShards} joins them.
   */
  shard?: { index: number; count: number }
  onProgress?: ProgressCallback
}

/** Defaults of {@link SweepOptions} (the original's). */
export const DEFAULT_SWEEP_OPTIONS: SweepOptions = {
  topos: ['er', 'ws', 'ba'],
  ns: [20, 40],
  seeds: [42],
  p: 0.25,
  wsK: 4,
  wsBeta: 0.2,
  baM: 2,
  rounds: 10,
  trojanRates: [0.0, 0.3],
  tauTrigger: [0.2],
  tauNormZ: [3.0],
  tauCleanDelta: [-0.05],
  out: 'results/thesis_sweep.jsonl',
  calibDir: 'results',
  protocol: 'edge',
  dropoutPeriod: 0,
  earlyStop: true,
  workers: availableParallelism(),
  resume: true,
}

/** One grid point (what a worker receives). */
export interface SweepPoint {
  topology: GraphKind
  n: number
  seed: number
  trojanRate: number
  tauTrigger: number
  tauNormZ: number
  tauCleanDelta: number
  C: number
  cSource: string
  p: number
  wsK: number
  wsBeta: number
  baM: number
  rounds: number
  protocol: ExchangeProtocol
  dropoutPeriod: number
  earlyStop: boolean
}

/** The resume key of a grid point / line. */
export function sweepKey(x: {
  topology: string
  N: number
  seed: number
  trojan_rate: number
  thresholds: { tau_trigger: number; tau_norm_z: number; tau_clean_delta: number }
}): string {
  const t = x.thresholds
  return JSON.stringify([x.topology, x.N, x.seed, x.trojan_rate, t.tau_trigger, t.tau_norm_z, t.tau_clean_delta])
}

async function loadC(dir: string, topology: string): Promise<{ C: number; source: string }> {
  for (const t of [topology, 'er']) {
    const path = join(dir, `c_calib_${t}.json`)
    try {
      const records = JSON.parse(await readFile(path, 'utf8')) as Array<{ C_hat: number | null }>
      const c = meanC(records)
      if (c !== null) return { C: c, source: path }
    } catch {
      // absent or unreadable: fall through to the next source, as the original did
    }
  }
  return { C: 2.0, source: 'default C = 2.0 (no calibration file)' }
}

/** Runs one grid point and returns its JSONL object (used by the workers and inline). */
export async function runSweepPoint(
  pt: SweepPoint,
  workDir: string,
  cache: Map<string, import('./simulate.js').Verdict>,
) {
  const { ATTENTION_SUFFIXES, parsePolicy } = await import('@plora/gate')
  const { runSwarmV2 } = await import('./run.js')
  const policy = parsePolicy({
    base_model: 'plora/synthetic-base',
    allowed_ranks: [1, 4, 8, 16],
    allowed_targets: [...ATTENTION_SUFFIXES],
    signatures_enabled: false,
    // The simulated swarm has no clean reference population: the within-adapter module z is its detector.
    require_weight_reference: false,
    tau_trigger: pt.tauTrigger,
    tau_norm_z: pt.tauNormZ,
    tau_clean_delta: pt.tauCleanDelta,
  })
  const r = await runSwarmV2({
    agents: pt.n,
    rounds: pt.rounds,
    graph: pt.topology,
    graphP: pt.p,
    wsK: pt.wsK,
    wsBeta: pt.wsBeta,
    baM: pt.baM,
    seed: pt.seed,
    trojanRate: pt.trojanRate,
    adapters: 'synthetic',
    adapterSeed: 0,
    syntheticVariants: 2,
    policy,
    verdictCache: cache,
    protocol: pt.protocol,
    dropoutPeriod: pt.dropoutPeriod,
    earlyStop: pt.earlyStop,
    reportDir: null,
    workDir,
  })
  const lambda2 = r.report.meta.lambda2 as number
  const rounds = r.report.rounds.map((x) => ({
    t: x.t,
    coverage: x.coverage,
    entropy_avg: x.entropy_avg,
    mutual_information: x.mutual_information,
    mi_delta: x.mi_delta,
    accepted_count: x.accepted_count,
  }))
  const tIdx = rounds.findIndex((x) => Object.values(x.coverage).every((c) => c >= 0.9))
  const gate = r.report.final.gate as Record<string, unknown>
  return {
    topology: pt.topology,
    N: pt.n,
    seed: pt.seed,
    params: { p: pt.p, ws_k: pt.wsK, ws_beta: pt.wsBeta, ba_m: pt.baM },
    lambda2,
    t_pred: predictedRoundsSpectral(pt.n, lambda2, { normalized: true, C: pt.C, initialInformedFraction: 1 / 3 }),
    t_obs: tIdx >= 0 ? tIdx + 1 : null,
    trojan_rate: pt.trojanRate,
    thresholds: { tau_trigger: pt.tauTrigger, tau_norm_z: pt.tauNormZ, tau_clean_delta: pt.tauCleanDelta },
    rounds,
    mi_series: rounds.map((x) => x.mutual_information),
    coverage_series: rounds.map((x) => x.coverage),
    entropy_series: rounds.map((x) => x.entropy_avg),
    accepted_series: rounds.map((x) => x.accepted_count),
    gate: {
      accepted_clean_total: gate.accepted_clean_total,
      accepted_trojan_total: gate.accepted_trojan_total,
      rejected_clean_total: gate.rejected_clean_total,
      rejected_trojan_total: gate.rejected_trojan_total,
      unique_pairs: gate.unique_pairs,
    },
    C: pt.C,
    C_source: pt.cSource,
    protocol: pt.protocol,
    temporal_dropout_period: pt.dropoutPeriod,
    rounds_run: r.report.final.rounds_run,
    t_index: 't_obs = completed rounds until every domain has coverage >= 0.9',
  }
}

/** Every point of the grid `o` describes, in grid order, with its resume key. */
async function sweepGrid(
  o: SweepOptions,
  cOf: (topology: GraphKind) => Promise<{ C: number; source: string }>,
): Promise<Array<{ key: string; point: SweepPoint }>> {
  const out: Array<{ key: string; point: SweepPoint }> = []
  for (const topology of o.topos) {
    const { C, source } = await cOf(topology)
    for (const n of o.ns)
      for (const seed of o.seeds)
        for (const trojanRate of o.trojanRates)
          for (const tauTrigger of o.tauTrigger)
            for (const tauNormZ of o.tauNormZ)
              for (const tauCleanDelta of o.tauCleanDelta) {
                const key = sweepKey({
                  topology,
                  N: n,
                  seed,
                  trojan_rate: trojanRate,
                  thresholds: { tau_trigger: tauTrigger, tau_norm_z: tauNormZ, tau_clean_delta: tauCleanDelta },
                })
                out.push({
                  key,
                  point: {
                    topology,
                    n,
                    seed,
                    trojanRate,
                    tauTrigger,
                    tauNormZ,
                    tauCleanDelta,
                    C,
                    cSource: source,
                    p: o.p,
                    wsK: o.wsK,
                    wsBeta: o.wsBeta,
                    baM: o.baM,
                    rounds: o.rounds,
                    protocol: o.protocol,
                    dropoutPeriod: o.dropoutPeriod,
                    earlyStop: o.earlyStop,
                  },
                })
              }
  }
  return out
}

/**
 * Joins the JSONL files of a sharded sweep (`shard` i/n, any order, resumed or not) into `out`, in
 * grid order: the bytes a one-machine run of the same grid writes. Every grid point must appear
 * (a missing one is named), no line may belong to another grid, and a point found twice must have
 * the same line. Written atomically.
 */
export async function mergeSweepShards(
  options: Partial<SweepOptions> & { inputs: readonly string[] },
): Promise<{ out: string; lines: number; inputs: number }> {
  const o: SweepOptions = { ...DEFAULT_SWEEP_OPTIONS, ...options }
  requireOption(options.inputs.length >= 1, 'inputs: at least one shard file', options.inputs)
  const grid = await sweepGrid(o, async () => ({ C: 0, source: '' }))
  const wanted = new Set(grid.map((x) => x.key))
  const found = new Map<string, string>()
  for (const file of options.inputs) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (e) {
      throw new SwarmError(SwarmErrorCode.SweepFailed, `${file}: cannot read the shard (${(e as Error).message})`, {
        file,
      })
    }
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return
      let key: string
      try {
        key = sweepKey(JSON.parse(line))
      } catch {
        throw new SwarmError(
          SwarmErrorCode.SweepFailed,
          `${file}:${i + 1}: not a sweep line (invalid JSON or fields)`,
          {
            file,
            line: i + 1,
          },
        )
      }
      if (!wanted.has(key))
        throw new SwarmError(
          SwarmErrorCode.SweepFailed,
          `${file}:${i + 1}: grid point ${key} is not in this grid; expected the flags the shards ran with`,
          { file, line: i + 1, key },
        )
      const seen = found.get(key)
      if (seen !== undefined && seen !== line)
        throw new SwarmError(
          SwarmErrorCode.SweepFailed,
          `${file}:${i + 1}: grid point ${key} appears twice with different results`,
          { file, line: i + 1, key },
        )
      found.set(key, line)
    })
  }
  const missing = grid.filter((x) => !found.has(x.key))
  if (missing.length > 0)
    throw new SwarmError(
      SwarmErrorCode.SweepFailed,
      `the shards lack ${missing.length} of ${grid.length} grid points (first: ${missing[0]!.key}); run the missing shards or resume them`,
      { missing: missing.length, total: grid.length, first: missing[0]!.key },
    )
  await mkdir(dirname(o.out), { recursive: true })
  await writeFileAtomic(o.out, grid.map((x) => `${found.get(x.key)}\n`).join(''))
  return { out: o.out, lines: grid.length, inputs: options.inputs.length }
}

/** Result of {@link runSweep}. */
export interface SweepResult {
  out: string
  total: number
  written: number
  skipped: number
}

/**
 * Runs the grid and appends one line per grid point to `out` (in grid order).
 *
 * @example
 * await runSweep({ topos: ['er'], ns: [10], seeds: [7], rounds: 3, trojanRates: [0], out: 'tmp/sweep.jsonl' })
 */
export async function runSweep(options: Partial<SweepOptions> = {}): Promise<SweepResult> {
  const o: SweepOptions = { ...DEFAULT_SWEEP_OPTIONS, ...options }
  requireOption(
    o.ns.every((n) => Number.isInteger(n) && n >= 3),
    'ns: integers >= 3',
    o.ns,
  )
  requireOption(
    o.trojanRates.every((r) => r >= 0 && r <= 1),
    'trojan_rates: numbers in [0, 1]',
    o.trojanRates,
  )
  requireOption(Number.isInteger(o.workers) && o.workers >= 1, 'workers: an integer >= 1', o.workers)
  await mkdir(dirname(o.out), { recursive: true })
  await writeJsonAtomic(join(dirname(o.out), 'env_manifest.json'), {
    platform: { node: process.version, system: platform(), release: release() },
    packages: { '@plora/swarm': '0.1.0' },
  })
  const done = new Set<string>()
  if (o.resume) {
    let text = ''
    try {
      text = await readFile(o.out, 'utf8')
    } catch {
      text = ''
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue
      try {
        done.add(sweepKey(JSON.parse(line)))
      } catch {
        throw new SwarmError(
          SwarmErrorCode.SweepFailed,
          `${o.out}: a line is not valid JSON; fix or remove it to resume`,
          {
            out: o.out,
          },
        )
      }
    }
  } else {
    await rm(o.out, { force: true })
  }
  if (o.shard) {
    const { index, count } = o.shard
    requireOption(
      Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 1 && index <= count,
      'shard: i/n with 1 <= i <= n',
      `${index}/${count}`,
    )
  }
  const points: SweepPoint[] = []
  const grid = await sweepGrid(o, (t) => loadC(o.calibDir, t))
  grid.forEach(({ key, point }, g) => {
    if (o.shard && g % o.shard.count !== o.shard.index - 1) return
    if (!done.has(key)) points.push(point)
  })
  const total = points.length + done.size
  o.onProgress?.({ status: 'start', task: 'sweep', total: points.length })
  // Results are flushed in grid order: a finished point waits for the ones before it.
  const results = new Array<string | undefined>(points.length)
  let next = 0
  let flushed = 0
  const flush = async (): Promise<void> => {
    while (flushed < points.length && results[flushed] !== undefined) {
      await appendFile(o.out, `${results[flushed]}\n`)
      results[flushed] = ''
      flushed++
      o.onProgress?.({ status: 'progress', task: 'sweep', done: flushed, total: points.length })
    }
  }
  // node:worker_threads rather than a pool library: @plora/swarm stays free of tfjs and of pool
  // dependencies, and each worker keeps its own scratch folder and verdict cache for its whole life,
  // which a fixed set of long-lived Workers fed one point at a time gives directly.
  const workerUrl = new URL('./sweep-worker.js', import.meta.url)
  // Workers need the compiled .js (Node 20 cannot run .ts workers): from sources run inline.
  const inline = o.workers === 1 || points.length <= 1 || import.meta.url.endsWith('.ts')
  const workers = inline ? 1 : Math.min(o.workers, points.length)
  if (inline) {
    const workDir = await mkdtemp(join(tmpdir(), 'plora-sweep-'))
    const cache = new Map()
    try {
      for (; next < points.length; next++) {
        results[next] = JSON.stringify(await runSweepPoint(points[next]!, workDir, cache))
        await flush()
      }
    } finally {
      await rm(workDir, { recursive: true, force: true })
    }
  } else {
    const workDirs = await Promise.all(
      Array.from({ length: workers }, () => mkdtemp(join(tmpdir(), 'plora-sweep-worker-'))),
    )
    try {
      await new Promise<void>((resolve, reject) => {
        let alive = workers
        let failed = false
        for (let w = 0; w < workers; w++) {
          const worker = new Worker(workerUrl, { workerData: { workDir: workDirs[w] } })
          const feed = (): void => {
            if (failed || next >= points.length) {
              void worker.terminate()
              return
            }
            const index = next++
            worker.postMessage({ index, point: points[index] })
          }
          worker.on('message', (m: { index: number; line?: string; error?: string }) => {
            if (m.error !== undefined) {
              failed = true
              reject(
                new SwarmError(SwarmErrorCode.SweepFailed, `sweep grid point ${m.index} failed: ${m.error}`, {
                  index: m.index,
                }),
              )
              return
            }
            results[m.index] = m.line!
            flush().then(feed, reject)
          })
          worker.on('error', (e) => {
            failed = true
            reject(e)
          })
          worker.on('exit', () => {
            alive--
            if (alive === 0 && !failed) flush().then(resolve, reject)
          })
          feed()
        }
      })
    } finally {
      for (const d of workDirs) await rm(d, { recursive: true, force: true })
    }
  }
  o.onProgress?.({ status: 'done', task: 'sweep', info: { lines: total } })
  return { out: o.out, total, written: points.length, skipped: done.size }
}
