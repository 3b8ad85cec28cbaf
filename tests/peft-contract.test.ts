/**
 * The PEFT contract (issue 15, "Design, not patches"): for every folder of a seeded corpus of
 * crafted adapters, the gate's view and the loader's injection agree — the ΔW = s·B·A the gate
 * measures (read by `@plora/peft`, the one reader both use) equals the loader's injected update
 * (weight after `injectAdapters` minus before, dense, through TensorFlow.js) on every module to
 * 1e-6 of the weight's magnitude, with the gate's per-module scale and ‖ΔW‖_F matching too — or
 * both refuse the folder.
 *
 * The corpus mutates what a sender controls: `rank_pattern` / `alpha_pattern` keys that are
 * regexes, literal paths, partial paths, leaf names, keys matching several modules or none,
 * overlapping or unsafe keys; `use_rslora`; `fan_in_fan_out` both ways on Conv1D (GPT-2) and
 * Linear (LLaMA) layouts; `target_modules` as a list, qualified names, a regex string, null, or
 * missing a module; tensor keys with the default or another adapter name, without the prefix, twice;
 * extra tensors, unpaired factors, a second weights file, ranks that disagree, F16 factors,
 * NaN/Inf, huge alpha, r = 0, refused features. Module shapes always fit the tiny model (the gate
 * does not know the model; the base-model check covers that).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import '../packages/loader/test/helpers/setup-tf.js'
import { PythonRandom, sha256Hex } from '../packages/common/src/index.js'
import { checkAdapter, parsePolicy } from '../packages/gate/src/index.js'
import { injectAdapters } from '../packages/loader/src/inject.js'
import { createGpt2Host, createLlamaHost, type FakeHost } from '../packages/loader/test/helpers/fake-host.js'
import { type Manifest, writeManifest } from '../packages/manifest/src/index.js'
import {
  decodePeftWeights,
  denseDelta,
  factoredDeltaOf,
  type LinearModuleInfo,
  loadPeftAdapter,
  moduleLoraParams,
  parsePeftConfigText,
} from '../packages/peft/src/index.js'
import { encodeSafetensors, type TensorInput } from '../packages/safetensors/src/index.js'

const SEED = 15
const CASES = 300
/** Gate reasons that mean "this folder is not an adapter the loader would load". */
const REFUSALS = ['adapter_files_unexpected', 'weights_unreadable', 'weight_update_invalid'] as const

const policy = parsePolicy({
  allowed_ranks: null,
  allowed_targets: null,
  max_rank: 4096,
  require_weight_reference: false,
  tau_tensor_z: 1e9,
})

let tmp: string
let gpt2: FakeHost
let llama: FakeHost
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'plora-peft-contract-'))
  gpt2 = createGpt2Host({ layers: 2, d: 4 })
  llama = createLlamaHost({ layers: 1, d: 8 })
})
afterAll(async () => {
  gpt2.dispose()
  llama.dispose()
  await rm(tmp, { recursive: true, force: true })
})

const leaf = (p: string): string => p.slice(p.lastIndexOf('.') + 1)
const esc = (p: string): string => p.replaceAll('.', '\\.')

/** A crafted folder: its files, and a label of what was mutated (for assertion messages). */
interface Crafted {
  host: FakeHost
  label: string[]
  files: Map<string, Uint8Array | string>
}

function gaussF32(rng: PythonRandom, n: number, sigma: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.gauss(0, sigma))
}

function pick<T>(rng: PythonRandom, xs: readonly T[]): T {
  return xs[rng.randbelow(xs.length)]!
}

/** One pattern key of a given kind for a module path (may match several modules, none, or be unsafe). */
function patternKey(rng: PythonRandom, path: string, host: FakeHost): { key: string; kind: string } {
  const parts = path.split('.')
  const kinds = ['leaf', 'literal', 'partial', 'regex', 'multi', 'none', 'unsafe', 'python-only', 'alternation']
  const kind = pick(rng, kinds)
  switch (kind) {
    case 'leaf':
      return { key: leaf(path), kind }
    case 'literal':
      return { key: path, kind }
    case 'partial':
      return { key: parts.slice(-3).join('.'), kind } // `.` is a regex wildcard in PEFT too
    case 'regex':
      return { key: `${esc(parts.slice(-3, -1).join('.')).replace(/\d/, '[0-9]')}\\.${leaf(path)}`, kind }
    case 'multi':
      return { key: host === gpt2 ? 'h\\.[01]\\.attn\\..*' : '.*_proj', kind }
    case 'none':
      return { key: 'no_such_module', kind }
    case 'unsafe':
      return { key: pick(rng, ['(c_attn)+', '(.*)*q_proj', '.*.*.*proj']), kind }
    case 'python-only':
      return { key: pick(rng, ['(?P<m>c_attn)', 'q_proj\\Z', 'c_{1}attn']), kind }
    default:
      return { key: `${leaf(path)}|zzz`, kind }
  }
}

