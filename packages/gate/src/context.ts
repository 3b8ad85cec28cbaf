/**
 * The verifier's own trust inputs (fix of [D-05]): trusted keys, revocations, reputation, the
 * reference population and the probe set all come from files the **verifier** names in its policy
 * (or passes in code), never from the adapter folder under test. Keys are identified by their
 * SPKI fingerprint (fix of [D-07], [D-16], [D-18]).
 */
import { readFile } from 'node:fs/promises'
import { type Logger, SILENT_LOGGER } from '@plora/common'
import { type KeyInput, keyFingerprint, loadPublicKey, normalizeFingerprint, type TrustedKey } from '@plora/signer'
import { GateError, GateErrorCode } from './errors.js'
import type { Policy } from './policy.js'
import { loadProbeSet, type ProbeHarness, type ProbeSet } from './probes.js'
import { type GateReference, readReference } from './reference.js'

/** Everything the gate trusts besides the policy. Fields are optional; absent = empty. */
export interface GateContext {
  /** Trusted public keys by fingerprint (64 lowercase hex). */
  trustedKeys?: ReadonlyMap<string, TrustedKey>
  /** Fingerprints whose signatures never count (verifier's revocation list). */
  revokedFingerprints?: ReadonlySet<string>
  /** Reputation in [0, 1] by key fingerprint (verifier's own map). */
  reputation?: ReadonlyMap<string, number>
  /** The clean reference population (`gate-ref.json`); null/absent = no population statistics. */
  reference?: GateReference | null
  /** Base model + adapter generation for the behavioural probes (needed when `enable_probes`). */
  probes?: ProbeHarness
  /** Probe set (default: the policy's `probes_file`, else the packaged `assets/probes.json`). */
  probeSet?: ProbeSet
  /** Audit log to append every decision to (hash-chained); absent = no audit record. */
  auditLogPath?: string
  /** The verifier's private key: signs the audit log's head on every append; absent = unsigned head. */
  auditSigningKey?: KeyInput
  /** Passphrase of an encrypted `auditSigningKey`. */
  auditKeyPassphrase?: string
  logger?: Logger
  /** Clock in unix seconds (default: Date.now() / 1000); injectable for tests. */
  now?: () => number
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (e) {
    throw new GateError(
      GateErrorCode.TrustInvalid,
      `${what} ${path}: cannot read JSON (${(e as Error).message})`,
      { path },
      { cause: e },
    )
  }
}

function fingerprintOrThrow(text: string, path: string, what: string): string {
  const fp = normalizeFingerprint(text)
  if (fp === null) {
    throw new GateError(
      GateErrorCode.TrustInvalid,
      `${what} ${path}: ${JSON.stringify(text)} is not a key fingerprint (expected 64 hex characters, optionally "SHA256:"-prefixed)`,
      { path, entry: text },
    )
  }
  return fp
}

/**
 * Reads PEM public keys into a fingerprint-keyed map; the same key under two paths is one entry.
 * @throws GateError `GATE_TRUST_INVALID`
 */
export async function loadTrustedKeys(paths: readonly string[]): Promise<Map<string, TrustedKey>> {
  const out = new Map<string, TrustedKey>()
  for (const path of paths) {
    let key: ReturnType<typeof loadPublicKey>
    try {
      key = loadPublicKey(await readFile(path, 'utf8'))
    } catch (e) {
      throw new GateError(
        GateErrorCode.TrustInvalid,
        `trusted key ${path}: cannot load a public key (${(e as Error).message})`,
        { path },
        { cause: e },
      )
    }
    const fingerprint = keyFingerprint(key)
    if (!out.has(fingerprint)) out.set(fingerprint, { fingerprint, key, label: path })
  }
  return out
}

/**
 * Reads the verifier's revocation list: a JSON array of fingerprints, or an object whose keys are
 * fingerprints (values ignored, like the original's `revocations.json`).
 * @throws GateError `GATE_TRUST_INVALID`
 */
export async function loadRevocations(path: string): Promise<Set<string>> {
  const raw = await readJson(path, 'revocations')
  const entries = Array.isArray(raw) ? raw : raw !== null && typeof raw === 'object' ? Object.keys(raw) : null
  if (entries === null || !entries.every((e) => typeof e === 'string')) {
    throw new GateError(
      GateErrorCode.TrustInvalid,
      `revocations ${path}: expected a JSON array of fingerprints or an object keyed by them`,
      { path },
    )
  }
  return new Set(entries.map((e) => fingerprintOrThrow(e as string, path, 'revocations')))
}

/**
 * Reads the verifier's reputation map: a JSON object fingerprint → number in [0, 1].
 * @throws GateError `GATE_TRUST_INVALID`
 */
export async function loadReputation(path: string): Promise<Map<string, number>> {
  const raw = await readJson(path, 'reputation')
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GateError(GateErrorCode.TrustInvalid, `reputation ${path}: expected a JSON object fingerprint → number`, {
      path,
    })
  }
  const out = new Map<string, number>()
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      throw new GateError(
        GateErrorCode.TrustInvalid,
        `reputation ${path}: value of ${k} must be a number in [0, 1], found ${JSON.stringify(v)}`,
        {
          path,
          entry: k,
        },
      )
    }
    out.set(fingerprintOrThrow(k, path, 'reputation'), v)
  }
  return out
}

/** Extra, non-file inputs of {@link loadGateContext}. */
export interface LoadGateContextOptions {
  probes: ProbeHarness
  auditLogPath: string
  auditSigningKey: KeyInput
  auditKeyPassphrase: string
  logger: Logger
  now: () => number
}

/**
 * Builds a {@link GateContext} from the files a policy names (trusted keys, revocations,
 * reputation, reference, probe set) plus the caller's probe harness and audit path.
 * @throws GateError `GATE_TRUST_INVALID`, `GATE_REFERENCE_INVALID`, `GATE_PROBES_INVALID`
 */
export async function loadGateContext(
  policy: Policy,
  options: Partial<LoadGateContextOptions> = {},
): Promise<GateContext> {
  const ctx: GateContext = {
    trustedKeys: await loadTrustedKeys(policy.trusted_public_keys ?? []),
    revokedFingerprints: policy.revocations_file ? await loadRevocations(policy.revocations_file) : new Set(),
    reputation: policy.reputation_file ? await loadReputation(policy.reputation_file) : new Map(),
    reference: policy.reference_file ? await readReference(policy.reference_file) : null,
    logger: options.logger ?? SILENT_LOGGER,
  }
  if (policy.enable_probes || policy.probes_file) ctx.probeSet = loadProbeSet(policy.probes_file ?? undefined)
  if (options.probes) ctx.probes = options.probes
  if (options.auditLogPath) ctx.auditLogPath = options.auditLogPath
  if (options.auditSigningKey !== undefined) ctx.auditSigningKey = options.auditSigningKey
  if (options.auditKeyPassphrase !== undefined) ctx.auditKeyPassphrase = options.auditKeyPassphrase
  if (options.now) ctx.now = options.now
  return ctx
}
