/**
 * The plasmids agents hold (spec swarm.md §1, §5.4, §8.2): real adapter folders
 * (`adapter_model.safetensors`, `adapter_config.json`, `plora.yml`) written to a run folder.
 *
 * Three sources:
 * - `dummy`: the original's `make_dummy_adapter` (ASCII payload `dummy-{domain}-r{rank}`); its
 *   trojans are marked by `safety.poisoning_score = 1.0` only, as the original's `mark_trojan`.
 * - `synthetic`: seeded LoRA factors (8 attention modules, hidden 64) written as safetensors. A
 *   trojan copy scales one module's update up by {@link TROJAN_NORM_FACTOR}, so a detector that
 *   reads weight statistics (the gate's per-module robust z of ln‖ΔW‖_F) can see it; its manifest
 *   does not declare it (poisoning_score 0) — ground truth is the simulator's own record.
 * - `dir`: trained adapters at `<dir>/<domain>/`, copied; a trojan copy has the original's
 *   manifest-only marking. Domains without one fall back to synthetic (the original: dummy).
 * - `population`: real trained adapters, clean and poisoned (backdoored by training), from a gate
 *   population folder (see `population.ts`): each agent's adapter is drawn (seeded) from the
 *   eligible members of its domain, a poisoned one when the agent is a trojan. Folders are used
 *   where they are (not copied); nothing in them declares the poison.
 *
 * Only distinct artefacts are written (dummy/dir: one clean and one trojan folder per domain;
 * synthetic: `variants` per domain, each clean and trojan), not one folder per agent: an agent
 * holds an index into this table, which is what makes 100,000-agent swarms cheap.
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { deriveSeed, PythonRandom, sha256Hex, writeFileAtomic } from '@plora/common'
import { dumpManifestYaml, loadManifest, type Manifest, writeManifest } from '@plora/manifest'
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  ATTENTION_SUFFIXES,
  buildPeftLoraConfig,
  peftTensorKey,
  updateFrobenius,
} from '@plora/peft'
import { encodeSafetensors } from '@plora/safetensors'
import { SwarmError, SwarmErrorCode } from './errors.js'
import { type Population, type PopulationEntry, populationPool } from './population.js'
import type { ArtefactInfo } from './simulate.js'

/** Adapter source of a run. */
export type AdapterSource = 'dummy' | 'synthetic' | 'dir' | 'population'

/** The attention suffixes the original's dummy adapters target (`@plora/peft`'s ATTENTION_SUFFIXES). */
export const DUMMY_TARGETS: readonly string[] = ATTENTION_SUFFIXES

/** How much a synthetic trojan scales one module's update (ln 40 ≈ 3.7 nats above its peers). */
export const TROJAN_NORM_FACTOR = 40

/** Options of {@link prepareAdapters}. */
export interface PrepareAdaptersOptions {
  source: AdapterSource
  /** Run folder the artefact folders are written to. */
  rootDir: string
  domains: readonly string[]
  /** Own domain index per agent (−1 = none). */
  ownDomain: Int32Array
  /** Trojan flag per agent (simulator ground truth). */
  trojan: Uint8Array
  /** `<dir>/<domain>/` folders for `dir`. */
  adaptersDir: string | null
  /** LoRA rank of dummy and synthetic adapters. */
  rank: number
  /** Base model claimed by dummy (`dummy/base`) or synthetic adapters. */
  baseModel: string
  /** Synthetic variants per domain. */
  variants: number
  /** The population `population` draws from. */
  population?: Population | null
  seed: number
}

/** Output of {@link prepareAdapters}. */
export interface PreparedAdapters {
  artefacts: ArtefactInfo[]
  /** Folder of each artefact. */
  dirs: string[]
  ownArtefact: Int32Array
  /** Domains served by real adapters from `adaptersDir`. */
  realDomains: string[]
  /** The population member behind each artefact (`population` source; null otherwise). */
  members: Array<PopulationEntry | null>
}

function score(m: Manifest): number {
  // §4.2: val_em, else val_chrf, else −delta_ppl (mixed scales, as the original).
  return m.metrics.val_em ?? m.metrics.val_chrf ?? -m.metrics.delta_ppl
}

