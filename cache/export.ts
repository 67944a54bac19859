/**
 * --cache-to: writes cache records, the layer blobs they reference and (mode=max) cache-mount contents
 * as one OCI artifact (see artifact.ts) to any ImageDestination: a registry repository or an OCI layout.
 */
import { lstat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  AbortedError,
  LayerStore,
  MediaTypes,
  TsbuildError,
  digestOf,
  mapLimit,
  noopLogger,
  packLayer,
  throwIfAborted,
  type Abortable,
  type Descriptor,
  type EventSink,
  type ImageDestination,
  type ImageManifest,
  type Logger,
} from '../layer-store/index.js';
import {
  CACHE_ARTIFACT_TYPE,
  CACHE_MODE_ANNOTATION,
  CACHE_MOUNT_DIFFID_ANNOTATION,
  CACHE_MOUNT_ID_ANNOTATION,
  CACHE_MOUNT_MEDIA_TYPE,
  CACHE_MOUNT_MODE_ANNOTATION,
  CACHE_MOUNT_OWNER_ANNOTATION,
  CACHE_RECORDS_MEDIA_TYPE,
  EMPTY_CONFIG_BYTES,
  toWire,
  type RecordsDocument,
} from './artifact.js';
import { CacheExportError } from './errors.js';
import type { CacheRecord } from './store.js';

/** A RUN --mount=type=cache directory to export: its id (as written, or the target) and its directory on disk. */
export interface CacheMountSource {
  readonly id: string;
  readonly dir: string;
}

export interface ExportCacheOptions extends Abortable {
  /**
   * 'min': the caller passes only the records of the final image's chain; cache mounts are not exported.
   * 'max': the caller passes every record the build created or used (all stages); `cacheMounts` are exported.
   */
  readonly mode: 'min' | 'max';
  /** Cache-mount directories to pack (mode=max only; a directory that does not exist is skipped). */
  readonly cacheMounts?: readonly CacheMountSource[];
  /** Tags commit() gives the artifact. Default []: a registry destination then uses its reference's tag. */
  readonly tags?: readonly string[];
  /** Blob uploads at once (default 4). */
  readonly concurrency?: number;
  readonly events?: EventSink;
  readonly logger?: Logger;
}

/**
 * Exports `records` as a cache artifact to `dst` and returns the manifest's descriptor. Call order follows the
 * ImageDestination contract: every blob (layers read from `store`, mount layers packed into `store`, the
 * records JSON, the empty config), then the manifest, then commit(tags). Blobs `dst` already has are skipped.
 * A record whose layer blob is no longer in `store` is left out (logged). Records are deduplicated by key.
 */
export async function exportCache(records: readonly CacheRecord[], store: LayerStore, dst: ImageDestination, o: ExportCacheOptions): Promise<Descriptor> {
  const log = o.logger ?? noopLogger;
  const signal = o.signal;
  try {
    throwIfAborted(signal);
    // 1. The records to export, and the layers they need.
    const byKey = new Map<string, CacheRecord>();
    for (const r of records) byKey.set(r.key, r);
    const kept: CacheRecord[] = [];
    const layers = new Map<string, Descriptor>();
    for (const r of [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      const l = r.result.layer;
      if (l && !layers.has(l.digest)) {
        if (!(await store.hasBlob(l.digest))) {
          log.warn('cache export: leaving out a record whose layer is no longer stored', { key: r.key, layer: l.digest });
          continue;
        }
        layers.set(l.digest, { mediaType: l.mediaType, digest: l.digest, size: l.size });
      }
      kept.push(r);
    }
    // 2. Cache mounts (mode=max): packed into the store first, so their digests are known before upload.
    const mounts: Descriptor[] = [];
    if (o.mode === 'max') {
      const seen = new Set<string>();
      for (const m of o.cacheMounts ?? []) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        const d = await packMount(m, store, o);
        if (d) mounts.push(d);
        else log.debug('cache export: cache mount has no directory yet; skipped', { id: m.id, dir: m.dir });
      }
    }
    // 3. Records JSON and the empty config.
    const doc: RecordsDocument = { v: 1, records: kept.map(toWire) };
    const recordsBytes = Buffer.from(JSON.stringify(doc));
    const recordsDesc: Descriptor = { mediaType: CACHE_RECORDS_MEDIA_TYPE, digest: digestOf(recordsBytes), size: recordsBytes.length };
    const configDesc: Descriptor = { mediaType: MediaTypes.ociEmpty, digest: digestOf(EMPTY_CONFIG_BYTES), size: EMPTY_CONFIG_BYTES.length };
    // 4. Blobs first.
    const fromStore = [...layers.values(), ...mounts];
    await mapLimit(fromStore, o.concurrency ?? 4, async (d) => {
      await upload(dst, d, () => store.openBlob(d, signal ? { signal } : {}), o);
    });
    await upload(dst, recordsDesc, () => Readable.from([recordsBytes]), o);
    await upload(dst, configDesc, () => Readable.from([EMPTY_CONFIG_BYTES]), o);
    // 5. Then the manifest, then the tags.
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: CACHE_ARTIFACT_TYPE,
      config: configDesc,
      layers: [recordsDesc, ...layers.values(), ...mounts],
      annotations: { [CACHE_MODE_ANNOTATION]: o.mode },
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const desc: Descriptor = { mediaType: MediaTypes.ociManifest, digest: digestOf(bytes), size: bytes.length, artifactType: CACHE_ARTIFACT_TYPE };
    await dst.putManifest({ mediaType: MediaTypes.ociManifest, bytes, digest: desc.digest }, signal ? { signal } : {});
    await dst.commit(o.tags ?? [], signal ? { signal } : {});
    o.events?.({ type: 'info', message: `exported ${kept.length} cache records, ${layers.size} layers and ${mounts.length} cache mounts to ${dst.ref}`, data: { digest: desc.digest, mode: o.mode } });
    return desc;
  } catch (e) {
    if (e instanceof AbortedError || (TsbuildError.is(e) && e.code === 'ABORTED')) throw e;
    if (signal?.aborted) throw new AbortedError({ cause: e });
    throw new CacheExportError(dst.ref, TsbuildError.is(e) || e instanceof Error ? e.message : String(e), { cause: e });
  }
}

