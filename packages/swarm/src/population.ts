/**
 * A population of trained clean and poisoned adapters as the swarm's plasmids (issue 20 item 4):
 * the folder `plora probes calibrate` / `plora gate eval` train (`@plora/experiments`'
 * gate-population), each member an adapter folder `<dir>/<id>/` plus its ground truth
 * `<dir>/<id>.member.json` (`plora-gate-population-member/v1`: kind, half, domain, poison). The gate
 * never reads those records; only the simulator's ground truth (and its report) does.
 *
 * Members are split into a calibration and an evaluation half; the swarm draws from the
 * **evaluation** half by default, the adapters the calibrated gate never saw.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { SwarmError, SwarmErrorCode } from './errors.js'

/** The record format this reader accepts. */
export const POPULATION_MEMBER_FORMAT = 'plora-gate-population-member/v1'

/** Which members the swarm may draw: the evaluation half (default) or every member. */
export type PopulationHalf = 'evaluation' | 'all'

/** One member, as its ground-truth record states it. */
export interface PopulationEntry {
  id: string
  /** The adapter folder `<dir>/<id>/`. */
  dir: string
  kind: 'clean' | 'poisoned'
  half: 'calibration' | 'evaluation'
  domain: string
  /** Null for clean members. */
  poison: { rate: number; trigger: string; trigger_in_probe_set: boolean } | null
  /** LoRA rank and target scheme it was trained with. */
  rank: number
  scheme: string
  baseModel: string
}

/** A population folder read and validated. */
export interface Population {
  dir: string
  half: PopulationHalf
  /** Every member, sorted by id. */
  all: PopulationEntry[]
  /** The members the swarm may draw (by `half`), sorted by id. */
  eligible: PopulationEntry[]
}

const RECORD_SUFFIX = '.member.json'

