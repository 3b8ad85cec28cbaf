import { dirname, join } from 'node:path'
import { type Command, InvalidArgumentError } from 'commander'
import { setExitCodes } from '../exit-codes.js'
import { parsePathFlag } from '../flags.js'
import { DEFAULT_AUDIT_LOG } from './gate.js'
import { readPassphraseFile } from './keys.js'

/**
 * Exit statuses of `plora verify`, as the original's verify script (spec pipelines.md §8.2):
 * 1 when the artefact does not match the manifest (missing, size or SHA-256), 2 when the
 * signature does not verify (missing, wrong fingerprint/algo, bad bytes). Anything else: 1.
 */
export const VERIFY_EXIT_CODES = {
  MANIFEST_ARTIFACT_NOT_FOUND: 1,
  MANIFEST_ARTIFACT_NOT_FILE: 1,
  MANIFEST_ARTIFACT_SIZE_MISMATCH: 1,
  MANIFEST_ARTIFACT_HASH_MISMATCH: 1,
  PEFT_FOLDER_INVALID: 1,
  PEFT_ADAPTER_NOT_FOUND: 1,
  SIGNER_SIGNATURE_INVALID: 2,
  SIGNER_SIGNATURE_MISSING: 2,
  SIGNER_FINGERPRINT_MISMATCH: 2,
  SIGNER_ALGO_MISMATCH: 2,
  // Folder statement (plora.sig.json): content differs from what was signed → 1, like the artefact;
  // the statement itself is missing (with --require-statement), malformed or not signed by enough
  // trusted keys → 2, like the manifest signature.
  SIGNER_STATEMENT_FILE_MISSING: 1,
  SIGNER_STATEMENT_FILE_MISMATCH: 1,
  SIGNER_STATEMENT_FILE_UNLISTED: 1,
  SIGNER_STATEMENT_FILE_UNSUPPORTED: 1,
  SIGNER_STATEMENT_MANIFEST_MISMATCH: 1,
  SIGNER_STATEMENT_TOO_LARGE: 1,
  SIGNER_STATEMENT_MISSING: 2,
  SIGNER_STATEMENT_INVALID: 2,
  SIGNER_STATEMENT_SIGNATURE_INVALID: 2,
} as const

/** Parses `--quorum`: a positive integer. */
function positiveCount(v: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(v))
    throw new InvalidArgumentError(`expected a positive integer, found ${JSON.stringify(v)}`)
  return Number(v)
}

/** Exit statuses of `plora policy verify`: 2 when the signature does not verify. */
export const POLICY_VERIFY_EXIT_CODES = { SIGNER_SIGNATURE_INVALID: 2 } as const

/** A subcommand group, reused when another module registered it first. */
function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description)
}

/**
 * Trust commands: `plora sign`, `plora verify`, `plora manifest validate`, `plora policy sign|verify`,
 * `plora audit verify|anchor` (spec core.md §1–§5.8, pipelines.md §8.1–§8.2).
 */
