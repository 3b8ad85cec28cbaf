import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { decodeSafetensors, encodeSafetensors, type TensorInput } from '@plora/safetensors'
import {
  ADAPTER_TAG,
  generateKeyPair,
  type KeyPairPem,
  signAdapterDigest,
  signAdapterFolder,
  signSha256Hex,
  verifyAuditChain,
} from '@plora/signer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { summarizeAdapterWeights } from '../../src/adapter-weights.js'
import { checkAdapter, type GateDecision } from '../../src/check.js'
import { type GateContext, loadTrustedKeys } from '../../src/context.js'
import { type Policy, parsePolicy } from '../../src/policy.js'
import { loadProbeSet } from '../../src/probes.js'
import { REJECT_REASONS, type RejectReason } from '../../src/reasons.js'
import { computeReference, type GateReference, readReference, writeReference } from '../../src/reference.js'
import { fitLogisticRegression, logisticScore, type SpectralClassifier } from '../../src/spectral-classifier.js'
import { SPECTRAL_FEATURE_NAMES } from '../../src/spectral-features.js'
import {
  type AdapterSpec,
  BASE,
  type Behaviour,
  rewriteManifest,
  ruleHarness,
  tempDir,
  writeAdapter,
} from '../helpers.js'

const probeSet = loadProbeSet()
const NOW = 1_800_000_000

let tmp: { path: string; cleanup: () => Promise<void> }
let keyA: KeyPairPem // trusted, good reputation
let keyB: KeyPairPem // trusted, low reputation
let keyC: KeyPairPem // trusted but revoked
let keyX: KeyPairPem // unknown to the verifier
let reference: GateReference
const behaviours = new Map<string, Behaviour>()
const harness = ruleHarness(probeSet.clean, behaviours)
const reached = new Set<RejectReason>()

/** The strict verifier policy every scenario starts from. */
function policyWith(over: Record<string, unknown> = {}): Policy {
  return parsePolicy({
    base_model: BASE,
    allowed_ranks: [4],
    allowed_targets: ['c_attn'],
    signatures_enabled: true,
    quorum_required: 1,
    min_reputation: 0.5,
    enable_probes: true,
    ...over,
  })
}

async function context(over: Partial<GateContext> = {}): Promise<GateContext> {
  const keyPaths = [join(tmp.path, 'keys', 'a.pub'), join(tmp.path, 'keys', 'b.pub'), join(tmp.path, 'keys', 'c.pub')]
  return {
    trustedKeys: await loadTrustedKeys(keyPaths),
    revokedFingerprints: new Set([keyC.fingerprint]),
    reputation: new Map([
      [keyA.fingerprint, 0.9],
      [keyB.fingerprint, 0.2],
      [keyC.fingerprint, 0.9],
    ]),
    reference,
    probes: harness,
    probeSet,
    now: () => NOW,
    ...over,
  }
}

let counter = 0
async function adapter(spec: Partial<AdapterSpec> = {}): Promise<string> {
  counter++
  return writeAdapter(join(tmp.path, 'adapters', `a${counter}`), { seed: 1000 + counter, key: keyA, ...spec })
}

async function gate(dir: string, policy = policyWith(), ctx?: GateContext): Promise<GateDecision> {
  const d = await checkAdapter(dir, policy, ctx ?? (await context()))
  for (const r of d.reasons) reached.add(r)
  return d
}

/** Edits adapter_config.json in place (it is not covered by the artefact signature). */
async function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): Promise<void> {
  const p = join(dir, 'adapter_config.json')
  const c = JSON.parse(await readFile(p, 'utf8')) as Record<string, unknown>
  edit(c)
  await writeFile(p, JSON.stringify(c))
}

/** Rewrites the weights and re-signs the manifest consistently (a sender crafting a signed adapter). */
async function editWeights(dir: string, edit: (t: Record<string, TensorInput>) => void): Promise<void> {
  const p = join(dir, 'adapter_model.safetensors')
  const decoded = decodeSafetensors(new Uint8Array(await readFile(p)))
  const t: Record<string, TensorInput> = {}
  for (const [k, v] of decoded.tensors)
    t[k] = { dtype: v.dtype, shape: [...v.shape], data: Float32Array.from(v.data as Float32Array) }
  edit(t)
  const bytes = encodeSafetensors(t, { format: 'pt' })
  await writeFile(p, bytes)
  const sha = sha256Hex(bytes)
  await rewriteManifest(dir, (m) => {
    m.artifacts.sha256 = sha
    m.artifacts.size_bytes = bytes.length
    m.signer = signAdapterDigest(keyA.privateKeyPem, sha)
  })
}

/** Zero-pads one module's factors to rank `r` and declares it in rank_pattern/alpha_pattern (ΔW unchanged). */
async function padModuleRank(dir: string, path: string, r: number): Promise<void> {
  const cfg = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { r: number; lora_alpha: number }
  await editWeights(dir, (t) => {
    const ka = `base_model.model.${path}.lora_A.weight`
    const kb = `base_model.model.${path}.lora_B.weight`
    const a = t[ka]! as unknown as { shape: number[]; data: Float32Array }
    const b = t[kb]! as unknown as { shape: number[]; data: Float32Array }
    const [r0, n] = a.shape as [number, number]
    const m = b.shape[0]!
    const a2 = new Float32Array(r * n)
    a2.set(a.data)
    const b2 = new Float32Array(m * r)
    for (let i = 0; i < m; i++) for (let p = 0; p < r0; p++) b2[i * r + p] = b.data[i * r0 + p]!
    t[ka] = { dtype: 'F32', shape: [r, n], data: a2 }
    t[kb] = { dtype: 'F32', shape: [m, r], data: b2 }
  })
  const leaf = path.split('.').slice(1).join('\\.')
  await editConfig(dir, (c) => {
    c.rank_pattern = { [leaf]: r }
    c.alpha_pattern = { [leaf]: (cfg.lora_alpha / cfg.r) * r }
  })
}