function invalid(path: string, expected: string, found: unknown): SwarmError {
  return new SwarmError(
    SwarmErrorCode.PopulationInvalid,
    `population record ${path}: expected ${expected}, found ${JSON.stringify(found)}`,
    { path, expected, found },
  )
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Validates one record (what `ensurePopulation` writes) into an entry. */
function parseRecord(dir: string, file: string, raw: unknown): PopulationEntry {
  const path = join(dir, file)
  if (!isObject(raw)) throw invalid(path, 'a JSON object', raw)
  if (raw.format !== POPULATION_MEMBER_FORMAT)
    throw invalid(path, `"format": "${POPULATION_MEMBER_FORMAT}"`, raw.format)
  const m = raw.member
  if (!isObject(m)) throw invalid(path, 'a "member" object', m)
  const id = file.slice(0, -RECORD_SUFFIX.length)
  if (m.id !== id) throw invalid(path, `"member.id" equal to the file name stem "${id}"`, m.id)
  if (m.kind !== 'clean' && m.kind !== 'poisoned') throw invalid(path, '"member.kind" clean | poisoned', m.kind)
  if (m.half !== 'calibration' && m.half !== 'evaluation') {
    throw invalid(path, '"member.half" calibration | evaluation', m.half)
  }
  if (typeof m.domain !== 'string' || m.domain === '') throw invalid(path, 'a non-empty "member.domain"', m.domain)
  let poison: PopulationEntry['poison'] = null
  if (m.kind === 'poisoned') {
    const p = m.poison
    if (
      !isObject(p) ||
      typeof p.trigger !== 'string' ||
      typeof p.rate !== 'number' ||
      typeof p.trigger_in_probe_set !== 'boolean'
    ) {
      throw invalid(path, 'a poisoned member\'s "member.poison" {rate, trigger, trigger_in_probe_set}', p)
    }
    poison = { rate: p.rate, trigger: p.trigger, trigger_in_probe_set: p.trigger_in_probe_set }
  } else if (m.poison !== null) {
    throw invalid(path, 'a clean member with "member.poison": null', m.poison)
  }
  const t = raw.training
  if (!isObject(t) || !Number.isInteger(t.rank) || typeof t.scheme !== 'string') {
    throw invalid(path, '"training" with an integer "rank" and a "scheme"', t)
  }
  if (typeof raw.base_model !== 'string') throw invalid(path, 'a "base_model" string', raw.base_model)
  // The member's own rank and scheme (populations that cycle them); older records have only the
  // training settings'.
  if (m.rank !== undefined && !(Number.isInteger(m.rank) && (m.rank as number) > 0)) {
    throw invalid(path, 'a positive integer "member.rank"', m.rank)
  }
  if (m.scheme !== undefined && typeof m.scheme !== 'string') throw invalid(path, 'a "member.scheme" string', m.scheme)
  return {
    id,
    dir: join(dir, id),
    kind: m.kind,
    half: m.half,
    domain: m.domain,
    poison,
    rank: (m.rank as number | undefined) ?? (t.rank as number),
    scheme: (m.scheme as string | undefined) ?? t.scheme,
    baseModel: raw.base_model,
  }
}

/**
 * Reads every `<id>.member.json` of `dir` and checks that its adapter folder exists.
 *
 * @throws SwarmError `SWARM_POPULATION_NOT_FOUND` (no folder, or no member records in it),
 *   `SWARM_POPULATION_INVALID` (an unreadable or malformed record, or a member without its folder)
 */
export async function readPopulation(dir: string, half: PopulationHalf = 'evaluation'): Promise<Population> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (e) {
    throw new SwarmError(
      SwarmErrorCode.PopulationNotFound,
      `population folder ${dir}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected the folder \`plora probes calibrate --population-dir\` trains`,
      { dir },
      { cause: e },
    )
  }
  const files = names.filter((n) => n.endsWith(RECORD_SUFFIX)).sort()
  if (files.length === 0) {
    throw new SwarmError(
      SwarmErrorCode.PopulationNotFound,
      `population folder ${dir}: no <id>${RECORD_SUFFIX} member records (expected the folder \`plora probes calibrate --population-dir\` trains; found ${names.length} other entries)`,
      { dir },
    )
  }
  const all: PopulationEntry[] = []
  for (const file of files) {
    const path = join(dir, file)
    let raw: unknown
    try {
      raw = JSON.parse(await readFile(path, 'utf8'))
    } catch (e) {
      throw new SwarmError(
        SwarmErrorCode.PopulationInvalid,
        `population record ${path}: cannot read JSON (${(e as Error).message})`,
        { path },
        { cause: e },
      )
    }
    const entry = parseRecord(dir, file, raw)
    const folder = await stat(join(entry.dir, 'plora.yml')).catch(() => null)
    if (!folder?.isFile()) {
      throw new SwarmError(
        SwarmErrorCode.PopulationInvalid,
        `population member ${entry.id}: expected its adapter folder ${entry.dir} with a plora.yml, found none`,
        { path: entry.dir },
      )
    }
    all.push(entry)
  }
  const eligible = half === 'all' ? all : all.filter((m) => m.half === 'evaluation')
  return { dir, half, all, eligible }
}

/**
 * The eligible members of one domain and kind, sorted by id.
 * @throws SwarmError `SWARM_POPULATION_DOMAIN_EMPTY` when there is none (`need` says for how many agents)
 */
export function populationPool(
  pop: Population,
  domain: string,
  kind: 'clean' | 'poisoned',
  need: number,
): PopulationEntry[] {
  const pool = pop.eligible.filter((m) => m.domain === domain && m.kind === kind)
  if (pool.length === 0) {
    const have = [...new Set(pop.eligible.filter((m) => m.kind === kind).map((m) => m.domain))].sort()
    const where = pop.half === 'all' ? '' : ' in its evaluation half'
    throw new SwarmError(
      SwarmErrorCode.PopulationDomainEmpty,
      `population ${pop.dir}: no ${kind} member of domain "${domain}"${where} (expected at least one for the ${need} ${kind === 'poisoned' ? 'trojan' : 'clean'} agent(s) of that domain; ${kind} members found for: ${have.length > 0 ? have.join(', ') : 'no domain'})${pop.half === 'all' ? '' : '; --population-half all also draws the calibration half'}`,
      { dir: pop.dir, domain, kind, half: pop.half, domains: have },
    )
  }
  return pool
}