async function upload(dst: ImageDestination, d: Descriptor, open: () => Readable, o: ExportCacheOptions): Promise<void> {
  const ab = o.signal ? { signal: o.signal } : {};
  if (await dst.hasBlob(d, ab)) return;
  await dst.putBlob(open(), d, ab);
  o.events?.({ type: 'transfer', id: d.digest, op: 'push', current: d.size, total: d.size, done: true });
}

/** Packs one cache-mount directory into `store` as a gzip layer; undefined when the directory does not exist. */
async function packMount(m: CacheMountSource, store: LayerStore, o: ExportCacheOptions): Promise<Descriptor | undefined> {
  let st;
  try {
    st = await lstat(m.dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (!st.isDirectory()) return undefined;
  const packed = await packLayer(m.dir, {
    sink: (s) => store.putBlob(s, { mediaType: CACHE_MOUNT_MEDIA_TYPE }, o.signal ? { signal: o.signal } : {}),
    compression: 'gzip',
    xattrs: false,
    signal: o.signal,
    events: o.events,
    id: `cache-mount ${m.id}`,
  });
  return {
    mediaType: CACHE_MOUNT_MEDIA_TYPE,
    digest: packed.digest,
    size: packed.size,
    annotations: {
      [CACHE_MOUNT_ID_ANNOTATION]: m.id,
      [CACHE_MOUNT_DIFFID_ANNOTATION]: packed.diffId,
      [CACHE_MOUNT_MODE_ANNOTATION]: (st.mode & 0o7777).toString(8).padStart(4, '0'),
      [CACHE_MOUNT_OWNER_ANNOTATION]: `${st.uid}:${st.gid}`,
    },
  };
}

/**
 * --cache-to type=local,dest=DIR: exports into an OCI image layout at `dir` (created if missing), tagged `cache`
 * (index.json names it docker.io/library/cache:latest: `skopeo inspect oci:DIR:docker.io/library/cache:latest`).
 * The previous export in `dir` and the blobs only it referenced are garbage-collected afterwards.
 */
export async function exportCacheToDir(records: readonly CacheRecord[], store: LayerStore, dir: string, o: Omit<ExportCacheOptions, 'tags'>): Promise<Descriptor> {
  let layout: LayerStore;
  try {
    layout = await LayerStore.open(dir, o.logger ? { logger: o.logger } : {});
  } catch (e) {
    throw new CacheExportError(dir, 'cannot create the OCI layout', { cause: e });
  }
  const desc = await exportCache(records, store, layout.destination(), { ...o, tags: [LOCAL_CACHE_TAG] });
  // The previous export (now untagged) and blobs only it used are dropped, so the directory does not grow.
  try {
    await layout.gc(o.signal ? { signal: o.signal } : {});
  } catch (e) {
    (o.logger ?? noopLogger).warn('cache export: could not remove the previous export from the directory', { dir, error: e instanceof Error ? e.message : String(e) });
  }
  return desc;
}

/** The tag a local cache directory's artifact carries. */
export const LOCAL_CACHE_TAG = 'cache';
