/**
 * Issue 3 acceptance: `plora keygen` → `plora sign` → `plora verify` for RSA and Ed25519, and the
 * exit codes / one-line reasons when one byte of the adapter file, the manifest's sha256 or the
 * signature is flipped. Runs `main` in-process (from source); the make targets run the built bin.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../packages/cli/src/main.js'
import { sha256Hex } from '../packages/common/src/index.js'
import { dumpManifestYaml, loadManifest, parseManifestYaml } from '../packages/manifest/src/index.js'
import { encodeSafetensors } from '../packages/safetensors/src/index.js'

const REPO = resolve(import.meta.dirname, '..')
let dir: string

async function plora(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((c: string | Uint8Array) => {
    stdout += String(c)
    return true
  }) as typeof process.stdout.write
  process.stderr.write = ((c: string | Uint8Array) => {
    stderr += String(c)
    return true
  }) as typeof process.stderr.write
  try {
    const code = await main(['node', 'plora', ...args])
    return { code, stdout, stderr }
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
}

/** A small but real adapter folder: a PEFT-style safetensors file and its manifest. */
async function makeAdapter(path: string, seed = 1): Promise<void> {
  await mkdir(path, { recursive: true })
  const a = Float32Array.from({ length: 4 * 16 }, (_, i) => Math.sin(i * seed))
  const b = Float32Array.from({ length: 16 * 4 }, (_, i) => Math.cos(i + seed))
  const bytes = encodeSafetensors(
    {
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': { dtype: 'F32', shape: [4, 16], data: a },
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight': { dtype: 'F32', shape: [16, 4], data: b },
    },
    { format: 'pt' },
  )
  await writeFile(join(path, 'adapter_model.safetensors'), bytes)
  const m = parseManifestYaml(await readFile(join(REPO, 'packages/manifest/test/fixtures/plora.yml'), 'utf8'))
  const manifest = {
    ...m,
    artifacts: { filename: 'adapter_model.safetensors', sha256: sha256Hex(bytes), size_bytes: bytes.byteLength },
    signer: { algo: 'none' as const, pubkey_fingerprint: '', signature_b64: '' },
  }
  await writeFile(join(path, 'plora.yml'), dumpManifestYaml(manifest))
}

