// placeholder until h-sbom merges: helper "sbom" writes the real scanner here (take their version at merge).
/**
 * builder/attest/sbom: the SPDX 2.3 JSON document of a filesystem given as layer directories (lowest first) or
 * one merged directory. This placeholder lists no packages; only the document's frame is written.
 */

/** An SPDX 2.3 JSON document (the fields the attestation code relies on). */
export interface SpdxDocument {
  readonly spdxVersion: string;
  readonly SPDXID: string;
  readonly name: string;
  readonly dataLicense: string;
  readonly documentNamespace: string;
  readonly creationInfo: { readonly created: string; readonly creators: readonly string[] };
  readonly packages: readonly unknown[];
  readonly [k: string]: unknown;
}

export interface GenerateSbomOptions {
  /** Layer directories, lowest first (store snapshot dirs), or one merged directory. */
  readonly layers: readonly string[];
  readonly name: string;
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string } | undefined;
  /** RFC 3339; default now. */
  readonly created?: string | undefined;
}

/** Returns the SPDX 2.3 document of the filesystem `o.layers` make (placeholder: no packages). */
export async function generateSbom(o: GenerateSbomOptions): Promise<SpdxDocument> {
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: o.name,
    documentNamespace: `https://tsbuild.invalid/spdx/${encodeURIComponent(o.name)}`,
    creationInfo: { created: o.created ?? new Date().toISOString(), creators: ['Tool: tsbuild'] },
    packages: [],
  };
}
