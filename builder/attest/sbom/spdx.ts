/**
 * The SPDX 2.3 JSON document, laid out as Syft (BuildKit's scanner, docker/buildkit-syft-scanner) writes it:
 * one root package for the scanned image or directory, DESCRIBES from the document to it, CONTAINS from it to
 * every package found, from each package an OTHER relationship commented `evident-by: …` to each file that
 * declared it and CONTAINS to each file it installed (dpkg, apk), those files listed in `files` (relative names,
 * SHA1 and SHA256, hashed by the caller). Pure.
 */
import { createHash } from 'node:crypto';
import { combine } from './license.js';
import type { FoundPackage } from './model.js';

export interface SpdxChecksum { readonly algorithm: 'SHA1' | 'SHA256'; readonly checksumValue: string }
export interface SpdxExternalRef {
  readonly referenceCategory: 'PACKAGE-MANAGER' | 'SECURITY' | 'OTHER' | 'PERSISTENT-ID';
  readonly referenceType: string;
  readonly referenceLocator: string;
}
export interface SpdxPackage {
  readonly name: string;
  readonly SPDXID: string;
  readonly versionInfo?: string;
  readonly supplier?: string;
  readonly downloadLocation: string;
  readonly filesAnalyzed: boolean;
  readonly homepage?: string;
  readonly sourceInfo?: string;
  readonly licenseConcluded: string;
  readonly licenseDeclared: string;
  readonly copyrightText: string;
  readonly description?: string;
  readonly comment?: string;
  readonly externalRefs?: readonly SpdxExternalRef[];
  readonly primaryPackagePurpose?: 'OPERATING_SYSTEM' | 'LIBRARY' | 'APPLICATION' | 'CONTAINER' | 'FILE';
}
export interface SpdxFile {
  readonly fileName: string;
  readonly SPDXID: string;
  readonly fileTypes: readonly string[];
  readonly checksums: readonly SpdxChecksum[];
  readonly licenseConcluded: string;
  readonly licenseInfoInFiles: readonly string[];
  readonly copyrightText: string;
}
export interface SpdxRelationship {
  readonly spdxElementId: string;
  readonly relatedSpdxElement: string;
  readonly relationshipType: 'DESCRIBES' | 'CONTAINS' | 'OTHER';
  readonly comment?: string;
}
export interface SpdxExtractedLicense { readonly licenseId: string; readonly extractedText: string; readonly name: string }

/** An SPDX 2.3 document as JSON (validates against spdx-spec's schemas/spdx-schema.json at v2.3). */
export interface SpdxDocument {
  readonly spdxVersion: 'SPDX-2.3';
  readonly dataLicense: 'CC0-1.0';
  readonly SPDXID: 'SPDXRef-DOCUMENT';
  readonly name: string;
  readonly documentNamespace: string;
  readonly creationInfo: { readonly creators: readonly string[]; readonly created: string };
  readonly packages: readonly SpdxPackage[];
  readonly files: readonly SpdxFile[];
  readonly hasExtractedLicensingInfos?: readonly SpdxExtractedLicense[];
  readonly relationships: readonly SpdxRelationship[];
}

export const EVIDENT_BY = "evident-by: indicates the package's existence is evident by the given file";

export interface AssembleInput {
  readonly name: string;
  readonly kind: 'image' | 'directory';
  readonly platform?: { os: string; architecture: string; variant?: string } | undefined;
  readonly created: Date;
  readonly tool: string;
  readonly packages: readonly FoundPackage[];
  /** Tree path → its checksums, for every evidence path of `packages`. */
  readonly files: ReadonlyMap<string, readonly SpdxChecksum[]>;
}

const ORDER = ['os', 'deb', 'apk', 'go', 'npm', 'python'];

/** Returns `s` as the characters an SPDX id may hold (letters, digits, `.`, `-`). */
export function idPart(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

const hash16 = (...parts: string[]): string => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);

/** Returns an SPDX creator line's person: `Name <mail>` as SPDX's `Person: Name (mail)`. */
function supplierOf(s: string | undefined): string {
  if (!s) return 'NOASSERTION';
  return s.replace(/\s*<([^>]*)>\s*$/, ' ($1)');
}