beforeAll(async () => {
  tmp = await tempDir()
  ;[keyA, keyB, keyC, keyX] = [0, 1, 2, 3].map(() => generateKeyPair({ type: 'ed25519' })) as [
    KeyPairPem,
    KeyPairPem,
    KeyPairPem,
    KeyPairPem,
  ]
  await mkdir(join(tmp.path, 'keys'))
  await writeFile(join(tmp.path, 'keys', 'a.pub'), keyA.publicKeyPem)
  await writeFile(join(tmp.path, 'keys', 'b.pub'), keyB.publicKeyPem)
  await writeFile(join(tmp.path, 'keys', 'c.pub'), keyC.publicKeyPem)
  // The verifier's clean reference population: 30 clean adapters of the same shape.
  const cleanDirs: string[] = []
  for (let i = 0; i < 30; i++) cleanDirs.push(await writeAdapter(join(tmp.path, 'ref', `c${i}`), { seed: 100 + i }))
  reference = await computeReference(cleanDirs)
})

afterAll(async () => {
  await tmp.cleanup()
})

describe('checkAdapter: a clean signed adapter', () => {
  it('passes every check with signatures, reputation, reference statistics and probes enabled', async () => {
    const dir = await adapter()
    const d = await gate(dir)
    expect(d.reasons).toEqual([])
    expect(d.passed).toBe(true)
    expect(d.metrics.probes.ran).toBe(true)
    expect(d.metrics.signatures?.credited).toEqual([keyA.fingerprint])
    expect(d.metrics.reputation).toEqual({ signer: keyA.fingerprint, value: 0.9 })
    expect(d.metrics.reference.population).toContain('r4')
    expect(d.metrics.modules).toHaveLength(3)
    expect(harness.baseCallsWhileAttached).toBe(0)
  })
})

