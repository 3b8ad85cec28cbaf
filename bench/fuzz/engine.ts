/**
 * The fuzz engine: per-case seeded mutants, the outcome of the real validators, and the
 * classification against an independent reference (what each mutation must give).
 *
 * A case is `accepted`, `rejected` (a PloraError, code recorded) or `crashed` (anything else:
 * the stack trace a user would see). It is then judged:
 * - `wrongly_accepted`: accepted although the reference says it is invalid, or an invariant of an
 *   accepted input broke (round trip, sizes, file vs bytes agreement);
 * - `wrongly_rejected`: rejected although the reference accepts it (reported, not a failure);
 * - `inconsistent`: rejected, but two entry points disagree (e.g. bytes vs file);
 * - `crashed`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRng, deriveSeed, isPloraError, type Rng } from './targets.js'

/** What the reference says an input must give. */
export type Expect = 'reject' | 'accept' | 'any'

/** One mutated input. */
export interface Mutant {
  /** Mutation family, e.g. `offsets:overlap`. */
  kind: string
  /** What exactly was done (shown for the slowest case and crashes). */
  desc: string
  bytes: Uint8Array
  expect: Expect
  /** Why the reference expects that (for reports). */
  reason?: string
  /** Extra data the oracle needs (e.g. the seed's parsed value). */
  context?: unknown
}

export type Outcome = 'accepted' | 'rejected' | 'crashed'

/** The result of running the real entry points on one mutant. */
export interface Verdict {
  outcome: Outcome
  code?: string
  error?: string
  stack?: string
  /** Final expectation after the oracle's reference check (overrides the mutant's `any`). */
  expect: Expect
  reason?: string
  /** Broken invariants (an accepted input that is not self-consistent, or entry points disagreeing). */
  violations: string[]
  /** Wall time of the validator calls, in ms. */
  ms: number
}

export type CaseClass = 'ok' | 'wrongly_accepted' | 'wrongly_rejected' | 'inconsistent' | 'crashed'

/** A corpus: a seeded mutant generator and its oracle. */
export interface Corpus {
  name: string
  make(rng: Rng, index: number): Mutant
  judge(m: Mutant, index: number): Promise<Verdict>
}

/** Runs `fn` and turns its outcome into accepted / rejected (PloraError) / crashed. */
export async function attempt<T>(
  fn: () => Promise<T> | T,
): Promise<{ outcome: Outcome; value?: T; code?: string; error?: string; stack?: string; ms: number }> {
  const t0 = performance.now()
  try {
    const value = await fn()
    return { outcome: 'accepted', value, ms: performance.now() - t0 }
  } catch (e) {
    const ms = performance.now() - t0
    if (isPloraError(e)) return { outcome: 'rejected', code: e.code, error: e.message.slice(0, 300), ms }
    const err = e as Error
    return {
      outcome: 'crashed',
      error: String(err?.message ?? e).slice(0, 300),
      ...(err?.stack ? { stack: err.stack } : {}),
      ms,
    }
  }
}

/** The verdict of a case from the attempt that decides its outcome (see {@link attempt}). */
export function verdictOf(
  head: { outcome: Outcome; code?: string; error?: string; stack?: string },
  expect: Expect,
  reason: string | undefined,
  violations: string[],
  ms: number,
): Verdict {
  return {
    outcome: head.outcome,
    ...(head.code ? { code: head.code } : {}),
    ...(head.error ? { error: head.error } : {}),
    ...(head.stack ? { stack: head.stack } : {}),
    expect,
    ...(reason ? { reason } : {}),
    violations,
    ms,
  }
}

export function classify(v: Verdict): CaseClass {
  if (v.outcome === 'crashed') return 'crashed'
  if (v.outcome === 'accepted') return v.expect === 'reject' || v.violations.length > 0 ? 'wrongly_accepted' : 'ok'
  if (v.violations.length > 0) return 'inconsistent'
  return v.expect === 'accept' ? 'wrongly_rejected' : 'ok'
}

/** A recorded problem case (enough to reproduce: corpus, seed, index). */
export interface Finding {
  index: number
  kind: string
  desc: string
  class: CaseClass
  outcome: Outcome
  code?: string
  error?: string
  reason?: string
  violations: string[]
  file?: string
}

/** Per-corpus totals. */
export interface CorpusSummary {
  corpus: string
  cases: number
  outcomes: Record<Outcome, number>
  classes: Record<CaseClass, number>
  codes: Record<string, number>
  /** Per mutation kind: cases / accepted / rejected / crashed / wrongly accepted / wrongly rejected. */
  kinds: Record<
    string,
    {
      cases: number
      accepted: number
      rejected: number
      crashed: number
      wa: number
      wr: number
      ms: number
      maxMs: number
    }
  >
  slowest: { index: number; kind: string; desc: string; ms: number; outcome: Outcome; code?: string }
  slowestRejection: { index: number; kind: string; desc: string; ms: number; code?: string } | null
  rejectionsOver1s: number
  totalMs: number
  wallMs: number
  findings: Finding[]
}

