/**
 * `plora swarm evaluate` — the original's `evaluate_v2` summary (spec swarm.md §12.4): one entry
 * per report in `--reports` (v1 `swarm_graph_report_*.json`, then v2 `swarm_v2_report_*.json`),
 * with the spectral gap, MI statistics and deltas with bootstrap CIs, a transfer-entropy pair and
 * the gate counters. Deviations: files are read in sorted order (the original used file-system
 * order); an unreadable report is an error naming the file, not silently skipped ([D-29]);
 * `acceptance_rate` is accepted / offered where the report has offers (the original divided by
 * rounds·N, a v1 denominator, [D-23]); `te_pair` reports the number of points it used.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeJsonAtomic } from '@plora/common'
import { transferEntropy } from '@plora/it-estimators'
import { SwarmError, SwarmErrorCode } from './errors.js'
import { predictedRoundsSpectral } from './spectral.js'
import { bootstrapCiMean } from './stats.js'

const GATE_KEYS = [
  'rejected_hash_total',
  'rejected_safety_total',
  'accepted_clean_total',
  'accepted_trojan_total',
  'rejected_clean_total',
  'rejected_trojan_total',
  'false_negatives',
  'false_positives',
  'rejection_reasons',
] as const

type Json = Record<string, unknown>

function num(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null
}

/** Summarises one parsed report (v1 or v2). */
export function summarizeReport(report: Json, file = '<report>'): Json {
  const meta = (report.meta ?? {}) as Json
  const final = (report.final ?? {}) as Json
  const rounds = Array.isArray(report.rounds) ? (report.rounds as Json[]) : []
  if (typeof meta !== 'object' || typeof final !== 'object') {
    throw new SwarmError(SwarmErrorCode.ReportInvalid, `${file}: expected "meta" and "final" objects`, { file })
  }
  const n = num(meta.N) ?? 0
  const domains = Array.isArray(meta.domains) ? (meta.domains as string[]) : []
  const lambda2 = num(meta.lambda2)
  const accepted = num(final.accepted_offers) ?? 0
  const offers = num(final.offers)
  const acceptanceRate =
    offers !== null
      ? offers > 0
        ? accepted / offers
        : null
      : rounds.length * n > 0
        ? accepted / (rounds.length * n)
        : null
  const mi = rounds.map((r) => num(r.mutual_information)).filter((x): x is number => x !== null)
  const deltas = rounds.map((r) => num(r.mi_delta)).filter((x): x is number => x !== null)
  const last = rounds[rounds.length - 1]
  const coverage = (final.coverage as Json | undefined) ?? (last?.coverage as Json | undefined) ?? {}
  const D = Math.max(1, domains.length)
  const miFinal = mi.length > 0 ? mi[mi.length - 1]! : null
  const lastCum = num(last?.mi_cum_abs)
  const lastNorm = num(last?.mi_norm)
  const miSummary = {
    final: miFinal,
    max: mi.length > 0 ? Math.max(...mi) : null,
    min: mi.length > 0 ? Math.min(...mi) : null,
    delta_sum: deltas.reduce((s, x) => s + x, 0),
    delta_ci: bootstrapCiMean(deltas, { nResamples: 500, ci: 0.95, seed: 42 }),
    cum_abs: lastCum ?? deltas.reduce((s, x) => s + Math.abs(x), 0),
    total_loss: rounds.reduce((s, r) => s + (num(r.mi_loss) ?? 0), 0),
    norm_final: lastNorm ?? (miFinal === null ? null : miFinal / Math.log2(Math.max(2, n * D))),
  }
  // TE between the coverage series of the first two domains (meaningless on a handful of points).
  let tePair = 0
  let tePoints = 0
  if (domains.length >= 2) {
    const a = rounds.map((r) => num((r.coverage as Json | undefined)?.[domains[0]!]) ?? 0)
    const b = rounds.map((r) => num((r.coverage as Json | undefined)?.[domains[1]!]) ?? 0)
    tePoints = a.length
    tePair = transferEntropy(a, b, { k: 1, bins: 8 })
  }
  const observed = num(final.observed_t_all)
  const out: Json = {
    file,
    N: n,
    topology: meta.topology ?? null,
    lambda2,
    observed_t_all: observed,
    predicted_t_all: num(final.predicted_t_all),
    t_all: num(final.t_all),
    incomplete: final.incomplete ?? null,
    acceptance_rate: acceptanceRate,
    bytes_on_wire: num(final.bytes_on_wire) ?? 0,
    bytes_offered: num(final.bytes_offered) ?? 0,
    accepted_offers: accepted,
    coverage,
    mi: miSummary,
    te_pair: tePair,
    te_pair_points: tePoints,
  }
  if (observed !== null && lambda2 !== null) {
    const tPred = predictedRoundsSpectral(n, lambda2, { normalized: true })
    out.theory = { t_pred: tPred, t_obs: observed, t_delta: observed - tPred }
  }
  const gate = (final.gate ?? {}) as Json
  const g: Json = {}
  for (const k of GATE_KEYS) g[k] = gate[k] ?? (k === 'rejection_reasons' ? {} : 0)
  if (gate.unique_pairs) g.unique_pairs = gate.unique_pairs
  out.gate = g
  return out
}

/** Summaries of every report under `reportsDir`, v1 first, each group in sorted name order. */
export async function evaluateReports(reportsDir: string): Promise<Json[]> {
  let names: string[]
  try {
    names = await readdir(reportsDir)
  } catch (e) {
    throw new SwarmError(
      SwarmErrorCode.ReportInvalid,
      `cannot read the reports folder ${reportsDir}: ${(e as Error).message}`,
      {
        reportsDir,
      },
    )
  }
  const v1 = names.filter((f) => /^swarm_graph_report_.*\.json$/.test(f)).sort()
  const v2 = names.filter((f) => /^swarm_v2_report_.*\.json$/.test(f)).sort()
  const out: Json[] = []
  for (const f of [...v1, ...v2]) {
    const path = join(reportsDir, f)
    let parsed: Json
    try {
      // Tolerate the original's non-standard Infinity/NaN tokens (§17.4).
      parsed = JSON.parse((await readFile(path, 'utf8')).replace(/-?\bInfinity\b|\bNaN\b/g, 'null')) as Json
    } catch (e) {
      throw new SwarmError(SwarmErrorCode.ReportInvalid, `${path}: not valid JSON (${(e as Error).message})`, { path })
    }
    out.push(summarizeReport(parsed, f))
  }
  return out
}

/** Writes the summary array (2-space JSON) atomically and returns it. */
export async function writeEvaluation(reportsDir: string, outPath: string): Promise<Json[]> {
  const summaries = await evaluateReports(reportsDir)
  await writeJsonAtomic(outPath, summaries)
  return summaries
}
