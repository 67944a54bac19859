/**
 * Key pairs in cosign's format: ECDSA P-256, the public key as a PEM `PUBLIC KEY` (SPKI), the private key as a
 * PEM `ENCRYPTED SIGSTORE PRIVATE KEY` whose body is go-securesystemslib's `encrypted` JSON:
 * `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},"cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}`
 * (byte fields base64, as Go's encoding/json writes []byte), the ciphertext being XSalsa20-Poly1305 of the PKCS#8
 * DER under the 32-byte scrypt key of the password. cosign's older label `ENCRYPTED COSIGN PRIVATE KEY` reads the
 * same way. Only key material and bytes here: no files, no prompts (the CLI supplies the password).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { TsbuildError } from '../../layer-store/index.js';

export const ENCRYPTED_SIGSTORE_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const ENCRYPTED_COSIGN_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';

/**
 * The scrypt parameters go-securesystemslib accepts (legacy 2^15, standard 2^16, OWASP 2^17; r 8, p 1). We write
 * the legacy ones: skopeo 1.9 and cosign 1.x (older sigstore/go-tuf) accept only those, current cosign accepts all.
 */
const ACCEPTED_N = new Set([32768, 65536, 131072]);
const WRITE_PARAMS = { N: 32768, r: 8, p: 1 } as const;

/** A private key read from a file, with where it came from (for messages). */
export interface SigningKey {
  readonly key: KeyObject;
  readonly publicKey: KeyObject;
  readonly source: string;
}

/** A public key read from a file or a policy's keyData, with where it came from. */
export interface VerifyingKey {
  readonly key: KeyObject;
  readonly source: string;
}

/** Returns the error for a key that cannot be used: what, where, and what to do. */
export function keyError(message: string, source: string, hint: string, cause?: unknown): TsbuildError {
  return new TsbuildError('SIGNATURE', message, { location: { ref: source }, hint, ...(cause !== undefined ? { cause } : {}) });
}

/** Returns a new ECDSA P-256 key pair as cosign writes it: the encrypted private PEM and the public PEM. */
export function generateKeyPair(password: Uint8Array): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    privatePem: pemEncode(ENCRYPTED_SIGSTORE_LABEL, Buffer.from(JSON.stringify(encryptDer(der, password)))),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** go-securesystemslib's envelope: scrypt parameters and salt, secretbox nonce, ciphertext (Go's field order). */
function encryptDer(der: Uint8Array, password: Uint8Array): unknown {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const k = deriveKey(password, salt, WRITE_PARAMS);
  const ciphertext = xsalsa20poly1305(k, nonce).encrypt(der);
  return {
    kdf: { name: 'scrypt', params: { N: WRITE_PARAMS.N, r: WRITE_PARAMS.r, p: WRITE_PARAMS.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
}

function deriveKey(password: Uint8Array, salt: Uint8Array, p: { N: number; r: number; p: number }): Uint8Array {
  return scryptSync(password, salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 1024 * 1024 });
}

/**
 * Returns the private key of a cosign key file's text (`source` names it in errors). An encrypted key is decrypted
 * with `password()` (asked only then); a plain PKCS#8 `PRIVATE KEY` or SEC 1 `EC PRIVATE KEY` is read as is. Throws
 * a SIGNATURE error for text that is not such a key, a wrong password, or a key that is not ECDSA.
 */
export async function readPrivateKey(text: string, source: string, password: () => Promise<Uint8Array>): Promise<SigningKey> {
  const block = pemDecode(text);
  if (!block) throw keyError('not a PEM key file', source, `give the cosign.key that \`tsbuild generate-key-pair\` or \`cosign generate-key-pair\` wrote`);
  let key: KeyObject;
  if (block.label === ENCRYPTED_SIGSTORE_LABEL || block.label === ENCRYPTED_COSIGN_LABEL) {
    const der = decryptDer(block.body, await password(), source);
    key = parseKey(() => createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }), source);
  } else if (block.label === 'PRIVATE KEY' || block.label === 'EC PRIVATE KEY') {
    key = parseKey(() => createPrivateKey(text), source);
  } else {
    throw keyError(`PEM block "${block.label}" is not a private key`, source, 'sign with the private key (cosign.key); the public key (cosign.pub) verifies');
  }
  checkEcdsa(key, source);
  return { key, publicKey: createPublicKey(key), source };
}

