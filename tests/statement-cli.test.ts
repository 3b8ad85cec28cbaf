/**
 * Issue 15 point 8: the signature must cover what is loaded. The exact attack of the issue, run
 * through the built `plora` bin: sign a clean adapter, then edit domain / base_model / lora.r /
 * metrics / licence in plora.yml, or `lora_alpha` 8 → 8000 in adapter_config.json, or add a file.
 * Before, `plora verify` stayed green (only `artifacts.sha256` was signed); now the folder
 * statement (`plora.sig.json`) names what changed. Also: legacy-only folders still verify,
 * `--require-statement` refuses them, and a 2-of-3 quorum over one statement.
 */
import { spawnSync } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256Hex } from '../packages/common/src/index.js'
import { dumpManifestYaml, loadManifest, type Manifest, parseManifestYaml } from '../packages/manifest/src/index.js'
import { encodeSafetensors } from '../packages/safetensors/src/index.js'
import { generateKeyPair, type KeyPairPem } from '../packages/signer/src/index.js'

const REPO = resolve(import.meta.dirname, '..')
const BIN = join(REPO, 'packages/cli/bin/plora.js')
let dir: string

function plora(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PLORA_LOG_LEVEL: 'warn' },
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

async function writeKeys(name: string, pair: KeyPairPem): Promise<{ priv: string; pub: string }> {
  const priv = join(dir, 'keys', `${name}_priv.pem`)
  const pub = join(dir, 'keys', `${name}_pub.pem`)
  await mkdir(join(dir, 'keys'), { recursive: true })
  await writeFile(priv, pair.privateKeyPem)
  await writeFile(pub, pair.publicKeyPem)
  return { priv, pub }
}

/** A clean adapter: PEFT-style weights, adapter_config.json (lora_alpha 8) and plora.yml. */
async function makeAdapter(path: string): Promise<void> {
  await mkdir(path, { recursive: true })
  const bytes = encodeSafetensors(
    {
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': {
        dtype: 'F32',
        shape: [4, 16],
        data: Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)),
      },
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight': {
        dtype: 'F32',
        shape: [16, 4],
        data: Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)),
      },
    },
    { format: 'pt' },
  )
  await writeFile(join(path, 'adapter_model.safetensors'), bytes)
  await writeFile(
    join(path, 'adapter_config.json'),
    `${JSON.stringify({ peft_type: 'LORA', base_model_name_or_path: 'sshleifer/tiny-gpt2', r: 4, lora_alpha: 8, target_modules: ['c_attn'] }, null, 2)}\n`,
  )
  const m = parseManifestYaml(await readFile(join(REPO, 'packages/manifest/test/fixtures/plora.yml'), 'utf8'))
  const manifest: Manifest = {
    ...m,
    artifacts: { filename: 'adapter_model.safetensors', sha256: sha256Hex(bytes), size_bytes: bytes.byteLength },
    signer: { algo: 'none', pubkey_fingerprint: '', signature_b64: '' },
  }
  await writeFile(join(path, 'plora.yml'), dumpManifestYaml(manifest))
}

