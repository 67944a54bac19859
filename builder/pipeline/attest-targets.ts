/**
 * Which results of a build carry which attestations, decided as buildx and BuildKit decide (build/opt.go,
 * exporter/containerimage/writer.go, exporter/oci):
 *  - asked for (`--provenance`, `--sbom`, `--attest`): every image the build names in the store or pushes, and
 *    every OCI archive; a `type=docker` archive is refused ("docker exporter does not support exporting manifest
 *    lists"), as are Docker media types (`oci-mediatypes=false`) and `type=local|tar` outputs (BuildKit writes
 *    `provenance.json`/SBOM files into them; tsbuild does not yet), each as a USAGE error naming it;
 *  - not asked for: buildx's default `mode=min,inline-only=true` provenance, which the image exporter attaches
 *    to what it pushes and the oci exporter to multi-platform archives. tsbuild's store stands where `--load`
 *    and Docker's classic image store stand: its images carry no default provenance ("attached only for images
 *    pushed to registries", buildx's docs). `--provenance=false` or BUILDX_NO_DEFAULT_ATTESTATIONS=1 turn it off;
 *    Docker media types never get it.
 * Pure.
 */
import { TsbuildError } from '../../layer-store/index.js';
import type { OutputSpec } from '../execute/output-spec.js';
import { hasExplicitAttestations, type Attestations, type ProvenanceAttest } from '../attest/spec.js';

/** The attestations one result carries; undefined: none. */
export interface AttestPlan {
  readonly provenance?: ProvenanceAttest | undefined;
  readonly sbom: boolean;
}

/** buildx's default provenance attribute `mode=min,inline-only=true`. */
const DEFAULT_PROVENANCE: ProvenanceAttest = { mode: 'min', inlineOnly: true };

/**
 * Returns what a result carries: `kind` image (named in the store, pushed with `push`) or oci (an archive),
 * `oci` its media types, `multi` several platforms built. Undefined when nothing.
 */
export function attestPlan(a: Attestations | undefined, r: { kind: 'image' | 'oci'; push: boolean; oci: boolean; multi: boolean }): AttestPlan | undefined {
  if (!r.oci) return undefined; // Docker media types: refused by checkAttestTargets when asked for
  let provenance: ProvenanceAttest | undefined;
  if (a?.provenance) provenance = a.provenance;
  else if (a?.provenance === undefined && a?.defaultProvenance !== false && ((r.kind === 'image' && r.push) || (r.kind === 'oci' && r.multi))) provenance = DEFAULT_PROVENANCE;
  const sbom = !!a?.sbom;
  return provenance || sbom ? { ...(provenance ? { provenance } : {}), sbom } : undefined;
}

/** Returns a text equal for equal plans (results with equal formats and plans share one image). */
export function attestKey(p: AttestPlan | undefined): string {
  return p ? JSON.stringify([p.provenance ?? null, p.sbom]) : '';
}

/** Throws a USAGE error for an output or format that cannot carry the attestations asked for (see the header). */
export function checkAttestTargets(a: Attestations | undefined, outputs: readonly OutputSpec[], formats: readonly { ociMediaTypes: boolean }[]): void {
  if (!hasExplicitAttestations(a)) return;
  const where = '--provenance/--sbom/--attest';
  for (const x of outputs) {
    if (x.type === 'docker') {
      throw new TsbuildError('USAGE', 'docker exporter does not support exporting manifest lists, use the oci exporter instead', { location: { ref: `${where} with --output type=docker` }, hint: 'attestations make the image an index: write -o type=oci, or turn them off (--provenance=false, no --sbom)' });
    }
    if (x.type === 'local' || x.type === 'tar') {
      throw new TsbuildError('USAGE', `attestations are not written into --output type=${x.type} yet`, { location: { ref: where }, hint: 'attach them to an image (-t, --push, -o type=oci), or build the filesystem output without --provenance/--sbom' });
    }
  }
  if (formats.some((f) => !f.ociMediaTypes)) {
    throw new TsbuildError('USAGE', 'cannot export attestations with "oci-mediatypes=false"', { location: { ref: where }, hint: 'keep OCI media types, or turn attestations off (--provenance=false, no --sbom)' });
  }
}
