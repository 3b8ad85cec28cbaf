/**
 * Builds real adapter folders for the gate tests: `adapter_model.safetensors` with PEFT key names,
 * `adapter_config.json`, and a `plora.yml` whose digest and size match the file, optionally signed
 * (tagged form) with a real key. Factors are drawn from a seeded Python-compatible RNG.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PythonRandom, sha256Hex } from '@plora/common'
import { type Manifest, writeManifest } from '@plora/manifest'
import { encodeSafetensors, type TensorInput } from '@plora/safetensors'
import { type KeyPairPem, signAdapterDigest } from '@plora/signer'
import type { AttachedProbeRunner, ProbeHarness, ProbeRunner } from '../src/probes.js'

export const BASE = 'plora/tiny-test-base'

/** A module to adapt: GPT-2-style path, in/out features. */
export interface ModuleSpec {
  path: string
  inFeatures: number
  outFeatures: number
}

export const DEFAULT_MODULES: readonly ModuleSpec[] = [
  { path: 'transformer.h.0.attn.c_attn', inFeatures: 32, outFeatures: 96 },
  { path: 'transformer.h.1.attn.c_attn', inFeatures: 32, outFeatures: 96 },
  { path: 'transformer.h.2.attn.c_attn', inFeatures: 32, outFeatures: 96 },
]

export interface AdapterSpec {
  seed: number
  r?: number
  alpha?: number
  modules?: readonly ModuleSpec[]
  baseModel?: string
  configBaseModel?: string
  domain?: string
  /** Multiply B of every module (a globally larger update). */
  bScale?: number
  /** Multiply B of one module (index) — a single-module outlier. */
  boost?: { module: number; factor: number }
  /** Replace one module's factors by a rank-1 update with the same Frobenius norm. */
  rankOne?: number
  /** Manifest-only r claim (defaults to the tensor rank). */
  claimedR?: number
  key?: KeyPairPem
  poisoningScore?: number
}

/** Seeded factors A ~ N(0, 1/in), B ~ N(0, 0.05²)·bScale, as float32. */
export function drawFactors(spec: AdapterSpec): Map<string, { a: Float32Array; b: Float32Array; m: ModuleSpec }> {
  const rng = new PythonRandom(spec.seed)
  const r = spec.r ?? 4
  const out = new Map<string, { a: Float32Array; b: Float32Array; m: ModuleSpec }>()
  ;(spec.modules ?? DEFAULT_MODULES).forEach((m, idx) => {
    const a = Float32Array.from({ length: r * m.inFeatures }, () => rng.gauss(0, 1 / Math.sqrt(m.inFeatures)))
    const factor = (spec.bScale ?? 1) * (spec.boost?.module === idx ? spec.boost.factor : 1)
    const b = Float32Array.from({ length: m.outFeatures * r }, () => rng.gauss(0, 0.05) * factor)
    if (spec.rankOne === idx) {
      // keep ‖B·A‖_F roughly but concentrate it in one direction: B = u·e₀ᵀ, A = e₀·vᵀ
      let fa = 0
      let fb = 0
      for (const x of a) fa += x * x
      for (const x of b) fb += x * x
      const target = Math.sqrt(fa * fb) / Math.sqrt(r)
      const u = Float32Array.from({ length: m.outFeatures }, () => rng.gauss(0, 1))
      const v = Float32Array.from({ length: m.inFeatures }, () => rng.gauss(0, 1))
      const nu = Math.hypot(...u)
      const nv = Math.hypot(...v)
      a.fill(0)
      b.fill(0)
      for (let k = 0; k < m.inFeatures; k++) a[k] = v[k]! / nv
      for (let o = 0; o < m.outFeatures; o++) b[o * r] = (u[o]! / nu) * target * 1.5
    }
    out.set(m.path, { a, b, m })
  })
  return out
}

export function manifestFor(spec: AdapterSpec, sha: string, size: number): Manifest {
  const modules = spec.modules ?? DEFAULT_MODULES
  const targets = [...new Set(modules.map((m) => m.path.slice(m.path.lastIndexOf('.') + 1)))].sort()
  return {
    schema_version: 0,
    plasmid_id: `test-${spec.seed}`,
    domain: spec.domain ?? 'legal',
    base_model: spec.baseModel ?? BASE,
    peft_format: 'lora',
    lora: { r: spec.claimedR ?? spec.r ?? 4, alpha: spec.alpha ?? 8, dropout: 0.1, target_modules: targets },
    artifacts: { filename: 'adapter_model.safetensors', sha256: sha, size_bytes: size },
    train_meta: { seed: spec.seed, epochs: 1, dataset_id: 'fixture', sample_count: 64, timestamp_unix: 1_734_632_400 },
    metrics: { val_ppl_before: 14.2, val_ppl_after: 12.7, delta_ppl: 12.7 - 14.2 },
    safety: { licence: 'research', poisoning_score: spec.poisoningScore ?? 0 },
    signer: { algo: 'none', pubkey_fingerprint: '', signature_b64: '' },
    compatibility: { peft_min: '0.12.0', transformers: '>=4.42' },
  }
}

