/**
 * in-toto statements as BuildKit writes them (exporter/attestation/make.go): `_type` Statement v1, the subjects
 * (one per image name as a `pkg:docker` PURL with the platform, each with the platform manifest's digest, or `_`
 * for an unnamed image), the predicate type and the predicate. Pure.
 */
import { familiarRepository, formatPlatform, parseImageName, type Digest, type Platform } from '../../layer-store/index.js';

/** `_type` of the statements BuildKit writes today (in-toto attestation v1; BuildKit ≤ 0.11 wrote v0.1). */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** Media type of an attestation layer holding an in-toto statement. */
export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json';
export const PREDICATE_SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const PREDICATE_SPDX = 'https://spdx.dev/Document';

export interface InTotoSubject {
  readonly name: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface InTotoStatement {
  readonly _type: string;
  readonly predicateType: string;
  readonly subject: readonly InTotoSubject[];
  readonly predicate: unknown;
}

/** Go's url.PathEscape (packageurl-go escapes namespace segments and qualifier values with it). */
function pathEscape(s: string): string {
  return encodeURIComponent(s).replace(/%(24|26|2B|3A|3D|40)/g, (m) => decodeURIComponent(m));
}

/**
 * Returns the package URL of an image reference as BuildKit's purl.RefToPURL writes it: `pkg:docker/NS/NAME@TAG`
 * (the familiar name: `alpine`, `localhost:5000/app`), `?digest=` for a digest reference, `platform=` when given.
 */
export function imagePurl(ref: string, platform?: Platform, type: 'docker' | 'oci' = 'docker'): string {
  const n = parseImageName(ref);
  const digest = n.digest;
  // BuildKit's TagNameOnly: a name without tag or digest is `:latest`.
  const tag = n.tag ?? (digest === undefined ? 'latest' : undefined);
  const repository = n.repository;
  const familiar = familiarRepository(repository);
  const parts = familiar.split('/');
  const name = parts.pop()!;
  const ns = parts.map(pathEscape).join('/');
  const q: string[] = [];
  if (digest !== undefined) q.push(`digest=${pathEscape(digest)}`);
  if (platform) q.push(`platform=${pathEscape(formatPlatform(platform))}`);
  return `pkg:${type}/${ns ? `${ns}/` : ''}${pathEscape(name)}${tag !== undefined ? `@${pathEscape(tag)}` : ''}${q.length ? `?${q.join('&')}` : ''}`;
}

/** Returns `{sha256: hex}` of a digest (SLSA's DigestSet). */
export function digestSet(d: Digest | string): Record<string, string> {
  const i = d.indexOf(':');
  return { [d.slice(0, i)]: d.slice(i + 1) };
}

/** Returns the subjects of an image's statements: each name's PURL with `platform`, or `_` when it has none. */
export function subjectsOf(names: readonly string[], platform: Platform, manifest: Digest): InTotoSubject[] {
  const digest = digestSet(manifest);
  if (names.length === 0) return [{ name: '_', digest }];
  return [...new Set(names.map((n) => imagePurl(n, platform)))].map((name) => ({ name, digest }));
}

/** Returns an in-toto statement (BuildKit's field order: _type, predicateType, subject, predicate). */
export function statement(predicateType: string, subject: readonly InTotoSubject[], predicate: unknown): InTotoStatement {
  return { _type: IN_TOTO_STATEMENT_V1, predicateType, subject, predicate };
}
