/**
 * Monolithic vs per-domain vs merged adapters (issue 17 item 4): for each domain, on the same
 * examples (the `eval_split` dev set), the value-add statistics of
 *
 * - `per_domain`: the domain's own adapter (`out/<domain>`),
 * - `monolithic`: one adapter trained on every domain's pairs (`out/monolithic_r4`),
 * - `merged:<method>`: the per-domain adapters of all domains merged with each merge method
 *   (`cat` = the exact weighted sum; `svd` its rank-k approximation; the dense methods re-projected
 *   to the largest input rank), with equal weights 1/K unless given,
 *
 * each against the pristine base model: ΔNLL mean (`exampleNlls`, answer tokens by default), its
 * paired bootstrap CI and Wilcoxon p (`pairedStat`), and Holm / Benjamini–Hochberg adjusted p over
 * every row of the run (`adjustRunPValues`, one family). Adapters are evaluated as un-merged side
 * branches; the base model's fingerprint is checked after every variant.
 */
import { writeFileAtomic, writeJsonAtomic } from '@plora/common'
import { type LoadDatasetOptions, loadDomainDataset, type SplitName } from '@plora/datasets'
import { assertPristineBase, baseFingerprint, createLoraBranches, type MergeMethod, mergeAdapters } from '@plora/loader'
import { type PairedStat, pairedStat } from '@plora/metrics'
import type { CausalLM, QaPair, Tokenizer } from '@plora/model'
import { adapterFromDeltas, type LoraAdapter, loadPeftAdapter } from '@plora/peft'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { exampleNlls, type NllOn } from './value-add-nll.js'
import { adjustRunPValues, type ValueAddRecord } from './value-add-records.js'

/** Options of {@link compareAdapters}. */
export interface CompareAdaptersOptions {
  model: CausalLM
  tok: Tokenizer
  domains: readonly string[]
  /** Domain → its adapter folder (every domain of `domains`). */
  perDomain: ReadonlyMap<string, string>
  /** The monolithic adapter folder (null: no monolithic row). */
  monolithic: string | null
  /** Merge methods whose merged adapter of the per-domain adapters is compared (empty: none). */
  methods: readonly MergeMethod[]
  /** Merge weights, one per domain in `domains` order (null: equal 1/K). */
  weights: readonly number[] | null
  density: number
  dropRate: number
  seed: number
  evalSplit: SplitName
  devSize: number
  maxLength: number | undefined
  nllOn: NllOn
  dataset: Partial<LoadDatasetOptions>
  /** Bootstrap resamples and seed of the paired CI. */
  bootstrap: { nResamples: number; seed: number }
  jsonOut: string
  markdownOut: string
  onRow?: (done: number, total: number, label: string) => void
  now?: () => number
}

/** One (domain, variant) row. */
export interface ComparisonRow {
  domain: string
  variant: string
  adapter: string
  n: number
  delta_mean: number
  ci: [number, number]
  wilcoxon_p: number
  p_holm: number
  p_bh: number
  n_improved: number
  n_worse: number
  /** Full paired statistic. */
  stat: PairedStat
}

/** `adapter_comparison.json`. */
export interface AdapterComparisonReport {
  schema: 'plora.adapter-comparison/v1'
  created_unix: number
  settings: {
    domains: string[]
    eval_split: SplitName
    dev_size: number
    max_length: number | null
    nll_on: NllOn
    methods: MergeMethod[]
    weights: number[]
    density: number
    drop_rate: number
    seed: number
    bootstrap: { nResamples: number; seed: number }
    base_sha256: string
    /** Tests adjusted together. */
    m: number
  }
  /** Relative truncation error of each merge's re-projection (null: exact). */
  truncation: Record<string, number | null>
  rows: ComparisonRow[]
}

/**
 * Evaluates every variant on every domain's dev set and writes the JSON and Markdown reports.
 * @throws ExperimentsError `EXPERIMENTS_INPUT_INVALID` (a domain without adapter, bad weights),
 *   `EXPERIMENTS_DATASET_FAILED`, `EXPERIMENTS_BASE_CONTAMINATED` (via the loader's check)
 */