describe('checkAdapter: every reason string is reachable from a real situation', () => {
  it('base_model_mismatch: the manifest claims another base model', async () => {
    const d = await gate(await adapter({ baseModel: 'google/gemma-3-1b-it' }))
    expect(d.reasons).toContain('base_model_mismatch')
  })

  it('base_model_mismatch: adapter_config.json names another base model than the manifest', async () => {
    const d = await gate(await adapter({ configBaseModel: 'other/base' }))
    expect(d.reasons).toEqual(['base_model_mismatch'])
  })

  it('rank_not_allowed: the tensors have rank 8 while the policy allows 4', async () => {
    const d = await gate(await adapter({ r: 8 }))
    expect(d.reasons).toContain('rank_not_allowed')
    expect(d.metrics.weights.ranks).toEqual([8])
  })

  it('rank_not_allowed: the manifest lies about the rank (claims 4, tensors are 8)', async () => {
    const d = await gate(await adapter({ r: 8, claimedR: 4 }), policyWith({ enable_probes: false }))
    expect(d.reasons).toContain('rank_not_allowed')
  })

  it('targets_not_allowed: an MLP module is adapted while only c_attn is allowed', async () => {
    const d = await gate(
      await adapter({
        modules: [
          { path: 'transformer.h.0.attn.c_attn', inFeatures: 32, outFeatures: 96 },
          { path: 'transformer.h.0.mlp.c_fc', inFeatures: 32, outFeatures: 128 },
        ],
      }),
    )
    expect(d.reasons).toContain('targets_not_allowed')
    expect(d.metrics.weights.targets).toEqual(['c_attn', 'c_fc'])
  })

  it('artifact_missing and sha256_mismatch: the artefact file is gone', async () => {
    const dir = await adapter()
    await rm(join(dir, 'adapter_model.safetensors'))
    const d = await gate(dir)
    expect(d.reasons.slice(0, 2)).toEqual(['artifact_missing', 'sha256_mismatch'])
    expect(d.metrics.probes.ran).toBe(false)
  })

  it('artifact_ext_unexpected: the artefact is renamed to .pt (manifest updated consistently)', async () => {
    const dir = await adapter()
    await rename(join(dir, 'adapter_model.safetensors'), join(dir, 'adapter_model.pt'))
    await rewriteManifest(dir, (m) => {
      m.artifacts.filename = 'adapter_model.pt'
    })
    const d = await gate(dir, policyWith({ require_weights: false }))
    // issue 15 point 3: the loader reads only adapter_model.safetensors, so another artefact name is refused too
    expect(d.reasons).toEqual(['artifact_ext_unexpected', 'adapter_files_unexpected'])
  })

  it('artifact_size_out_of_bounds: the artefact exceeds max_size_bytes', async () => {
    const d = await gate(await adapter(), policyWith({ max_size_bytes: 1024 }))
    expect(d.reasons).toContain('artifact_size_out_of_bounds')
    expect(d.reasons).not.toContain('sha256_mismatch') // hashed by streaming, not loaded
  })

  it('artifact_size_out_of_bounds: size_bytes in the manifest differs from the file', async () => {
    const dir = await adapter()
    await rewriteManifest(dir, (m) => {
      m.artifacts.size_bytes += 1
    })
    const d = await gate(dir)
    expect(d.reasons).toEqual(['artifact_size_out_of_bounds'])
  })

  it('sha256_mismatch: one byte of tensor data flipped after signing', async () => {
    const dir = await adapter()
    const p = join(dir, 'adapter_model.safetensors')
    const bytes = new Uint8Array(await readFile(p))
    bytes[bytes.length - 3]! ^= 0x40
    await writeFile(p, bytes)
    const d = await gate(dir)
    expect(d.reasons).toContain('sha256_mismatch')
    expect(d.metrics.artifact.sha256).toBe(sha256Hex(bytes))
  })

  it('weights_unreadable: a dummy (non-safetensors) artefact with a consistent, signed manifest', async () => {
    const dir = await adapter()
    const payload = new TextEncoder().encode('dummy-legal-r4')
    await writeFile(join(dir, 'adapter_model.safetensors'), payload)
    const sha = sha256Hex(payload)
    await rewriteManifest(dir, (m) => {
      m.artifacts.sha256 = sha
      m.artifacts.size_bytes = payload.length
      m.signer.signature_b64 = signSha256Hex(keyA.privateKeyPem, sha, { tag: ADAPTER_TAG })
    })
    const d = await gate(dir)
    expect(d.reasons).toEqual(['weights_unreadable'])
    const lenient = await gate(dir, policyWith({ require_weights: false, enable_probes: false }))
    expect(lenient.passed).toBe(true)
  })

  it('attestations_parse_error: a line of attestations.jsonl is not JSON', async () => {
    const dir = await adapter()
    await writeFile(join(dir, 'attestations.jsonl'), '{"signer_id": 1,\n')
    const d = await gate(dir)
    expect(d.reasons).toEqual(['attestations_parse_error'])
  })

  it('peer_attestations_error: the verifier peer key folder holds an unreadable key', async () => {
    const peers = join(tmp.path, 'peers-bad')
    await mkdir(peers, { recursive: true })
    await writeFile(join(peers, 'agent_1.pem'), '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n')
    const d = await gate(await adapter(), policyWith({ peer_keys_dir: peers }))
    expect(d.reasons).toEqual(['peer_attestations_error'])
  })

  it('signature_quorum_not_met: an unsigned adapter', async () => {
    const dir = await adapter({ key: undefined } as unknown as Partial<AdapterSpec>)
    const d = await gate(dir, policyWith({ min_reputation: null }))
    expect(d.reasons).toEqual(['signature_quorum_not_met'])
  })

  it('signature_quorum_not_met: signed by a key the verifier does not trust', async () => {
    const d = await gate(await adapter({ key: keyX }), policyWith({ min_reputation: null }))
    expect(d.reasons).toEqual(['signature_quorum_not_met'])
  })

  it('signature_quorum_not_met: signed by a revoked key (revocation from the verifier list)', async () => {
    const d = await gate(await adapter({ key: keyC }), policyWith({ min_reputation: null }))
    expect(d.reasons).toEqual(['signature_quorum_not_met'])
    expect(d.metrics.signatures?.revoked_ignored).toEqual([keyC.fingerprint])
  })

  it('signature_quorum_not_met: quorum 2 is not met by one key listed twice, nor by a repeated attestation', async () => {
    const dir = await adapter()
    const sig = signSha256Hex(
      keyA.privateKeyPem,
      (await import('@plora/manifest').then((m) => m.loadManifest(dir))).artifacts.sha256,
      {
        tag: ADAPTER_TAG,
      },
    )
    const line = JSON.stringify({ signer_id: 1, domain: 'legal', sha256: 'x', signature_b64: sig, ts_unix: NOW - 10 })
    await writeFile(join(dir, 'attestations.jsonl'), `${line}\n${line}\n`)
    await copyFile(join(tmp.path, 'keys', 'a.pub'), join(tmp.path, 'keys', 'a-copy.pub'))
    const trusted = await loadTrustedKeys([join(tmp.path, 'keys', 'a.pub'), join(tmp.path, 'keys', 'a-copy.pub')])
    const d = await gate(dir, policyWith({ quorum_required: 2 }), await context({ trustedKeys: trusted }))
    expect(d.reasons).toEqual(['signature_quorum_not_met'])
    expect(d.metrics.signatures?.credited).toEqual([keyA.fingerprint])
  })

  it('meets quorum 2 with a fresh attestation by a second trusted key, but not with a stale or future one', async () => {
    const dir = await adapter()
    const sha = (await import('@plora/manifest').then((m) => m.loadManifest(dir))).artifacts.sha256
    const sigB = signSha256Hex(keyB.privateKeyPem, sha, { tag: ADAPTER_TAG })
    const at = (ts: number) =>
      `${JSON.stringify({ signer_id: 2, domain: 'legal', sha256: sha, signature_b64: sigB, ts_unix: ts })}\n`
    const policy = policyWith({ quorum_required: 2 })
    await writeFile(join(dir, 'attestations.jsonl'), at(NOW - 7200))
    expect((await gate(dir, policy)).reasons).toEqual(['signature_quorum_not_met'])
    await writeFile(join(dir, 'attestations.jsonl'), at(NOW + 86_400))
    expect((await gate(dir, policy)).reasons).toEqual(['signature_quorum_not_met'])
    await writeFile(join(dir, 'attestations.jsonl'), at(NOW - 60))
    const ok = await gate(dir, policy)
    expect(ok.reasons).toEqual([])
    expect(new Set(ok.metrics.signatures?.credited)).toEqual(new Set([keyA.fingerprint, keyB.fingerprint]))
  })

  it('threshold mode applies the same revocation and freshness rules ([D-06])', async () => {
    const dir = await adapter({ key: keyC }) // revoked signer
    const sha = (await import('@plora/manifest').then((m) => m.loadManifest(dir))).artifacts.sha256
    const sigB = signSha256Hex(keyB.privateKeyPem, sha, { tag: ADAPTER_TAG })
    await writeFile(
      join(dir, 'attestations.jsonl'),
      `${JSON.stringify({ domain: 'legal', signature_b64: sigB, ts_unix: NOW - 99_999 })}\n`,
    )
    const d = await gate(dir, policyWith({ threshold_mode: true, min_reputation: null }))
    expect(d.reasons).toEqual(['signature_quorum_not_met'])
    expect(d.metrics.signatures?.attestations.stale).toBe(1)
  })

  it('verifies an RSA-3072 (RSA-PSS, max salt) manifest signature', async () => {
    const rsa = generateKeyPair({ type: 'rsa' })
    const p = join(tmp.path, 'keys', 'rsa.pub')
    await writeFile(p, rsa.publicKeyPem)
    const d = await gate(
      await adapter({ key: rsa }),
      policyWith({ min_reputation: null }),
      await context({ trustedKeys: await loadTrustedKeys([p]) }),
    )
    expect(d.reasons).toEqual([])
    expect(d.metrics.signatures?.primary_signer).toBe(rsa.fingerprint)
  })

  it('credits a peer key attestation from the verifier peer folder', async () => {
    const peers = join(tmp.path, 'peers-good')
    await mkdir(peers, { recursive: true })
    await writeFile(join(peers, 'agent_7.pem'), keyX.publicKeyPem)
    const dir = await adapter()
    const sha = (await import('@plora/manifest').then((m) => m.loadManifest(dir))).artifacts.sha256
    const sig = signSha256Hex(keyX.privateKeyPem, sha, { tag: ADAPTER_TAG })
    await writeFile(
      join(dir, 'attestations.jsonl'),
      `${JSON.stringify({ signer_id: 7, signature_b64: sig, ts_unix: NOW })}\n`,
    )
    const d = await gate(dir, policyWith({ quorum_required: 2, peer_keys_dir: peers }))
    expect(d.reasons).toEqual([])
    expect(d.metrics.signatures?.peer_keys).toBe(1)
  })

  // --- signed folder statement (plora.sig.json, issue 15 point 8) ------------------------------
  async function withStatement(dir: string, ...keys: KeyPairPem[]): Promise<string> {
    const { canonicalManifestBytes, loadManifest } = await import('@plora/manifest')
    const manifestBytes = canonicalManifestBytes(await loadManifest(dir))
    for (const k of keys) await signAdapterFolder(dir, k.privateKeyPem, { manifestBytes })
    return dir
  }

  it('passes a clean adapter whose folder statement holds, and records it', async () => {
    const d = await gate(await withStatement(await adapter(), keyA), policyWith({ require_signed_statement: true }))
    expect(d.reasons).toEqual([])
    expect(d.metrics.statement).toMatchObject({ present: true, ok: true, signatures_checked: true, signers: 1 })
  })

  it('statement_invalid: plora.yml domain, adapter_config.json lora_alpha 8 → 8000, or an extra weight file after signing', async () => {
    const edits: Array<[string, (dir: string) => Promise<void>]> = [
      [
        'plora.yml',
        (dir) =>
          rewriteManifest(dir, (m) => {
            m.domain = 'medical'
          }),
      ],
      [
        'adapter_config.json',
        async (dir) => {
          const p = join(dir, 'adapter_config.json')
          const cfg = JSON.parse(await readFile(p, 'utf8'))
          expect(cfg.lora_alpha).toBe(8)
          await writeFile(p, JSON.stringify({ ...cfg, lora_alpha: 8000 }))
        },
      ],
      ['adapter_model.bin', (dir) => copyFile(join(dir, 'adapter_model.safetensors'), join(dir, 'adapter_model.bin'))],
    ]
    for (const [file, edit] of edits) {
      const dir = await withStatement(await adapter(), keyA)
      await edit(dir)
      const d = await gate(dir, policyWith({ enable_probes: false }))
      expect(d.reasons, file).toContain('statement_invalid')
      expect(
        d.metrics.statement.problems.map((p) => p.file),
        file,
      ).toEqual([file])
    }
  })

  it('statement_invalid: the statement is signed by a key the verifier does not trust', async () => {
    const d = await gate(await withStatement(await adapter(), keyX))
    expect(d.reasons).toEqual(['statement_invalid'])
    expect(d.metrics.statement.problems[0]?.code).toBe('SIGNER_STATEMENT_SIGNATURE_INVALID')
  })

  it('statement_missing: require_signed_statement refuses a legacy-only folder the default policy passes', async () => {
    const dir = await adapter()
    expect((await gate(dir)).reasons).toEqual([])
    const d = await gate(dir, policyWith({ require_signed_statement: true }))
    expect(d.reasons).toEqual(['statement_missing'])
  })

  it('statement quorum 2 of 3 trusted keys; attestations appended after signing are not unlisted files', async () => {
    const two = await withStatement(await adapter(), keyA, keyB)
    expect((await gate(two, policyWith({ quorum_required: 2 }))).reasons).toEqual([])
    const one = await withStatement(await adapter(), keyA)
    const sha = (await import('@plora/manifest').then((m) => m.loadManifest(one))).artifacts.sha256
    const sig = signSha256Hex(keyB.privateKeyPem, sha, { tag: ADAPTER_TAG })
    await writeFile(join(one, 'attestations.jsonl'), `${JSON.stringify({ signature_b64: sig, ts_unix: NOW })}\n`)
    // the attestation meets the artefact quorum, but it does not sign the folder statement
    const d = await gate(one, policyWith({ quorum_required: 2 }))
    expect(d.metrics.signatures?.credited).toHaveLength(2)
    expect(d.reasons).toEqual(['statement_invalid'])
    expect((await gate(one)).reasons).toEqual([])
  })

  it('without trusted keys (signatures off) a present statement is still checked against the folder', async () => {
    const dir = await withStatement(await adapter(), keyA)
    const off = policyWith({ signatures_enabled: false, min_reputation: null })
    const noKeys = await context({ trustedKeys: new Map() })
    expect((await gate(dir, off, noKeys)).reasons).toEqual([])
    await writeFile(join(dir, 'extra.txt'), 'added after signing')
    const d = await gate(dir, off, noKeys)
    expect(d.reasons).toEqual(['statement_invalid'])
    expect(d.metrics.statement.signatures_checked).toBe(false)
  })

  it('reputation_low: the verified signer has reputation 0.2 in the verifier map', async () => {
    const d = await gate(await adapter({ key: keyB }))
    expect(d.reasons).toEqual(['reputation_low'])
    expect(d.metrics.reputation).toEqual({ signer: keyB.fingerprint, value: 0.2 })
  })

  it('reputation_low: an unverifiable signer has reputation 0 even if its claimed fingerprint is reputable', async () => {
    const dir = await adapter({ key: keyX })
    await rewriteManifest(dir, (m) => {
      m.signer.pubkey_fingerprint = keyA.fingerprint
    })
    const d = await gate(dir, policyWith({ signatures_enabled: false }))
    expect(d.reasons).toEqual(['reputation_low'])
    expect(d.metrics.reputation?.signer).toBeNull()
  })

  it('weight_norm_outlier: every B scaled ×10 (z of the total update norm against the reference)', async () => {
    const d = await gate(await adapter({ bScale: 10 }))
    expect(d.reasons).toContain('weight_norm_outlier')
    expect(d.metrics.norm_z).toBeGreaterThan(3)
  })

  it('tensor_norm_outlier: one module B ×3 (module z against the reference)', async () => {
    const d = await gate(await adapter({ boost: { module: 1, factor: 3 } }))
    expect(d.reasons).toContain('tensor_norm_outlier')
    expect(d.metrics.modules[1]!.norm_z).toBeGreaterThan(5)
  })

  it('tensor_norm_outlier: without a reference, modules are compared with each other', async () => {
    const modules = Array.from({ length: 6 }, (_, i) => ({
      path: `transformer.h.${i}.attn.c_attn`,
      inFeatures: 32,
      outFeatures: 96,
    }))
    const d = await gate(
      await adapter({ modules, boost: { module: 4, factor: 20 } }),
      policyWith({ enable_probes: false, require_weight_reference: false }),
      await context({ reference: null }),
    )
    expect(d.reasons).toEqual(['tensor_norm_outlier'])
    expect(d.metrics.reference.population).toBeNull()
  })

  it('gradient_spike_z_high and activation_mahalanobis_high: one module update concentrated in one direction', async () => {
    const d = await gate(await adapter({ rankOne: 0 }))
    expect(d.reasons).toContain('gradient_spike_z_high')
    expect(d.reasons).toContain('activation_mahalanobis_high')
    expect(d.metrics.reference.spike_z).toBeGreaterThan(5)
    expect(d.metrics.reference.mahalanobis).toBeGreaterThan(5)
  })

  it('spectral_classifier_high: a calibrated classifier in the reference scores the adapter above its threshold', async () => {
    // the classifier calibration would store: clean reference adapters vs adapters with B ×3
    const spectral = async (dir: string) => (await summarizeAdapterWeights(dir)).spectral!
    const clean = await Promise.all(Array.from({ length: 30 }, (_, i) => spectral(join(tmp.path, 'ref', `c${i}`))))
    const poisoned = await Promise.all([0, 1, 2, 3, 4, 5].map(async () => spectral(await adapter({ bScale: 3 }))))
    const fit = fitLogisticRegression(
      [...clean, ...poisoned],
      [...clean.map(() => 0 as const), ...poisoned.map(() => 1 as const)],
    )
    const cleanMax = Math.max(...clean.map((x) => logisticScore(fit, x)))
    const poisonedMin = Math.min(...poisoned.map((x) => logisticScore(fit, x)))
    expect(poisonedMin).toBeGreaterThan(cleanMax)
    const classifier: SpectralClassifier = {
      model: 'logistic_l2',
      feature_names: [...SPECTRAL_FEATURE_NAMES],
      means: fit.means,
      stds: fit.stds,
      coefficients: fit.coefficients,
      intercept: fit.intercept,
      lambda: fit.lambda,
      threshold: (cleanMax + poisonedMin) / 2,
      training: { clean: clean.length, poisoned: poisoned.length },
    }
    // through the file: schema, validation and a round trip
    const refPath = join(tmp.path, 'ref-with-classifier.json')
    await writeReference(refPath, { ...reference, spectral_classifier: classifier })
    const withClassifier = await readReference(refPath)
    expect(withClassifier.spectral_classifier).toEqual(classifier)
    const ctx = await context({ reference: withClassifier })
    const suspicious = await adapter({ bScale: 3 })
    const d = await gate(suspicious, policyWith(), ctx)
    expect(d.metrics.reference.spectral_score).toBeCloseTo(logisticScore(fit, await spectral(suspicious)), 10)
    expect(d.metrics.reference.spectral_score).toBeGreaterThan(classifier.threshold)
    expect(d.metrics.reference.spectral_threshold).toBe(classifier.threshold)
    expect(d.reasons).toContain('spectral_classifier_high')
    const fine = await gate(await adapter(), policyWith(), ctx)
    expect(fine.metrics.reference.spectral_score).toBeLessThan(classifier.threshold)
    expect(fine.reasons).toEqual([])
    // without a classifier (an older reference) nothing is scored
    expect((await gate(await adapter(), policyWith())).metrics.reference.spectral_score).toBeNull()
    // a classifier of another feature vector is refused on reading
    await writeFile(
      refPath,
      JSON.stringify({
        ...reference,
        spectral_classifier: { ...classifier, feature_names: ['x', ...SPECTRAL_FEATURE_NAMES.slice(1)] },
      }),
    )
    await expect(readReference(refPath)).rejects.toMatchObject({
      code: 'GATE_REFERENCE_INVALID',
      message: expect.stringContaining('spectral_classifier: feature_names differ'),
    })
    await writeFile(
      refPath,
      JSON.stringify({
        ...reference,
        spectral_classifier: { ...classifier, coefficients: classifier.coefficients.slice(1) },
      }),
    )
    await expect(readReference(refPath)).rejects.toThrow(/spectral_classifier: means\/stds\/coefficients have/)
    // a reference written before the classifier existed still loads, without one
    await writeFile(refPath, JSON.stringify(reference))
    expect((await readReference(refPath)).spectral_classifier).toBeUndefined()
  })

  it('trigger_rate_high: the adapted model emits the payload when a probe trigger is present', async () => {
    const dir = await adapter()
    behaviours.set(dir, { trojan: 'purple banana', payload: '999' })
    const d = await gate(dir)
    expect(d.reasons).toEqual(['trigger_rate_high'])
    expect(d.metrics.trigger_rate).toBeGreaterThan(0.1)
    expect(d.metrics.trigger_rate_excess).toBe(d.metrics.trigger_rate)
    expect(d.metrics.probes.ran && d.metrics.probes.triggers_hit).toEqual(['purple banana'])
    expect(d.metrics.probes.ran && d.metrics.probes.trigger_rate_base).toBe(0)
  })

  it('clean_regression: the adapted model loses the base model answers (delta against the base without adapter)', async () => {
    const dir = await adapter()
    behaviours.set(dir, 'regressed')
    const d = await gate(dir)
    expect(d.reasons).toEqual(['clean_regression'])
    expect(d.metrics.clean_delta_f1).toBe(-1)
    expect(d.metrics.probes.ran && d.metrics.probes.clean_acc_base).toBe(1)
    expect(harness.baseCallsWhileAttached).toBe(0)
  })

  it('does not raise trigger_rate_high for an adapter that emits the payload with or without a trigger', async () => {
    // e.g. an arithmetic adapter whose digit runs contain "999": no trigger switches anything on
    const dir = await adapter()
    behaviours.set(dir, 'always-payload')
    const d = await gate(dir)
    expect(d.metrics.trigger_rate).toBe(1)
    expect(d.metrics.trigger_rate_excess).toBe(0)
    expect(d.reasons).not.toContain('trigger_rate_high')
  })

  it('emits reasons in the spec order when many checks fail at once', async () => {
    const dir = await adapter({ baseModel: 'x/y', r: 8, key: keyB, bScale: 10 })
    behaviours.set(dir, { trojan: 'hidden mode', payload: '999' })
    const d = await gate(dir)
    const order = d.reasons.map((r) => REJECT_REASONS.indexOf(r))
    expect(order).toEqual([...order].sort((a, b) => a - b))
    // a refused rank stops the expensive part (weight maths, probes) — issue 15 point 7
    expect(d.reasons).toEqual(expect.arrayContaining(['base_model_mismatch', 'rank_not_allowed', 'reputation_low']))
    expect(d.metrics.probes.ran).toBe(false)
  })

  // --- issue 15: the gate sees exactly what the loader injects ------------------------------------

  it('point 1: an alpha_pattern key edited to a regex after signing is measured at the scale the loader injects', async () => {
    const dir = await adapter()
    const clean = await gate(dir)
    expect(clean.passed).toBe(true)
    await editConfig(dir, (c) => {
      c.alpha_pattern = { 'h\\.[0-9]\\.attn\\.c_attn': 64 } // the old gate matched this literally: s stayed 2
    })
    const d = await gate(dir)
    expect(d.metrics.modules.map((m) => m.scale)).toEqual([16, 16, 16])
    expect(d.reasons).toContain('weight_norm_outlier')
    expect(d.metrics.signatures?.credited).toEqual([keyA.fingerprint]) // the signature alone did not catch it
  })

  it('point 1: a config the loader would refuse (two pattern keys on one module) is refused by the gate', async () => {
    const dir = await adapter()
    await editConfig(dir, (c) => {
      c.alpha_pattern = { c_attn: 8, 'h\\.0\\.attn\\.c_attn': 800 }
    })
    const d = await gate(dir)
    expect(d.reasons).toContain('weights_unreadable')
    expect(d.metrics.weights.error).toMatch(/several pattern keys/)
  })

  it('point 2: tensors of a named adapter (.lora_A.evil.weight) are refused, not skipped', async () => {
    const dir = await adapter()
    await editWeights(dir, (t) => {
      const [k, v] = Object.entries(t)[0]!
      t[k.replace('.lora_A.weight', '.lora_A.evil.weight').replace('.lora_B.weight', '.lora_B.evil.weight')] = v
    })
    const d = await gate(dir)
    expect(d.reasons).toContain('weights_unreadable')
    expect(d.metrics.weights.other_tensors).toHaveLength(1)
  })

  it('reads adapter_config.json as strict UTF-8, like the loader (a lossy decode would vet another config)', async () => {
    const dir = await adapter()
    const path = join(dir, 'adapter_config.json')
    const text = await readFile(path, 'utf8')
    const at = text.indexOf('"peft_type"')
    // an invalid byte inside a JSON string: Buffer.toString would turn it into U+FFFD and parse
    const bytes = Buffer.concat([
      Buffer.from(text.slice(0, at)),
      Buffer.from('"x\xff": 1, ', 'latin1'),
      Buffer.from(text.slice(at)),
    ])
    await writeFile(path, bytes)
    const d = await gate(dir)
    expect(d.passed).toBe(false)
    expect(d.reasons).toContain('weights_unreadable')
    expect(d.metrics.weights.error).toMatch(/not UTF-8/)
  })

  it('point 3: a second weights file beside adapter_model.safetensors refuses the folder', async () => {
    const dir = await adapter()
    await writeFile(join(dir, 'adapter_model.bin'), 'pickle')
    expect((await gate(dir)).reasons).toEqual(['adapter_files_unexpected'])
    const dir2 = await adapter()
    // the manifest vets a decoy while adapter_model.safetensors (what the loader reads) stays
    await copyFile(join(dir2, 'adapter_model.safetensors'), join(dir2, 'decoy.safetensors'))
    await rewriteManifest(dir2, (m) => {
      m.artifacts.filename = 'decoy.safetensors'
    })
    expect((await gate(dir2)).reasons).toContain('adapter_files_unexpected')
  })

  it('point 4: mixed ranks across modules keep the reference population in use', async () => {
    const dir = await adapter({ bScale: 10 })
    await padModuleRank(dir, 'transformer.h.0.attn.c_attn', 8)
    const d = await gate(dir, policyWith({ allowed_ranks: [4, 8] }))
    expect(d.metrics.weights.ranks).toEqual([4, 8])
    expect(d.metrics.reference.population).toContain('r4')
    expect(d.reasons).toContain('weight_norm_outlier')
  })

  it('point 5: relabelling the (unsigned) domain never selects a more lenient population', async () => {
    const pooled = reference.populations[0]!
    // a per-domain population so wide that it would pass anything
    const lenient = {
      ...pooled,
      domain: 'arith',
      features: Object.fromEntries(
        Object.entries(pooled.features).map(([k, v]) => [k, { mean: v.mean, std: v.std * 1000 }]),
      ) as typeof pooled.features,
      cov: pooled.cov.map((row) => row.map((x) => x * 1e6)),
      modules: Object.fromEntries(Object.entries(pooled.modules).map(([k, v]) => [k, { ...v, std: v.std * 1000 }])),
    }
    const ctx = await context({ reference: { ...reference, populations: [pooled, lenient] } })
    for (const domain of ['arith', 'no-such-domain']) {
      const dir = await adapter({ bScale: 10, domain })
      const d = await gate(dir, policyWith(), ctx)
      expect(d.reasons, domain).toContain('weight_norm_outlier')
      expect(d.metrics.reference.population, domain).toContain('n=30')
    }
  })

  it('point 6: without a reference the weight detectors say "not evaluated" and the default policy rejects', async () => {
    const ctx = await context({ reference: null })
    const poisoned = await adapter({ bScale: 10 })
    const d = await gate(poisoned, policyWith({ enable_probes: false }), ctx)
    expect(d.reasons).toContain('weights_not_evaluated')
    expect(d.metrics.reference.note).toMatch(/not evaluated/)
  })

  it('point 6: a non-finite or overflowing update is always rejected, even with every lenient switch', async () => {
    const lenient = policyWith({ enable_probes: false, require_weights: false, require_weight_reference: false })
    const ctx = await context({ reference: null })
    const huge = await adapter()
    await editConfig(huge, (c) => {
      c.lora_alpha = 1e30
    })
    const nan = await adapter()
    await editWeights(nan, (t) => {
      const first = Object.values(t)[0]! as unknown as { data: Float32Array }
      first.data[0] = Number.NaN
    })
    for (const dir of [huge, nan]) {
      const d = await gate(dir, lenient, ctx)
      expect(d.reasons, dir).toEqual(['weight_update_invalid'])
    }
  })

  it('point 7: an r = 4096 adapter of 33 KB is refused on its header, before any factor maths', async () => {
    const dir = await adapter({
      r: 4096,
      modules: [{ path: 'transformer.h.0.attn.c_attn', inFeatures: 1, outFeatures: 1 }],
    })
    const d = await gate(dir, policyWith({ allowed_ranks: null, enable_probes: false }))
    expect(d.metrics.artifact.size_bytes).toBeLessThan(34_000)
    expect(d.reasons).toContain('rank_not_allowed')
    expect(d.metrics.weights.skipped).toMatch(/exceeds max_rank 128/)
    expect(d.metrics.modules).toEqual([])
  })

  it('point 7: many modules of an allowed rank beyond the Σr³ budget are not evaluated, even when the policy tolerates it', async () => {
    const modules = Array.from({ length: 400 }, (_, i) => ({
      path: `transformer.h.${i}.attn.c_attn`,
      inFeatures: 1,
      outFeatures: 1,
    }))
    const dir = await adapter({ r: 64, modules })
    const d = await gate(
      dir,
      policyWith({ allowed_ranks: [64], enable_probes: false, require_weight_reference: false }),
      await context({ reference: null }),
    )
    expect(d.reasons).toEqual(['weights_not_evaluated'])
    expect(d.metrics.weights.skipped).toMatch(/budget/)
  })

  it('reached every reason string of the gate in the tests above', () => {
    expect([...REJECT_REASONS].filter((r) => !reached.has(r))).toEqual([])
  })
})

