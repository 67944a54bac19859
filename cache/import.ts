/**
 * --cache-from: reads a cache artifact (see artifact.ts) lazily. Up front only the manifest and the records
 * JSON are fetched; a layer blob is downloaded when its step hits, and cache mounts when restoreMounts runs.
 */
import { randomUUID } from 'node:crypto';
import { chmod, lchown, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortedError,
  LayerStore,
  MediaTypes,
  TsbuildError,
  applyLayer,
  exists,
  isAttestationManifest,
  isDigest,
  noopLogger,
  normalizeTagName,
  type Abortable,
  type Descriptor,
  type Digest,
  type EventSink,
  type ImageManifest,
  type ImageSource,
  type Logger,
} from '../layer-store/index.js';
import {
  CACHE_ARTIFACT_TYPE,
  CACHE_MOUNT_DIFFID_ANNOTATION,
  CACHE_MOUNT_ID_ANNOTATION,
  CACHE_MOUNT_MEDIA_TYPE,
  CACHE_MOUNT_MODE_ANNOTATION,
  CACHE_MOUNT_OWNER_ANNOTATION,
  CACHE_RECORDS_MEDIA_TYPE,
  MAX_RECORDS_BYTES,
  cacheMountDirName,
  checkWireRecord,
} from './artifact.js';
import { CacheFetchError, CacheImportError } from './errors.js';
import { LOCAL_CACHE_TAG } from './export.js';
import { MAX_INLINE_CONFIG_BYTES, readInlineRecords } from './inline.js';
import type { CacheRecord } from './store.js';

export interface ImportCacheOptions extends Abortable {
  readonly logger?: Logger;
  readonly events?: EventSink;
}

/** A cache mount the artifact carries. */
export interface RemoteCacheMount {
  readonly id: string;
  readonly descriptor: Descriptor;
}

/** A cache mount restoreMounts wrote. */
export interface RestoredMount {
  readonly id: string;
  readonly dir: string;
}

const isAbort = (e: unknown): boolean => e instanceof AbortedError || (TsbuildError.is(e) && e.code === 'ABORTED') || (e instanceof Error && e.name === 'AbortError');

/**
 * An imported cache: the verified records (key → record) and the descriptors of the blobs they need, read
 * from `source` only on demand. Hold it for the duration of a build, then close() it.
 */
export class RemoteCache {
  readonly ref: string;
  /** The artifact's manifest. */
  readonly descriptor: Descriptor;
  /** The cache mounts the artifact carries (mode=max). */
  readonly mounts: readonly RemoteCacheMount[];
  readonly #src: ImageSource;
  readonly #records: Map<Digest, CacheRecord>;
  readonly #blobs: ReadonlyMap<Digest, Descriptor>;
  readonly #log: Logger;
  readonly #events: EventSink | undefined;
  readonly #inflight = new Map<Digest, Promise<void>>();
  readonly #warned = new Set<string>();

  /** @internal use importCache / importCacheFromDir. */
  constructor(init: {
    src: ImageSource; descriptor: Descriptor; records: Map<Digest, CacheRecord>; blobs: ReadonlyMap<Digest, Descriptor>;
    mounts: readonly RemoteCacheMount[]; log: Logger; events: EventSink | undefined;
  }) {
    this.#src = init.src;
    this.ref = init.src.ref;
    this.descriptor = init.descriptor;
    this.#records = init.records;
    this.#blobs = init.blobs;
    this.mounts = init.mounts;
    this.#log = init.log;
    this.#events = init.events;
  }

  /** Number of usable records. */
  get size(): number {
    return this.#records.size;
  }

  /** Returns the verified record for `key`, or undefined (a miss). No I/O. */
  get(key: Digest): CacheRecord | undefined {
    return this.#records.get(key);
  }

  /** Every usable record. */
  records(): IterableIterator<CacheRecord> {
    return this.#records.values();
  }

  #warnOnce(id: string, msg: string, data: Record<string, unknown>): void {
    if (this.#warned.has(id)) return;
    this.#warned.add(id);
    this.#log.warn(msg, data);
  }