/** Edits plora.yml as an attacker would: change fields, keep the (legacy) signer block. */
async function editManifest(path: string, edit: (m: Manifest) => Manifest): Promise<void> {
  await writeFile(join(path, 'plora.yml'), dumpManifestYaml(edit(await loadManifest(path))))
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-statement-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const ATTACKS: Array<[string, (d: string) => Promise<void>, RegExp]> = [
  [
    'domain',
    (d) => editManifest(d, (m) => ({ ...m, domain: 'medical' })),
    /field domain \(signed "legal", found "medical"\)/,
  ],
  ['base_model', (d) => editManifest(d, (m) => ({ ...m, base_model: 'gpt2-xl' })), /field base_model /],
  [
    'lora.r',
    (d) => editManifest(d, (m) => ({ ...m, lora: { ...m.lora, r: 64 } })),
    /field lora\.r \(signed 4, found 64\)/,
  ],
  [
    'metrics',
    (d) =>
      editManifest(d, (m) => ({
        ...m,
        metrics: { ...m.metrics, val_ppl_after: 2, delta_ppl: 2 - m.metrics.val_ppl_before },
      })),
    /field metrics\.delta_ppl .*metrics\.val_ppl_after/,
  ],
  [
    'licence',
    (d) => editManifest(d, (m) => ({ ...m, safety: { ...m.safety, licence: 'commercial' } })),
    /field safety\.licence /,
  ],
]

describe.each(['ed25519', 'rsa'] as const)('plora sign → edit → plora verify (%s)', (type) => {
  let keys: { priv: string; pub: string }
  let signed: string
  beforeAll(async () => {
    keys = await writeKeys(type, generateKeyPair({ type }))
    signed = join(dir, type, 'signed')
    await makeAdapter(signed)
    const s = plora('sign', '--adapter-dir', signed, '--private-key', keys.priv)
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toMatch(/plora\.sig\.json: 2 file\(s\) \+ manifest, 1 signature\(s\)/)
  })
  const copy = async (name: string): Promise<string> => {
    const d = join(dir, type, name)
    await cp(signed, d, { recursive: true })
    return d
  }

  it('writes both the legacy signer block and the statement sidecar, and verifies them', async () => {
    const m = await loadManifest(signed)
    expect(m.signer.algo).toBe(type === 'rsa' ? 'RSA-PSS-SHA256' : 'ED25519-SHA256')
    const side = JSON.parse(await readFile(join(signed, 'plora.sig.json'), 'utf8'))
    expect(side.statement._type).toBe('https://in-toto.io/Statement/v1')
    expect(side.statement.subject.map((s: { name: string }) => s.name)).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ])
    const v = plora('verify', '--adapter-dir', signed, '--public-key', keys.pub, '--require-statement')
    expect(v.code, v.stderr).toBe(0)
    expect(v.stdout).toMatch(/^Signature verified successfully \(tagged form/)
    expect(v.stdout).toMatch(/Folder statement verified/)
  })

  it.each(ATTACKS)('an edited %s in plora.yml fails verify (exit 1), naming the field', async (name, attack, field) => {
    const d = await copy(`edit-${name}`)
    await attack(d)
    const v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub)
    expect(v.code, v.stdout + v.stderr).toBe(1)
    expect(v.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(v.stderr).toMatch(field)
    expect(v.stderr).toMatch(/\[SIGNER_STATEMENT_MANIFEST_MISMATCH\]\n$/)
  })

  it('lora_alpha 8 → 8000 in adapter_config.json fails verify, naming the file', async () => {
    const d = await copy('alpha')
    const p = join(d, 'adapter_config.json')
    await writeFile(p, (await readFile(p, 'utf8')).replace('"lora_alpha": 8', '"lora_alpha": 8000'))
    const v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub)
    expect(v.code).toBe(1)
    expect(v.stderr).toMatch(/adapter_config\.json changed since signing.*\[SIGNER_STATEMENT_FILE_MISMATCH\]\n$/)
  })

  it('an added file fails verify; without the sidecar the same folder needs --require-statement to fail', async () => {
    const d = await copy('extra')
    await writeFile(join(d, 'notes.txt'), 'a file added after signing')
    let v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub)
    expect(v.code).toBe(1)
    expect(v.stderr).toMatch(
      /notes\.txt .*is not listed in the signed statement.*\[SIGNER_STATEMENT_FILE_UNLISTED\]\n$/,
    )
    // Stripping the sidecar falls back to the legacy signature (wire compatibility) …
    await rm(join(d, 'plora.sig.json'))
    v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub)
    expect(v.code, v.stderr).toBe(0)
    expect(v.stdout).toMatch(/No folder statement/)
    // … which a verifier that requires statements refuses.
    v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub, '--require-statement')
    expect(v.code).toBe(2)
    expect(v.stderr).toMatch(/\[SIGNER_STATEMENT_MISSING\]\n$/)
  })

  it('a second weights file fails verify with or without the sidecar (the loader reads only one)', async () => {
    const d = await copy('extra-weights')
    await writeFile(join(d, 'adapter_model.bin'), 'a second set of weights')
    let v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub)
    expect(v.code).toBe(1)
    expect(v.stderr).toMatch(/adapter_model\.bin.*\[PEFT_FOLDER_INVALID\]\n$/)
    await rm(join(d, 'plora.sig.json'))
    v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub)
    expect(v.code).toBe(1)
    expect(v.stderr).toMatch(/\[PEFT_FOLDER_INVALID\]\n$/)
  })

  it('a statement signed only by another key fails with exit 2', async () => {
    const otherPair = generateKeyPair({ type: 'ed25519' })
    const other = await writeKeys(`${type}-other`, otherPair)
    const d = await copy('other-key')
    const legacy = (await loadManifest(signed)).signer
    expect(plora('sign', '--adapter-dir', d, '--private-key', other.priv).code).toBe(0)
    // keep only the other key's statement signature and the original legacy block (which still verifies)
    const side = JSON.parse(await readFile(join(d, 'plora.sig.json'), 'utf8'))
    side.signatures = side.signatures.filter((x: { fingerprint: string }) => x.fingerprint === otherPair.fingerprint)
    expect(side.signatures).toHaveLength(1)
    await writeFile(join(d, 'plora.sig.json'), JSON.stringify(side))
    await editManifest(d, (m) => ({ ...m, signer: legacy }))
    const v = plora('verify', '--adapter-dir', d, '--public-key', keys.pub)
    expect(v.code).toBe(2)
    expect(v.stderr).toMatch(/0 of the required 1 trusted key\(s\).*\[SIGNER_STATEMENT_SIGNATURE_INVALID\]\n$/)
  })
})

