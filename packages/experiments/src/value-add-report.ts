/**
 * `value_add.md` (spec pipelines.md §9.8). The first part is the original's layout line for line:
 * header, one section per domain (sorted) with one row per record in record order, Δ with sign
 * and 3 decimals, p as `%.3e`, CI bounds `%.3f`, split or `?`, latency `%.1f`, ⚠ when the latency
 * guard was exceeded. The bold rule is fixed (§20 item 21): Δ is bold iff `trained.ci[1] < 0` and
 * the trained p-value *after Holm correction across every cell and condition of the file* is
 * < 0.01 (the original used the raw p, with 81 cells). A second part then gives, per domain, the
 * controls (placebo A / B), the cross-domain transfer, the adjusted p-values and the effect
 * decomposition, which the original never showed. Older records (no `placebo_b`, no `eval_split`,
 * …; §9.11) render with `—` where a value is missing.
 */
import { adjustRunPValues, type StatRecord, type ValueAddRecord } from './value-add-records.js'

/** Python `'%+.3f' % x`. */
export function formatSigned3(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  const t = x.toFixed(3)
  return x > 0 || (x === 0 && !Object.is(x, -0)) ? `+${t}` : t
}

/** Python `'%.3e' % x` (two-digit exponent at least). */
export function formatE3(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  const [m, e] = x.toExponential(3).split('e') as [string, string]
  const n = Number(e)
  const abs = Math.abs(n)
  return `${m}e${n < 0 ? '-' : '+'}${abs < 10 ? `0${abs}` : abs}`
}

/** Python `'%.3f' % x`. */
function f3(x: number): string {
  return Number.isNaN(x) ? 'nan' : x.toFixed(3)
}

/** Options of {@link valueAddMarkdown}. */
export interface ValueAddMarkdownOptions {
  /** `holm` (default): bold needs the Holm-adjusted p < 0.01; `raw`: the original's raw p. */
  boldRule: 'holm' | 'raw'
  /** The monolithic baseline's in-domain statistic per domain, when it was evaluated. */
  monolithic: Record<string, StatRecord> | undefined
}

const DASH = '—'

function statCell(s: Partial<StatRecord> | null | undefined): string {
  return s && typeof s.delta_mean === 'number' ? formatSigned3(s.delta_mean) : DASH
}

function pCell(p: number | undefined): string {
  return p === undefined ? DASH : formatE3(p)
}

/** The Markdown report of `records` (ends with a single `\n`). */
export function valueAddMarkdown(
  records: readonly ValueAddRecord[],
  options: Partial<ValueAddMarkdownOptions> = {},
): string {
  const boldRule = options.boldRule ?? 'holm'
  const adj = adjustRunPValues(records)
  const indexed = records.map((r, i) => ({ r, i })).filter(({ r }) => r.trained != null)
  const domains = [...new Set(indexed.map(({ r }) => r.config.domain))].sort()
  const lines: string[] = ['# Value-add experiment – summary', '']
  for (const d of domains) {
    lines.push(`## Domain: ${d}`, '')
    lines.push('| Cell | r | scheme | ΔNLL | p | 95% CI | split | latency(ms) | guard |')
    lines.push('|---|---|---|---|---|---|---|---|---|')
    for (const { r, i } of indexed.filter(({ r }) => r.config.domain === d)) {
      const t = r.trained!
      const p = boldRule === 'holm' ? (adj.holm[i]!.trained ?? t.wilcoxon_p) : t.wilcoxon_p
      const delta = formatSigned3(t.delta_mean)
      const bold = t.ci[1] < 0 && p < 0.01
      lines.push(
        `| trained_seed${r.config.seed} | ${r.config.rank} | ${r.config.scheme} | ${bold ? `**${delta}**` : delta} | ` +
          `${formatE3(t.wilcoxon_p)} | [${f3(t.ci[0])}, ${f3(t.ci[1])}] | ${r.config.eval_split ?? '?'} | ` +
          `${(r.latency_ms ?? 0).toFixed(1)} | ${r.latency_guard_exceeded ? '⚠' : ''} |`,
      )
    }
    lines.push('')
  }
  if (domains.length > 0) {
    lines.push('# Controls, cross-domain transfer and adjusted p-values', '')
    lines.push(
      `Adjusted p-values: Holm (family-wise) and Benjamini–Hochberg (FDR) over all ${adj.m} tests of this file ` +
        '(every cell × trained, placebo A, placebo B and cross-domain condition). ' +
        `Bold above: trained CI upper bound < 0 and ${boldRule === 'holm' ? 'Holm-adjusted' : 'raw'} p < 0.01. ` +
        '"floor": every example moved the same way, so p is the smallest the test gives for this n.',
      '',
    )
    for (const d of domains) {
      lines.push(`## Controls: ${d}`, '')
      lines.push(
        '| Cell | r | scheme | trained p (Holm) | trained q (BH) | placebo A ΔNLL | placebo A p (Holm) | placebo B ΔNLL | placebo B p (Holm) | cross-domain ΔNLL (p Holm) | skill-specific ΔNLL | floor |',
      )
      lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|')
      for (const { r, i } of indexed.filter(({ r }) => r.config.domain === d)) {
        const h = adj.holm[i]!
        const q = adj.bh[i]!
        const cross = Object.entries(r.cross_domain ?? {})
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([o, s]) => `${o} ${statCell(s)} (${pCell(h[`cross:${o}`])})`)
          .join('; ')
        const dec = r.effect_decomposition
        const skill =
          dec != null
            ? formatSigned3(dec.skill_specific)
            : r.placebo_b && r.trained
              ? formatSigned3(r.trained.delta_mean - r.placebo_b.delta_mean)
              : DASH
        const floor = r.trained?.p_at_floor === true ? 'yes' : r.trained?.p_at_floor === false ? 'no' : DASH
        lines.push(
          `| trained_seed${r.config.seed} | ${r.config.rank} | ${r.config.scheme} | ${pCell(h.trained)} | ${pCell(q.trained)} | ` +
            `${statCell(r.placebo_a)} | ${pCell(h.placebo_a)} | ${statCell(r.placebo_b)} | ${pCell(h.placebo_b)} | ` +
            `${cross === '' ? DASH : cross} | ${skill} | ${floor} |`,
        )
      }
      lines.push('')
      const mono = options.monolithic?.[d]
      if (mono) {
        lines.push(
          `Monolithic baseline on the same ${d} examples: ΔNLL ${formatSigned3(mono.delta_mean)}, ` +
            `95% CI [${f3(mono.ci[0])}, ${f3(mono.ci[1])}], p ${formatE3(mono.wilcoxon_p)} (raw)` +
            `${mono.p_at_floor ? ', at the floor' : ''}.`,
          '',
        )
      }
    }
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return `${lines.join('\n')}\n`
}
