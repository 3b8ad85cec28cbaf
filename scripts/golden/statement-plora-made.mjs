#!/usr/bin/env node
// Step 1 of the folder-statement interop vector (issue 15 point 8): a small adapter folder, its
// manifest as plora dumps it, the in-toto statement plora builds over them (RFC 8785 bytes) and
// plora's RSA-PSS and Ed25519 signatures (PLORA|FOLDER|v1|<sha256 of the statement bytes>), printed
// as JSON for statement_vectors.py, which re-derives and checks everything with Python and commits
// the vector with Python-made signatures added.
//
// Re-run (from the repo root):
//   npx tsc -b packages/signer packages/manifest
//   node scripts/golden/statement-plora-made.mjs > /tmp/statement-plora-made.json
//   python3 scripts/golden/statement_vectors.py /tmp/statement-plora-made.json
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const common = await import(join(root, 'packages/common/dist/index.js'))
const signer = await import(join(root, 'packages/signer/dist/index.js'))
const manifest = await import(join(root, 'packages/manifest/dist/index.js'))

// The folder: weights-like bytes, a PEFT config, a nested file with a non-ASCII name.
const files = {
  'adapter_model.safetensors': Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 37 + 11) % 256)),
  'adapter_config.json': Buffer.from('{"lora_alpha": 8, "peft_type": "LORA", "r": 4, "target_modules": ["c_attn"]}\n'),
  'notes/caf\u00e9 \u20ac.md': Buffer.from('# model card \u2014 r=4\n'),
}
const fixture = manifest.parseManifestYaml(
  readFileSync(join(root, 'packages/manifest/test/fixtures/plora.yml'), 'utf8'),
)
const weights = files['adapter_model.safetensors']
const m = {
  ...fixture,
  artifacts: { filename: 'adapter_model.safetensors', sha256: common.sha256Hex(weights), size_bytes: weights.length },
  signer: { algo: 'none', pubkey_fingerprint: '', signature_b64: '' },
}
const manifestYaml = manifest.dumpManifestYaml(m)
const manifestBytes = manifest.canonicalManifestBytes(manifest.parseManifestYaml(manifestYaml))
const statement = signer.buildFolderStatement(
  Object.entries(files).map(([name, b]) => ({ name, size: b.length, sha256: common.sha256Hex(b) })),
  { manifestBytes },
)
const canonical = Buffer.from(signer.canonicalStatementBytes(statement))
const out = {
  files: Object.fromEntries(Object.entries(files).map(([n, b]) => [n, b.toString('base64')])),
  manifest_yaml: manifestYaml,
  manifest_canonical: Buffer.from(manifestBytes).toString('utf8'),
  statement,
  statement_canonical: canonical.toString('utf8'),
  statement_sha256: signer.statementDigest(statement),
  message: signer.FOLDER_TAG + signer.statementDigest(statement),
  keys: {},
  plora_signatures: [],
}
for (const type of ['rsa', 'ed25519']) {
  const k = signer.generateKeyPair({ type })
  out.keys[type] = { public_pem: k.publicKeyPem, private_pem: k.privateKeyPem, fingerprint: k.fingerprint }
  out.plora_signatures.push({ key: type, ...signer.signFolderStatement(statement, k.privateKeyPem) })
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