export async function compareAdapters(o: CompareAdaptersOptions): Promise<AdapterComparisonReport> {
  const missing = o.domains.filter((d) => !o.perDomain.has(d))
  if (missing.length > 0 || o.domains.length === 0) {
    throw new ExperimentsError(
      ExperimentsErrorCode.InputInvalid,
      `compare-adapters: expected one per-domain adapter for each of ${o.domains.join(', ') || '(no domains)'}; missing ${missing.join(', ')}`,
      { missing },
    )
  }
  const k = o.domains.length
  const weights = o.weights === null ? o.domains.map(() => 1 / k) : [...o.weights]
  if (weights.length !== k) {
    throw new ExperimentsError(
      ExperimentsErrorCode.InputInvalid,
      `compare-adapters: expected ${k} merge weights (one per domain), found ${weights.length}`,
      { weights },
    )
  }
  const baseSha = await baseFingerprint(o.model)
  const dev = new Map<string, QaPair[]>()
  for (const d of o.domains) {
    try {
      const ds = await loadDomainDataset(d, { ...o.dataset, split: o.evalSplit, samples: o.devSize })
      dev.set(
        d,
        ds.pairs.map((p) => ({ prompt: p.question, answer: p.answer })),
      )
    } catch (e) {
      throw new ExperimentsError(
        ExperimentsErrorCode.DatasetFailed,
        `compare-adapters: cannot load the ${o.evalSplit} split of domain "${d}": ${(e as Error).message}`,
        { domain: d, split: o.evalSplit },
        { cause: e },
      )
    }
    if (dev.get(d)!.length === 0) {
      throw new ExperimentsError(
        ExperimentsErrorCode.DatasetFailed,
        `compare-adapters: the ${o.evalSplit} split of domain "${d}" is empty`,
        { domain: d, split: o.evalSplit },
      )
    }
  }
  const nllOpts = { nllOn: o.nllOn, maxLength: o.maxLength, batchSize: 8 }
  const nllsOf = async (adapter: LoraAdapter | null, d: string, where: string): Promise<number[]> => {
    if (adapter === null) return exampleNlls(o.model, o.tok, dev.get(d)!, { ...nllOpts, lora: undefined })
    const set = createLoraBranches(o.model, [adapter])
    try {
      return await exampleNlls(o.model, o.tok, dev.get(d)!, { ...nllOpts, lora: set.branches })
    } finally {
      set.dispose()
      await assertPristineBase(o.model, { expectedFingerprint: baseSha, where })
    }
  }

  // The variants: per-domain (its own domain only), monolithic, merged:<method>.
  const perDomain = new Map<string, LoraAdapter>()
  for (const d of o.domains) perDomain.set(d, await loadPeftAdapter(o.perDomain.get(d)!))
  const shared: Array<{ variant: string; adapter: string; load: () => Promise<LoraAdapter> }> = []
  if (o.monolithic !== null) {
    const dir = o.monolithic
    shared.push({ variant: 'monolithic', adapter: dir, load: () => loadPeftAdapter(dir) })
  }
  const truncation: Record<string, number | null> = {}
  const inputs = o.domains.map((d) => perDomain.get(d)!)
  for (const method of o.methods) {
    shared.push({
      variant: `merged:${method}`,
      adapter: `merge(${o.domains.map((d) => o.perDomain.get(d)!).join(', ')})`,
      load: async () => {
        const r = await mergeAdapters(o.model, inputs, {
          weights,
          method,
          density: o.density,
          dropRate: o.dropRate,
          seed: o.seed,
        })
        truncation[method] = r.plan.truncation?.relative ?? null
        return adapterFromDeltas(r.deltas, { baseModelNameOrPath: null, fanInFanOut: false })
      },
    })
  }
  const total = o.domains.length * (1 + shared.length)
  let done = 0
  const rows: Array<Omit<ComparisonRow, 'p_holm' | 'p_bh'>> = []
  const baseline = new Map<string, number[]>()
  for (const d of o.domains) baseline.set(d, await nllsOf(null, d, `baseline of ${d}`))
  const row = (d: string, variant: string, adapter: string, nll: number[]) => {
    const stat = pairedStat(baseline.get(d)!, nll, o.bootstrap)
    rows.push({
      domain: d,
      variant,
      adapter,
      n: stat.n,
      delta_mean: stat.delta_mean,
      ci: stat.ci,
      wilcoxon_p: stat.wilcoxon_p,
      n_improved: stat.n_improved,
      n_worse: stat.n_worse,
      stat,
    })
    o.onRow?.(++done, total, `${d} ${variant}`)
  }
  for (const d of o.domains) {
    row(d, 'per_domain', o.perDomain.get(d)!, await nllsOf(perDomain.get(d)!, d, `per-domain adapter of ${d}`))
  }
  for (const v of shared) {
    const adapter = await v.load()
    for (const d of o.domains) row(d, v.variant, v.adapter, await nllsOf(adapter, d, `${v.variant} on ${d}`))
  }
  // One family over every row, by the value-add run's own adjustment.
  const records: ValueAddRecord[] = rows.map((r) => ({
    config: { domain: r.domain, rank: 0, scheme: r.variant, seed: 0 },
    trained: r.stat,
  }))
  const adj = adjustRunPValues(records)
  const order = (v: string) => (v === 'per_domain' ? 0 : v === 'monolithic' ? 1 : 2)
  const full: ComparisonRow[] = rows
    .map((r, i) => ({ ...r, p_holm: adj.holm[i]!.trained!, p_bh: adj.bh[i]!.trained! }))
    .sort(
      (a, b) =>
        o.domains.indexOf(a.domain) - o.domains.indexOf(b.domain) ||
        order(a.variant) - order(b.variant) ||
        a.variant.localeCompare(b.variant),
    )
  const report: AdapterComparisonReport = {
    schema: 'plora.adapter-comparison/v1',
    created_unix: Math.floor((o.now ?? (() => Date.now() / 1000))()),
    settings: {
      domains: [...o.domains],
      eval_split: o.evalSplit,
      dev_size: o.devSize,
      max_length: o.maxLength ?? null,
      nll_on: o.nllOn,
      methods: [...o.methods],
      weights,
      density: o.density,
      drop_rate: o.dropRate,
      seed: o.seed,
      bootstrap: o.bootstrap,
      base_sha256: baseSha,
      m: adj.m,
    },
    truncation,
    rows: full,
  }
  await writeJsonAtomic(o.jsonOut, report)
  await writeFileAtomic(o.markdownOut, adapterComparisonMarkdown(report))
  return report
}