function baseManifest(
  domain: string,
  base: string,
  rank: number,
  filename: string,
  bytes: Uint8Array,
  id: string,
): Manifest {
  return {
    schema_version: 0,
    plasmid_id: id,
    domain,
    base_model: base,
    peft_format: 'lora',
    lora: { r: rank, alpha: Math.max(1, 2 * rank), dropout: 0, target_modules: [...DUMMY_TARGETS] },
    artifacts: { filename, sha256: sha256Hex(bytes), size_bytes: bytes.length },
    train_meta: { seed: 0, epochs: 0, dataset_id: 'none', sample_count: 0, timestamp_unix: 0 },
    metrics: { val_ppl_before: 0, val_ppl_after: 0, delta_ppl: 0, val_em: null, val_chrf: null },
    safety: { licence: 'CC0', poisoning_score: 0.0 },
    signer: { algo: 'none', pubkey_fingerprint: 'none', signature_b64: '' },
    compatibility: { peft_min: '0', transformers: '0' },
  }
}

async function writeFolder(
  dir: string,
  payload: Uint8Array,
  manifest: Manifest,
  config: Record<string, unknown>,
): Promise<string> {
  await mkdir(dir, { recursive: true })
  await writeFileAtomic(join(dir, manifest.artifacts.filename), payload)
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(config)}\n`)
  await writeManifest(dir, manifest)
  // The artefact digest covers the weights and the manifest: a trojan copy that only differs in
  // its manifest is a different artefact (it is for consensus and the verdict cache).
  return artefactDigest(manifest)
}

/** The original's `mark_trojan`: the same manifest with `safety.poisoning_score = 1.0`. */
function markTrojan(m: Manifest): Manifest {
  return { ...m, safety: { ...m.safety, poisoning_score: 1.0 } }
}

const SYN_HIDDEN = 64
// LLaMA-style attention projections: the first four of @plora/peft's ATTENTION_SUFFIXES (q, k, v, o).
const SYN_SUFFIXES = ATTENTION_SUFFIXES.slice(0, 4)
const SYN_MODULES = [0, 1].flatMap((l) => SYN_SUFFIXES.map((s) => `model.layers.${l}.self_attn.${s}`))

/**
 * Seeded LoRA factors for one synthetic adapter. Module m's update ΔW = (α/r)·B·A is rescaled to a
 * Frobenius norm on an evenly spaced log grid (so clean modules have no outlier by construction);
 * the trojan copy multiplies one module's B by {@link TROJAN_NORM_FACTOR}.
 */
function syntheticTensors(seed: number, rank: number, trojanModule: number | null): Uint8Array {
  const rng = new PythonRandom(seed)
  const tensors: Array<[string, { dtype: 'F32'; shape: number[]; data: Float32Array }]> = []
  const scale = Math.max(1, 2 * rank) / rank
  SYN_MODULES.forEach((path, m) => {
    const a = new Float32Array(rank * SYN_HIDDEN)
    const b = new Float32Array(SYN_HIDDEN * rank)
    for (let i = 0; i < a.length; i++) a[i] = rng.gauss(0, 1 / Math.sqrt(SYN_HIDDEN))
    for (let i = 0; i < b.length; i++) b[i] = rng.gauss(0, 0.02)
    // ‖ΔW‖_F of the draw (@plora/peft's float64 factor maths), then rescale B to the grid target
    // 0.5·exp(0.08·(m − 3.5)).
    const fro = updateFrobenius({ path, rank, inFeatures: SYN_HIDDEN, outFeatures: SYN_HIDDEN, a, b, scale })
    let factor = (0.5 * Math.exp(0.08 * (m - 3.5))) / fro
    if (m === trojanModule) factor *= TROJAN_NORM_FACTOR
    for (let i = 0; i < b.length; i++) b[i]! *= factor
    tensors.push([peftTensorKey(path, 'A'), { dtype: 'F32', shape: [rank, SYN_HIDDEN], data: a }])
    tensors.push([peftTensorKey(path, 'B'), { dtype: 'F32', shape: [SYN_HIDDEN, rank], data: b }])
  })
  return encodeSafetensors(tensors)
}

async function hasRealAdapter(dir: string): Promise<boolean> {
  try {
    const names = await readdir(dir)
    return names.includes(ADAPTER_WEIGHTS_FILE) && names.includes('plora.yml')
  } catch {
    return false
  }
}

/**
 * Writes the distinct artefacts of a run and assigns one to every agent with a domain.
 *
 * @throws SwarmError `SWARM_ADAPTER_INVALID` when a real adapter's manifest does not load
 */
export async function prepareAdapters(options: PrepareAdaptersOptions): Promise<PreparedAdapters> {
  const o = options
  if (o.source === 'population') return preparePopulation(o)
  const artefacts: ArtefactInfo[] = []
  const dirs: string[] = []
  const n = o.ownDomain.length
  const ownArtefact = new Int32Array(n).fill(-1)
  const realDomains: string[] = []
  // Per domain: clean/trojan artefact index per variant.
  const table = new Map<string, number>()
  const add = (key: string, info: ArtefactInfo, dir: string): number => {
    artefacts.push(info)
    dirs.push(dir)
    table.set(key, artefacts.length - 1)
    return artefacts.length - 1
  }
  const variants = o.source === 'dummy' ? 1 : Math.max(1, o.variants)
  // Agents share variants round-robin by id (deterministic, seed-independent).
  const variantOf = (i: number, count: number): number => Math.floor(i / o.domains.length) % count
  for (let d = 0; d < o.domains.length; d++) {
    const domain = o.domains[d]!
    // Which (variant, trojan) folders some agent of this domain holds: only those are written.
    const needed = new Set<string>()
    for (let i = 0; i < n; i++) if (o.ownDomain[i] === d) needed.add(`${variantOf(i, variants)}|${o.trojan[i] === 1}`)
    if (needed.size === 0) continue
    const realDir = o.source === 'dir' && o.adaptersDir ? join(o.adaptersDir, domain) : null
    if (realDir && (await hasRealAdapter(realDir))) {
      realDomains.push(domain)
      const m = await readAdapterManifest(realDir)
      for (const trojan of [false, true]) {
        if (![...needed].some((k) => k.endsWith(`|${trojan}`))) continue
        const dest = join(o.rootDir, `${domain}-real${trojan ? '-trojan' : ''}`)
        await mkdir(dest, { recursive: true })
        for (const name of await readdir(realDir)) {
          // plora.yml is rewritten below, so the folder statement (`plora.sig.json`, @plora/signer's
          // STATEMENT_FILENAME) would no longer hold: leave it out of the copy.
          if (name !== 'plora.yml' && name !== 'plora.sig.json') await copyFile(join(realDir, name), join(dest, name))
        }
        const mm = trojan ? markTrojan(m) : m
        await writeManifest(dest, mm)
        const key = artefactDigest(mm)
        add(`${d}|0|${trojan}`, { domain: d, sizeBytes: mm.artifacts.size_bytes, score: score(mm), trojan, key }, dest)
      }
      continue
    }
    for (let v = 0; v < variants; v++) {
      for (const trojan of [false, true]) {
        if (!needed.has(`${v}|${trojan}`)) continue
        const dest = join(o.rootDir, `${domain}-v${v}${trojan ? '-trojan' : ''}`)
        let payload: Uint8Array
        let m: Manifest
        let config: Record<string, unknown>
        // `dir` falls back to synthetic adapters for domains without a trained one (the original
        // fell back to dummy payloads, which a real gate rejects as unreadable weights).
        if (o.source !== 'dummy') {
          const s = deriveSeed(o.seed, 'synthetic-adapter', domain, v)
          const trojanModule = trojan ? new PythonRandom(deriveSeed(s, 'trojan')).randbelow(SYN_MODULES.length) : null
          payload = syntheticTensors(s, o.rank, trojanModule)
          m = baseManifest(domain, o.baseModel, o.rank, ADAPTER_WEIGHTS_FILE, payload, `synthetic-${domain}-v${v}`)
          m.lora.target_modules = [...SYN_SUFFIXES]
          config = buildPeftLoraConfig({
            r: o.rank,
            loraAlpha: Math.max(1, 2 * o.rank),
            targetModules: m.lora.target_modules,
            fanInFanOut: false,
            baseModelNameOrPath: o.baseModel,
          })
          // Synthetic trojans are not declared: the detector has to find them in the weights.
        } else {
          payload = new TextEncoder().encode(`dummy-${domain}-r${o.rank}`)
          m = baseManifest(domain, 'dummy/base', o.rank, ADAPTER_WEIGHTS_FILE, payload, `dummy-${domain}`)
          config = buildPeftLoraConfig({
            r: o.rank,
            loraAlpha: Math.max(1, 2 * o.rank),
            targetModules: DUMMY_TARGETS,
            fanInFanOut: false,
            baseModelNameOrPath: 'dummy/base',
          })
          if (trojan) m = markTrojan(m)
        }
        const key = await writeFolder(dest, payload, m, config)
        add(`${d}|${v}|${trojan}`, { domain: d, sizeBytes: payload.length, score: score(m), trojan, key }, dest)
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const d = o.ownDomain[i]!
    if (d < 0) continue
    const real = realDomains.includes(o.domains[d]!)
    const v = real ? 0 : variantOf(i, variants)
    ownArtefact[i] = table.get(`${d}|${v}|${o.trojan[i] === 1}`)!
  }
  return { artefacts, dirs, ownArtefact, realDomains, members: artefacts.map(() => null) }
}

/** An adapter folder's manifest. @throws SwarmError `SWARM_ADAPTER_INVALID` when it does not load */
async function readAdapterManifest(dir: string): Promise<Manifest> {
  try {
    return await loadManifest(dir)
  } catch (e) {
    throw new SwarmError(
      SwarmErrorCode.AdapterInvalid,
      `adapter ${dir}: ${(e as Error).message}`,
      { dir },
      { cause: e },
    )
  }
}

/** The artefact digest: weights and manifest (a trojan copy differing in its manifest only is another artefact). */
function artefactDigest(m: Manifest): string {
  return sha256Hex(`${m.artifacts.sha256}|${sha256Hex(dumpManifestYaml(m))}`)
}

/**
 * `population`: one `random()`-driven draw per agent with a domain, in id order, from
 * `Random(deriveSeed(seed, 'population-draw'))`: `pool[randbelow(|pool|)]` where the pool is the
 * eligible members of the agent's domain and kind (poisoned for a trojan agent), sorted by id.
 * Every pool some agent needs is checked before any draw.
 */
async function preparePopulation(o: PrepareAdaptersOptions): Promise<PreparedAdapters> {
  const pop = o.population
  if (!pop) {
    throw new SwarmError(SwarmErrorCode.OptionInvalid, 'invalid option: adapters population needs a population', {})
  }
  const n = o.ownDomain.length
  const need = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const d = o.ownDomain[i]!
    if (d < 0) continue
    const k = `${d}|${o.trojan[i] === 1 ? 'poisoned' : 'clean'}`
    need.set(k, (need.get(k) ?? 0) + 1)
  }
  const pools = new Map<string, PopulationEntry[]>()
  for (const [k, count] of [...need].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [d, kind] = k.split('|') as [string, 'clean' | 'poisoned']
    pools.set(k, populationPool(pop, o.domains[Number(d)]!, kind, count))
  }
  const artefacts: ArtefactInfo[] = []
  const dirs: string[] = []
  const members: PopulationEntry[] = []
  const index = new Map<string, number>()
  const ownArtefact = new Int32Array(n).fill(-1)
  const rng = new PythonRandom(deriveSeed(o.seed, 'population-draw'))
  for (let i = 0; i < n; i++) {
    const d = o.ownDomain[i]!
    if (d < 0) continue
    const pool = pools.get(`${d}|${o.trojan[i] === 1 ? 'poisoned' : 'clean'}`)!
    const member = pool[rng.randbelow(pool.length)]!
    let a = index.get(member.id)
    if (a === undefined) {
      const m = await readAdapterManifest(member.dir)
      const key = artefactDigest(m)
      artefacts.push({
        domain: d,
        sizeBytes: m.artifacts.size_bytes,
        score: score(m),
        trojan: member.kind === 'poisoned',
        key,
      })
      dirs.push(member.dir)
      members.push(member)
      a = artefacts.length - 1
      index.set(member.id, a)
    }
    ownArtefact[i] = a
  }
  return { artefacts, dirs, ownArtefact, realDomains: [], members }
}

/**
 * The original's trojan draws (§5.4): for agents 0..N−1 in order, one `random()` of
 * `Random(seed)` each, trojan when < rate; no draws at rate 0.
 */
export function drawTrojans(n: number, rate: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  if (!(rate > 0)) return out
  const rng = new PythonRandom(seed)
  for (let i = 0; i < n; i++) out[i] = rng.random() < rate ? 1 : 0
  return out
}

/**
 * In-memory dummy artefacts (one per domain, no files): what runs without a gate need — the
 * calibration and bounds scripts — since only sizes and scores matter there.
 */
export function virtualDummyArtefacts(domains: readonly string[], rank = 4): import('./simulate.js').ArtefactInfo[] {
  return domains.map((domain, d) => ({
    domain: d,
    sizeBytes: `dummy-${domain}-r${rank}`.length,
    score: 0,
    trojan: false,
    key: sha256Hex(`dummy-${domain}-r${rank}`),
  }))
}