  /**
   * Makes sure `store` holds the layer blob of `record` (a hit): downloads it from the source unless the store
   * has it, verifying digest and size on the way in (nothing is stored otherwise). A record without a layer needs
   * nothing. On failure the record is dropped from this cache (later get() misses), the failure is logged once,
   * and CacheFetchError is thrown: the builder treats the step as a miss. Concurrent calls share one download.
   */
  async fetchLayer(record: CacheRecord, store: LayerStore, o: Abortable = {}): Promise<void> {
    const l = record.result.layer;
    if (!l) return;
    if (await store.hasBlob(l.digest)) return;
    let p = this.#inflight.get(l.digest);
    if (!p) {
      p = this.#download(l.digest, store, o).finally(() => this.#inflight.delete(l.digest));
      this.#inflight.set(l.digest, p);
    }
    try {
      await p;
    } catch (e) {
      if (isAbort(e)) throw e;
      this.#records.delete(record.key);
      throw new CacheFetchError(this.ref, l.digest, { cause: e });
    }
  }

  async #download(digest: Digest, store: LayerStore, o: Abortable): Promise<void> {
    const d = this.#blobs.get(digest);
    if (!d) throw new CacheImportError(this.ref, `layer ${digest} is not part of the cache artifact`, { reason: 'invalid' });
    try {
      const body = await this.#src.getBlob(d, o);
      await store.putBlob(body, { mediaType: d.mediaType, digest: d.digest, size: d.size }, o);
      this.#events?.({ type: 'transfer', id: d.digest, op: 'pull', current: d.size, total: d.size, done: true });
    } catch (e) {
      if (!isAbort(e)) this.#warnOnce(digest, 'remote cache: a layer could not be fetched or did not verify; the step is rebuilt', { ref: this.ref, layer: digest, error: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  }

  /**
   * Restores each cache mount of the artifact into `<targetRoot>/<hash of id>` (the builder's
   * `<root>/cache-mounts` naming) when that directory does not exist yet; an existing directory is left alone.
   * Each is unpacked into a temp dir, diffID-verified, given its recorded mode and owner, then renamed into place.
   * A mount that fails is logged and skipped (never fatal). Returns the mounts restored.
   */
  async restoreMounts(targetRoot: string, o: Abortable = {}): Promise<RestoredMount[]> {
    const out: RestoredMount[] = [];
    for (const m of this.mounts) {
      const dir = join(targetRoot, cacheMountDirName(m.id));
      if (await exists(dir)) continue;
      const tmp = join(targetRoot, `.tmp-${cacheMountDirName(m.id)}-${randomUUID()}`);
      try {
        await mkdir(tmp, { recursive: true });
        const ann = m.descriptor.annotations ?? {};
        const diffId = ann[CACHE_MOUNT_DIFFID_ANNOTATION];
        const body = await this.#src.getBlob(m.descriptor, o);
        await applyLayer(body, tmp, { xattrs: false, ...(isDigest(diffId) ? { expectDiffId: diffId } : {}), ...(o.signal ? { signal: o.signal } : {}) });
        const mode = ann[CACHE_MOUNT_MODE_ANNOTATION];
        if (mode !== undefined && /^[0-7]{1,4}$/.test(mode)) await chmod(tmp, parseInt(mode, 8));
        const owner = /^(\d+):(\d+)$/.exec(ann[CACHE_MOUNT_OWNER_ANNOTATION] ?? '');
        if (owner && process.getuid?.() === 0) await lchown(tmp, Number(owner[1]), Number(owner[2]));
        try {
          await rename(tmp, dir);
          out.push({ id: m.id, dir });
        } catch (e) {
          // Someone created it meanwhile (ENOTEMPTY/EEXIST): theirs wins.
          if (!(await exists(dir))) throw e;
        }
        this.#events?.({ type: 'transfer', id: m.descriptor.digest, op: 'unpack', current: m.descriptor.size, total: m.descriptor.size, done: true });
      } catch (e) {
        if (isAbort(e)) throw e;
        this.#warnOnce(`mount:${m.id}`, 'remote cache: a cache mount could not be restored; it starts empty', { ref: this.ref, id: m.id, error: e instanceof Error ? e.message : String(e) });
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
    return out;
  }

  /** Closes the source. */
  async close(): Promise<void> {
    await this.#src.close();
  }
}

async function readAll(s: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s as AsyncIterable<Buffer | string>) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > max) throw new CacheImportError('records', `the records blob exceeds ${max} bytes`, { reason: 'invalid' });
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * Imports the cache artifact `src` names: fetches its manifest and records JSON (nothing else), keeps the records
 * whose key equals stepKey(inputs) and whose layer the artifact carries (others are skipped and logged once),
 * and returns a RemoteCache that fetches layer blobs on demand. Any failure to read (registry down, denied,
 * not found, not a tsbuild cache) rejects with CacheImportError (code REGISTRY, `reason` set, the source's
 * error as cause): the builder turns it into a warning and builds without the remote cache.
 */
export async function importCache(src: ImageSource, o: ImportCacheOptions = {}): Promise<RemoteCache> {
  const log = o.logger ?? noopLogger;
  const ab = o.signal ? { signal: o.signal } : {};
  let raw;
  try {
    raw = await src.getManifest(undefined, ab);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new CacheImportError(src.ref, e instanceof Error ? e.message : String(e), { cause: e });
  }
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(Buffer.from(raw.bytes).toString('utf8')) as ImageManifest;
  } catch (e) {
    throw new CacheImportError(src.ref, 'the manifest is not JSON', { reason: 'invalid', cause: e });
  }
  // An image index of one image and its attestations (buildx's default provenance on a pushed image): the image.
  const children = (manifest as { manifests?: Descriptor[] }).manifests;
  const images = Array.isArray(children) ? children.filter((m) => !isAttestationManifest(m)) : [];
  if (images.length === 1 && children!.length > 1 && isDigest(images[0]!.digest)) {
    try {
      raw = await src.getManifest(images[0]!.digest, ab);
      manifest = JSON.parse(Buffer.from(raw.bytes).toString('utf8')) as ImageManifest;
    } catch (e) {
      if (isAbort(e)) throw e;
      throw new CacheImportError(src.ref, e instanceof Error ? e.message : String(e), { cause: e });
    }
  }
  const isCache = manifest?.schemaVersion === 2 && (manifest.artifactType === CACHE_ARTIFACT_TYPE || manifest.config?.mediaType === CACHE_ARTIFACT_TYPE);
  if (!isCache && manifest?.schemaVersion === 2 && IMAGE_CONFIG_TYPES.has(manifest.config?.mediaType) && Array.isArray(manifest.layers)) {
    return importInline(src, manifest, raw, log, o);
  }
  if (!isCache && (manifest?.mediaType === MediaTypes.ociIndex || manifest?.mediaType === MediaTypes.dockerManifestList)) {
    throw new CacheImportError(src.ref, 'it is a multi-platform image index; inline cache is read from one image: name that platform\'s manifest (REPO@sha256:…)', { reason: 'invalid' });
  }
  if (!isCache || !Array.isArray(manifest.layers)) {
    throw new CacheImportError(src.ref, `it is not a tsbuild cache (artifactType ${JSON.stringify(manifest?.artifactType ?? manifest?.mediaType ?? null)})`, { reason: 'invalid' });
  }
  const recordsDesc = manifest.layers.find((l) => l?.mediaType === CACHE_RECORDS_MEDIA_TYPE);
  if (!recordsDesc || !isDigest(recordsDesc.digest) || typeof recordsDesc.size !== 'number' || recordsDesc.size > MAX_RECORDS_BYTES) {
    throw new CacheImportError(src.ref, 'the artifact has no usable records layer', { reason: 'invalid' });
  }
  let doc: { v?: unknown; records?: unknown };
  try {
    const bytes = await readAll(await src.getBlob(recordsDesc, ab), MAX_RECORDS_BYTES);
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch (e) {
    if (isAbort(e)) throw e;
    if (e instanceof CacheImportError) throw e;
    throw new CacheImportError(src.ref, `cannot read the records: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || doc.v !== 1 || !Array.isArray(doc.records)) {
    throw new CacheImportError(src.ref, 'the records document is not version 1', { reason: 'invalid' });
  }
  const blobs = new Map<Digest, Descriptor>();
  const mounts: RemoteCacheMount[] = [];
  for (const l of manifest.layers) {
    if (!l || !isDigest(l.digest) || typeof l.size !== 'number') continue;
    if (l.mediaType === CACHE_MOUNT_MEDIA_TYPE) {
      const id = l.annotations?.[CACHE_MOUNT_ID_ANNOTATION];
      if (typeof id === 'string' && id !== '') mounts.push({ id, descriptor: l });
    } else if (l.mediaType !== CACHE_RECORDS_MEDIA_TYPE) {
      blobs.set(l.digest, l);
    }
  }
  const records = new Map<Digest, CacheRecord>();
  let skipped = 0;
  for (const x of doc.records) {
    const c = checkWireRecord(x);
    if (!c.ok) {
      skipped++;
      log.warn('remote cache: skipping an invalid record; that step will not hit', { ref: src.ref, key: c.key, why: c.why });
      continue;
    }
    const l = c.rec.result.layer;
    const d = l ? blobs.get(l.digest) : undefined;
    if (l && (!d || d.size !== l.size)) {
      skipped++;
      log.warn('remote cache: skipping a record whose layer the artifact does not carry', { ref: src.ref, key: c.rec.key, layer: l.digest });
      continue;
    }
    records.set(c.rec.key, c.rec);
  }
  const descriptor: Descriptor = { mediaType: raw.mediaType || MediaTypes.ociManifest, digest: raw.digest, size: raw.bytes.length };
  o.events?.({ type: 'info', message: `imported ${records.size} cache records from ${src.ref}${skipped ? ` (${skipped} invalid skipped)` : ''}`, data: { digest: raw.digest, mounts: mounts.length } });
  return new RemoteCache({ src, descriptor, records, blobs, mounts, log, events: o.events });
}

const IMAGE_CONFIG_TYPES = new Set<string | undefined>([MediaTypes.ociConfig, MediaTypes.dockerConfig]);

/**
 * --cache-from type=registry,ref=IMAGE where IMAGE was built with --cache-to type=inline: the records are in the
 * image's config (inline.ts) and their layers are the image's layers, fetched on a hit like any remote layer.
 */
async function importInline(src: ImageSource, manifest: ImageManifest, raw: { bytes: Uint8Array; digest: Digest; mediaType: string }, log: Logger, o: ImportCacheOptions): Promise<RemoteCache> {
  const ab = o.signal ? { signal: o.signal } : {};
  let config: unknown;
  try {
    if (!isDigest(manifest.config.digest) || typeof manifest.config.size !== 'number' || manifest.config.size > MAX_INLINE_CONFIG_BYTES) {
      throw new CacheImportError(src.ref, 'the image config is missing or too large for an inline cache', { reason: 'invalid' });
    }
    const bytes = await readAll(await src.getBlob(manifest.config, ab), MAX_INLINE_CONFIG_BYTES);
    config = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    if (isAbort(e)) throw e;
    if (e instanceof CacheImportError) throw e;
    throw new CacheImportError(src.ref, `cannot read the image config: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const { records, blobs, skipped } = readInlineRecords(src.ref, config, manifest.layers);
  for (const s of skipped) log.warn('inline cache: skipping an invalid record; that step will not hit', { ref: src.ref, key: s.key, why: s.why });
  const descriptor: Descriptor = { mediaType: raw.mediaType || MediaTypes.ociManifest, digest: raw.digest, size: raw.bytes.length };
  o.events?.({ type: 'info', message: `imported ${records.size} inline cache records from ${src.ref}${skipped.length ? ` (${skipped.length} invalid skipped)` : ''}`, data: { digest: raw.digest } });
  return new RemoteCache({ src, descriptor, records, blobs, mounts: [], log, events: o.events });
}

/**
 * --cache-from type=local,src=DIR: imports the artifact tagged `cache` in the OCI layout at `dir` (as written by
 * exportCacheToDir). A missing directory rejects with CacheImportError (reason not-found), like a missing tag.
 */
export async function importCacheFromDir(dir: string, o: ImportCacheOptions = {}): Promise<RemoteCache> {
  if (!(await exists(join(dir, 'oci-layout'))) || !(await exists(join(dir, 'index.json')))) {
    throw new CacheImportError(dir, 'no OCI layout there', { reason: 'not-found' });
  }
  let layout: LayerStore;
  try {
    layout = await LayerStore.open(dir, o.logger ? { logger: o.logger } : {});
  } catch (e) {
    throw new CacheImportError(dir, 'cannot open the OCI layout', { cause: e });
  }
  // Found through index.json directly: resolving by name would parse the (empty) config as an image config.
  const want = new Set([LOCAL_CACHE_TAG, normalizeTagName(LOCAL_CACHE_TAG)]);
  let entry: Descriptor | undefined;
  try {
    entry = (await layout.listImages()).find((e) => e.names.some((n) => want.has(n)))?.descriptor;
  } catch (e) {
    throw new CacheImportError(dir, 'cannot read the OCI layout\'s index.json', { cause: e });
  }
  if (!entry) throw new CacheImportError(dir, `the OCI layout has no image tagged ${LOCAL_CACHE_TAG}`, { reason: 'not-found' });
  const top = entry.digest;
  const src = layout.source(top);
  return importCache({ ref: dir, getManifest: (d, a) => src.getManifest(d ?? top, a), getBlob: (d, a) => src.getBlob(d, a), close: () => src.close() }, o);
}
