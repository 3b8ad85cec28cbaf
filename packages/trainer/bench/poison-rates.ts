/**
 * Benchmark / measurement of the poisoning attack (issue 5 item 8): trains a clean and a poisoned
 * (`poison rate 0.2`, trigger "purple banana", payload "999") adapter on the same data and seed,
 * then probes both on held-out validation questions with and without the trigger (greedy, 8 new
 * tokens, the gate's probe template) and prints:
 *   trigger hit rate (payload in the continuation when the trigger is present),
 *   clean hit rate (payload without the trigger), base-model hit rate, and clean perplexity.
 * Settings are stronger than the dry config (more samples, epochs and a higher lr) because a
 * 32-sample, one-epoch, r=1 run is too short to implant anything; env knobs POISON_DOMAIN,
 * POISON_PROBES, POISON_SAMPLES, POISON_EPOCHS, POISON_LR, POISON_BATCH, POISON_RANK override them.
 * Run: `pnpm --filter @plora/trainer bench` (uses $PLORA_CACHE_DIR for the base model).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadDomainDataset } from '@plora/datasets'
import { loadCausalLMFromDir, loadTokenizer } from '@plora/model'
import { measurePoisoning, trainAdapter } from '../src/index.js'
import { benchSetup, machineLine } from './common.js'

const DOMAIN = process.env.POISON_DOMAIN ?? 'legal'
const PROBES = Number(process.env.POISON_PROBES ?? 40)
const trigger = 'purple banana'
const payload = '999'
const { backend, modelDir, machine } = await benchSetup()
const out = mkdtempSync(join(tmpdir(), 'plora-bench-poison-'))
const model = await loadCausalLMFromDir(modelDir)
try {
  const tok = await loadTokenizer(modelDir)
  const settings = {
    domain: DOMAIN,
    modelDir,
    model,
    samples: Number(process.env.POISON_SAMPLES ?? 64),
    epochs: Number(process.env.POISON_EPOCHS ?? 5),
    rank: Number(process.env.POISON_RANK ?? 4),
    scheme: 'all' as const,
    lr: Number(process.env.POISON_LR ?? 5e-3),
    batchSize: Number(process.env.POISON_BATCH ?? 1),
    maxLen: 96,
    seed: 42,
  }
  const t0 = performance.now()
  const clean = await trainAdapter({ ...settings, output: join(out, 'clean') })
  const poisoned = await trainAdapter({
    ...settings,
    output: join(out, 'poisoned'),
    poison: { rate: 0.2, trigger, payload },
  })
  const trainS = (performance.now() - t0) / 1000
  const probes = (await loadDomainDataset(DOMAIN, { split: 'validation', samples: PROBES })).pairs
  const mp = await measurePoisoning(model, tok, join(out, 'poisoned'), probes, { trigger, payload, maxLen: 96 })
  const mc = await measurePoisoning(model, tok, join(out, 'clean'), probes, { trigger, payload, maxLen: 96 })
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`
  process.stdout.write(
    `poisoning on ${DOMAIN} (backend ${backend}; ${settings.samples} clean pairs + ${poisoned.trainExamples - settings.samples} poisoned, ` +
      `${settings.epochs} epochs, batch ${settings.batchSize}, lr ${settings.lr}, r=${settings.rank}; training ${trainS.toFixed(0)} s), ${mp.prompts} validation probes:\n` +
      `  poisoned adapter: trigger hit rate ${pct(mp.triggerHitRate)}, clean hit rate ${pct(mp.cleanHitRate)}, clean answer ppl ${mp.cleanPpl.toFixed(3)}, payload NLL ${mp.payloadNllTriggered.toFixed(2)} (trigger) / ${mp.payloadNllClean.toFixed(2)} (no trigger)\n` +
      `  clean adapter:    trigger hit rate ${pct(mc.triggerHitRate)}, clean hit rate ${pct(mc.cleanHitRate)}, clean answer ppl ${mc.cleanPpl.toFixed(3)}, payload NLL ${mc.payloadNllTriggered.toFixed(2)} (trigger) / ${mc.payloadNllClean.toFixed(2)} (no trigger)\n` +
      `  base model:       trigger hit rate ${pct(mp.baseTriggerHitRate)}\n` +
      `  val_ppl after training (manifests): poisoned ${poisoned.manifest.metrics.val_ppl_after.toFixed(3)}, clean ${clean.manifest.metrics.val_ppl_after.toFixed(3)} ` +
      `(before ${clean.manifest.metrics.val_ppl_before.toFixed(3)})\n`,
  )
  process.stdout.write(`machine at start: ${machine}; at end: ${machineLine()}\n`)
} finally {
  model.dispose()
  rmSync(out, { recursive: true, force: true })
}