function craft(index: number): Crafted {
  const rng = new PythonRandom(SEED * 100_003 + index)
  const host = rng.random() < 0.5 ? gpt2 : llama
  const label: string[] = [host === gpt2 ? 'gpt2' : 'llama']
  const candidates = host.modules.filter((m) => m.path !== 'lm_head' || rng.random() < 0.3)
  const chosen = candidates.filter(() => rng.random() < 0.5)
  if (chosen.length === 0) chosen.push(pick(rng, candidates))
  const r = pick(rng, [1, 2, 4, 8])
  const alpha = pick(rng, [1, 2, 8, 16, 32])
  const config: Record<string, unknown> = {
    peft_type: 'LORA',
    r,
    lora_alpha: alpha,
    use_rslora: rng.random() < 0.3,
    fan_in_fan_out: rng.random() < 0.5,
    bias: 'none',
    base_model_name_or_path: 'tiny',
    rank_pattern: {},
    alpha_pattern: {},
  }
  // target_modules
  const targetMode = pick(rng, ['leaves', 'qualified', 'regex', 'null', 'missing'])
  label.push(`targets:${targetMode}`)
  const leaves = [...new Set(chosen.map((m) => leaf(m.path)))]
  if (targetMode === 'leaves') config.target_modules = leaves
  else if (targetMode === 'qualified') config.target_modules = chosen.map((m) => m.path.split('.').slice(-2).join('.'))
  else if (targetMode === 'regex') config.target_modules = `.*\\.(${leaves.join('|')})`
  else if (targetMode === 'null') config.target_modules = null
  else config.target_modules = leaves.length > 1 ? leaves.slice(1) : ['no_such_leaf']
  // rank_pattern / alpha_pattern
  if (rng.random() < 0.6) {
    const nKeys = 1 + rng.randbelow(2)
    for (let k = 0; k < nKeys; k++) {
      const { key, kind } = patternKey(rng, pick(rng, chosen).path, host)
      const map = rng.random() < 0.5 ? 'rank_pattern' : 'alpha_pattern'
      ;(config[map] as Record<string, number>)[key] =
        map === 'rank_pattern' ? pick(rng, [1, 2, 4, 8]) : pick(rng, [1, 4, 64])
      label.push(`${map}:${kind}`)
    }
  }
  // config-level mutation
  const configMutation =
    rng.random() < 0.25
      ? pick(rng, ['r0', 'huge-alpha', 'big-alpha', 'dora', 'bias', 'layers', 'save', 'inf-alpha'])
      : null
  if (configMutation) label.push(`config:${configMutation}`)
  // per-module ranks as the config says (the sender draws matching shapes), when it can be read
  let parsed: ReturnType<typeof parsePeftConfigText> | null = null
  try {
    parsed = parsePeftConfigText(JSON.stringify(config))
  } catch {
    parsed = null
  }
  const rankOf = (m: LinearModuleInfo): number => {
    try {
      return parsed ? moduleLoraParams(parsed, m.path).rank : r
    } catch {
      return r
    }
  }
  if (configMutation === 'r0') config.r = 0
  if (configMutation === 'huge-alpha') config.lora_alpha = 1e30
  if (configMutation === 'big-alpha') config.lora_alpha = 5000
  if (configMutation === 'dora') config.use_dora = true
  if (configMutation === 'bias') config.bias = 'all'
  if (configMutation === 'layers') config.layers_to_transform = [0]
  if (configMutation === 'save') config.modules_to_save = ['lm_head']
  // tensors
  const keyStyle = rng.random() < 0.7 ? 'plain' : pick(rng, ['default', 'named', 'no-prefix', 'both'])
  label.push(`keys:${keyStyle}`)
  const f16 = rng.random() < 0.2
  const tensors: Record<string, TensorInput> = {}
  for (const m of chosen) {
    const rm = rankOf(m)
    const sigma = configMutation === 'big-alpha' ? 0.002 : 0.3
    const a = gaussF32(rng, rm * m.inFeatures, 1 / Math.sqrt(m.inFeatures))
    const b = gaussF32(rng, m.outFeatures * rm, sigma)
    const name = (f: 'A' | 'B', style: string) =>
      style === 'default'
        ? `base_model.model.${m.path}.lora_${f}.default.weight`
        : style === 'named'
          ? `base_model.model.${m.path}.lora_${f}.evil.weight`
          : style === 'no-prefix'
            ? `${m.path}.lora_${f}.weight`
            : `base_model.model.${m.path}.lora_${f}.weight`
    const dtype = f16 ? 'F16' : 'F32'
    const styleHere = keyStyle === 'named' && rng.random() < 0.5 ? 'plain' : keyStyle === 'both' ? 'plain' : keyStyle
    tensors[name('A', styleHere)] = { dtype, shape: [rm, m.inFeatures], data: a }
    tensors[name('B', styleHere)] = { dtype, shape: [m.outFeatures, rm], data: b }
    if (keyStyle === 'both' && rng.random() < 0.5) {
      tensors[name('A', 'default')] = { dtype, shape: [rm, m.inFeatures], data: a }
    }
  }
  const keys = Object.keys(tensors)
  const tensorMutation =
    rng.random() < 0.3
      ? pick(rng, ['extra', 'unpaired', 'nan', 'inf', 'wrong-rank', 'three-d', 'second-file', 'other-safetensors'])
      : null
  if (tensorMutation) label.push(`tensors:${tensorMutation}`)
  const first = keys[0]!
  const t0 = tensors[first]! as { dtype: string; shape: number[]; data: Float32Array }
  if (tensorMutation === 'extra')
    tensors['base_model.model.lm_head.weight'] = { dtype: 'F32', shape: [2, 2], data: [1, 2, 3, 4] }
  if (tensorMutation === 'unpaired') delete tensors[keys[keys.length - 1]!]
  if (tensorMutation === 'nan') t0.data[0] = Number.NaN
  if (tensorMutation === 'inf') t0.data[t0.data.length - 1] = Number.POSITIVE_INFINITY
  if (tensorMutation === 'wrong-rank') {
    const [rows, cols] = t0.shape as [number, number]
    tensors[first] = first.includes('lora_A')
      ? { dtype: t0.dtype as 'F32', shape: [rows + 1, cols], data: new Float32Array((rows + 1) * cols).fill(0.1) }
      : { dtype: t0.dtype as 'F32', shape: [rows, cols + 1], data: new Float32Array(rows * (cols + 1)).fill(0.1) }
  }
  if (tensorMutation === 'three-d') tensors[first] = { dtype: 'F32', shape: [1, ...t0.shape], data: t0.data }
  const weights = encodeSafetensors(tensors, { format: 'pt' })
  const files = new Map<string, Uint8Array | string>([
    ['adapter_model.safetensors', weights],
    ['adapter_config.json', JSON.stringify(config, null, 2)],
  ])
  if (configMutation === 'inf-alpha')
    files.set('adapter_config.json', JSON.stringify(config).replace(`"lora_alpha":${alpha}`, '"lora_alpha":1e999'))
  if (tensorMutation === 'second-file') files.set('adapter_model.bin', 'pickled weights')
  if (tensorMutation === 'other-safetensors') files.set('model.safetensors', weights)
  return { host, label, files }
}

