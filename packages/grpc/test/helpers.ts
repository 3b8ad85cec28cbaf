/**
 * Test fixtures built on the fly in temporary folders: adapter folders with a valid manifest,
 * seeded pseudo-random artefact bytes, key pairs, and a tree listing to prove that a rejected fetch
 * left nothing behind.
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Hex } from '@plora/common'
import { dumpManifestYaml, type Manifest } from '@plora/manifest'
import * as tar from 'tar-stream'

/** Deterministic pseudo-random bytes: SHA-256 in counter mode over `seed`. */
export function seededBytes(n: number, seed: string): Buffer {
  const out = Buffer.allocUnsafe(n)
  const block = Buffer.alloc(8)
  for (let i = 0, c = 0; i < n; i += 32, c++) {
    block.writeBigUInt64LE(BigInt(c))
    const d = createHash('sha256').update(seed).update(block).digest()
    d.copy(out, i, 0, Math.min(32, n - i))
  }
  return out
}

/** A schema-valid manifest for an artefact. */
export function manifestFor(
  domain: string,
  artefact: { sha256: string; size: number },
  plasmidId = `${domain}-r4`,
): Manifest {
  return {
    schema_version: 0,
    plasmid_id: plasmidId,
    domain,
    base_model: 'sshleifer/tiny-gpt2',
    peft_format: 'lora',
    lora: { r: 4, alpha: 8, dropout: 0.1, target_modules: ['c_attn'] },
    artifacts: { filename: 'adapter_model.safetensors', sha256: artefact.sha256, size_bytes: artefact.size },
    train_meta: { seed: 42, epochs: 1, dataset_id: 'fixture', sample_count: 64, timestamp_unix: 1734632400 },
    metrics: { val_ppl_before: 14.2, val_ppl_after: 12.7, delta_ppl: 12.7 - 14.2 },
    safety: { licence: 'research', poisoning_score: 0 },
    signer: { algo: 'none', pubkey_fingerprint: '', signature_b64: '' },
    compatibility: { peft_min: '0.12.0', transformers: '>=4.42' },
  } as Manifest
}

/** Writes an adapter folder `root/domain` (artefact, PEFT config, README, plora.yml). */
export async function makeAdapter(
  root: string,
  domain: string,
  options: { size?: number; seed?: string; manifest?: (m: Manifest) => Manifest; plasmidId?: string } = {},
): Promise<{ dir: string; manifest: Manifest; artefact: Buffer }> {
  const dir = join(root, domain)
  await mkdir(dir, { recursive: true })
  const artefact = seededBytes(options.size ?? 4096, options.seed ?? domain)
  await writeFile(join(dir, 'adapter_model.safetensors'), artefact)
  await writeFile(join(dir, 'adapter_config.json'), `${JSON.stringify({ r: 4, lora_alpha: 8, peft_type: 'LORA' })}\n`)
  await writeFile(join(dir, 'README.md'), `# ${domain} adapter\n`)
  let manifest = manifestFor(domain, { sha256: sha256Hex(artefact), size: artefact.length }, options.plasmidId)
  if (options.manifest) manifest = options.manifest(manifest)
  await writeFile(join(dir, 'plora.yml'), dumpManifestYaml(manifest))
  return { dir, manifest, artefact }
}

/** A fresh temporary folder; remove it with {@link cleanup}. */
export function tempDir(prefix = 'plora-grpc-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/** Removes temporary folders. */
export async function cleanup(...dirs: string[]): Promise<void> {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
}

/** Every path under `dir` (dot files included), sorted; `[]` for a missing folder. */
export async function listTree(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true })
    return entries.map(String).sort()
  } catch {
    return []
  }
}

/** A tar entry for {@link buildTar}: any header, malformed on purpose if need be. */
export type TarEntry = { header: tar.Header | (Partial<tar.Header> & { name: string }); body?: Buffer }

/**
 * Builds a tar archive with tar-stream's packer (so malformed entries can be made on purpose);
 * `cut` bytes are dropped from the end (a truncated archive).
 */
export async function buildTar(entries: TarEntry[], cut = 0): Promise<Buffer> {
  const pack = tar.pack()
  const parts: Buffer[] = []
  const done = new Promise<void>((res, rej) => {
    pack.on('data', (c: unknown) => {
      parts.push(c as Buffer)
    })
    pack.on('end', () => res())
    pack.on('error', rej)
  })
  for (const e of entries) {
    await new Promise<void>((res, rej) =>
      pack.entry(e.header, e.body ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())),
    )
  }
  pack.finalize()
  await done
  const all = Buffer.concat(parts)
  return cut > 0 ? all.subarray(0, all.length - cut) : all
}
