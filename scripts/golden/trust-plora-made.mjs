#!/usr/bin/env node
// Step 1 of the trust interop vectors (issue 3): signatures, keys and manifest dumps made by
// plora's own @plora/signer / @plora/manifest builds, printed as JSON for trust_vectors.py, which
// checks them with Python's `cryptography` / PyYAML and commits them next to Python-made vectors.
//
// Re-run (from the repo root):
//   npx tsc -b packages/signer packages/manifest
//   node scripts/golden/trust-plora-made.mjs > /tmp/plora-made.json
//   /usr/bin/python3 scripts/golden/trust_vectors.py /tmp/plora-made.json
import { constants, createHash, createPrivateKey, sign } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const signer = await import(join(root, 'packages/signer/dist/index.js'))
const manifest = await import(join(root, 'packages/manifest/dist/index.js'))

const digest = createHash('sha256').update('plora interop').digest('hex')
const policyText = '{"min_reputation": 0.5, "quorum_required": 2}\n'
const policyDigest = createHash('sha256').update(policyText).digest('hex')
const out = { digest, policy_text: policyText, keys: {}, signatures: [], manifests: {} }
for (const type of ['rsa', 'ed25519']) {
  const k = signer.generateKeyPair({ type })
  out.keys[type] = { public_pem: k.publicKeyPem, private_pem: k.privateKeyPem, fingerprint: k.fingerprint }
  const add = (form, message, signature_b64) => out.signatures.push({ key: type, form, message, signature_b64 })
  add('raw', digest, signer.signSha256Hex(k.privateKeyPem, digest))
  add(
    'adapter',
    signer.ADAPTER_TAG + digest,
    signer.signSha256Hex(k.privateKeyPem, digest, { tag: signer.ADAPTER_TAG }),
  )
  add('policy', signer.POLICY_TAG + policyDigest, signer.signPolicyBytes(Buffer.from(policyText), k.privateKeyPem))
  if (type === 'rsa') {
    // A probe, not a plora output: a salt-32 PSS signature. Whether the original's verifier takes
    // it depends on the cryptography version (42+ auto-detects the salt; Debian's 38 does not),
    // which is why plora always signs with the maximum salt.
    const s = sign('sha256', Buffer.from(digest), {
      key: createPrivateKey(k.privateKeyPem),
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    })
    add('raw-salt32', digest, s.toString('base64'))
  }
}
const fixtureText = readFileSync(join(root, 'packages/manifest/test/fixtures/plora.yml'), 'utf8')
const fixture = manifest.parseManifestYaml(fixtureText)
out.manifests.fixture = manifest.dumpManifestYaml(fixture)
out.manifests.tricky = manifest.dumpManifestYaml({
  ...fixture,
  plasmid_id: 'yes',
  domain: '0',
  base_model: '1_000',
  artifacts: { ...fixture.artifacts, sha256: '1'.repeat(64) },
  train_meta: { ...fixture.train_meta, dataset_id: '1:20' },
  metrics: { val_ppl_before: 1e-10, val_ppl_after: 3e-10, delta_ppl: 2e-10, val_em: null },
  compatibility: { peft_min: '0.12', transformers: '>=4.42' },
})
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