export function register(program: Command): void {
  program
    .command('sign')
    .description(
      'sign an adapter: check its artefact, sign PLORA|ADAPTER|v1|<sha256> into plora.yml, and sign a statement over every file and the manifest into plora.sig.json',
    )
    .requiredOption('--adapter-dir <dir>', 'adapter folder holding plora.yml')
    .requiredOption('--private-key <path>', 'PKCS#8 PEM private key (RSA or Ed25519)')
    .option('--passphrase-file <path>', 'passphrase of an encrypted private key (first line)', parsePathFlag)
    .addHelpText(
      'after',
      '\nSigning again with another key over an unchanged folder adds a signature to plora.sig.json\n' +
        '(k-of-n: verify with several --public-key and --quorum k); plora.yml keeps the last signer.',
    )
    .action(async (opts: { adapterDir: string; privateKey: string; passphraseFile?: string }) => {
      const { canonicalManifestBytes, loadManifest, verifyArtifact, writeManifest } = await import('@plora/manifest')
      const { readKeyFile, signAdapterDigest, signAdapterFolder, STATEMENT_FILENAME } = await import('@plora/signer')
      const manifest = await loadManifest(opts.adapterDir)
      await verifyArtifact(opts.adapterDir, manifest)
      const passphrase = await readPassphraseFile(opts.passphraseFile)
      const key = await readKeyFile(opts.privateKey)
      const pass = passphrase ? { passphrase } : {}
      // Legacy tagged signature over the artefact digest (wire compatibility), then the folder statement.
      const signer = signAdapterDigest(key, manifest.artifacts.sha256, pass)
      const st = await signAdapterFolder(opts.adapterDir, key, {
        manifestBytes: canonicalManifestBytes(manifest),
        ...pass,
      })
      await writeManifest(opts.adapterDir, { ...manifest, signer })
      process.stdout.write(
        `Signed manifest updated for ${opts.adapterDir} (${signer.algo}, fingerprint ${signer.pubkey_fingerprint}); ` +
          `${STATEMENT_FILENAME}: ${st.signed.statement.subject.length} file(s) + manifest, ${st.signed.signatures.length} signature(s)\n`,
      )
    })

  setExitCodes(
    program
      .command('verify')
      .description(
        'verify an adapter: artefact size + SHA-256 (exit 1 on mismatch), the signature (exit 2), then the folder statement when present',
      )
      .requiredOption('--adapter-dir <dir>', 'adapter folder holding plora.yml')
      .requiredOption(
        '--public-key <path...>',
        'SPKI PEM public key(s) trusted; several for a k-of-n folder statement (see --quorum)',
      )
      .option('--allow-untagged', "also accept the original's untagged (raw) signatures (legacy)", false)
      .option('--require-statement', 'fail when the folder has no signed statement (plora.sig.json)', false)
      .option('--quorum <k>', 'distinct trusted keys that must have signed the folder statement', positiveCount, 1)
      .addHelpText(
        'after',
        '\nExit status: 0 verified; 1 artefact missing or its size/SHA-256 differs from plora.yml (also an\n' +
          'invalid manifest or unreadable key), or, when plora.sig.json is present, a file or manifest field\n' +
          'changed since signing or a file not listed in it; 2 signature missing, invalid, or by another key\n' +
          '(pubkey_fingerprint / algo mismatch), or the folder statement is missing (--require-statement),\n' +
          'malformed or signed by fewer than --quorum trusted keys.',
      )
      .action(
        async (opts: {
          adapterDir: string
          publicKey: string[]
          allowUntagged: boolean
          requireStatement: boolean
          quorum: number
        }) => {
          const { canonicalManifestBytes, loadManifest, verifyArtifact } = await import('@plora/manifest')
          const {
            assertFolderStatement,
            keyFingerprint,
            normalizeFingerprint,
            readKeyFile,
            SignerError,
            SignerErrorCode,
            verifyAdapterSignature,
          } = await import('@plora/signer')
          const { assertArtefactIsLoaded } = await import('@plora/peft')
          const manifest = await loadManifest(opts.adapterDir)
          // The artefact vouched for must be the one the loader injects, and the only weights file.
          await assertArtefactIsLoaded(opts.adapterDir, manifest.artifacts.filename)
          await verifyArtifact(opts.adapterDir, manifest)
          const keys = await Promise.all(opts.publicKey.map((p) => readKeyFile(p)))
          // The legacy signature names one key: check it with that one (or the first given).
          const claimed = normalizeFingerprint(manifest.signer.pubkey_fingerprint)
          const primary = keys.find((k) => keyFingerprint(k) === claimed) ?? (keys[0] as string)
          const r = verifyAdapterSignature(
            primary,
            { sha256: manifest.artifacts.sha256, ...manifest.signer },
            { allowUntagged: opts.allowUntagged },
          )
          if (!r.ok) {
            const code = {
              signature_missing: SignerErrorCode.SignatureMissing,
              fingerprint_mismatch: SignerErrorCode.FingerprintMismatch,
              algo_mismatch: SignerErrorCode.AlgoMismatch,
              signature_invalid: SignerErrorCode.SignatureInvalid,
            }[r.reason ?? 'signature_invalid']
            throw new SignerError(code, `Signature verification FAILED for ${opts.adapterDir}: ${r.message}`, {
              adapterDir: opts.adapterDir,
            })
          }
          const st = await assertFolderStatement(opts.adapterDir, {
            manifestBytes: canonicalManifestBytes(manifest),
            trustedKeys: keys,
            quorum: opts.quorum,
            require: opts.requireStatement,
          })
          const note = r.fingerprintChecked ? '' : ' (manifest carries no fingerprint: not checked)'
          process.stdout.write(`Signature verified successfully (${r.form} form, key ${r.keyFingerprint})${note}.\n`)
          process.stdout.write(
            st.present
              ? `Folder statement verified: every file and the manifest as signed (${st.quorum?.count} of ${st.quorum?.quorum} required key(s)).\n`
              : 'No folder statement (plora.sig.json): only the artefact digest is signed (pass --require-statement to refuse).\n',
          )
        },
      ),
    VERIFY_EXIT_CODES,
  )

  group(program, 'manifest', 'plora.yml manifests')
    .command('validate')
    .description('validate a plora.yml (or the one in an adapter folder) against the schema')
    .argument('<path>', 'plora.yml file or adapter folder')
    .option('--check-artifact', 'also check the artefact file size and SHA-256', false)
    .action(async (path: string, opts: { checkArtifact: boolean }) => {
      const { stat } = await import('node:fs/promises')
      const { loadManifestFile, MANIFEST_FILENAME, verifyArtifact } = await import('@plora/manifest')
      const isDir = await stat(path).then(
        (s) => s.isDirectory(),
        () => false,
      )
      const file = isDir ? join(path, MANIFEST_FILENAME) : path
      const m = await loadManifestFile(file)
      if (opts.checkArtifact) await verifyArtifact(dirname(file), m)
      process.stdout.write(
        `OK ${file} (plasmid_id ${m.plasmid_id}, domain ${m.domain}${opts.checkArtifact ? ', artefact checked' : ''})\n`,
      )
    })

  const policy = group(program, 'policy', 'security policies')
  policy
    .command('sign')
    .description('sign a policy file (PLORA|POLICY|v1| + SHA-256 of its exact bytes); writes base64 to --out')
    .requiredOption('--policy <path>', 'policy file (JSON)')
    .requiredOption('--private-key <path>', 'PKCS#8 PEM private key')
    .option('--out <path>', 'signature file (default: <policy>.sig)')
    .option('--passphrase-file <path>', 'passphrase of an encrypted private key (first line)', parsePathFlag)
    .action(async (opts: { policy: string; privateKey: string; out?: string; passphraseFile?: string }) => {
      const { writeFileAtomic } = await import('@plora/common')
      const { readKeyFile, signPolicyFile } = await import('@plora/signer')
      const passphrase = await readPassphraseFile(opts.passphraseFile)
      const sig = await signPolicyFile(opts.policy, await readKeyFile(opts.privateKey), {
        ...(passphrase ? { passphrase } : {}),
      })
      const out = opts.out ?? `${opts.policy}.sig`
      await writeFileAtomic(out, `${sig}\n`)
      process.stdout.write(`Signed policy ${opts.policy} -> ${out}\n`)
    })
  setExitCodes(
    policy
      .command('verify')
      .description('verify a policy file signature (exit 2 when it does not verify)')
      .requiredOption('--policy <path>', 'policy file (JSON)')
      .requiredOption('--public-key <path>', 'SPKI PEM public key')
      .option('--signature <path>', 'signature file (default: <policy>.sig)')
      .addHelpText('after', '\nExit status: 0 verified; 2 signature does not verify; 1 other errors.')
      .action(async (opts: { policy: string; publicKey: string; signature?: string }) => {
        const { readFile } = await import('node:fs/promises')
        const { readKeyFile, SignerError, SignerErrorCode, verifyPolicyFile } = await import('@plora/signer')
        const sigPath = opts.signature ?? `${opts.policy}.sig`
        let sig: string
        try {
          sig = (await readFile(sigPath, 'utf8')).trim()
        } catch (e) {
          throw new SignerError(
            SignerErrorCode.SignatureMissing,
            `cannot read signature file ${sigPath}: ${(e as Error).message}`,
            { path: sigPath },
          )
        }
        if (!(await verifyPolicyFile(opts.policy, await readKeyFile(opts.publicKey), sig))) {
          throw new SignerError(
            SignerErrorCode.SignatureInvalid,
            `policy signature FAILED: ${sigPath} does not verify ${opts.policy} with ${opts.publicKey}`,
            { policy: opts.policy },
          )
        }
        process.stdout.write(`Policy signature verified: ${opts.policy}\n`)
      }),
    POLICY_VERIFY_EXIT_CODES,
  )

  group(program, 'audit', 'the gate audit hash chain')
    .command('verify')
    .description('verify an audit log hash chain; prints OK, or fails naming the first broken line')
    .argument('[file]', 'audit JSONL file', DEFAULT_AUDIT_LOG)
    .option('--public-key <pem>', "the verifier's public key: the log's head must be signed with it", parsePathFlag)
    .option('--require-head', 'fail when the log has no head file (<file>.head), instead of a warning')
    .action(async (file: string, opts: { publicKey?: string; requireHead?: boolean }) => {
      const { assertAuditChain, readKeyFile } = await import('@plora/signer')
      const r = await assertAuditChain(file, {
        ...(opts.publicKey ? { publicKey: await readKeyFile(opts.publicKey) } : {}),
        ...(opts.requireHead ? { requireHead: true } : {}),
      })
      if (r.warning)
        process.stderr.write(`plora audit verify: warning: ${r.warning}
`)
      process.stdout.write(`${r.message}\n`)
    })

  group(program, 'audit', 'the gate audit hash chain')
    .command('anchor')
    .description(
      "verify an audit log's whole chain and write a fresh head for it (repair after a crash, or adopt a legacy log)",
    )
    .argument('[file]', 'audit JSONL file', DEFAULT_AUDIT_LOG)
    .option('--private-key <pem>', "the verifier's private key: signs the new head", parsePathFlag)
    .option('--passphrase-file <path>', 'passphrase of an encrypted private key (first line)', parsePathFlag)
    .action(async (file: string, opts: { privateKey?: string; passphraseFile?: string }) => {
      const { anchorAuditLog, readKeyFile } = await import('@plora/signer')
      const passphrase = await readPassphraseFile(opts.passphraseFile)
      const head = await anchorAuditLog(file, {
        ...(opts.privateKey ? { signingKey: await readKeyFile(opts.privateKey) } : {}),
        ...(passphrase ? { passphrase } : {}),
      })
      process.stdout.write(
        `anchored ${file}: ${head.count} records, head ${head.head}${head.signature_b64 ? ' (signed)' : ''}\n`,
      )
    })
}