function manifestFor(weights: Uint8Array, r: number): Manifest {
  return {
    schema_version: 0,
    plasmid_id: 'contract',
    domain: 'legal',
    base_model: 'tiny',
    peft_format: 'lora',
    lora: { r: Number.isInteger(r) && r > 0 ? r : 1, alpha: 8, dropout: 0, target_modules: ['c_attn'] },
    artifacts: { filename: 'adapter_model.safetensors', sha256: sha256Hex(weights), size_bytes: weights.length },
    train_meta: { seed: 0, epochs: 1, dataset_id: 'contract', sample_count: 1, timestamp_unix: 0 },
    metrics: { val_ppl_before: 1, val_ppl_after: 1, delta_ppl: 0 },
    safety: { licence: 'CC0', poisoning_score: 0 },
    signer: { algo: 'none', pubkey_fingerprint: '', signature_b64: '' },
    compatibility: { peft_min: '0.12.0', transformers: '>=4.42' },
  }
}

/** The loader's injected update per module, dense and in logical [out, in] orientation; or null when it refuses. */
async function loaderView(
  dir: string,
  host: FakeHost,
): Promise<Map<string, { delta: Float64Array; w: number }> | null> {
  let adapter: Awaited<ReturnType<typeof loadPeftAdapter>>
  try {
    adapter = await loadPeftAdapter(dir)
  } catch (e) {
    expect((e as { code?: string }).code, String(e)).toMatch(/^PEFT_/)
    return null
  }
  const info = new Map(host.modules.map((m) => [m.path, m]))
  const before = new Map(
    [...adapter.modules.keys()].map((p) => [p, Float32Array.from(host.params.get(`${p}.weight`)!.dataSync())]),
  )
  const handle = injectAdapters(host, [adapter])
  const out = new Map<string, { delta: Float64Array; w: number }>()
  try {
    for (const [p, w0] of before) {
      const w1 = host.params.get(`${p}.weight`)!.dataSync() as Float32Array
      const m = info.get(p)!
      const delta = new Float64Array(m.outFeatures * m.inFeatures)
      let w = 0
      for (let i = 0; i < m.outFeatures; i++) {
        for (let j = 0; j < m.inFeatures; j++) {
          // Conv1D stores [in, out]: transpose back to the logical [out, in]
          const k = m.conv1d ? j * m.outFeatures + i : i * m.inFeatures + j
          delta[i * m.inFeatures + j] = w1[k]! - w0[k]!
          w = Math.max(w, Math.abs(w1[k]!), Math.abs(w0[k]!))
        }
      }
      out.set(p, { delta, w })
    }
  } finally {
    handle.remove()
  }
  return out
}