export interface RunOptions {
  seed: number
  count: number
  /** Where reproducers of problem cases are saved (first few per class). */
  scratchDir?: string
  /** Max reproducers saved per class. */
  keep?: number
  /** Max findings kept in the summary per class and mutation kind. */
  maxFindings?: number
  /** Only run these indices (reproduce a case). */
  only?: number[]
  onProgress?: (done: number) => void
}

/** Runs `count` seeded cases of a corpus. Case i uses `createRng(deriveSeed(seed, corpus, i))`. */
export async function runCorpus(corpus: Corpus, o: RunOptions): Promise<CorpusSummary> {
  const keep = o.keep ?? 5
  const maxFindings = o.maxFindings ?? 5
  const s: CorpusSummary = {
    corpus: corpus.name,
    cases: 0,
    outcomes: { accepted: 0, rejected: 0, crashed: 0 },
    classes: { ok: 0, wrongly_accepted: 0, wrongly_rejected: 0, inconsistent: 0, crashed: 0 },
    codes: {},
    kinds: {},
    slowest: { index: -1, kind: '', desc: '', ms: -1, outcome: 'accepted' },
    slowestRejection: null,
    rejectionsOver1s: 0,
    totalMs: 0,
    wallMs: 0,
    findings: [],
  }
  const saved: Record<string, number> = {}
  const perClass: Record<string, number> = {}
  const t0 = performance.now()
  const indices = o.only ?? Array.from({ length: o.count }, (_, i) => i)
  for (const i of indices) {
    const rng = createRng(deriveSeed(o.seed, corpus.name, i))
    const m = corpus.make(rng, i)
    let v: Verdict
    try {
      v = await corpus.judge(m, i)
    } catch (e) {
      // A bug in the harness itself must not pass for a product crash: stop loudly.
      throw new Error(`harness error on ${corpus.name}#${i} (${m.kind}: ${m.desc}): ${(e as Error).stack}`)
    }
    const c = classify(v)
    s.cases++
    s.outcomes[v.outcome]++
    s.classes[c]++
    s.totalMs += v.ms
    if (v.code) s.codes[v.code] = (s.codes[v.code] ?? 0) + 1
    s.kinds[m.kind] ??= { cases: 0, accepted: 0, rejected: 0, crashed: 0, wa: 0, wr: 0, ms: 0, maxMs: 0 }
    const k = s.kinds[m.kind]!
    k.cases++
    k[v.outcome]++
    k.ms += v.ms
    k.maxMs = Math.max(k.maxMs, v.ms)
    if (c === 'wrongly_accepted') k.wa++
    if (c === 'wrongly_rejected') k.wr++
    if (v.ms > s.slowest.ms) {
      s.slowest = {
        index: i,
        kind: m.kind,
        desc: m.desc,
        ms: v.ms,
        outcome: v.outcome,
        ...(v.code ? { code: v.code } : {}),
      }
    }
    if (v.outcome === 'rejected') {
      if (v.ms > 1000) s.rejectionsOver1s++
      if (!s.slowestRejection || v.ms > s.slowestRejection.ms) {
        s.slowestRejection = { index: i, kind: m.kind, desc: m.desc, ms: v.ms, ...(v.code ? { code: v.code } : {}) }
      }
    }
    if (c !== 'ok') {
      const f: Finding = {
        index: i,
        kind: m.kind,
        desc: m.desc,
        class: c,
        outcome: v.outcome,
        violations: v.violations,
        ...(v.code ? { code: v.code } : {}),
        ...(v.error ? { error: v.error } : {}),
        ...(v.reason ? { reason: v.reason } : {}),
      }
      if (o.scratchDir && (saved[c] ?? 0) < keep) {
        saved[c] = (saved[c] ?? 0) + 1
        mkdirSync(o.scratchDir, { recursive: true })
        const base = join(o.scratchDir, `${corpus.name}-${c}-${i}`)
        writeFileSync(`${base}.bin`, m.bytes)
        writeFileSync(`${base}.txt`, `${JSON.stringify({ ...f, seed: o.seed }, null, 2)}\n${v.stack ?? ''}\n`)
        f.file = `${base}.bin`
      }
      const key = `${c}|${m.kind}`
      perClass[key] = (perClass[key] ?? 0) + 1
      if (perClass[key]! <= maxFindings) s.findings.push(f)
    }
    o.onProgress?.(s.cases)
  }
  s.wallMs = performance.now() - t0
  return s
}

/** Weighted choice of a generator. */
export function pick<T>(rng: Rng, table: ReadonlyArray<readonly [number, T]>): T {
  const total = table.reduce((a, [w]) => a + w, 0)
  let x = rng.random() * total
  for (const [w, v] of table) {
    x -= w
    if (x < 0) return v
  }
  return table.at(-1)![1]
}

/** An integer in [lo, hi]. */
export function int(rng: Rng, lo: number, hi: number): number {
  return lo + rng.randbelow(hi - lo + 1)
}
