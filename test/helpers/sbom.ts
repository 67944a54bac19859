/** Reading an SPDX document the way a consumer of buildx's SBOMs does: packages by purl type, with their evident-by files. */
import type { SpdxDocument, SpdxPackage } from '../../builder/attest/sbom/index.js';

export interface ListedPackage { readonly name: string; readonly version: string; readonly purl: string | undefined;
  readonly license: string; readonly files: string[]; readonly pkg: SpdxPackage }

/** Returns the document's packages whose purl starts with `pkg:TYPE/` (or, for 'os', the OPERATING_SYSTEM ones). */
export function listed(doc: SpdxDocument, type: string): ListedPackage[] {
  const fileName = new Map(doc.files.map((f) => [f.SPDXID, f.fileName]));
  return doc.packages
    .filter((p) => (type === 'os' ? p.primaryPackagePurpose === 'OPERATING_SYSTEM' : purlOf(p)?.startsWith(`pkg:${type}/`)))
    .map((p) => ({
      name: p.name, version: p.versionInfo ?? '', purl: purlOf(p), license: p.licenseDeclared, pkg: p,
      files: doc.relationships.filter((r) => r.spdxElementId === p.SPDXID && r.relationshipType === 'OTHER')
        .map((r) => fileName.get(r.relatedSpdxElement)!).sort(),
    }));
}

function purlOf(p: SpdxPackage): string | undefined {
  return p.externalRefs?.find((r) => r.referenceType === 'purl')?.referenceLocator;
}