function f3(x: number): string {
  return Number.isFinite(x) ? (x >= 0 ? `+${x.toFixed(3)}` : x.toFixed(3)) : 'n/a'
}

function p3(x: number): string {
  return x < 1e-3 ? x.toExponential(2) : x.toFixed(3)
}

/** The Markdown report: one table per domain. */
export function adapterComparisonMarkdown(r: AdapterComparisonReport): string {
  const s = r.settings
  const lines = [
    '# Per-domain vs monolithic vs merged adapters',
    '',
    `ΔNLL = mean over the same ${s.eval_split} examples of NLL(variant) − NLL(base) (${s.nll_on === 'answer' ? 'answer tokens' : 'all tokens'}; negative = better than the base model), ` +
      `95 % paired bootstrap CI (${s.bootstrap.nResamples} resamples), two-sided Wilcoxon p adjusted by Holm and Benjamini–Hochberg over all ${s.m} rows. ` +
      `Merged variants merge the per-domain adapters of ${s.domains.join(', ')} with weights [${s.weights.map((w) => w.toPrecision(3)).join(', ')}].`,
    '',
  ]
  for (const d of s.domains) {
    lines.push(
      `## ${d}`,
      '',
      '| variant | n | ΔNLL | 95 % CI | p (Wilcoxon) | p Holm | p BH | improved / worse |',
      '|---|---|---|---|---|---|---|---|',
    )
    for (const x of r.rows.filter((y) => y.domain === d)) {
      lines.push(
        `| ${x.variant} | ${x.n} | ${f3(x.delta_mean)} | [${f3(x.ci[0])}, ${f3(x.ci[1])}] | ${p3(x.wilcoxon_p)} | ${p3(x.p_holm)} | ${p3(x.p_bh)} | ${x.n_improved} / ${x.n_worse} |`,
      )
    }
    lines.push('')
  }
  const tr = Object.entries(r.truncation).filter(([, v]) => v !== null)
  if (tr.length > 0) {
    lines.push(
      `Re-projection error ‖ΔW − ΔW_k‖_F / ‖ΔW‖_F: ${tr.map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ')}.`,
      '',
    )
  }
  return `${lines.join('\n')}\n`
}
