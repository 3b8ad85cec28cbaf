/**
 * The value-add builder, `build_value_add_jsonl` of the original (spec pipelines.md §9.9; issue 16
 * item 6): re-evaluates adapters already on disk and writes one record per configuration, with
 * the defects §9.9 and §20 item 20 tag fixed:
 *
 * - it evaluates on the configured **held-out split** (`evalSplit`, the runner's), never the
 *   training rows, and records the split;
 * - NLL caches are keyed by the adapter file's SHA-256 (so rank, content and path cannot collide),
 *   the base weights' hash, domain, split, dev size, max length and NLL mode;
 * - an existing record is reused only when its whole `config` (those fields included) matches;
 * - "hot" latency injects the adapter into the loaded base and removes it again (bit-exact), so
 *   attachments never stack;
 * - the base model named in `adapter_config.json` is read from PEFT's `base_model_name_or_path`.
 * Discovery finds flat `<domain>_r<rank>_<scheme>_seed<seed>` folders and nested
 * `rank_r<rank>/<domain>_<scheme>_seed<seed>` folders (the runner's layout).
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type Logger, pythonJsonDumps, SILENT_LOGGER, sha256Hex, writeFileAtomic, writeJsonAtomic } from '@plora/common'
import { type LoadDatasetOptions, loadDomainDataset, type SplitName } from '@plora/datasets'
import { assertPristineBase, baseFingerprint, createLoraBranches, injectAdapters } from '@plora/loader'
import { type PairedStat, pairedStat } from '@plora/metrics'
import { type CausalLM, loadCausalLMFromDir, loadTokenizer, type QaPair, type Tokenizer } from '@plora/model'
import { loadPeftAdapter } from '@plora/peft'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import { exampleNlls, type NllOn } from './value-add-nll.js'
import { effectDecomposition, readValueAddRecords, type ValueAddRecord } from './value-add-records.js'

/** One discovered artefact configuration. */
export interface ArtifactConfig {
  domain: string
  rank: number
  scheme: string
  seed: number
  dir: string
  layout: 'flat' | 'nested'
}

const FLAT_RE = /^(.+)_r(\d+)_(attention|mlp|all)_seed(\d+)$/
const NESTED_RE = /^(.+)_(attention|mlp|all)_seed(\d+)$/

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}

function byConfig(a: ArtifactConfig, b: ArtifactConfig): number {
  return a.domain < b.domain
    ? -1
    : a.domain > b.domain
      ? 1
      : a.rank - b.rank || (a.scheme < b.scheme ? -1 : a.scheme > b.scheme ? 1 : 0) || a.seed - b.seed
}

/**
 * Finds the artefact configurations under `artifactsDir` (sorted by domain, rank, scheme, seed).
 * @throws ExperimentsError `EXPERIMENTS_ARTIFACTS_MISSING` when the folder does not exist.
 */
export function discoverArtifacts(artifactsDir: string): ArtifactConfig[] {
  if (!isDir(artifactsDir)) {
    throw new ExperimentsError(ExperimentsErrorCode.ArtifactsMissing, `Artifacts dir not found: ${artifactsDir}`, {
      artifactsDir,
    })
  }
  const out: ArtifactConfig[] = []
  for (const name of readdirSync(artifactsDir).sort()) {
    const p = join(artifactsDir, name)
    if (!isDir(p)) continue
    const flat = FLAT_RE.exec(name)
    if (flat) {
      out.push({
        domain: flat[1]!,
        rank: Number(flat[2]),
        scheme: flat[3]!,
        seed: Number(flat[4]),
        dir: p,
        layout: 'flat',
      })
      continue
    }
    const rankDir = /^rank_r(\d+)$/.exec(name)
    if (!rankDir) continue
    for (const sub of readdirSync(p).sort()) {
      const m = NESTED_RE.exec(sub)
      if (!m || !isDir(join(p, sub))) continue
      out.push({
        domain: m[1]!,
        rank: Number(rankDir[1]),
        scheme: m[2]!,
        seed: Number(m[3]),
        dir: join(p, sub),
        layout: 'nested',
      })
    }
  }
  return out.sort(byConfig)
}

