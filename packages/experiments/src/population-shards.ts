/**
 * `plora probes population merge` (issue 23 item 3): joins population folders trained by shards
 * (`ensurePopulation` with `shard` i/n) into one folder that `probes calibrate` / `gate eval` reuse
 * without training. A population folder holds, per member, its adapter folder `<id>/`, its
 * ground-truth record `<id>.member.json` and, when poisoned, the trainer's `<id>.poison.json`
 * (which names the adapter folder: rewritten to the merged folder's path, as a one-machine run
 * into it writes); there is no index. The merged folder is staged and renamed into place.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { chmod, readFile, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { createStagingDir, installDirAtomic, writeJsonAtomic } from '@plora/common'
import { ExperimentsError, ExperimentsErrorCode } from './errors.js'
import {
  baseWeightsDigest,
  memberDir,
  memberPoisonPath,
  memberRecord,
  memberRecordPath,
  type PopulationMember,
  type PopulationPlan,
  sameMemberRecord,
} from './gate-population.js'
import { conflictingCell, foreignRecord, missingCells, requireEmptyOutput, ShardFileCopier } from './grid-shards.js'

/** Options of {@link mergePopulationShards}. */
export interface MergePopulationOptions {
  /** The shards' population folders, any order. */
  inputs: readonly string[]
  /** The merged population folder (must not exist or be empty). */
  dir: string
  /** The base model's reference as the member records hold it (e.g. `embedded`). */
  baseModel: string
  /**
   * Local folder of the base model: when given, every member must have been trained on its weights
   * (their digest is in each member record); else the members must agree on one digest.
   */
  modelDir?: string
}

/** What {@link mergePopulationShards} wrote. */
export interface MergePopulationResult {
  dir: string
  members: number
  inputs: number
}

const sansDir = (text: string) => {
  const { adapter_dir: _d, ...rest } = JSON.parse(text) as Record<string, unknown>
  return JSON.stringify(rest)
}

/**
 * Joins the shards' population folders into `dir`: every member of `plan`, trained with the same
 * settings and base weights, exactly once.
 *
 * @throws ExperimentsError `EXPERIMENTS_SHARD_CELL_MISSING` (a member no shard holds complete),
 *   `EXPERIMENTS_SHARD_RECORD_FOREIGN` (a member record of another plan, settings or base weights, or
 *   a file that is not a member's), `EXPERIMENTS_SHARD_CONFLICT` (a member two shards trained
 *   differently; manifests' creation times are not compared), `EXPERIMENTS_OUTPUT_EXISTS`.
 */
export async function mergePopulationShards(
  plan: PopulationPlan,
  o: MergePopulationOptions,
): Promise<MergePopulationResult> {
  if (o.inputs.length === 0)
    throw new ExperimentsError(ExperimentsErrorCode.InputInvalid, 'population merge: no shard folders given', {})
  requireEmptyOutput('population', o.dir, '--population-dir')
  let weights: { sha: string; where: string } | undefined =
    o.modelDir !== undefined ? { sha: await baseWeightsDigest(o.modelDir), where: o.modelDir } : undefined
  const byName = new Map<string, PopulationMember>()
  for (const m of plan.members)
    for (const n of [m.id, basename(memberRecordPath('', m)), basename(memberPoisonPath('', m))]) byName.set(n, m)
  const found = new Map<string, string>()
  for (const shard of o.inputs) {
    if (!existsSync(shard))
      throw new ExperimentsError(ExperimentsErrorCode.ShardCellMissing, `population merge: ${shard} does not exist`, {
        dir: shard,
      })
    for (const name of readdirSync(shard)) {
      if (name.startsWith('.')) continue // temporaries of a killed run
      const m = byName.get(name)
      if (!m) throw foreignRecord('population', join(shard, name), 'not a member of this plan')
      if (name !== m.id) continue
      const record = memberRecordPath(shard, m)
      // A folder without its record is a member whose training was cut short: not there.
      if (!existsSync(record) || !existsSync(join(memberDir(shard, m), 'plora.yml'))) continue
      let sha: unknown
      try {
        sha = (JSON.parse(readFileSync(record, 'utf8')) as { base_weights_sha256?: unknown }).base_weights_sha256
      } catch {
        sha = undefined
      }
      if (typeof sha !== 'string' || !sameMemberRecord(record, memberRecord(plan, m, o.baseModel, sha)))
        throw foreignRecord('population', record, `member ${m.id} was trained from another plan or other settings`)
      weights ??= { sha, where: record }
      if (sha !== weights.sha)
        throw foreignRecord(
          'population',
          record,
          `member ${m.id} was trained on base weights ${sha.slice(0, 12)}…, not ${weights.sha.slice(0, 12)}… of ${weights.where}`,
        )
      if (!found.has(m.id)) found.set(m.id, shard)
    }
  }
  const missing = plan.members.filter((m) => !found.has(m.id)).map((m) => m.id)
  if (missing.length > 0) throw missingCells('population', missing, plan.members.length)

  const staging = await createStagingDir(o.dir)
  try {
    const copier = new ShardFileCopier('population', staging)
    for (const m of plan.members) {
      for (const shard of o.inputs) {
        // Every complete copy of a member is compared with the first (a member trained twice must agree).
        if (!(existsSync(memberRecordPath(shard, m)) && existsSync(join(memberDir(shard, m), 'plora.yml')))) continue
        await copier.copy(shard, m.id, m.id)
        await copier.copy(shard, basename(memberRecordPath('', m)), m.id)
        if (!m.poison) continue
        const poison = memberPoisonPath(shard, m)
        const first = memberPoisonPath(found.get(m.id)!, m)
        if (!existsSync(poison))
          throw new ExperimentsError(
            ExperimentsErrorCode.ShardCellMissing,
            `population merge: ${poison} is missing (poisoned member ${m.id} of ${shard} without its poison record); retrain it`,
            { path: poison },
          )
        if (sansDir(await readFile(poison, 'utf8')) !== sansDir(await readFile(first, 'utf8')))
          throw conflictingCell('population', `${m.id} (poison record)`, first, poison)
      }
      if (m.poison) {
        // The trainer records the adapter folder it wrote: in a one-machine run, the merged folder's.
        const r = JSON.parse(await readFile(memberPoisonPath(found.get(m.id)!, m), 'utf8')) as Record<string, unknown>
        await writeJsonAtomic(memberPoisonPath(staging, m), { ...r, adapter_dir: memberDir(o.dir, m) })
      }
    }
    await chmod(staging, 0o755)
    await installDirAtomic(staging, o.dir, { replace: true }) // checked empty above
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return { dir: o.dir, members: plan.members.length, inputs: o.inputs.length }
}