/** Returns the public key of a PEM `PUBLIC KEY` text (`source` names it in errors); only ECDSA keys are accepted. */
export function readPublicKey(text: string, source: string): VerifyingKey {
  const block = pemDecode(text);
  if (!block) throw keyError('not a PEM public key', source, 'give the cosign.pub written with the key pair');
  if (block.label !== 'PUBLIC KEY') {
    const priv = block.label.includes('PRIVATE KEY');
    throw keyError(`PEM block "${block.label}" is not a public key`, source, priv ? 'verify with the public key (cosign.pub), not the private one' : 'give the cosign.pub written with the key pair');
  }
  const key = parseKey(() => createPublicKey(text), source);
  checkEcdsa(key, source);
  return { key, source };
}

function parseKey(f: () => KeyObject, source: string): KeyObject {
  try {
    return f();
  } catch (e) {
    throw keyError(`key does not parse (${(e as Error).message})`, source, 'the file is damaged or not a key: regenerate it with `tsbuild generate-key-pair`', e);
  }
}

function checkEcdsa(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType !== 'ec') {
    throw keyError(`${key.asymmetricKeyType ?? 'unknown'} keys are not supported`, source, 'use an ECDSA key (P-256), as `tsbuild generate-key-pair` and cosign write');
  }
}

/** Returns the PKCS#8 DER inside go-securesystemslib's envelope; a wrong password fails the secretbox check. */
function decryptDer(body: Uint8Array, password: Uint8Array, source: string): Uint8Array {
  let env: { kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown }; cipher?: { name?: unknown; nonce?: unknown }; ciphertext?: unknown };
  try {
    env = JSON.parse(Buffer.from(body).toString('utf8')) as typeof env;
  } catch (e) {
    throw keyError('encrypted key body is not JSON', source, 'the key file is damaged: regenerate it', e);
  }
  const { kdf, cipher } = env;
  if (kdf?.name !== 'scrypt') throw keyError(`unknown key derivation ${JSON.stringify(kdf?.name)}`, source, 'only scrypt (cosign\'s) is supported');
  if (cipher?.name !== 'nacl/secretbox') throw keyError(`unknown cipher ${JSON.stringify(cipher?.name)}`, source, 'only nacl/secretbox (cosign\'s) is supported');
  const { N, r, p } = kdf.params ?? {};
  // As go-securesystemslib: only known parameters, so a tampered file cannot make scrypt eat the machine.
  if (typeof N !== 'number' || !ACCEPTED_N.has(N) || r !== 8 || p !== 1) throw keyError(`unsupported scrypt parameters N=${String(N)} r=${String(r)} p=${String(p)}`, source, 'the key file is damaged or not cosign\'s');
  const salt = b64(kdf.salt);
  const nonce = b64(cipher.nonce);
  const ct = b64(env.ciphertext);
  if (!salt || !nonce || nonce.length !== 24 || !ct) throw keyError('encrypted key lacks its salt, nonce or ciphertext', source, 'the key file is damaged: regenerate it');
  const k = deriveKey(password, salt, { N, r, p });
  try {
    return xsalsa20poly1305(k, nonce).decrypt(ct);
  } catch (e) {
    throw keyError('wrong password for the private key', source, 'set TSBUILD_PASSWORD (or COSIGN_PASSWORD) to the password the key was made with', e);
  }
}

function b64(v: unknown): Uint8Array | undefined {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return undefined;
  return Buffer.from(v, 'base64');
}

/** Returns the first PEM block of `text` (label and decoded body), or undefined when there is none. */
export function pemDecode(text: string): { label: string; body: Buffer } | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return undefined;
  const b = m[2]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b)) return undefined;
  return { label: m[1]!, body: Buffer.from(b, 'base64') };
}

function pemEncode(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
