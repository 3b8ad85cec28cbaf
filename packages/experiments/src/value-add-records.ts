/**
 * Value-add records (spec pipelines.md §9.7, §9.9, §9.11): types, a tolerant reader for the
 * runner's, the builder's and the original's older lines, and the run-wide multiple-testing
 * correction.
 */
import { existsSync } from 'node:fs'
import { copyFile, readFile } from 'node:fs/promises'
import { type Logger, SILENT_LOGGER, writeFileAtomic } from '@plora/common'
import { benjaminiHochberg, holm, type PairedStat } from '@plora/metrics'

/**
 * A condition's statistic as records hold it. The original's records carry only `delta_mean`,
 * `wilcoxon_p` and `ci`; plora's add the rest of {@link PairedStat}.
 */
export type StatRecord = Pick<PairedStat, 'delta_mean' | 'wilcoxon_p' | 'ci'> & Partial<PairedStat>

/** `config` of a record: the original's four (five with `eval_split`) fields, plus plora's. */
export interface RecordConfig {
  domain: string
  rank: number
  scheme: string
  seed: number
  eval_split?: string
  [key: string]: unknown
}

/** One value-add record (runner or builder, plora's or the original's older shape). */
export interface ValueAddRecord {
  config: RecordConfig
  status?: string
  trained: StatRecord | null
  placebo_a?: StatRecord | null
  placebo_b?: StatRecord | null
  placebo_b_cross?: Record<string, Partial<StatRecord>> | null
  effect_decomposition?: EffectDecomposition | null
  cross_domain?: Record<string, Partial<StatRecord>> | null
  latency_ms?: number | null
  latency_guard_exceeded?: boolean
  cold_latency_ms?: number | null
  hot_latency_ms?: number | null
  [key: string]: unknown
}

/** The builder's effect decomposition (spec §9.9 step 5). */
export interface EffectDecomposition {
  total_effect: number
  domain_adaptation: number
  skill_specific: number
  domain_adaptation_pct: number
  skill_specific_pct: number
}

/**
 * total = trained Δ; domain adaptation = placebo-B Δ (learning the domain's answer distribution
 * without the question→answer mapping); skill-specific = the rest (spec §9.9 step 5).
 */
export function effectDecomposition(trained: number, placeboB: number): EffectDecomposition {
  return {
    total_effect: trained,
    domain_adaptation: placeboB,
    skill_specific: trained - placeboB,
    domain_adaptation_pct: trained === 0 ? 0 : (100 * placeboB) / trained,
    skill_specific_pct: trained === 0 ? 0 : 100 * (1 - placeboB / trained),
  }
}

/** What {@link readValueAddRecords} found. */
export interface ReadRecordsResult {
  records: ValueAddRecord[]
  /** The file's text as kept (valid lines only, `\n`-terminated). */
  text: string
  /** A torn last line (a run killed mid-write) was dropped. */
  droppedTornLine: boolean
  /** The file was unreadable and moved aside to `<path>.bak`. */
  backedUp: boolean
}

function isRecord(v: unknown): v is ValueAddRecord {
  if (typeof v !== 'object' || v === null) return false
  const c = (v as { config?: unknown }).config
  return typeof c === 'object' && c !== null && typeof (c as { domain?: unknown }).domain === 'string'
}

/**
 * Reads a value-add JSONL. Blank lines are skipped. A last line without its `\n` that does not
 * parse is a torn write and is dropped (the file is rewritten without it); any other bad line
 * makes the file unusable as the original does (§9.2 step 4): it is copied to `<path>.bak` and the
 * run starts empty.
 */
export async function readValueAddRecords(
  path: string,
  options: { repair?: boolean; logger?: Logger } = {},
): Promise<ReadRecordsResult> {
  const logger = options.logger ?? SILENT_LOGGER
  if (!existsSync(path)) return { records: [], text: '', droppedTornLine: false, backedUp: false }
  const raw = await readFile(path, 'utf8')
  const lines = raw.split('\n')
  const last = lines.pop() ?? ''
  const records: ValueAddRecord[] = []
  const kept: string[] = []
  let droppedTornLine = false
  const parse = (line: string): ValueAddRecord | undefined => {
    try {
      const v = JSON.parse(line) as unknown
      return isRecord(v) ? v : undefined
    } catch {
      return undefined
    }
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    const r = parse(line)
    if (r === undefined) {
      if (options.repair !== false) {
        await copyFile(path, `${path}.bak`)
        await writeFileAtomic(path, '')
        logger.warn(`${path}:${i + 1} is not a value-add record; copied the file to ${path}.bak and started empty`)
      }
      return { records: [], text: '', droppedTornLine: false, backedUp: true }
    }
    records.push(r)
    kept.push(line)
  }
  if (last.trim() !== '') {
    const r = parse(last.trim())
    if (r === undefined) {
      droppedTornLine = true
      logger.warn(`${path}: dropped a torn last line (a run stopped mid-write)`)
    } else {
      records.push(r)
      kept.push(last.trim())
    }
  }
  const text = kept.map((l) => `${l}\n`).join('')
  if (droppedTornLine && options.repair !== false) await writeFileAtomic(path, text)
  return { records, text, droppedTornLine, backedUp: false }
}

/** The conditions whose p-values are corrected together. */
export type ConditionName = 'trained' | 'placebo_a' | 'placebo_b' | `cross:${string}`

/** Run-wide adjusted p-values, per record index and condition. */
export interface AdjustedPValues {
  /** `adjusted[i][condition]` for record i. */
  holm: Array<Record<string, number>>
  bh: Array<Record<string, number>>
  /** Number of tests corrected together. */
  m: number
}

/**
 * Holm and Benjamini–Hochberg across every cell and condition of the given records (trained,
 * placebo A, placebo B and each cross-domain delta that has a p-value): one family.
 */
export function adjustRunPValues(records: readonly ValueAddRecord[]): AdjustedPValues {
  const refs: Array<{ i: number; cond: string; p: number }> = []
  records.forEach((r, i) => {
    const add = (cond: string, s: Partial<StatRecord> | null | undefined) => {
      if (s && typeof s.wilcoxon_p === 'number' && Number.isFinite(s.wilcoxon_p))
        refs.push({ i, cond, p: s.wilcoxon_p })
    }
    add('trained', r.trained)
    add('placebo_a', r.placebo_a)
    add('placebo_b', r.placebo_b)
    for (const [o, s] of Object.entries(r.cross_domain ?? {})) add(`cross:${o}`, s)
  })
  const ps = refs.map((x) => Math.min(1, Math.max(0, x.p)))
  const h = holm(ps).adjusted
  const b = benjaminiHochberg(ps).adjusted
  const out: AdjustedPValues = {
    holm: records.map(() => ({})),
    bh: records.map(() => ({})),
    m: refs.length,
  }
  refs.forEach((x, k) => {
    out.holm[x.i]![x.cond] = h[k]!
    out.bh[x.i]![x.cond] = b[k]!
  })
  return out
}
