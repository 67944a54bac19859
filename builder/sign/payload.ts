/**
 * The simple-signing payload cosign and containers/image sign, and the ECDSA-SHA256 signature over its bytes:
 * `{"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},"type":"cosign container
 * image signature"},"optional":{…}}`. The payload bytes are what is signed and stored; they are never re-encoded.
 */
import { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { TsbuildError, isDigest, type Digest } from '../../layer-store/index.js';
import type { SigningKey, VerifyingKey } from './keys.js';

export const SIGNATURE_TYPE = 'cosign container image signature';
export const SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

/** What a payload claims (untrusted until its signature verified). */
export interface PayloadClaims {
  readonly dockerReference: string;
  readonly manifestDigest: Digest;
  readonly optional: Readonly<Record<string, unknown>> | null;
}

/** Returns the payload bytes for `digest` named `dockerReference`, with tsbuild as creator and the time (Unix seconds). */
export function makePayload(dockerReference: string, digest: Digest, now = new Date()): Buffer {
  return Buffer.from(JSON.stringify({
    critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: SIGNATURE_TYPE },
    optional: { creator: 'tsbuild', timestamp: Math.floor(now.getTime() / 1000) },
  }));
}

/** Returns the base64 ECDSA-SHA256 signature (ASN.1 DER, as Go's ecdsa.SignASN1) of `payload`. */
export function signPayload(payload: Uint8Array, key: SigningKey): string {
  return cryptoSign('sha256', payload, key.key).toString('base64');
}

/** True when `base64Signature` is a valid signature of `payload` by `key`. */
export function verifyPayload(payload: Uint8Array, base64Signature: string, key: VerifyingKey): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64Signature) || base64Signature.length === 0) return false;
  try {
    return cryptoVerify('sha256', payload, key.key, Buffer.from(base64Signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Returns the claims of a payload, checked as containers/image does: exactly `critical` and `optional` at the top,
 * `critical` exactly `type`, `image`, `identity`, the type cosign's. Throws a SIGNATURE error naming `where`.
 */
export function parsePayload(bytes: Uint8Array, where: string): PayloadClaims {
  const bad = (why: string): TsbuildError => new TsbuildError('SIGNATURE', `signature payload ${why}`, { location: { ref: where }, hint: 'the signature was not made by cosign, skopeo or tsbuild; re-sign the image' });
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw bad('is not JSON');
  }
  const obj = (v: unknown, keys: readonly string[], what: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what} is not an object`);
    const have = Object.keys(v).sort();
    if (have.join(',') !== [...keys].sort().join(',')) throw bad(`${what} has fields ${have.join(', ')}, expected ${keys.join(', ')}`);
    return v as Record<string, unknown>;
  };
  const top = obj(doc, ['critical', 'optional'], 'top level');
  const critical = obj(top.critical, ['identity', 'image', 'type'], 'critical');
  if (critical.type !== SIGNATURE_TYPE) throw bad(`type is ${JSON.stringify(critical.type)}, not "${SIGNATURE_TYPE}"`);
  const image = obj(critical.image, ['docker-manifest-digest'], 'critical.image');
  const identity = obj(critical.identity, ['docker-reference'], 'critical.identity');
  const digest = image['docker-manifest-digest'];
  const ref = identity['docker-reference'];
  if (typeof digest !== 'string' || !isDigest(digest)) throw bad(`docker-manifest-digest ${JSON.stringify(digest)} is not a sha256 digest`);
  if (typeof ref !== 'string') throw bad('docker-reference is not a string');
  const optional = top.optional === null ? null : typeof top.optional === 'object' && !Array.isArray(top.optional) ? top.optional as Record<string, unknown> : undefined;
  if (optional === undefined) throw bad('optional is not an object');
  return { dockerReference: ref, manifestDigest: digest, optional };
}
