/**
 * BuildKit's attestation storage (docs/attestations/attestation-storage.md), as far as every reader of an index
 * needs it: an attestation manifest is an index child with platform `unknown/unknown` and the annotation
 * `vnd.docker.reference.type: attestation-manifest`; `vnd.docker.reference.digest` names the image manifest
 * it is about. Platform selection, `run` and single-platform pulls skip such children.
 */
import { TsbuildError } from './errors.js';
import type { Descriptor, ImageIndex, Platform } from './model.js';

/** The annotations of an attestation manifest's descriptor in an index. */
export const AttestationAnnotations = {
  referenceType: 'vnd.docker.reference.type',
  referenceDigest: 'vnd.docker.reference.digest',
  /** The value of referenceType for an attestation manifest. */
  attestationManifest: 'attestation-manifest',
  /** On each layer of an attestation manifest: the in-toto statement's predicateType. */
  predicateType: 'in-toto.io/predicate-type',
} as const;

/** The platform of an attestation manifest, so that no runtime picks it. */
export const ATTESTATION_PLATFORM: Platform = { os: 'unknown', architecture: 'unknown' };

/**
 * True when `d` (an index child) is an attestation manifest: its reference type is `attestation-manifest`, or
 * (a reader as lenient as buildx's) its platform is `unknown/unknown`.
 */
export function isAttestationManifest(d: Pick<Descriptor, 'annotations' | 'platform'>): boolean {
  if (d.annotations?.[AttestationAnnotations.referenceType] === AttestationAnnotations.attestationManifest) return true;
  return d.platform?.os === 'unknown' && d.platform.architecture === 'unknown';
}

/**
 * Throws INVALID_MANIFEST for the first attestation manifest of `index` (named `ref` in the message) that has no
 * `vnd.docker.reference.digest` or refers to no image of the index: such an index is refused before anything of
 * it is written or tagged.
 */
export function checkAttestationReferences(index: ImageIndex, ref: string): void {
  const images = new Set(index.manifests.filter((m) => !isAttestationManifest(m)).map((m) => m.digest as string));
  for (const a of index.manifests) {
    if (a.annotations?.[AttestationAnnotations.referenceType] !== AttestationAnnotations.attestationManifest) continue;
    const to = a.annotations[AttestationAnnotations.referenceDigest];
    if (to !== undefined && images.has(to)) continue;
    throw new TsbuildError('INVALID_MANIFEST', `malformed attestation manifest ${a.digest} in ${ref}: ${to === undefined ? `no ${AttestationAnnotations.referenceDigest} annotation` : `it refers to ${to}, which is no image of the index`}`, {
      location: { ref }, hint: 'the index carries a broken attestation: push it again from a good build, or copy one platform (--platform) without it',
    });
  }
}
