/**
 * The one reader of image documents (manifests, indexes, image configs) for every source: the store, the registry
 * client and the archive loaders. Each document is checked against the limits below *before* JSON.parse, then
 * against the OCI / Docker v2 schema 2 shape; the same bytes fail with the same error wherever they come from.
 */
import { MediaTypes, isIndexType, isManifestType, type ContainerConfig, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from './model.js';
import { isDigest } from './digest.js';
import { InvalidManifestError, UnsupportedManifestError } from './errors.js';

/**
 * Largest manifest or index accepted (bytes): distribution's own limit (4 MiB), so nothing a registry accepts is
 * refused. The stricter of the two former limits (the store allowed 8 MiB).
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Largest image config accepted (bytes). Configs are parsed whole; real ones are a few KiB (big histories ~1 MiB). */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/**
 * Largest document any reader holds in memory whole (bytes): the largest of the limits above. It caps reads whose
 * kind is not known yet (a store blob read, an archive's manifest.json, the store's own index.json).
 */
export const MAX_DOCUMENT_BYTES = Math.max(MAX_MANIFEST_BYTES, MAX_CONFIG_BYTES);
/**
 * Deepest `[`/`{` nesting accepted in any document. Real manifests and configs are about 5 deep; deeper is hostile
 * (a parser or a later recursive walk can be made to use unbounded stack). Formerly checked by the registry client only.
 */
export const MAX_JSON_DEPTH = 64;

/** The documents this module reads, as error messages name them. */
export type DocumentKind = 'image manifest' | 'image config' | 'document';

/** Largest size in bytes accepted for a document of `kind`. */
export function documentLimit(kind: DocumentKind): number {
  return kind === 'image manifest' ? MAX_MANIFEST_BYTES : kind === 'image config' ? MAX_CONFIG_BYTES : MAX_DOCUMENT_BYTES;
}

/** Returns the error for a document over its byte limit (`limit` defaults to the kind's). */
export function documentTooLarge(kind: DocumentKind, ref?: string, limit = documentLimit(kind)): InvalidManifestError {
  return new InvalidManifestError(`${kind} is larger than ${limit} bytes`, ref ? { location: { ref } } : {});
}

/** Throws InvalidManifestError when a document of `size` bytes exceeds its kind's limit (check before reading). */
export function checkDocumentSize(kind: DocumentKind, size: number, ref?: string): void {
  if (size > documentLimit(kind)) throw documentTooLarge(kind, ref);
}

/** Returns the deepest nesting of `[`/`{` in JSON text (brackets inside strings do not count), stopping past `limit`. */
export function jsonDepth(bytes: Uint8Array, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function bad(what: string, ref?: string): InvalidManifestError {
  return new InvalidManifestError(what, ref ? { location: { ref } } : {});
}

/** Options of the document readers. */
export interface DocumentOptions {
  /** Where the document came from (a reference, digest or file), for the error's location. */
  readonly ref?: string | undefined;
  /** Byte limit instead of the kind's (only for documents tsbuild wrote itself, such as the store's index.json). */
  readonly maxBytes?: number | undefined;
}

/**
 * Returns `bytes` parsed as JSON after the size and nesting limits; throws InvalidManifestError when the bytes
 * are too large, nested deeper than MAX_JSON_DEPTH, or not JSON. `what` names the document in the message.
 */
export function parseJson(bytes: Uint8Array, what: DocumentKind | string, ref?: string, o: { maxBytes?: number | undefined } = {}): unknown {
  const limit = o.maxBytes ?? documentLimit(what === 'image manifest' || what === 'image config' ? what : 'document');
  if (bytes.length > limit) throw new InvalidManifestError(`${what} is larger than ${limit} bytes`, ref ? { location: { ref } } : {});
  if (jsonDepth(bytes) > MAX_JSON_DEPTH) throw bad(`${what} is nested deeper than ${MAX_JSON_DEPTH} levels`, ref);
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new InvalidManifestError(`${what} is not JSON`, { cause: e, ...(ref ? { location: { ref } } : {}) });
  }
}

/** Returns `bytes` parsed as a JSON object (not an array or scalar) within `kind`'s limits; else InvalidManifestError. */
export function parseDocument(bytes: Uint8Array, kind: DocumentKind, o: DocumentOptions = {}): Record<string, unknown> {
  const doc = parseJson(bytes, kind, o.ref, { maxBytes: o.maxBytes });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(`${kind} is not a JSON object`, o.ref);
  return doc as Record<string, unknown>;
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function checkDescriptor(d: unknown, where: string, ref?: string): Descriptor {
  if (typeof d !== 'object' || d === null) throw bad(`${where}: descriptor is not an object`, ref);
  const o = d as Record<string, unknown>;
  if (typeof o['mediaType'] !== 'string' || !MEDIA_TYPE.test(o['mediaType'])) throw bad(`${where}: missing or invalid mediaType`, ref);
  if (!isDigest(o['digest'])) throw bad(`${where}: digest is not sha256:<64 hex>`, ref);
  if (typeof o['size'] !== 'number' || !Number.isSafeInteger(o['size']) || o['size'] < 0) throw bad(`${where}: size is not a non-negative integer`, ref);
  if (o['annotations'] !== undefined) {
    const a = o['annotations'];
    if (typeof a !== 'object' || a === null || Object.values(a).some((v) => typeof v !== 'string')) throw bad(`${where}: annotations must map strings to strings`, ref);
  }
  if (o['platform'] !== undefined) {
    const p = o['platform'] as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || typeof p['os'] !== 'string' || typeof p['architecture'] !== 'string') throw bad(`${where}: platform needs os and architecture`, ref);
  }
  return o as unknown as Descriptor;
}

export type ParsedManifest =
  | { readonly kind: 'manifest'; readonly mediaType: string; readonly manifest: ImageManifest }
  | { readonly kind: 'index'; readonly mediaType: string; readonly index: ImageIndex };

const SCHEMA1_HINT = 'this is a Docker schema 1 manifest, deprecated since 2017 and unsupported; re-push the image with a current client (docker, skopeo, crane, tsbuild) to get schema 2 / OCI';
const KINDS_HINT = 'tsbuild reads OCI image manifests and indexes and Docker v2 schema 2 manifests and lists';

/** The media type without parameters (`application/json; charset=utf-8` → `application/json`). */
function bareType(mt: string | undefined): string | undefined {
  const t = mt?.split(';')[0]!.trim();
  return t || undefined;
}

/**
 * Returns the parsed image manifest or index (OCI, or Docker v2 schema 2 manifest / manifest list).
 *
 * `mediaTypeHint` is what the source says the document is (a registry's Content-Type, a descriptor's mediaType).
 * The kind is the document's own `mediaType`, else the hint when it names a manifest or index, else the shape
 * (a `manifests` array: index; a `config`: manifest). Docker schema 1 (by hint or `schemaVersion: 1`) and any
 * other media type throw UnsupportedManifestError; a document over MAX_MANIFEST_BYTES, nested deeper than
 * MAX_JSON_DEPTH, not JSON, or with a malformed descriptor throws InvalidManifestError.
 */
export function parseManifest(bytes: Uint8Array, mediaTypeHint?: string, ref?: string, o: { maxBytes?: number | undefined } = {}): ParsedManifest {
  const hint = bareType(mediaTypeHint);
  const doc = parseDocument(bytes, 'image manifest', { ref, maxBytes: o.maxBytes });
  // Schema 1 first: its signed form is not even the document its digest covers.
  if (hint === MediaTypes.dockerSchema1 || hint === MediaTypes.dockerSchema1Signed || doc['schemaVersion'] === 1) {
    throw new UnsupportedManifestError(hint === MediaTypes.dockerSchema1 || hint === MediaTypes.dockerSchema1Signed ? hint : 'schema 1', ref, SCHEMA1_HINT);
  }
  if (doc['schemaVersion'] !== 2) throw bad(`unsupported manifest schemaVersion ${JSON.stringify(doc['schemaVersion'])}`, ref);
  const own = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  const known = (t: string | undefined): t is string => isManifestType(t) || isIndexType(t);
  const mt = own ?? (known(hint) ? hint : Array.isArray(doc['manifests']) ? MediaTypes.ociIndex : doc['config'] !== undefined ? MediaTypes.ociManifest : hint ?? 'none');
  if (isIndexType(mt)) {
    if (!Array.isArray(doc['manifests'])) throw bad('index has no manifests array', ref);
    doc['manifests'].forEach((m, i) => checkDescriptor(m, `manifests[${i}]`, ref));
    return { kind: 'index', mediaType: mt, index: doc as unknown as ImageIndex };
  }
  if (isManifestType(mt)) {
    checkDescriptor(doc['config'], 'config', ref);
    if (!Array.isArray(doc['layers'])) throw bad('manifest has no layers array', ref);
    doc['layers'].forEach((m, i) => checkDescriptor(m, `layers[${i}]`, ref));
    return { kind: 'manifest', mediaType: mt, manifest: doc as unknown as ImageManifest };
  }
  throw new UnsupportedManifestError(mt, ref, KINDS_HINT);
}

/**
 * Returns the parsed image config after the size and nesting limits (MAX_CONFIG_BYTES, MAX_JSON_DEPTH) and
 * checks of architecture, os, rootfs.diff_ids and Env entries; else InvalidManifestError.
 */
export function parseConfig(bytes: Uint8Array, ref?: string): ImageConfig {
  const c = parseDocument(bytes, 'image config', { ref });
  if (typeof c['architecture'] !== 'string' || typeof c['os'] !== 'string') throw bad('image config lacks architecture or os', ref);
  const rootfs = c['rootfs'] as Record<string, unknown> | undefined;
  if (!rootfs || rootfs['type'] !== 'layers' || !Array.isArray(rootfs['diff_ids']) || !rootfs['diff_ids'].every(isDigest)) {
    throw bad('image config rootfs must be {type:"layers", diff_ids:[sha256 digests]}', ref);
  }
  const env = (c['config'] as ContainerConfig | undefined)?.Env;
  if (env !== undefined && (!Array.isArray(env) || env.some((e) => typeof e !== 'string' || !/^[^=]+=/.test(e)))) {
    throw bad('image config Env entries must look like NAME=value', ref);
  }
  return c as unknown as ImageConfig;
}
