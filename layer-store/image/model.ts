import {
  MediaTypes, digestOf, hostPlatform, isDigest, isIndexType, isManifestType,
  type ContainerConfig, type Descriptor, type Digest, type HistoryEntry, type ImageConfig, type ImageIndex,
  type ImageManifest, type Layer, type Platform, type RawManifest,
} from '../core/index.js';
import { InvalidManifestError } from '../store/errors.js';

/** Largest manifest/index/config document read into memory (bytes). */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

export type ParsedManifest =
  | { readonly kind: 'manifest'; readonly mediaType: string; readonly manifest: ImageManifest }
  | { readonly kind: 'index'; readonly mediaType: string; readonly index: ImageIndex };

function bad(what: string, ref?: string): InvalidManifestError {
  return new InvalidManifestError(what, ref ? { location: { ref } } : {});
}

function checkDescriptor(d: unknown, where: string, ref?: string): Descriptor {
  if (typeof d !== 'object' || d === null) throw bad(`${where}: descriptor is not an object`, ref);
  const o = d as Record<string, unknown>;
  if (typeof o['mediaType'] !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/.test(o['mediaType'])) {
    throw bad(`${where}: missing or invalid mediaType`, ref);
  }
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

/** Parses JSON with a byte cap; throws InvalidManifestError on bad JSON. */
export function parseJson(bytes: Uint8Array, what: string, ref?: string): unknown {
  if (bytes.length > MAX_DOCUMENT_BYTES) throw bad(`${what} is larger than ${MAX_DOCUMENT_BYTES} bytes`, ref);
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new InvalidManifestError(`${what} is not valid JSON`, { cause: e, ...(ref ? { location: { ref } } : {}) });
  }
}

/**
 * Returns the parsed image manifest or index (OCI or Docker v2 schema 2 / manifest list). The media type
 * comes from the document, else from `mediaTypeHint`; schema 1 is rejected.
 */
export function parseManifest(bytes: Uint8Array, mediaTypeHint?: string, ref?: string): ParsedManifest {
  const doc = parseJson(bytes, 'manifest', ref) as Record<string, unknown>;
  if (typeof doc !== 'object' || doc === null) throw bad('manifest is not a JSON object', ref);
  if (doc['schemaVersion'] !== 2) throw bad(`unsupported manifest schemaVersion ${JSON.stringify(doc['schemaVersion'])}`, ref);
  const mt = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : mediaTypeHint || undefined;
  const isIndex = isIndexType(mt) || (mt === undefined && Array.isArray(doc['manifests']));
  const isManifest = isManifestType(mt) || (mt === undefined && doc['config'] !== undefined);
  if (isIndex) {
    if (!Array.isArray(doc['manifests'])) throw bad('index has no manifests array', ref);
    doc['manifests'].forEach((m, i) => checkDescriptor(m, `manifests[${i}]`, ref));
    return { kind: 'index', mediaType: mt ?? MediaTypes.ociIndex, index: doc as unknown as ImageIndex };
  }
  if (isManifest) {
    checkDescriptor(doc['config'], 'config', ref);
    if (!Array.isArray(doc['layers'])) throw bad('manifest has no layers array', ref);
    doc['layers'].forEach((m, i) => checkDescriptor(m, `layers[${i}]`, ref));
    return { kind: 'manifest', mediaType: mt ?? MediaTypes.ociManifest, manifest: doc as unknown as ImageManifest };
  }
  throw bad(`unsupported manifest media type ${JSON.stringify(mt)}`, ref);
}

/** Returns the parsed image config after checking architecture, os, rootfs.diff_ids and Env entries. */
export function parseConfig(bytes: Uint8Array, ref?: string): ImageConfig {
  const c = parseJson(bytes, 'image config', ref) as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) throw bad('image config is not a JSON object', ref);
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

/** Serialises a document as the bytes tsbuild stores (compact JSON) with their descriptor. */
export function encodeDocument(doc: object, mediaType: string): RawManifest & { descriptor: Descriptor } {
  const bytes = Buffer.from(JSON.stringify(doc));
  const digest = digestOf(bytes);
  return { bytes, mediaType, digest, descriptor: { mediaType, digest, size: bytes.length } };
}

export interface ConfigInput {
  readonly platform?: Platform;
  readonly created?: string;
  readonly author?: string;
  readonly config?: ContainerConfig;
  /** Base first; one per layer. */
  readonly diffIds: readonly Digest[];
  readonly history?: readonly HistoryEntry[];
}