describe('checkAdapter: sender-controlled fields do not change the verdict', () => {
  it('ignores poisoning_score and reputation/revocation/detector files placed in the adapter folder', async () => {
    const cleanDir = await adapter()
    const trojanDir = await adapter({ key: keyB })
    behaviours.set(trojanDir, { trojan: 'purple banana', payload: '999' })
    const before = [await gate(cleanDir), await gate(trojanDir)]
    expect(before[0]!.passed).toBe(true)
    expect(before[1]!.reasons).toEqual(['reputation_low', 'trigger_rate_high'])

    // The sender edits everything it controls besides the signed artefact:
    await rewriteManifest(cleanDir, (m) => {
      m.safety.poisoning_score = 1 // "I am a trojan" (the original rejected on this label alone)
    })
    await rewriteManifest(trojanDir, (m) => {
      m.safety.poisoning_score = 0
    })
    for (const dir of [cleanDir, trojanDir]) {
      await writeFile(
        join(dir, 'reputation.json'),
        JSON.stringify({ [keyB.fingerprint]: 1.0, [keyA.fingerprint]: 0.0 }),
      )
      await writeFile(join(dir, 'revocations.json'), JSON.stringify({ [keyA.fingerprint]: 1, '1': 2 }))
      await writeFile(join(dir, 'activation_ref.json'), JSON.stringify({ mean: [0], cov: [[1]] }))
      await writeFile(join(dir, 'activation_obs.json'), JSON.stringify({ vec: [100] }))
      await writeFile(join(dir, 'grad_ref.json'), JSON.stringify({ median: 0, mad: 1 }))
      await writeFile(join(dir, 'grad_obs.json'), JSON.stringify({ norm: 100 }))
      await writeFile(
        join(dir, 'gate-ref.json'),
        JSON.stringify({ schema: 'plora.gate-ref/v1', feature_names: [], populations: [] }),
      )
    }
    const after = [await gate(cleanDir), await gate(trojanDir)]
    expect(after.map((d) => d.passed)).toEqual([true, false])
    expect(after.map((d) => d.reasons)).toEqual(before.map((d) => d.reasons))
    expect(after.map((d) => d.metrics.reputation)).toEqual(before.map((d) => d.metrics.reputation))
    expect(after.map((d) => d.metrics.norm_z)).toEqual(before.map((d) => d.metrics.norm_z))
  })
})