async function flipFileByte(path: string, at: number): Promise<void> {
  const b = await readFile(path)
  b[at]! ^= 0x01
  await writeFile(path, b)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plora-trust-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe.each(['rsa', 'ed25519'] as const)('keygen → sign → verify round trip (%s)', (type) => {
  const priv = () => join(dir, type, 'keys/priv.pem')
  const pub = () => join(dir, type, 'keys/pub.pem')
  const adapter = (name: string) => join(dir, type, name)

  beforeAll(async () => {
    const r = await plora('keygen', '--type', type, '--private-key', priv(), '--public-key', pub())
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/fingerprint [0-9a-f]{64}/)
  })

  async function signedAdapter(name: string): Promise<string> {
    await makeAdapter(adapter(name))
    const s = await plora('sign', '--adapter-dir', adapter(name), '--private-key', priv())
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toMatch(/^Signed manifest updated for /)
    return adapter(name)
  }

  it('verifies a freshly signed adapter; the manifest carries algo, real fingerprint and signature', async () => {
    const d = await signedAdapter('ok')
    const m = await loadManifest(d)
    expect(m.signer.algo).toBe(type === 'rsa' ? 'RSA-PSS-SHA256' : 'ED25519-SHA256')
    expect(m.signer.pubkey_fingerprint).toMatch(/^[0-9a-f]{64}$/)
    const v = await plora('verify', '--adapter-dir', d, '--public-key', pub())
    expect(v.code, v.stderr).toBe(0)
    expect(v.stdout).toMatch(/^Signature verified successfully \(tagged form/)
    expect(v.stderr).toBe('')
  })

  it('exit 1 with a one-line reason when one byte of the adapter file is flipped', async () => {
    const d = await signedAdapter('adapter-byte')
    await flipFileByte(join(d, 'adapter_model.safetensors'), 200)
    const v = await plora('verify', '--adapter-dir', d, '--public-key', pub())
    expect(v.code).toBe(1)
    expect(v.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(v.stderr).toMatch(/^plora verify: artefact hash mismatch in .*\[MANIFEST_ARTIFACT_HASH_MISMATCH\]\n$/)
  })

  it("exit 1 when one character of the manifest's sha256 is changed", async () => {
    const d = await signedAdapter('manifest-sha')
    const text = await readFile(join(d, 'plora.yml'), 'utf8')
    const sha = (await loadManifest(d)).artifacts.sha256
    const flipped = sha[10] === '0' ? '1' : '0'
    await writeFile(join(d, 'plora.yml'), text.replace(sha, sha.slice(0, 10) + flipped + sha.slice(11)))
    const v = await plora('verify', '--adapter-dir', d, '--public-key', pub())
    expect(v.code).toBe(1)
    expect(v.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(v.stderr).toMatch(/\[MANIFEST_ARTIFACT_HASH_MISMATCH\]\n$/)
  })

  it('exit 2 with a one-line reason when one byte of the signature is flipped', async () => {
    const d = await signedAdapter('sig-byte')
    const m = await loadManifest(d)
    for (const at of [0, 17, -1]) {
      const raw = Buffer.from(m.signer.signature_b64, 'base64')
      raw[at < 0 ? raw.length + at : at]! ^= 0x80
      await writeFile(
        join(d, 'plora.yml'),
        dumpManifestYaml({ ...m, signer: { ...m.signer, signature_b64: raw.toString('base64') } }),
      )
      const v = await plora('verify', '--adapter-dir', d, '--public-key', pub())
      expect(v.code, `byte ${at}`).toBe(2)
      expect(v.stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(v.stderr).toMatch(/^plora verify: Signature verification FAILED .*\[SIGNER_SIGNATURE_INVALID\]\n$/)
    }
  })

  it('exit 1 when the folder holds a second weights file or the manifest vouches for a decoy (issue 15 point 3)', async () => {
    // Legacy signatures cover only the artefact's digest: a decoy copy of the clean weights named in
    // the manifest kept `verify` green while the loader read a swapped adapter_model.safetensors.
    const d = await signedAdapter('decoy')
    const clean = await readFile(join(d, 'adapter_model.safetensors'))
    await writeFile(join(d, 'decoy.safetensors'), clean)
    const m = await loadManifest(d)
    await writeFile(
      join(d, 'plora.yml'),
      dumpManifestYaml({ ...m, artifacts: { ...m.artifacts, filename: 'decoy.safetensors' } }),
    )
    await flipFileByte(join(d, 'adapter_model.safetensors'), 200)
    const v = await plora('verify', '--adapter-dir', d, '--public-key', pub())
    expect(v.code).toBe(1)
    expect(v.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(v.stderr).toMatch(/names "decoy\.safetensors" as the artefact.*\[PEFT_FOLDER_INVALID\]\n$/)

    const e = await signedAdapter('extra-weights')
    await writeFile(join(e, 'adapter_model.bin'), clean)
    const w = await plora('verify', '--adapter-dir', e, '--public-key', pub())
    expect(w.code).toBe(1)
    expect(w.stderr).toMatch(/adapter_model\.bin.*\[PEFT_FOLDER_INVALID\]\n$/)
  })

  it('exit 2 for another key (fingerprint mismatch) and for an unsigned manifest', async () => {
    const d = await signedAdapter('other-key')
    const otherPriv = join(dir, type, 'other/priv.pem')
    const otherPub = join(dir, type, 'other/pub.pem')
    expect((await plora('keygen', '--type', type, '--private-key', otherPriv, '--public-key', otherPub)).code).toBe(0)
    const v = await plora('verify', '--adapter-dir', d, '--public-key', otherPub)
    expect(v.code).toBe(2)
    expect(v.stderr).toMatch(/\[SIGNER_FINGERPRINT_MISMATCH\]\n$/)
    await makeAdapter(adapter('unsigned'))
    const u = await plora('verify', '--adapter-dir', adapter('unsigned'), '--public-key', pub())
    expect(u.code).toBe(2)
    expect(u.stderr).toMatch(/\[SIGNER_SIGNATURE_MISSING\]\n$/)
  })
})

describe('other trust commands', () => {
  it('keygen refuses to overwrite keys without --force, and encrypts with a passphrase file', async () => {
    const priv = join(dir, 'kg/priv.pem')
    const pub = join(dir, 'kg/pub.pem')
    await mkdir(join(dir, 'kg'), { recursive: true })
    await writeFile(join(dir, 'kg/pass'), 'hunter2\n')
    expect((await plora('keygen', '--type', 'ed25519', '--private-key', priv, '--public-key', pub)).code).toBe(0)
    const again = await plora('keygen', '--type', 'ed25519', '--private-key', priv, '--public-key', pub)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/\[SIGNER_KEY_EXISTS\]/)
    const forced = await plora(
      'keygen',
      '--type',
      'ed25519',
      '--private-key',
      priv,
      '--public-key',
      pub,
      '--force',
      '--passphrase-file',
      join(dir, 'kg/pass'),
    )
    expect(forced.code).toBe(0)
    expect(await readFile(priv, 'utf8')).toContain('ENCRYPTED PRIVATE KEY')
    await makeAdapter(join(dir, 'kg/adapter'))
    const noPass = await plora('sign', '--adapter-dir', join(dir, 'kg/adapter'), '--private-key', priv)
    expect(noPass.stderr).toMatch(/\[SIGNER_KEY_PASSPHRASE_INVALID\]/)
    const ok = await plora(
      'sign',
      '--adapter-dir',
      join(dir, 'kg/adapter'),
      '--private-key',
      priv,
      '--passphrase-file',
      join(dir, 'kg/pass'),
    )
    expect(ok.code, ok.stderr).toBe(0)
    expect((await plora('verify', '--adapter-dir', join(dir, 'kg/adapter'), '--public-key', pub)).code).toBe(0)
  })

  it('manifest validate: OK for a good file or folder, one-line error with field path otherwise', async () => {
    await makeAdapter(join(dir, 'mv'))
    const ok = await plora('manifest', 'validate', join(dir, 'mv'), '--check-artifact')
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^OK .*plora\.yml \(plasmid_id dummy-001, domain legal, artefact checked\)/)
    const text = await readFile(join(dir, 'mv/plora.yml'), 'utf8')
    await writeFile(
      join(dir, 'mv/bad.yml'),
      text.replace('filename: adapter_model.safetensors', 'filename: ../../etc/passwd'),
    )
    const bad = await plora('manifest', 'validate', join(dir, 'mv/bad.yml'))
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(
      /^plora manifest validate: .*bad\.yml: artifacts\.filename: expected a plain file name.*found "\.\.\/\.\.\/etc\/passwd" \[MANIFEST_SCHEMA_INVALID\]\n$/,
    )
  })

  it('policy sign / verify: exit 0, then exit 2 after the policy changes', async () => {
    const priv = join(dir, 'pol/priv.pem')
    const pub = join(dir, 'pol/pub.pem')
    expect((await plora('keygen', '--type', 'ed25519', '--private-key', priv, '--public-key', pub)).code).toBe(0)
    const policy = join(dir, 'pol/policy.json')
    await writeFile(policy, '{"quorum_required": 2}\n')
    expect((await plora('policy', 'sign', '--policy', policy, '--private-key', priv)).code).toBe(0)
    expect(await readFile(`${policy}.sig`, 'utf8')).toMatch(/^[A-Za-z0-9+/]+=*\n$/)
    expect((await plora('policy', 'verify', '--policy', policy, '--public-key', pub)).code).toBe(0)
    await writeFile(policy, '{"quorum_required": 1}\n')
    const bad = await plora('policy', 'verify', '--policy', policy, '--public-key', pub)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/\[SIGNER_SIGNATURE_INVALID\]\n$/)
  })

  it('audit verify: OK on an intact chain, exit 1 naming the first broken line', async () => {
    const { appendAuditRecord } = await import('../packages/signer/src/index.js')
    const log = join(dir, 'audit/gate_audit.jsonl')
    for (let i = 0; i < 3; i++) {
      await appendAuditRecord(log, {
        plasmid_id: `p${i}`,
        sha256: sha256Hex(`${i}`),
        domain: 'legal',
        passed: true,
        reasons: [],
      })
    }
    const ok = await plora('audit', 'verify', log)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^OK: 3 records/)
    const lines = (await readFile(log, 'utf8')).split('\n')
    lines[0] = lines[0]!.replace('"p0"', '"px"')
    await writeFile(log, lines.join('\n'))
    const bad = await plora('audit', 'verify', log)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/BROKEN at line 2: .*\[SIGNER_AUDIT_CHAIN_BROKEN\]\n$/)
  })
})