/** Options of {@link buildValueAdd}. */
export interface BuildValueAddOptions {
  artifactsDir: string
  /** The JSONL written (default `<artifactsDir>/value_add.jsonl`). */
  output: string
  domains: string[]
  devSize: number
  maxLength: number
  evalSplit: SplitName
  nllOn: NllOn
  /** Base model used when an artefact names none. */
  baseModel: string | undefined
  /** Turns a base-model reference into a local model folder (the CLI resolves `embedded`, hub ids…). */
  resolveModelDir: (spec: string) => Promise<string>
  overwrite: boolean
  /** Regex searched in the adapter folder's name. */
  filter: string
  /** Seeds kept; empty = all. */
  seeds: number[]
  latencyTrials: number
  diskCache: boolean
  adapterCache: boolean
  skipPlacebos: boolean
  skipCross: boolean
  dataset: Partial<LoadDatasetOptions>
  logger: Logger
  /** Called after every configuration (`[k/total] wrote <dir name>`). */
  onConfig: ((done: number, total: number, name: string) => void) | undefined
  clock: () => number
}

/** Defaults of {@link BuildValueAddOptions} (the original's where it has one). */
export const DEFAULT_BUILD_VALUE_ADD_OPTIONS: Omit<BuildValueAddOptions, 'resolveModelDir' | 'output'> = {
  artifactsDir: 'results/value_add',
  domains: ['arithmetic', 'legal', 'medical'],
  devSize: 256,
  maxLength: 512,
  evalSplit: 'validation',
  nllOn: 'answer',
  baseModel: undefined,
  overwrite: false,
  filter: '',
  seeds: [],
  latencyTrials: 1,
  diskCache: true,
  adapterCache: true,
  skipPlacebos: false,
  skipCross: false,
  dataset: {},
  logger: SILENT_LOGGER,
  onConfig: undefined,
  clock: () => performance.now(),
}

/** Applies the builder's filters; nothing left → `EXPERIMENTS_NO_CONFIGS`. */
export function filterArtifacts(
  configs: readonly ArtifactConfig[],
  o: Pick<BuildValueAddOptions, 'filter' | 'seeds' | 'domains'>,
): ArtifactConfig[] {
  let re: RegExp | undefined
  try {
    re = o.filter === '' ? undefined : new RegExp(o.filter)
  } catch (e) {
    throw new ExperimentsError(
      ExperimentsErrorCode.InputInvalid,
      `--filter ${JSON.stringify(o.filter)} is not a valid regular expression: ${(e as Error).message}`,
      { filter: o.filter },
    )
  }
  const kept = configs.filter(
    (c) =>
      (re === undefined || re.test(c.dir.split(/[\\/]/).at(-1)!)) &&
      (o.seeds.length === 0 || o.seeds.includes(c.seed)) &&
      o.domains.includes(c.domain),
  )
  if (kept.length === 0) {
    throw new ExperimentsError(ExperimentsErrorCode.NoConfigs, 'No artifact configs discovered after filtering.', {
      discovered: configs.length,
    })
  }
  return kept
}

/** The base model an artefact names: plora.yml, README front matter, adapter_config.json, else undefined. */
export async function artifactBaseModel(dir: string): Promise<string | undefined> {
  const read = async (f: string) => (existsSync(join(dir, f)) ? await readFile(join(dir, f), 'utf8') : undefined)
  const yml = await read('plora.yml')
  const m1 = yml && /^base[_-]model:\s*['"]?([^'"\n]+?)['"]?\s*$/m.exec(yml)
  if (m1) return m1[1]
  const readme = await read('README.md')
  const m2 = readme && /^base_model:\s*['"]?([^'"\n]+?)['"]?\s*$/m.exec(readme)
  if (m2) return m2[1]
  const cfg = await read('adapter_config.json')
  if (cfg) {
    try {
      const j = JSON.parse(cfg) as Record<string, unknown>
      for (const k of ['base_model_name_or_path', 'base_model_name', 'base_model']) {
        if (typeof j[k] === 'string' && j[k] !== '') return j[k] as string
      }
    } catch {
      // unreadable config: fall through
    }
  }
  return undefined
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_')
}

