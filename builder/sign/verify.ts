/**
 * verifyImage: the checks `tsbuild verify`, `pull --verify-key` and a policy's `sigstoreSigned` make, as
 * containers/image makes them: some signature in the image's `.sig` manifest verifies with one of the keys over its
 * payload bytes, the payload names the manifest digest the registry serves now, and its docker-reference is
 * acceptable for the reference asked for. Reads only; nothing is stored.
 */
import { TsbuildError, type Descriptor, type Digest } from '../../layer-store/index.js';
import { formatReference, parseReference, type Reference, type RegistryClient } from '../../registry-client/index.js';
import { readSignatures, signatureTag } from './attach.js';
import { identityMatches, type SignedIdentity } from './identity.js';
import type { VerifyingKey } from './keys.js';
import { parsePayload, verifyPayload, type PayloadClaims } from './payload.js';

export interface VerifyImageOptions {
  readonly registry: RegistryClient;
  /** `REGISTRY/REPO[:TAG|@DIGEST]`. */
  readonly ref: string;
  /** Any one of them may have signed. */
  readonly keys: readonly VerifyingKey[];
  /** Which docker-reference a signature may claim. Default matchRepository (cosign's repository-only claims pass). */
  readonly identity?: SignedIdentity | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface VerifiedImage {
  /** The reference verified, normalised. */
  readonly ref: string;
  /** The manifest (or index) the signatures cover, as the registry serves it now. */
  readonly descriptor: Descriptor;
  readonly digest: Digest;
  /** Every signature that passed: its claims and the key that verified it. */
  readonly signatures: readonly { readonly claims: PayloadClaims; readonly key: string }[];
}

/**
 * Returns the image and the signatures that pass; throws a SIGNATURE error naming the reference when none does:
 * unsigned, signed by other keys only, a payload for another digest, or a docker-reference the rule refuses.
 */
export async function verifyImage(o: VerifyImageOptions): Promise<VerifiedImage> {
  const ref = parseReference(o.ref);
  const name = formatReference(ref);
  const manifest = await o.registry.source(ref).getManifest(undefined, { signal: o.signal });
  const descriptor: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
  const where = `${name}${ref.digest ? '' : `@${manifest.digest}`}`;
  const stored = await readSignatures(o.registry, ref, manifest.digest, o.signal);
  const keyNames = o.keys.map((k) => k.source).join(', ');
  if (stored.length === 0) {
    throw new TsbuildError('SIGNATURE', `image is not signed: no ${signatureTag(manifest.digest)} signature`, {
      location: { ref: where }, hint: `sign it with \`tsbuild sign --key cosign.key ${name}\`, or pull another image; a manifest that changed after signing has no signature either`,
    });
  }
  const rule = o.identity ?? { type: 'matchRepository' as const };
  const passed: { claims: PayloadClaims; key: string }[] = [];
  const problems: string[] = [];
  for (const s of stored) {
    const key = o.keys.find((k) => verifyPayload(s.payload, s.signature, k));
    if (!key) continue;
    const claims = parsePayload(s.payload, where);
    if (claims.manifestDigest !== manifest.digest) {
      problems.push(`the signature by ${key.source} is for another digest, ${claims.manifestDigest}`);
      continue;
    }
    if (!identityMatches(rule, ref, claims.dockerReference)) {
      problems.push(`the signature by ${key.source} claims docker-reference ${claims.dockerReference}, which ${rule.type} refuses for ${name}`);
      continue;
    }
    passed.push({ claims, key: key.source });
  }
  if (passed.length === 0) {
    const what = problems[0] ?? `none of its ${stored.length} signature${stored.length === 1 ? '' : 's'} verifies with ${keyNames}: signed by another key`;
    throw new TsbuildError('SIGNATURE', `signature check failed: ${what}`, { location: { ref: where }, hint: 'the image was not signed by this key, or was changed after signing; do not use it' });
  }
  return { ref: name, descriptor, digest: manifest.digest, signatures: passed };
}

export type { Reference };
