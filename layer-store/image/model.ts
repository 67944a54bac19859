import {
  InvalidManifestError, MediaTypes, digestOf, hostPlatform,
  type ContainerConfig, type Descriptor, type Digest, type HistoryEntry, type ImageConfig, type ImageIndex,
  type ImageManifest, type Layer, type Platform, type RawManifest,
} from '../core/index.js';

// Reading documents (parseManifest, parseConfig, parseJson and their limits) is layer-store/core's document.ts.

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