describe('legacy-only folders and k-of-n quorum', () => {
  it('a folder signed the old way (plora.yml signer block only) still verifies', async () => {
    const k = await writeKeys('legacy', generateKeyPair({ type: 'ed25519' }))
    const d = join(dir, 'legacy')
    await makeAdapter(d)
    const { signAdapterDigest } = await import('../packages/signer/src/index.js')
    const m = await loadManifest(d)
    await writeFile(
      join(d, 'plora.yml'),
      dumpManifestYaml({ ...m, signer: signAdapterDigest(await readFile(k.priv, 'utf8'), m.artifacts.sha256) }),
    )
    expect(plora('verify', '--adapter-dir', d, '--public-key', k.pub).code).toBe(0)
    expect(plora('verify', '--adapter-dir', d, '--public-key', k.pub, '--require-statement').code).toBe(2)
  })

  it('2-of-3: two signers in turn; verify with three trusted keys and --quorum 2 (3 is not met)', async () => {
    const a = await writeKeys('qa', generateKeyPair({ type: 'ed25519' }))
    const b = await writeKeys('qb', generateKeyPair({ type: 'rsa' }))
    const c = await writeKeys('qc', generateKeyPair({ type: 'ed25519' }))
    const d = join(dir, 'quorum')
    await makeAdapter(d)
    expect(plora('sign', '--adapter-dir', d, '--private-key', a.priv).code).toBe(0)
    const s = plora('sign', '--adapter-dir', d, '--private-key', b.priv)
    expect(s.stdout).toMatch(/2 signature\(s\)/)
    const v2 = plora('verify', '--adapter-dir', d, '--public-key', a.pub, b.pub, c.pub, '--quorum', '2')
    expect(v2.code, v2.stderr).toBe(0)
    expect(v2.stdout).toMatch(/2 of 2 required key\(s\)/)
    const v3 = plora(
      'verify',
      '--adapter-dir',
      d,
      '--public-key',
      a.pub,
      '--public-key',
      b.pub,
      '--public-key',
      c.pub,
      '--quorum',
      '3',
    )
    expect(v3.code).toBe(2)
    expect(v3.stderr).toMatch(/2 of the required 3 trusted key\(s\).*\[SIGNER_STATEMENT_SIGNATURE_INVALID\]\n$/)
    const bad = plora('verify', '--adapter-dir', d, '--public-key', a.pub, '--quorum', 'two')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--quorum/)
  })
})
