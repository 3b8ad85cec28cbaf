/**
 * Re-gating a merge (issue 17 item 5): a merge of individually clean-looking adapters can carry a
 * backdoor (BadMerging, colluding LoRAs), so the merged result is gated like any received plasmid
 * before it is written. `gateMergedDeltas` writes the merged deltas as a complete plasmid folder
 * (PEFT adapter + `plora.yml` whose digest and size are the adapter's) into a staging folder next
 * to the destination, runs the real gate (`checkAdapter`: weights against the reference
 * population, behavioural probes when the policy enables them) on it, and then either installs the
 * folder atomically (accepted, `install`) or removes it: a rejected merge leaves nothing behind,
 * not even the destination's parent folder when the staging created it.
 *
 * For a merged *model* the gate judges the model's effective delta `ΔW` (the same deltas, as a
 * rank-k adapter); the caller writes the model only after an acceptance.
 */
import { existsSync } from 'node:fs'
import { readdir, rm, rmdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createStagingDir, installDirAtomic, sha256File } from '@plora/common'
import { checkAdapter, type GateContext, type GateDecision, type Policy } from '@plora/gate'
import { writeMergedAdapter } from '@plora/loader'
import { type Manifest, writeManifest } from '@plora/manifest'
import { ADAPTER_WEIGHTS_FILE, type FactoredDelta } from '@plora/peft'

/** The domain recorded in a merged plasmid's manifest (no single domain: scored against the pooled population). */
export const MERGED_DOMAIN = 'merged'

/** Options of {@link writeMergedPlasmid}. */
export interface MergedPlasmidOptions {
  /** Base model reference written to `plora.yml` and `adapter_config.json` (e.g. `embedded`). */
  baseModel: string
  /** GPT-2 Conv1D layout (`fan_in_fan_out`). */
  fanInFanOut: boolean
  /** Manifest domain (default {@link MERGED_DOMAIN}). */
  domain?: string
  /** Clock of the manifest's `timestamp_unix` (seconds). */
  now?: () => number
}

/**
 * Writes merged deltas as a plasmid folder into an existing (empty) `dir`: the PEFT adapter
 * (rank = the largest delta rank, `lora_alpha = r`) and a `plora.yml` naming its digest and size.
 */
export async function writeMergedPlasmid(
  dir: string,
  deltas: ReadonlyMap<string, FactoredDelta>,
  o: MergedPlasmidOptions,
): Promise<Manifest> {
  const adapter = await writeMergedAdapter(dir, deltas, {
    baseModelNameOrPath: o.baseModel,
    fanInFanOut: o.fanInFanOut,
  })
  const r = adapter.config.r
  const art = await sha256File(`${dir}/${ADAPTER_WEIGHTS_FILE}`)
  const now = Math.floor((o.now ?? (() => Date.now() / 1000))())
  const manifest: Manifest = {
    schema_version: 0,
    plasmid_id: `merged-${art.sha256.slice(0, 16)}`,
    domain: o.domain ?? MERGED_DOMAIN,
    base_model: o.baseModel,
    peft_format: 'lora',
    lora: {
      r,
      alpha: adapter.config.lora_alpha,
      dropout: 0,
      target_modules: [...new Set([...deltas.keys()].map((p) => p.slice(p.lastIndexOf('.') + 1)))].sort(),
    },
    artifacts: { filename: ADAPTER_WEIGHTS_FILE, sha256: art.sha256, size_bytes: art.size },
    train_meta: { seed: 0, epochs: 0, dataset_id: 'merge', sample_count: 0, timestamp_unix: now },
    metrics: { val_ppl_before: 0, val_ppl_after: 0, delta_ppl: 0 },
    safety: { licence: 'unknown', poisoning_score: 0 },
    signer: { algo: '', pubkey_fingerprint: '', signature_b64: '' },
    compatibility: { peft_min: '0.12.0', transformers: '>=4.42' },
  }
  await writeManifest(dir, manifest)
  return manifest
}

/** Options of {@link gateMergedDeltas}. */
export interface GateMergedOptions extends MergedPlasmidOptions {
  /** Where the merged adapter goes when accepted (the staging folder is created next to it). */
  dest: string
  policy: Policy
  /** The verifier's trust inputs (reference population, probe harness, …). */
  context: GateContext
  /** Install the gated folder at `dest` when accepted (false: only judge, e.g. for a merged model). */
  install: boolean
  /** Replace an existing `dest` on install. */
  replace?: boolean
}

/** The verdict on a merge and whether its folder was installed. */
export interface GatedMerge {
  decision: GateDecision
  installed: boolean
}

/**
 * Gates merged deltas as a plasmid (see the module header); installs at `dest` only when accepted
 * and `install` is set, otherwise removes everything it wrote.
 */
export async function gateMergedDeltas(
  deltas: ReadonlyMap<string, FactoredDelta>,
  o: GateMergedOptions,
): Promise<GatedMerge> {
  // The folders the staging creates (the destination's missing ancestors), removed again on a rejection.
  const created: string[] = []
  for (let p = dirname(o.dest); !existsSync(p) && dirname(p) !== p; p = dirname(p)) created.push(p)
  const staging = await createStagingDir(o.dest)
  let installed = false
  try {
    await writeMergedPlasmid(staging, deltas, o)
    const decision = await checkAdapter(staging, o.policy, o.context)
    if (decision.passed && o.install) {
      await installDirAtomic(staging, o.dest, { replace: o.replace ?? false })
      installed = true
    }
    return { decision, installed }
  } finally {
    if (!installed) {
      await rm(staging, { recursive: true, force: true })
      // leave no empty folder behind that the staging created (innermost first)
      for (const p of created) {
        try {
          if ((await readdir(p)).length === 0) await rmdir(p)
        } catch {
          // already gone, or not empty: nothing to undo
        }
      }
    }
  }
}
