/**
 * The closing note of a pipeline run (issue 19 "Done when"): the numbers a researcher would quote,
 * each with its interval, read from the results folder — value-add per domain (trained ΔNLL,
 * paired bootstrap CI), the gate's FPR/FNR on its calibration half (exact Clopper–Pearson
 * intervals) and the sweep's observed vs predicted diffusion time per topology (mean ratio with a
 * normal 95 % interval). Missing or unreadable files are said, never silently left out.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PipelineConfig } from './pipeline.js'
import { rateEstimate } from './roc.js'

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x))
const pct = (x: number) => `${(100 * x).toFixed(1)} %`

function readJsonLines(path: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue
    const v = JSON.parse(line) as unknown
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, unknown>)
  }
  return out
}

function valueAddLines(cwd: string): string[] {
  const path = join(cwd, 'results/value_add/value_add.jsonl')
  if (!existsSync(path)) return ['value-add: results/value_add/value_add.jsonl missing']
  const lines: string[] = []
  for (const r of readJsonLines(path)) {
    const c = (r.config ?? {}) as Record<string, unknown>
    const t = r.trained as { delta_mean?: number; ci?: [number, number]; n?: number } | null | undefined
    const pb = r.placebo_b as { delta_mean?: number; ci?: [number, number] } | null | undefined
    const cell = `${String(c.domain)} r${String(c.rank)} ${String(c.scheme)} seed ${String(c.seed)}`
    if (!t || typeof t.delta_mean !== 'number' || !t.ci) {
      lines.push(`  ${cell}: no trained statistic (${String(r.status ?? 'unknown status')})`)
      continue
    }
    const placebo =
      pb && typeof pb.delta_mean === 'number' && pb.ci
        ? `; placebo B ${f3(pb.delta_mean)} [${f3(pb.ci[0])}, ${f3(pb.ci[1])}]`
        : ''
    lines.push(
      `  ${cell}: trained ΔNLL ${f3(t.delta_mean)} [${f3(t.ci[0])}, ${f3(t.ci[1])}] (n = ${t.n ?? '?'})${placebo}`,
    )
  }
  return ['value-add per domain (ΔNLL vs base, nats; 95 % paired bootstrap CI):', ...lines]
}

function gateLines(cwd: string): string[] {
  const path = join(cwd, 'results/probes_calib.json')
  if (!existsSync(path)) return ['gate: results/probes_calib.json missing']
  const r = JSON.parse(readFileSync(path, 'utf8')) as {
    population?: { clean?: number; poisoned?: number }
    combined?: { fpr?: number; tpr?: number }
  }
  const nc = r.population?.clean ?? 0
  const np = r.population?.poisoned ?? 0
  const fpr = r.combined?.fpr
  const tpr = r.combined?.tpr
  if (typeof fpr !== 'number' || typeof tpr !== 'number' || nc === 0 || np === 0) {
    return ['gate: results/probes_calib.json has no combined rates']
  }
  const fp = rateEstimate(Array.from({ length: nc }, (_, i) => i < Math.round(fpr * nc)))
  const fn = rateEstimate(Array.from({ length: np }, (_, i) => i < Math.round((1 - tpr) * np)))
  return [
    `gate (calibration half: ${nc} clean, ${np} poisoned; exact 95 % CI): FPR ${pct(fp.value)} [${pct(fp.lo)}, ${pct(fp.hi)}], FNR ${pct(fn.value)} [${pct(fn.lo)}, ${pct(fn.hi)}]`,
  ]
}

function sweepLines(cwd: string): string[] {
  const path = join(cwd, 'results/thesis_sweep.jsonl')
  if (!existsSync(path)) return ['sweep: results/thesis_sweep.jsonl missing']
  const by = new Map<string, { ratios: number[]; obs: number[]; pred: number[]; incomplete: number }>()
  for (const r of readJsonLines(path)) {
    const topo = String(r.topology)
    const g = by.get(topo) ?? { ratios: [], obs: [], pred: [], incomplete: 0 }
    by.set(topo, g)
    if (typeof r.t_obs === 'number' && typeof r.t_pred === 'number' && r.t_pred > 0) {
      g.obs.push(r.t_obs)
      g.pred.push(r.t_pred)
      g.ratios.push(r.t_obs / r.t_pred)
    } else g.incomplete++
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const lines = ['sweep t_obs / t_pred per topology (mean, normal 95 % CI over runs):']
  for (const [topo, g] of by) {
    if (g.ratios.length === 0) {
      lines.push(`  ${topo}: no run reached coverage 0.9 (${g.incomplete} runs)`)
      continue
    }
    const m = mean(g.ratios)
    const sd =
      g.ratios.length > 1
        ? Math.sqrt(g.ratios.reduce((a, x) => a + (x - m) ** 2, 0) / (g.ratios.length - 1))
        : Number.NaN
    const half = (1.96 * sd) / Math.sqrt(g.ratios.length)
    lines.push(
      `  ${topo}: t_obs ${f3(mean(g.obs))}, t_pred ${f3(mean(g.pred))}, ratio ${f3(m)} [${f3(m - half)}, ${f3(m + half)}] (${g.ratios.length} runs${g.incomplete ? `, ${g.incomplete} incomplete` : ''})`,
    )
  }
  return lines
}

/** Headline lines (value-add per domain, gate FPR/FNR, sweep t_obs/t_pred) from the results folder. */
export function pipelineHeadlines(cwd: string, _config: PipelineConfig): string {
  const parts: string[] = []
  for (const f of [valueAddLines, gateLines, sweepLines]) {
    try {
      parts.push(...f(cwd))
    } catch (e) {
      parts.push(`${f.name.replace('Lines', '')}: could not read (${(e as Error).message})`)
    }
  }
  return `${['Headline numbers:', ...parts].join('\n')}\n`
}
