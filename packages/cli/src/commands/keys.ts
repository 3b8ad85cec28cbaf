import { readFile } from 'node:fs/promises'
import { PloraError } from '@plora/common'
import { type Command, Option } from 'commander'

/** Reads a passphrase file (first line, trailing newline removed), or undefined. */
export async function readPassphraseFile(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new PloraError(
      'CLI_PASSPHRASE_FILE_UNREADABLE',
      `cannot read passphrase file ${path}: ${(e as Error).message}`,
      {
        path,
      },
    )
  }
  const first = text.split(/\r?\n/)[0] ?? ''
  if (first === '') {
    throw new PloraError(
      'CLI_PASSPHRASE_FILE_EMPTY',
      `passphrase file ${path} is empty (expected the passphrase on line 1)`,
      {
        path,
      },
    )
  }
  return first
}

/** `plora keygen`: key pair generation (spec core.md §2.2; Make's sign-legal key step). */
export function register(program: Command): void {
  program
    .command('keygen')
    .description('generate a signing key pair: RSA-3072 (PKCS#8 / SPKI PEM) or Ed25519')
    .option('--private-key <path>', 'private key file (PKCS#8 PEM, written with mode 0600)', 'keys/temp_priv.pem')
    .option('--public-key <path>', 'public key file (SubjectPublicKeyInfo PEM)', 'keys/temp_pub.pem')
    .addOption(new Option('--type <type>', 'key type').choices(['rsa', 'ed25519']).default('rsa'))
    .option('--passphrase-file <path>', 'encrypt the private key with the passphrase on the first line of this file')
    .option('--force', 'replace existing key files', false)
    .action(
      async (opts: {
        privateKey: string
        publicKey: string
        type: 'rsa' | 'ed25519'
        passphraseFile?: string
        force: boolean
      }) => {
        const { generateKeyPair, writeKeyPair } = await import('@plora/signer')
        const passphrase = await readPassphraseFile(opts.passphraseFile)
        const pair = generateKeyPair({ type: opts.type, ...(passphrase ? { passphrase } : {}) })
        await writeKeyPair(opts.privateKey, opts.publicKey, pair, { overwrite: opts.force })
        process.stdout.write(
          `Wrote ${opts.type} key pair: ${opts.privateKey}, ${opts.publicKey} (fingerprint ${pair.fingerprint})\n`,
        )
      },
    )
}