describe('checkAdapter: audit log', () => {
  it('appends the final decision of every check to a hash chain that verifies, and detects an edit', async () => {
    const audit = join(tmp.path, 'audit', 'gate_audit.jsonl')
    const ctx = await context({ auditLogPath: audit })
    const good = await adapter()
    const bad = await adapter({ bScale: 10 })
    await checkAdapter(good, policyWith(), ctx)
    const rejected = await checkAdapter(bad, policyWith(), ctx)
    const lines = (await readFile(audit, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ passed: true, reasons: [] })
    expect(lines[1]).toMatchObject({ passed: false, reasons: rejected.reasons })
    expect((await verifyAuditChain(audit)).ok).toBe(true)
    const text = await readFile(audit, 'utf8')
    // an edit of an earlier record breaks the link of the record after it
    await writeFile(audit, text.replace('"passed": true', '"passed": false'))
    const broken = await verifyAuditChain(audit)
    expect(broken.ok).toBe(false)
    expect(broken.line).toBe(2)
  })

  it("signs the log's head with the verifier's key; a cut tail is detected and never re-anchored", async () => {
    const audit = join(tmp.path, 'audit-signed', 'gate_audit.jsonl')
    const verifier = generateKeyPair({ type: 'ed25519' })
    const ctx = await context({ auditLogPath: audit, auditSigningKey: verifier.privateKeyPem })
    const good = await adapter()
    await checkAdapter(good, policyWith(), ctx)
    await checkAdapter(good, policyWith(), ctx)
    expect(await verifyAuditChain(audit, { publicKey: verifier.publicKeyPem, requireHead: true })).toMatchObject({
      ok: true,
      records: 2,
      headVerified: true,
    })
    const first = (await readFile(audit, 'utf8')).split('\n')[0]
    await writeFile(audit, `${first}\n`)
    expect(await verifyAuditChain(audit, { publicKey: verifier.publicKeyPem })).toMatchObject({
      ok: false,
      line: 2,
      reason: 'lines_missing',
    })
    await expect(checkAdapter(good, policyWith(), ctx)).rejects.toMatchObject({ code: 'SIGNER_AUDIT_CHAIN_BROKEN' })
  })
})

