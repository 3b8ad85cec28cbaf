/**
 * Key generation, loading and fingerprints (spec core.md §2.2, §2.6).
 *
 * Keys are PEM: private keys PKCS#8 (optionally encrypted, PBES2 AES-256-CBC, which Python's
 * `BestAvailableEncryption` also reads), public keys SubjectPublicKeyInfo. The fingerprint is
 * SHA-256 over the DER SubjectPublicKeyInfo, lowercase hex — the same bytes `openssl pkey -pubin
 * -outform DER | sha256sum` hashes — fixing `[D-16]` (the original never computed one).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto'
import { access, readFile } from 'node:fs/promises'
import { writeFileAtomic } from '@plora/common'
import { SignerError, SignerErrorCode } from './errors.js'

/** Key types plora generates and accepts. */
export type KeyType = 'rsa' | 'ed25519'

/** RSA modulus size used by the original (3072 bits, e = 65537). */
export const RSA_MODULUS_BITS = 3072

/** A generated key pair as PEM text. */
export interface KeyPairPem {
  type: KeyType
  /** PKCS#8 PEM (encrypted when a passphrase was given). */
  privateKeyPem: string
  /** SubjectPublicKeyInfo PEM. */
  publicKeyPem: string
  /** {@link keyFingerprint} of the public key. */
  fingerprint: string
}

/** Options of {@link generateKeyPair}. */
export interface GenerateKeyPairOptions {
  /** `rsa` (3072-bit, the original's only kind; default) or `ed25519`. */
  type?: KeyType
  /** Encrypts the private key (PKCS#8, AES-256-CBC) when given. */
  passphrase?: string
}

/**
 * Generates a key pair.
 *
 * @example
 * const pair = generateKeyPair({ type: 'ed25519' })
 * await writeKeyPair('keys/temp_priv.pem', 'keys/temp_pub.pem', pair)
 */
export function generateKeyPair(options: GenerateKeyPairOptions = {}): KeyPairPem {
  const type = options.type ?? 'rsa'
  const privateKeyEncoding = options.passphrase
    ? { type: 'pkcs8' as const, format: 'pem' as const, cipher: 'aes-256-cbc', passphrase: options.passphrase }
    : { type: 'pkcs8' as const, format: 'pem' as const }
  const publicKeyEncoding = { type: 'spki' as const, format: 'pem' as const }
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', {
          modulusLength: RSA_MODULUS_BITS,
          publicExponent: 0x10001,
          publicKeyEncoding,
          privateKeyEncoding,
        })
      : type === 'ed25519'
        ? generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding })
        : unsupported(String(type))
  return { type, privateKeyPem: privateKey, publicKeyPem: publicKey, fingerprint: keyFingerprint(publicKey) }
}

function unsupported(type: string): never {
  throw new SignerError(SignerErrorCode.KeyUnsupported, `key type ${type} is not supported (expected rsa or ed25519)`, {
    type,
  })
}

/** Options of {@link writeKeyPair}. */
export interface WriteKeyPairOptions {
  /** Replace existing files (default false: an existing file is an error). */
  overwrite?: boolean
}

/**
 * Writes a key pair atomically, creating parent folders; the private key gets mode 0600.
 * Refuses to replace existing files unless `overwrite` is set.
 */
export async function writeKeyPair(
  privateKeyPath: string,
  publicKeyPath: string,
  pair: Pick<KeyPairPem, 'privateKeyPem' | 'publicKeyPem'>,
  options: WriteKeyPairOptions = {},
): Promise<void> {
  if (!options.overwrite) {
    for (const p of [privateKeyPath, publicKeyPath]) {
      const exists = await access(p).then(
        () => true,
        () => false,
      )
      if (exists) {
        throw new SignerError(
          SignerErrorCode.KeyExists,
          `${p} already exists (pass overwrite / --force to replace it)`,
          {
            path: p,
          },
        )
      }
    }
  }
  await writeFileAtomic(privateKeyPath, pair.privateKeyPem, { mode: 0o600 })
  await writeFileAtomic(publicKeyPath, pair.publicKeyPem, { mode: 0o644 })
}