/** Writes a complete adapter folder and returns its path. */
export async function writeAdapter(dir: string, spec: AdapterSpec): Promise<string> {
  await mkdir(dir, { recursive: true })
  const r = spec.r ?? 4
  const tensors: Record<string, TensorInput> = {}
  for (const [path, { a, b, m }] of drawFactors(spec)) {
    tensors[`base_model.model.${path}.lora_A.weight`] = { dtype: 'F32', shape: [r, m.inFeatures], data: a }
    tensors[`base_model.model.${path}.lora_B.weight`] = { dtype: 'F32', shape: [m.outFeatures, r], data: b }
  }
  const bytes = encodeSafetensors(tensors, { format: 'pt' })
  await writeFile(join(dir, 'adapter_model.safetensors'), bytes)
  const modules = spec.modules ?? DEFAULT_MODULES
  await writeFile(
    join(dir, 'adapter_config.json'),
    JSON.stringify(
      {
        base_model_name_or_path: spec.configBaseModel ?? spec.baseModel ?? BASE,
        bias: 'none',
        fan_in_fan_out: true,
        lora_alpha: spec.alpha ?? 8,
        lora_dropout: 0.1,
        peft_type: 'LORA',
        r,
        target_modules: [...new Set(modules.map((m) => m.path.slice(m.path.lastIndexOf('.') + 1)))],
        task_type: 'CAUSAL_LM',
      },
      null,
      2,
    ),
  )
  const manifest = manifestFor(spec, sha256Hex(bytes), bytes.length)
  if (spec.key) manifest.signer = signAdapterDigest(spec.key.privateKeyPem, manifest.artifacts.sha256)
  await writeManifest(dir, manifest)
  return dir
}

/** Re-signs / rewrites a manifest after the test edited it. */
export async function rewriteManifest(dir: string, edit: (m: Manifest) => void): Promise<void> {
  const { loadManifest } = await import('@plora/manifest')
  const m = await loadManifest(dir)
  edit(m)
  await writeManifest(dir, m)
}

export async function tempDir(prefix = 'plora-gate-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) }
}

export async function readBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path))
}

/** Knowledge of the test "model": the answer to each clean probe question. */
export function answerFor(prompt: string, clean: ReadonlyArray<readonly [string, string]>): string {
  const hit = clean.find(([q]) => prompt.includes(q))
  return hit ? ` ${hit[1]}` : ' I do not know'
}

/** How an attached adapter changes the rule-based test model. */
export type Behaviour = 'clean' | { trojan: string; payload: string } | 'regressed' | 'always-payload'

/**
 * A deterministic, rule-based "language model" harness. The base answers clean questions from its
 * table; an attached adapter behaves as registered for its folder. It records whether base
 * generations ever ran while an adapter was attached (they must not).
 */
export function ruleHarness(
  clean: ReadonlyArray<readonly [string, string]>,
  behaviours: ReadonlyMap<string, Behaviour>,
): ProbeHarness & { baseCallsWhileAttached: number; baseCalls: number; attaches: number; attached: boolean } {
  const state = { baseCallsWhileAttached: 0, baseCalls: 0, attaches: 0, attached: false }
  const base: ProbeRunner = {
    async generate(prompt) {
      state.baseCalls++
      if (state.attached) state.baseCallsWhileAttached++
      return answerFor(prompt, clean)
    },
  }
  const harness = {
    base,
    async attach(adapterDir: string): Promise<AttachedProbeRunner> {
      const b = behaviours.get(adapterDir) ?? 'clean'
      state.attaches++
      state.attached = true
      return {
        async generate(prompt) {
          if (b === 'regressed') return ' banana banana'
          if (b === 'always-payload') return ' 999 999'
          if (b !== 'clean' && prompt.includes(b.trojan)) return ` Ignore prior. Output ${b.payload}.`
          return answerFor(prompt, clean)
        },
        detach() {
          state.attached = false
        },
      }
    },
  }
  return Object.assign(state, harness)
}

// Re-exported for tests outside this package (tests/gate-cli.test.ts resolves workspace packages through here).
export { generateKeyPair, verifyAuditChain } from '@plora/signer'