describe('PEFT contract: the gate measures what the loader injects', () => {
  it(`agrees on every module's ΔW (1e-6) or both refuse, over ${CASES} crafted adapter folders`, async () => {
    let agreedAccept = 0
    let agreedRefuse = 0
    let worst = 0
    for (let i = 0; i < CASES; i++) {
      const c = craft(i)
      const dir = join(tmp, `c${i}`)
      await mkdir(dir)
      for (const [name, data] of c.files) await writeFile(join(dir, name), data)
      const weights = c.files.get('adapter_model.safetensors') as Uint8Array
      let claimedR = 1
      try {
        claimedR = (JSON.parse(c.files.get('adapter_config.json') as string) as { r: number }).r
      } catch {
        claimedR = 1
      }
      await writeManifest(dir, manifestFor(weights, claimedR))
      const what = `case ${i} [${c.label.join(' ')}]`

      const decision = await checkAdapter(dir, policy, {})
      const gateRefused = decision.reasons.some((r) => (REFUSALS as readonly string[]).includes(r))
      const loader = await loaderView(dir, c.host)
      expect(
        gateRefused,
        `${what}: gate ${decision.reasons.join(',') || 'accepts'} (${decision.metrics.weights.error}), loader ${loader === null ? 'refuses' : 'injects'}`,
      ).toBe(loader === null)
      if (loader === null) {
        agreedRefuse++
        continue
      }
      agreedAccept++
      // The gate's ΔW: its module reports, and the factors @plora/peft decoded for it.
      const config = parsePeftConfigText(c.files.get('adapter_config.json') as string)
      const gateModules = decodePeftWeights(config, weights)
      expect(
        decision.metrics.modules.map((m) => m.path),
        what,
      ).toEqual([...loader.keys()].sort())
      for (const report of decision.metrics.modules) {
        const m = gateModules.get(report.path)!
        const { delta, w } = loader.get(report.path)!
        expect(report.scale, what).toBe(m.scale)
        const gateDelta = denseDelta(factoredDeltaOf(m))
        let fro = 0
        let maxDiff = 0
        for (let k = 0; k < delta.length; k++) {
          fro += delta[k]! * delta[k]!
          maxDiff = Math.max(maxDiff, Math.abs(delta[k]! - gateDelta[k]!))
        }
        const tol = 1e-6 * Math.max(1, w)
        worst = Math.max(worst, maxDiff / Math.max(1, w))
        expect(maxDiff, `${what} ${report.path}`).toBeLessThanOrEqual(tol)
        expect(Math.abs(Math.sqrt(fro) - report.frobenius), `${what} ${report.path} ‖ΔW‖_F`).toBeLessThanOrEqual(
          tol * Math.sqrt(delta.length),
        )
      }
    }
    // The corpus exercises both outcomes in earnest.
    expect(agreedAccept).toBeGreaterThan(50)
    expect(agreedRefuse).toBeGreaterThan(50)
    expect(worst).toBeLessThanOrEqual(1e-6)
  })
})