/** Reads a PEM key file as text. */
export async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    throw new SignerError(
      SignerErrorCode.KeyReadFailed,
      `cannot read key file ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    )
  }
}

/** A key given as PEM text (string or bytes) or an already loaded `KeyObject`. */
export type KeyInput = string | Uint8Array | KeyObject

function checkType(key: KeyObject, where: string): KeyObject {
  const t = key.asymmetricKeyType
  if (t !== 'rsa' && t !== 'rsa-pss' && t !== 'ed25519') {
    throw new SignerError(
      SignerErrorCode.KeyUnsupported,
      `${where}: key type ${t ?? 'unknown'} is not supported (expected RSA or Ed25519)`,
      { type: t },
    )
  }
  return key
}

/** Loads a private key (PKCS#8 or PKCS#1 PEM; encrypted PKCS#8 needs its passphrase). */
export function loadPrivateKey(key: KeyInput, passphrase?: string): KeyObject {
  if (key instanceof KeyObject) {
    if (key.type !== 'private') {
      throw new SignerError(SignerErrorCode.KeyInvalid, `expected a private key, found a ${key.type} key`)
    }
    return checkType(key, 'private key')
  }
  const pem = typeof key === 'string' ? key : Buffer.from(key).toString('utf8')
  try {
    return checkType(createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase }), 'private key')
  } catch (e) {
    if (e instanceof SignerError) throw e
    const code = (e as { code?: string }).code ?? ''
    const encrypted = /ENCRYPTED/.test(pem)
    if (
      encrypted ||
      /BAD_DECRYPT|PASSPHRASE|bad decrypt|INTERRUPTED_OR_CANCELLED/i.test(`${code} ${(e as Error).message}`)
    ) {
      throw new SignerError(
        SignerErrorCode.KeyPassphraseInvalid,
        passphrase === undefined
          ? 'private key is encrypted: a passphrase is required'
          : 'private key could not be decrypted with the given passphrase',
        {},
        { cause: e },
      )
    }
    throw new SignerError(
      SignerErrorCode.KeyInvalid,
      `not a PEM private key (${(e as Error).message})`,
      {},
      { cause: e },
    )
  }
}

/** Loads a public key from SPKI PEM (a private key PEM is also accepted: its public half is used). */
export function loadPublicKey(key: KeyInput): KeyObject {
  if (key instanceof KeyObject) return checkType(key.type === 'private' ? createPublicKey(key) : key, 'public key')
  const pem = typeof key === 'string' ? key : Buffer.from(key).toString('utf8')
  try {
    return checkType(createPublicKey(pem), 'public key')
  } catch (e) {
    if (e instanceof SignerError) throw e
    throw new SignerError(
      SignerErrorCode.KeyInvalid,
      `not a PEM public key (${(e as Error).message})`,
      {},
      { cause: e },
    )
  }
}

/** SubjectPublicKeyInfo PEM of any key (public or private). */
export function publicKeyPem(key: KeyInput): string {
  return loadPublicKey(key).export({ type: 'spki', format: 'pem' }) as string
}

/**
 * The key fingerprint: SHA-256 of the DER SubjectPublicKeyInfo, 64 lowercase hex characters.
 * A private key yields the fingerprint of its public half.
 */
export function keyFingerprint(key: KeyInput): string {
  const der = loadPublicKey(key).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex')
}

/**
 * Normalises a fingerprint as written in a manifest: lowercase hex, an optional `SHA256:` prefix
 * (the spelling core.md §2.6 suggested) removed. Returns null for free text that is not one.
 */
export function normalizeFingerprint(text: string): string | null {
  const t = text
    .trim()
    .replace(/^sha256:/i, '')
    .toLowerCase()
  return /^[0-9a-f]{64}$/.test(t) ? t : null
}

/** The manifest `signer.algo` value for a key: `RSA-PSS-SHA256` or `ED25519-SHA256`. */
export function algoForKey(key: KeyInput): 'RSA-PSS-SHA256' | 'ED25519-SHA256' {
  const k = key instanceof KeyObject ? key : loadPublicKey(key)
  return k.asymmetricKeyType === 'ed25519' ? 'ED25519-SHA256' : 'RSA-PSS-SHA256'
}