function placeboDir(dir: string, kind: 'placebo_random' | 'placebo_shuffle'): string | undefined {
  for (const p of [join(dir, kind), `${dir}_${kind}`]) if (existsSync(join(p, 'adapter_model.safetensors'))) return p
  return undefined
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** What {@link buildValueAdd} did. */
export interface BuildValueAddResult {
  output: string
  records: ValueAddRecord[]
  evaluated: number
  reused: number
  failed: number
}

function keyOf(c: { domain: string; rank: number; scheme: string; seed: number }): string {
  return `${c.domain}\u0000${c.rank}\u0000${c.scheme}\u0000${c.seed}`
}

function sortRecords(rs: ValueAddRecord[]): ValueAddRecord[] {
  return [...rs].sort((a, b) =>
    byConfig(
      { ...a.config, dir: '', layout: 'flat' } as ArtifactConfig,
      { ...b.config, dir: '', layout: 'flat' } as ArtifactConfig,
    ),
  )
}

/**
 * Re-evaluates every discovered artefact configuration and writes the JSONL (rewritten atomically
 * after each configuration, sorted by domain, rank, scheme, seed).
 *
 * @throws ExperimentsError `EXPERIMENTS_ARTIFACTS_MISSING` (CLI exit 2), `EXPERIMENTS_NO_CONFIGS`
 *   (exit 3), `EXPERIMENTS_DATASET_FAILED`. A configuration that fails to evaluate becomes a
 *   failure record (`status: "eval_failed:<code>"`), not an error.
 */
export async function buildValueAdd(
  options: Partial<BuildValueAddOptions> & Pick<BuildValueAddOptions, 'resolveModelDir'>,
): Promise<BuildValueAddResult> {
  const o: BuildValueAddOptions = {
    ...DEFAULT_BUILD_VALUE_ADD_OPTIONS,
    output: join(options.artifactsDir ?? DEFAULT_BUILD_VALUE_ADD_OPTIONS.artifactsDir, 'value_add.jsonl'),
    ...options,
  }
  const log = o.logger
  const configs = filterArtifacts(discoverArtifacts(o.artifactsDir), o)
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
        `value-add build: cannot load the ${o.evalSplit} split of domain "${d}": ${(e as Error).message}`,
        { domain: d, split: o.evalSplit },
        { cause: e },
      )
    }
  }
  const merged = new Map<string, ValueAddRecord>()
  if (!o.overwrite)
    for (const r of (await readValueAddRecords(o.output, { repair: false })).records) merged.set(keyOf(r.config), r)
  const cacheDir = join(dirname(o.output), '.cache')
  const write = async () => {
    const rs = sortRecords([...merged.values()])
    await writeFileAtomic(o.output, rs.map((r) => `${pythonJsonDumps(r)}\n`).join(''))
    return rs
  }

  // Base model per artefact, grouped.
  const groups = new Map<string, ArtifactConfig[]>()
  const unknown: ArtifactConfig[] = []
  for (const c of configs) {
    const spec = (await artifactBaseModel(c.dir)) ?? o.baseModel
    if (spec === undefined) unknown.push(c)
    else groups.set(spec, [...(groups.get(spec) ?? []), c])
  }
  let done = 0
  let evaluated = 0
  let reused = 0
  let failed = 0
  const name = (c: ArtifactConfig) => c.dir.split(/[\\/]/).at(-1)!
  const fail = async (c: ArtifactConfig, status: string, config: Record<string, unknown>) => {
    failed++
    merged.set(keyOf(c), {
      config: config as ValueAddRecord['config'],
      status,
      trained: null,
      placebo_a: null,
      placebo_b: null,
      placebo_b_cross: null,
      effect_decomposition: null,
      cross_domain: null,
      latency_ms: null,
      cold_latency_ms: null,
      hot_latency_ms: null,
    })
    await write()
    o.onConfig?.(++done, configs.length, name(c))
  }
  for (const c of unknown) {
    await fail(c, 'eval_failed:base_model_unknown', { domain: c.domain, rank: c.rank, scheme: c.scheme, seed: c.seed })
  }
  for (const [spec, list] of groups) {
    let model: CausalLM | undefined
    let tok: Tokenizer | undefined
    let baseSha = ''
    let modelDir = ''
    try {
      try {
        modelDir = await o.resolveModelDir(spec)
        model = await loadCausalLMFromDir(modelDir)
        tok = await loadTokenizer(modelDir)
        baseSha = await baseFingerprint(model)
      } catch (e) {
        for (const c of list) {
          await fail(c, `eval_failed:${(e as { code?: string }).code ?? (e as Error).name}`, {
            domain: c.domain,
            rank: c.rank,
            scheme: c.scheme,
            seed: c.seed,
            base_model: spec,
          })
        }
        continue
      }
      const m = model
      const t = tok
      const nllCache = new Map<string, number[]>()
      const nlls = async (what: string, d: string, adapterDir: string | undefined, sha: string, useDisk: boolean) => {
        const file = join(
          cacheDir,
          safeName(
            `${what}_${spec}_${sha.slice(0, 16)}_${d}_${o.evalSplit}_dev${o.devSize}_len${o.maxLength}_${o.nllOn}_base${baseSha.slice(0, 12)}.json`,
          ),
        )
        const mem = nllCache.get(file)
        if (mem) return mem
        if (useDisk && existsSync(file)) {
          try {
            const v = JSON.parse(await readFile(file, 'utf8')) as number[]
            if (Array.isArray(v) && v.length === dev.get(d)!.length) {
              nllCache.set(file, v)
              return v
            }
          } catch {
            // unreadable cache: recompute
          }
        }
        let v: number[]
        const opts = { nllOn: o.nllOn, maxLength: o.maxLength, batchSize: 8 }
        if (adapterDir === undefined) {
          await assertPristineBase(m, { expectedFingerprint: baseSha, where: `baseline of ${d}` })
          v = await exampleNlls(m, t, dev.get(d)!, { ...opts, lora: undefined })
        } else {
          const set = createLoraBranches(m, [await loadPeftAdapter(adapterDir)])
          try {
            v = await exampleNlls(m, t, dev.get(d)!, { ...opts, lora: set.branches })
          } finally {
            set.dispose()
          }
        }
        nllCache.set(file, v)
        if (useDisk) await writeJsonAtomic(file, v)
        return v
      }
      const baseline = (d: string) => nlls('baseline', d, undefined, 'base', o.diskCache)
      const shaOf = async (dir: string) =>
        sha256Hex(new Uint8Array(await readFile(join(dir, 'adapter_model.safetensors'))))
      for (const c of list) {
        const config: Record<string, unknown> = {
          domain: c.domain,
          rank: c.rank,
          scheme: c.scheme,
          seed: c.seed,
          eval_split: o.evalSplit,
          dev_size: o.devSize,
          max_length: o.maxLength,
          nll_on: o.nllOn,
          base_model: spec,
          base_sha256: baseSha,
        }
        try {
          const sha = await shaOf(c.dir)
          config.adapter_sha256 = sha
          const pa = o.skipPlacebos ? undefined : placeboDir(c.dir, 'placebo_random')
          const pb = o.skipPlacebos ? undefined : placeboDir(c.dir, 'placebo_shuffle')
          config.placebo_a_sha256 = pa ? await shaOf(pa) : null
          config.placebo_b_sha256 = pb ? await shaOf(pb) : null
          config.skip_cross = o.skipCross
          const prev = merged.get(keyOf(c))
          if (prev && pythonJsonDumps(prev.config) === pythonJsonDumps(config) && prev.status === undefined) {
            reused++
            o.onConfig?.(++done, configs.length, name(c))
            continue
          }
          const stat = async (adapterDir: string, adapterSha: string, d: string): Promise<PairedStat> =>
            pairedStat(await baseline(d), await nlls('adapter', d, adapterDir, adapterSha, o.adapterCache))
          const trained = await stat(c.dir, sha, c.domain)
          let latency = 0
          let cold = 0
          if (o.latencyTrials > 0) {
            const s0 = o.clock()
            const coldModel = await loadCausalLMFromDir(modelDir)
            const h0 = injectAdapters(coldModel, [await loadPeftAdapter(c.dir)])
            cold = o.clock() - s0
            h0.remove()
            coldModel.dispose()
            const hot: number[] = []
            for (let k = 0; k < Math.max(1, o.latencyTrials); k++) {
              const s = o.clock()
              const h = injectAdapters(m, [await loadPeftAdapter(c.dir)])
              h.remove()
              hot.push(o.clock() - s)
            }
            latency = median(hot)
            await assertPristineBase(m, { expectedFingerprint: baseSha, where: `after the latency of ${name(c)}` })
          }
          const placeboA = pa ? await stat(pa, config.placebo_a_sha256 as string, c.domain) : null
          const placeboB = pb ? await stat(pb, config.placebo_b_sha256 as string, c.domain) : null
          const others = o.skipCross ? [] : o.domains.filter((d) => d !== c.domain)
          let placeboBCross: Record<string, PairedStat> | null = null
          if (pb && !o.skipCross) {
            placeboBCross = {}
            for (const d of others) placeboBCross[d] = await stat(pb, config.placebo_b_sha256 as string, d)
          }
          const cross: Record<string, PairedStat> = {}
          for (const d of others) cross[d] = await stat(c.dir, sha, d)
          merged.set(keyOf(c), {
            config: config as ValueAddRecord['config'],
            trained,
            placebo_a: placeboA,
            placebo_b: placeboB,
            placebo_b_cross: placeboBCross,
            effect_decomposition:
              placeboA && placeboB ? effectDecomposition(trained.delta_mean, placeboB.delta_mean) : null,
            cross_domain: cross,
            latency_ms: latency,
            cold_latency_ms: cold,
            hot_latency_ms: latency,
          })
          evaluated++
          await write()
          o.onConfig?.(++done, configs.length, name(c))
        } catch (e) {
          log.warn(`${name(c)}: evaluation failed: ${(e as Error).message}`)
          await fail(c, `eval_failed:${(e as { code?: string }).code ?? (e as Error).name}`, config)
        }
      }
    } finally {
      model?.dispose()
    }
  }
  const records = await write()
  return { output: o.output, records, evaluated, reused, failed }
}