/** Returns `d` as SPDX's `YYYY-MM-DDThh:mm:ssZ`. */
export function spdxDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Returns the document for `input` (packages sorted; ids derived from content, so equal input gives equal bytes). */
export function assembleDocument(input: AssembleInput): SpdxDocument {
  const pkgs = [...input.packages].sort((a, b) =>
    ORDER.indexOf(a.ecosystem) - ORDER.indexOf(b.ecosystem) || cmp(a.name, b.name) || cmp(a.version, b.version) || cmp(a.purl ?? '', b.purl ?? ''));
  const rootId = `SPDXRef-DocumentRoot-${input.kind === 'image' ? 'Image' : 'Directory'}-${idPart(input.name)}`;
  const p = input.platform;
  const root: SpdxPackage = {
    name: input.name, SPDXID: rootId, supplier: 'NOASSERTION', downloadLocation: 'NOASSERTION', filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION', licenseDeclared: 'NOASSERTION', copyrightText: 'NOASSERTION',
    ...(p ? { comment: `platform: ${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` } : {}),
    primaryPackagePurpose: input.kind === 'image' ? 'CONTAINER' : 'FILE',
  };
  const fileIds = new Map<string, string>();
  const files: SpdxFile[] = [];
  const evidence = new Set(pkgs.flatMap((x) => x.evidence));
  const binaries = new Set(pkgs.filter((x) => x.ecosystem === 'go').flatMap((x) => x.evidence));
  for (const path of [...new Set([...evidence, ...pkgs.flatMap((x) => x.owned ?? [])])].sort(cmp)) {
    const id = `SPDXRef-File-${idPart(path)}-${hash16('file', path)}`;
    fileIds.set(path, id);
    files.push({
      fileName: path, SPDXID: id, fileTypes: binaries.has(path) ? ['BINARY', 'APPLICATION'] : evidence.has(path) ? ['TEXT'] : ['OTHER'],
      checksums: input.files.get(path) ?? [], licenseConcluded: 'NOASSERTION', licenseInfoInFiles: ['NOASSERTION'], copyrightText: 'NOASSERTION',
    });
  }
  const refs = new Map<string, string>();
  const used = new Set<string>();
  const packages: SpdxPackage[] = [];
  const contains: SpdxRelationship[] = [];
  const evident: SpdxRelationship[] = [];
  const owns: SpdxRelationship[] = [];
  for (const x of pkgs) {
    let id = `SPDXRef-Package-${x.ecosystem}-${idPart(x.name)}-${hash16(x.ecosystem, x.name, x.version, x.purl ?? '', x.evidence.join('\n'))}`;
    for (let n = 2; used.has(id); n++) id = `${id.replace(/-\d+$/, '')}-${n}`;
    used.add(id);
    const lic = combine(x.licenses);
    for (const [k, v] of lic?.refs ?? []) refs.set(k, v);
    packages.push({
      name: x.name, SPDXID: id, ...(x.version !== '' ? { versionInfo: x.version } : {}),
      supplier: supplierOf(x.supplier), downloadLocation: x.downloadLocation ?? 'NOASSERTION', filesAnalyzed: false,
      ...(x.homepage ? { homepage: x.homepage } : {}),
      sourceInfo: x.sourceInfo, licenseConcluded: 'NOASSERTION', licenseDeclared: lic?.expression ?? 'NOASSERTION',
      copyrightText: 'NOASSERTION', ...(x.description ? { description: x.description } : {}),
      ...(x.purl ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: x.purl }] } : {}),
      ...(x.purpose ? { primaryPackagePurpose: x.purpose } : {}),
    });
    contains.push({ spdxElementId: rootId, relatedSpdxElement: id, relationshipType: 'CONTAINS' });
    for (const f of x.evidence) evident.push({ spdxElementId: id, relatedSpdxElement: fileIds.get(f)!, relationshipType: 'OTHER', comment: EVIDENT_BY });
    for (const f of x.owned ?? []) owns.push({ spdxElementId: id, relatedSpdxElement: fileIds.get(f)!, relationshipType: 'CONTAINS' });
  }
  const body = {
    packages: [...packages, root],
    files,
    ...(refs.size > 0 ? { hasExtractedLicensingInfos: [...refs].sort(([a], [b]) => cmp(a, b)).map(([licenseId, text]) => ({ licenseId, extractedText: text, name: text })) } : {}),
    relationships: [...owns, ...evident, ...contains, { spdxElementId: 'SPDXRef-DOCUMENT', relatedSpdxElement: rootId, relationshipType: 'DESCRIBES' as const }],
  };
  const created = spdxDate(input.created);
  const digest = createHash('sha256').update(JSON.stringify({ name: input.name, created, body })).digest('hex');
  const uuid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-5${digest.slice(13, 16)}-${((parseInt(digest[16]!, 16) & 3) | 8).toString(16)}${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
  return {
    spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: input.name,
    documentNamespace: `https://spdx.org/spdxdocs/tsbuild-${idPart(input.name)}-${uuid}`,
    creationInfo: { creators: [`Tool: ${input.tool}`], created },
    ...body,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