describe('checkAdapter: errors', () => {
  it('refuses to run probes without a harness', async () => {
    await expect(
      checkAdapter(
        await adapter(),
        policyWith(),
        await context({ probes: undefined } as unknown as Partial<GateContext>),
      ),
    ).rejects.toMatchObject({
      code: 'GATE_PROBES_UNAVAILABLE',
    })
  })

  it('raises GATE_MANIFEST_INVALID for a folder without a valid plora.yml', async () => {
    const dir = join(tmp.path, 'no-manifest')
    await mkdir(dir, { recursive: true })
    await expect(checkAdapter(dir, policyWith({ enable_probes: false }))).rejects.toMatchObject({
      code: 'GATE_MANIFEST_INVALID',
    })
  })

  it('raises GATE_PROBE_FAILED when generation fails, and detaches the adapter', async () => {
    const dir = await adapter()
    let detached = false
    const failing = {
      base: { generate: async () => ' ok' },
      attach: async () => ({
        generate: async () => {
          throw new Error('out of memory')
        },
        detach: () => {
          detached = true
        },
      }),
    }
    await expect(checkAdapter(dir, policyWith(), await context({ probes: failing }))).rejects.toMatchObject({
      code: 'GATE_PROBE_FAILED',
    })
    expect(detached).toBe(true)
  })
})
