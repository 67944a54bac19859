import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { MediaTypes, hostPlatform, type Abortable, type ContainerConfig, type Descriptor, type Digest, type Layer, type Platform } from '../core/index.js';
import { buildConfig, buildManifest, encodeDocument } from '../image/index.js';
import { normalizeTagName, type LayerStore } from '../store/index.js';
import { ingestTar } from './ingest.js';
import { ArchivePathError, checkInputFile } from './paths.js';
import { InvalidLayerError } from '../layer/index.js';

export interface ImportOptions extends Abortable {
  /** Platform recorded in the config (default: the host's). */
  readonly platform?: Platform;
  /** RFC 3339 creation time (default: now, or SOURCE_DATE_EPOCH when set). */
  readonly created?: string;
  /** Runtime config (Env, Cmd, …) of the new image. */
  readonly config?: ContainerConfig;
  /** History comment (default "Imported from <source>", as docker writes it). */
  readonly message?: string;
  /** What the tar came from, for the default comment: `-` (a file or stdin, as docker says) or a URL. Default `-`. */
  readonly source?: string;
  readonly gzipLevel?: number;
}

export interface ImportResult {
  readonly descriptor: Descriptor;
  readonly configDescriptor: Descriptor;
  /** The one layer (its blob and diffID). */
  readonly layer: Layer;
  /** The layer's diffID (= layer.diffId). */
  readonly diffId: Digest;
  /** The name given (normalised), or undefined for an unnamed image. */
  readonly name: string | undefined;
}

/**
 * Returns the one-layer image made from a root filesystem tar (plain or gzipped), like `docker import`:
 * the tar is gzipped into the store with its diffID and digest computed in one pass, then a config (host
 * platform, one history entry with docker's comment) and an OCI manifest are stored and tagged `name` (none: an
 * unnamed image, found by its ID). A bad name or a path that is missing or a directory fails (ArchivePathError)
 * before anything is stored; so does a file that is not a tar.
 */
export async function importRootfs(store: LayerStore, tarPath: string, name: string | undefined, o: ImportOptions = {}): Promise<ImportResult> {
  if (name !== undefined) normalizeTagName(name);
  await checkInputFile(tarPath, { verb: 'import', noun: 'rootfs tar', expect: 'import takes a root filesystem tar (plain or gzip), e.g. made with tar -C ROOTFS -cf rootfs.tar .' });
  return importRootfsStream(store, createReadStream(tarPath), tarPath, name, o);
}

/**
 * importRootfs reading the tar from a stream (e.g. stdin); `label` names the input in errors (`-` for stdin).
 * A stream that is not a tar fails (ArchivePathError) with nothing but unreferenced blobs left for gc.
 */
export async function importRootfsStream(store: LayerStore, input: Readable, label: string, name: string | undefined, o: ImportOptions = {}): Promise<ImportResult> {
  if (name !== undefined) normalizeTagName(name);
  const tarPath = label;
  let layer: Layer;
  try {
    layer = await ingestTar(store, input, o);
  } catch (e) {
    if (!(e instanceof InvalidLayerError) && (e as NodeJS.ErrnoException).code !== 'Z_DATA_ERROR' && (e as NodeJS.ErrnoException).code !== 'Z_BUF_ERROR') throw e;
    throw new ArchivePathError(tarPath, `not a tar archive: ${(e as Error).message}`,
      'import takes a root filesystem tar (plain or gzip), e.g. made with tar -C ROOTFS -cf rootfs.tar .; nothing was imported', { cause: e });
  }
  const epoch = process.env['SOURCE_DATE_EPOCH'];
  const created = o.created ?? (epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000).toISOString() : new Date().toISOString());
  const config = buildConfig({
    platform: o.platform ?? hostPlatform(),
    created,
    diffIds: [layer.diffId],
    ...(o.config ? { config: o.config } : {}),
    history: [{ created, comment: o.message || `Imported from ${o.source ?? '-'}` }],
  });
  const cfg = encodeDocument(config, MediaTypes.ociConfig);
  const configDescriptor = await store.putBytes(cfg.bytes, cfg.descriptor, o);
  const man = encodeDocument(buildManifest(configDescriptor, [layer]), MediaTypes.ociManifest);
  const descriptor = await store.putBytes(man.bytes, man.descriptor, o);
  if (name !== undefined) await store.tag(name, descriptor, o);
  else await store.tagMany([], descriptor, o);
  return { descriptor, configDescriptor, layer, diffId: layer.diffId, name: name !== undefined ? normalizeTagName(name) : undefined };
}
