/**
 * BuildKit's attestation storage (docs/attestations/attestation-storage.md), as far as every reader of an index
 * needs it: an attestation manifest is an index child with platform `unknown/unknown` and the annotation
 * `vnd.docker.reference.type: attestation-manifest`; `vnd.docker.reference.digest` names the image manifest
 * it is about. Platform selection, `run` and single-platform pulls skip such children.
 */
import type { Descriptor, Platform } from './model.js';

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