/** Returns an OCI image config; platform defaults to the host's, history to one entry per layer. */
export function buildConfig(i: ConfigInput): ImageConfig {
  const p = i.platform ?? hostPlatform();
  const created = i.created ?? new Date().toISOString();
  return {
    created,
    ...(i.author !== undefined ? { author: i.author } : {}),
    architecture: p.architecture,
    os: p.os,
    ...(p.variant !== undefined ? { variant: p.variant } : {}),
    ...(p['os.version'] !== undefined ? { 'os.version': p['os.version'] } : {}),
    config: i.config ?? {},
    rootfs: { type: 'layers', diff_ids: [...i.diffIds] },
    history: i.history ? [...i.history] : i.diffIds.map(() => ({ created, created_by: 'tsbuild' })),
  };
}

/** Returns an image manifest; `format: 'docker'` writes Docker v2 schema 2 media types. */
export function buildManifest(config: Descriptor, layers: readonly (Descriptor | Layer)[], o: { format?: 'oci' | 'docker'; annotations?: Record<string, string> } = {}): ImageManifest {
  const docker = o.format === 'docker';
  const ls = layers.map((l) => ({ mediaType: docker ? toDockerLayerType(l.mediaType) : l.mediaType, digest: l.digest, size: l.size }));
  return {
    schemaVersion: 2,
    mediaType: docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
    config: { mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig, digest: config.digest, size: config.size },
    layers: ls,
    ...(o.annotations && !docker ? { annotations: o.annotations } : {}),
  };
}

/** Returns an image index over `manifests` (each should carry its platform); docker = manifest list. */
export function buildIndex(manifests: readonly Descriptor[], o: { format?: 'oci' | 'docker'; annotations?: Record<string, string> } = {}): ImageIndex {
  const docker = o.format === 'docker';
  return {
    schemaVersion: 2,
    mediaType: docker ? MediaTypes.dockerManifestList : MediaTypes.ociIndex,
    manifests: manifests.map((m) => ({ ...m, mediaType: docker ? toDockerManifestType(m.mediaType) : toOciManifestType(m.mediaType) })),
    ...(o.annotations && !docker ? { annotations: o.annotations } : {}),
  };
}

const LAYER_TO_DOCKER: Readonly<Record<string, string>> = {
  [MediaTypes.ociLayerGzip]: MediaTypes.dockerLayerGzip,
  [MediaTypes.ociLayer]: 'application/vnd.docker.image.rootfs.diff.tar',
};

/** Returns the Docker v2s2 media type of a layer; zstd has none. */
export function toDockerLayerType(mt: string): string {
  if (mt.startsWith('application/vnd.docker.')) return mt;
  const d = LAYER_TO_DOCKER[mt];
  if (!d) throw new InvalidManifestError(`layer media type ${mt} has no Docker v2 schema 2 equivalent`, { hint: 'write the image in OCI format (zstd layers need OCI)' });
  return d;
}

/** Returns the OCI media type of a layer (Docker gzip → OCI gzip). */
export function toOciLayerType(mt: string): string {
  if (mt === MediaTypes.dockerLayerGzip) return MediaTypes.ociLayerGzip;
  if (mt === 'application/vnd.docker.image.rootfs.diff.tar') return MediaTypes.ociLayer;
  return mt;
}

function toDockerManifestType(mt: string): string {
  return mt === MediaTypes.ociManifest ? MediaTypes.dockerManifest : mt === MediaTypes.ociIndex ? MediaTypes.dockerManifestList : mt;
}
function toOciManifestType(mt: string): string {
  return mt === MediaTypes.dockerManifest ? MediaTypes.ociManifest : mt === MediaTypes.dockerManifestList ? MediaTypes.ociIndex : mt;
}

/** Returns the manifest rewritten with Docker v2s2 media types (a new document with a new digest). */
export function toDockerManifest(m: ImageManifest): ImageManifest {
  return buildManifest(m.config, m.layers, { format: 'docker' });
}

/** Returns the manifest rewritten with OCI media types. */
export function toOciManifest(m: ImageManifest): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: m.config.digest, size: m.config.size },
    layers: m.layers.map((l) => ({ ...l, mediaType: toOciLayerType(l.mediaType) })),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
}

/** Returns the compression a layer media type implies. */
export function layerCompression(mt: string): 'gzip' | 'zstd' | 'none' {
  if (mt.endsWith('+gzip') || mt.endsWith('.tar.gzip') || mt === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip') return 'gzip';
  if (mt.endsWith('+zstd') || mt.endsWith('.tar.zstd')) return 'zstd';
  return 'none';
}

/** Returns the platform recorded in a config. */
export function configPlatform(c: ImageConfig): Platform {
  return { os: c.os, architecture: c.architecture, ...(c.variant !== undefined ? { variant: c.variant } : {}) };
}
