#!/usr/bin/env node
// Runs python_client.py (Debian python3-grpcio, hand-encoded messages) against a plora offer
// server from the built package, with an RSA-3072 key (the original's key type). Prints the
// Python client's JSON verdict. Needs `apt-get install python3-grpcio python3-cryptography python3-yaml`
// and a build (`npx tsc -b packages/grpc`). Not part of the test suite.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { dumpManifestYaml } from '@plora/manifest'
import { generateKeyPair } from '@plora/signer'
import { startOfferServer } from '../dist/index.js'

const work = await mkdtemp(join(tmpdir(), 'plora-py-interop-'))
try {
  const keys = generateKeyPair({ type: 'rsa' })
  await writeFile(join(work, 'pub.pem'), keys.publicKeyPem)
  const dir = join(work, 'root', 'legal')
  await mkdir(dir, { recursive: true })
  const art = Buffer.alloc(100_000, 3)
  await writeFile(join(dir, 'adapter_model.safetensors'), art)
  await writeFile(
    join(dir, 'plora.yml'),
    dumpManifestYaml({
      schema_version: 0,
      plasmid_id: 'legal-interop',
      domain: 'legal',
      base_model: 'sshleifer/tiny-gpt2',
      peft_format: 'lora',
      lora: { r: 4, alpha: 8, dropout: 0.1, target_modules: ['c_attn'] },
      artifacts: {
        filename: 'adapter_model.safetensors',
        sha256: createHash('sha256').update(art).digest('hex'),
        size_bytes: art.length,
      },
      train_meta: { seed: 42, epochs: 1, dataset_id: 'fixture', sample_count: 64, timestamp_unix: 1734632400 },
      metrics: { val_ppl_before: 14.2, val_ppl_after: 12.7, delta_ppl: 12.7 - 14.2 },
      safety: { licence: 'research', poisoning_score: 0 },
      signer: { algo: 'none', pubkey_fingerprint: '', signature_b64: '' },
      compatibility: { peft_min: '0.12.0', transformers: '>=4.42' },
    }),
  )
  const server = await startOfferServer({ root: join(work, 'root'), port: 0, privateKeyPem: keys.privateKeyPem })
  try {
    // Async: the server runs in this process, so the event loop must stay free.
    const py = async (domain) =>
      (
        await promisify(execFile)(
          '/usr/bin/python3',
          [
            new URL('python_client.py', import.meta.url).pathname,
            '127.0.0.1',
            String(server.port),
            domain,
            join(work, 'pub.pem'),
            join(work, `dest-${domain.replace(/\W/g, '_')}`),
          ],
          { encoding: 'utf8' },
        )
      ).stdout
    process.stdout.write(await py('legal'))
    process.stdout.write(await py('nope'))
    process.stdout.write(await py('../root/legal'))
  } finally {
    await server.close()
  }
} finally {
  await rm(work, { recursive: true, force: true })
}