describe('make targets (mk/trust.mk, with the built bin)', () => {
  it('sign-all lists missing adapters and fails; then signs every configured domain; audit-verify runs', async () => {
    const work = join(dir, 'make')
    await mkdir(work, { recursive: true })
    // A stand-in root Makefile: the real PLORA, a no-op build, and the trust targets.
    await writeFile(
      join(work, 'Makefile'),
      `PLORA := node ${join(REPO, 'packages/cli/bin/plora.js')}\nbuild: ;\ninclude ${join(REPO, 'mk/trust.mk')}\n`,
    )
    const domains = execFileSync(
      process.execPath,
      [join(REPO, 'packages/cli/bin/plora.js'), 'config', 'get', 'domains', '--csv'],
      {
        cwd: work,
        encoding: 'utf8',
      },
    )
      .trim()
      .split(',')
    expect(domains.length).toBeGreaterThan(0)
    await makeAdapter(join(work, 'out', domains[0]!))
    const missing = spawnSync('make', ['-s', 'sign-all'], { cwd: work, encoding: 'utf8' })
    expect(missing.status).not.toBe(0)
    for (const d of domains.slice(1))
      expect(missing.stdout).toContain(`[sign-all] Missing adapter for domain ${d} (run 'make train-all' first)`)
    for (const d of domains.slice(1)) await makeAdapter(join(work, 'out', d))
    const ok = spawnSync('make', ['-s', 'sign-all'], { cwd: work, encoding: 'utf8' })
    expect(ok.status, ok.stderr + ok.stdout).toBe(0)
    for (const d of domains) {
      const v = spawnSync(
        process.execPath,
        [
          join(REPO, 'packages/cli/bin/plora.js'),
          'verify',
          '--adapter-dir',
          `out/${d}`,
          '--public-key',
          'keys/temp_pub.pem',
        ],
        {
          cwd: work,
          encoding: 'utf8',
        },
      )
      expect(v.status, v.stderr).toBe(0)
    }
    const audit = spawnSync('make', ['-s', 'audit-verify', 'AUDIT_LOG=none.jsonl'], { cwd: work, encoding: 'utf8' })
    expect(audit.status).not.toBe(0)
    expect(audit.stderr).toMatch(/BROKEN: none\.jsonl does not exist/)
  })
})
