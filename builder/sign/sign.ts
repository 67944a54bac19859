/**
 * signImage: sign what a registry reference names now (its manifest or index digest) with a cosign key, and store
 * the signature as cosign does (attach.ts). The docker-reference signed is the reference as given: `host/repo:tag`
 * for a tag (what containers/image's default matchRepoDigestOrExact accepts for pulls by tag), `host/repo` for a
 * digest (cosign's repository-only claim).
 */
import { TsbuildError, type Descriptor, type Digest } from '../../layer-store/index.js';
import { RegistryError, formatReference, parseReference, type Reference, type RegistryClient } from '../../registry-client/index.js';
import { appendSignature, type AttachResult } from './attach.js';
import type { SigningKey } from './keys.js';
import { makePayload, signPayload } from './payload.js';

export interface SignImageOptions {
  readonly registry: RegistryClient;
  /** `REGISTRY/REPO[:TAG|@DIGEST]`. */
  readonly ref: string;
  readonly key: SigningKey;
  /** The manifest to sign when already known (a push by digest): then the tag is not read. */
  readonly subject?: Descriptor | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface SignImageResult extends AttachResult {
  readonly ref: string;
  readonly digest: Digest;
  readonly dockerReference: string;
}

/** Returns the docker-reference a signature of `ref` claims (see the header). */
export function signedIdentityOf(ref: Reference): string {
  return ref.tag !== undefined ? `${ref.registry}/${ref.repository}:${ref.tag}` : `${ref.registry}/${ref.repository}`;
}

/** Returns where the signature went; throws when the image is not in the registry (nothing is written then). */
export async function signImage(o: SignImageOptions): Promise<SignImageResult> {
  const ref = parseReference(o.ref);
  const name = formatReference(ref);
  let subject = o.subject;
  if (!subject) {
    try {
      const m = await o.registry.source(ref).getManifest(undefined, { signal: o.signal });
      subject = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) {
        throw new TsbuildError('IMAGE_NOT_FOUND', 'no such image in the registry to sign', { location: { ref: name }, hint: 'push it first, or push and sign at once with `tsbuild push --sign-by KEY`', cause: e });
      }
      throw e;
    }
  }
  const dockerReference = signedIdentityOf(ref);
  const payload = makePayload(dockerReference, subject.digest);
  const signature = signPayload(payload, o.key);
  const r = await appendSignature(o.registry, ref, subject, payload, signature, o.signal);
  return { ...r, ref: name, digest: subject.digest, dockerReference };
}
