/**
 * `.Provenance` and `.SBOM` of `inspect --format`, shaped as `docker buildx imagetools inspect --format` shapes
 * them (buildx util/imagetools printers.go, loader.go): for an image of one platform, `{SLSA: predicate}` and
 * `{SPDX: document, AdditionalSPDXs: [...]}` (empty `{}` when there is none); for an index of several platforms,
 * a map from the platform (`linux/amd64`) to those. Predicates are decoded JSON, so templates and `json` see
 * Go maps (keys sorted), as buildx's `any` values. Pure.
 */
import { formatPlatform } from '../../layer-store/index.js';
import type { StoredAttestation } from '../../builder/index.js';
import { goMap, goMapsDeep, goStruct } from '../go-template/index.js';

const SPDX = 'https://spdx.dev/Document';
const SLSA_PREFIX = 'https://slsa.dev/provenance/';

/** One platform's provenance stub: the first SLSA predicate (buildx breaks after it). */
function provenanceStub(list: readonly StoredAttestation[]): Record<string, unknown> {
  const a = list.find((x) => x.predicateType.startsWith(SLSA_PREFIX));
  return goStruct({ SLSA: a ? goMapsDeep(structuredClone(a.statement.predicate)) : null }, ['SLSA']);
}

/** One platform's SBOM stub: the first SPDX document, the others in AdditionalSPDXs. */
function sbomStub(list: readonly StoredAttestation[]): Record<string, unknown> {
  const docs = list.filter((x) => x.predicateType === SPDX).map((x) => goMapsDeep(structuredClone(x.statement.predicate)));
  return goStruct({ SPDX: docs[0] ?? null, AdditionalSPDXs: docs.length > 1 ? docs.slice(1) : null }, ['SPDX', 'AdditionalSPDXs']);
}

/**
 * Returns `{Provenance, SBOM}` for an object whose attestations are `atts` and whose platform images number
 * `platforms` (several: maps by platform, holding only the platforms that have some).
 */
export function attestationFields(atts: readonly StoredAttestation[], platforms: number): { Provenance: unknown; SBOM: unknown } {
  if (platforms <= 1) return { Provenance: provenanceStub(atts), SBOM: sbomStub(atts) };
  const by = new Map<string, StoredAttestation[]>();
  for (const a of atts) by.set(formatPlatform(a.platform), [...(by.get(formatPlatform(a.platform)) ?? []), a]);
  const prov: Record<string, unknown> = {};
  const sbom: Record<string, unknown> = {};
  for (const [p, list] of by) {
    if (list.some((x) => x.predicateType.startsWith(SLSA_PREFIX))) prov[p] = provenanceStub(list);
    if (list.some((x) => x.predicateType === SPDX)) sbom[p] = sbomStub(list);
  }
  return { Provenance: goMap(prov), SBOM: goMap(sbom) };
}
