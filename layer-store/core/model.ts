import type { Readable } from 'node:stream';
import type { Digest } from './digest.js';
import { InvalidManifestError } from './errors.js';

/** Every I/O call takes an optional AbortSignal. */
export interface Abortable {
  readonly signal?: AbortSignal | undefined;
}

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type MediaType = string;

/** True for an image manifest media type (OCI or Docker v2 schema 2). */
export function isManifestType(mt: string | undefined): boolean {
  return mt === MediaTypes.ociManifest || mt === MediaTypes.dockerManifest;
}

/** True for an image index media type (OCI index or Docker manifest list). */
export function isIndexType(mt: string | undefined): boolean {
  return mt === MediaTypes.ociIndex || mt === MediaTypes.dockerManifestList;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
}

export interface Descriptor {
  readonly mediaType: MediaType;
  readonly digest: Digest;
  /** Size in bytes of the referenced content. */
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly urls?: readonly string[];
  readonly artifactType?: string;
}

export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: MediaType;
  readonly artifactType?: string;
  readonly config: Descriptor;
  /** Layers, base first. */
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: MediaType;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The runtime part of an image config (OCI fields plus Docker's extensions). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

/**
 * A layer of an image, the one layer shape of every module (a packed layer, a cached step's layer, an ingested
 * tar, a pulled or saved image's layer): both identities are known up front. An image lists its layers base first.
 */
export interface Layer {
  /** Digest of the compressed blob (what registries verify and manifests list). */
  readonly digest: Digest;
  /** Digest of the uncompressed tar (what `rootfs.diff_ids` lists). */
  readonly diffId: Digest;
  /** Size in bytes of the compressed blob. */
  readonly size: number;
  readonly mediaType: MediaType;
}

/** Returns the manifest descriptor of a layer (its blob: digest, size, media type). */
export function layerDescriptor(l: Layer): Descriptor {
  return { mediaType: l.mediaType, digest: l.digest, size: l.size };
}

/**
 * Returns an image's layers, base first: each manifest layer with the config's diff_id at the same position.
 * Throws InvalidManifestError when the manifest and the config list different numbers of layers.
 */
export function imageLayers(manifest: ImageManifest, config: ImageConfig, ref?: string): Layer[] {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new InvalidManifestError(`the manifest lists ${manifest.layers.length} layers but the config ${diffIds.length} diff_ids`, ref ? { location: { ref } } : {});
  }
  return manifest.layers.map((d, i) => ({ digest: d.digest, diffId: diffIds[i]!, size: d.size, mediaType: d.mediaType }));
}

/** A manifest or index exactly as stored or received: the bytes are what the digest covers. */
export interface RawManifest {
  readonly mediaType: MediaType;
  readonly bytes: Uint8Array;
  readonly digest: Digest;
}

/**
 * A readable image location (local store, registry, archive). Implementations verify every byte
 * they return against its digest: a blob stream errors instead of ending when the content is wrong
 * (a source may check only the size when the caller says it verifies the digest itself: GetBlobOptions).
 */
export interface ImageSource {
  /** A human-readable reference for errors and progress. */
  readonly ref: string;
  /** Returns the manifest or index the reference names (or the one with `digest`). */
  getManifest(digest?: Digest, o?: Abortable): Promise<RawManifest>;
  /** Returns a verified stream of the blob's bytes (size-checked only when `o.digestCheckedByReader`, see there). */
  getBlob(d: Descriptor, o?: GetBlobOptions): Promise<Readable>;
  close(): Promise<void>;
}

/** Options of ImageSource.getBlob. */
export interface GetBlobOptions extends Abortable {
  /**
   * The reader checks the digest itself before it commits anything (copyImage: every ImageDestination's putBlob
   * verifies digest and size). A source may then skip hashing and check only the size (over it errors at once,
   * short of it errors at the end); a source that hashes anyway ignores it. Default false: digest-verified.
   */
  readonly digestCheckedByReader?: boolean;
}

/** Options of ImageDestination.putBlob. */
export interface PutBlobOptions extends Abortable {
  /** Returns the blob's bytes again, from byte 0 (a fresh stream each call). */
  readonly reopen?: () => Promise<Readable>;
}

/**
 * A writable image location. Call order is part of the contract: blobs (putBlob), then manifests
 * children first (putManifest), then commit(tags). Only commit makes anything visible by name;
 * a failure before commit leaves at most unreferenced blobs for garbage collection.
 */
export interface ImageDestination {
  readonly ref: string;
  /** Returns true when the destination already has this blob (it may then be skipped). */
  hasBlob(d: Descriptor, o?: Abortable): Promise<boolean>;
  /**
   * Stores the blob after verifying digest and size; on any error nothing is left behind. `o.reopen` gives the
   * bytes again from the start: a destination that lost a partial upload (a registry that dropped the session)
   * may restart with it.
   */
  putBlob(body: Readable, want: Descriptor, o?: PutBlobOptions): Promise<Descriptor>;
  putManifest(raw: RawManifest, o?: Abortable): Promise<void>;
  /**
   * Optional: told, before any of them is checked (hasBlob) or put, the blobs copyImage is about to copy for one
   * manifest, the manifest's own descriptor first. A store under a lease records them all in one lease write
   * instead of one per blob (leaseDestination).
   */
  willCopy?(blobs: readonly Descriptor[], o?: Abortable): Promise<void>;
  /** Makes the last manifest put visible under `tags` (for a registry, tags name the manifest PUT). */
  commit(tags: readonly string[], o?: Abortable): Promise<void>;
  close(): Promise<void>;
  /** True when it holds one image and no index (a docker-archive): copyImage then copies just the platform image. */
  readonly singleImage?: boolean;
}

/** What a helper command (mount, getfattr, cp…) returned. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/**
 * Runs short helper commands. runtime-exec's ShellRunner keeps one small shell that forks them, so a build step
 * does not fork this whole Node process for each; `input` is the command's stdin (default none). A missing
 * program rejects with an error whose `code` is 'ENOENT', as spawn does.
 */
export interface CommandRunner {
  run(cmd: string, args: readonly string[], o?: { readonly input?: string | Buffer; readonly cwd?: string }): Promise<CommandResult>;
}
