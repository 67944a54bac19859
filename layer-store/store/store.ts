/**
 * The image store under `--root`: an OCI image layout, readable in place by skopeo and umoci. `LayerStore` is
 * the one object other modules hold; it is a thin facade whose methods delegate to one file per concept:
 *
 *   layout.ts        every path under the root (StoreLayout, `store.layout`), with the whole tree and its owners
 *   blobs.ts         blobs/sha256: verified, atomic, idempotent writes; verified reads
 *   file-hasher.ts   SHA-256 of a big download from its temp file, on a worker behind the writer
 *   image-index.ts   index.json: locked read-modify-write, tags, untag, remove
 *   closure.ts       what an image references (tagging checks it, gc keeps it)
 *   resolve.ts       a user's reference → a stored image or index
 *   snapshot.ts      snapshots/<diffID hex>: unpacked layers shared by every image
 *   gc.ts, fsck.ts   what prune removes; what fsck checks and repairs
 *   views.ts         ImageSource / ImageDestination over the store, for copyImage
 *   lease.ts         leases of running builds and pulls, which gc respects
 *   atomic-write.ts  temp → fsync → rename writes
 *
 * Tags: each tagged entry of index.json carries the full normalised name, docker-style
 * (`busybox` → `docker.io/library/busybox:latest`), in both `org.opencontainers.image.ref.name` and
 * `io.containerd.image.name`. A name therefore appears in other tools as:
 *
 *   skopeo inspect oci:<root>:docker.io/library/busybox:latest
 *   skopeo copy    oci:<root>:docker.io/library/busybox:latest docker-archive:/tmp/b.tar
 *   umoci unpack --image <root>:docker.io/library/busybox:latest BUNDLE
 *
 * (skopeo and umoci split the reference at the first `:` after the path, so the name may contain `:`;
 * the path itself must not contain `:`.) Images whose last name was replaced by `tag` stay as unnamed
 * entries (dangling, `<none>:<none>`) until `gc` removes them.
 *
 * Crash safety: blobs are written to a temp file in the blob dir, hashed while streaming, verified, fsynced
 * and renamed; index.json is rewritten (temp, fsync, rename, fsync dir) only under the lock. A crash leaves
 * at most unreferenced blobs and temp files, which `gc` removes.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  MediaTypes, noopLogger,
  type Abortable, type Descriptor, type Digest, type ImageDestination, type ImageIndex, type ImageSource, type Logger, type Platform,
} from '../core/index.js';
import { configPlatform } from '../image/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { blobSize, openBlob, openBlobRanges, putBlob, putBytes, readBlob, type BlobRanges, type ReadBlobOptions } from './blobs.js';
import { references, type ReferencesOptions } from './closure.js';
import { checkStore, hashBlobs, type FsckOptions, type FsckReport } from './fsck.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import { ImageIndexFile, type ImageEntry } from './image-index.js';
import { FileHasher } from './file-hasher.js';
import { StoreLayout } from './layout.js';
import { staleLockHolder } from './lock.js';
import { imageFor, loadObject, resolveRef, type StoredImage, type StoredObject } from './resolve.js';
import { createSnapshot, installSnapshot, takeSnapshot, type SnapshotOptions } from './snapshot.js';
import { withLeasesHeld } from './lease.js';
import { storeDestination, storeSource } from './views.js';

export interface StoreOptions {
  readonly logger?: Logger;
  /** Milliseconds to wait for the index lock (default 60 000). */
  readonly lockTimeoutMs?: number;
  /**
   * For a new store: return once its directories exist, and write `oci-layout` and `index.json` (durably, as
   * always) behind; every index.json update waits for them, so nothing is named before they are on disk. For a
   * command that writes blobs first (the CLI's pull: its downloads start while the files are synced). Default false.
   */
  readonly layoutFilesBehind?: boolean;
}

export class LayerStore {
  /** Every path under the root: ask it, never join under `root` by hand. */
  readonly layout: StoreLayout;
  /** The root, absolute (= layout.root). */
  readonly root: string;
  readonly logger: Logger;
  readonly #index: ImageIndexFile;
  /** Snapshots this process has found or made, by diffID (see snapshot()). */
  readonly #snapshots = new Map<Digest, string>();
  /** Hashes big unverified downloads from their temp files, on a worker started on first use (file-hasher.ts). */
  readonly #hasher = new FileHasher();

  private constructor(root: string, o: StoreOptions) {
    this.layout = new StoreLayout(root);
    this.root = this.layout.root;
    this.logger = o.logger ?? noopLogger;
    this.#index = new ImageIndexFile(this.layout, o.lockTimeoutMs ?? 60_000);
  }

  /** Returns the store at `root`, creating the OCI layout (oci-layout, index.json, blobs/sha256) if missing. */
  static async open(root: string, o: StoreOptions = {}): Promise<LayerStore> {
    const s = new LayerStore(root, o);
    if (s.#complete()) return s;
    // A new (or incomplete) store: its directories and existence checks are synchronous calls of microseconds;
    // only the files' fsyncs go to the thread pool (a fresh pull waited on ~6 pool round trips in a row here).
    mkdirSync(s.layout.blobsDir, { recursive: true });
    mkdirSync(s.layout.snapshotsDir, { recursive: true });
    // A new store's two files are written side by side: each is durable (fsync, rename, fsync of the root) as
    // before, but their syncs wait together (a fresh pull's store, 4 fsyncs one after another before).
    const layoutFile = s.layout.ociLayoutFile;
    const writeLayout = async (): Promise<void> => {
      if (!existsSync(layoutFile)) await writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    };
    const files = Promise.all([writeLayout(), s.#index.ensureExists()]).then(() => undefined);
    if (o.layoutFilesBehind) s.#index.after(files);
    else await files;
    return s;
  }

  /**
   * Whether the layout open() makes is all there already (the blob and snapshot dirs, oci-layout, index.json),
   * so open has nothing to do. Four synchronous stat calls: a command that reads no blob (images on an empty
   * store) then never loads node:fs/promises nor starts libuv's thread pool (~2 ms of its start, cli/README.md
   * Start-up). Anything missing or in doubt: the full open, as before.
   */
  #complete(): boolean {
    try {
      return statSync(this.layout.blobsDir).isDirectory() && statSync(this.layout.snapshotsDir).isDirectory()
        && statSync(this.layout.ociLayoutFile, { throwIfNoEntry: false }) !== undefined && statSync(this.layout.indexFile, { throwIfNoEntry: false }) !== undefined;
    } catch {
      return false;
    }
  }

  /** `<root>/blobs/sha256` (= layout.blobsDir). */
  get blobsDir(): string {
    return this.layout.blobsDir;
  }
  /** `<root>/snapshots` (= layout.snapshotsDir). */
  get snapshotsDir(): string {
    return this.layout.snapshotsDir;
  }
  /** Markers of snapshots written without a sync (snapshot.ts; = layout.unsyncedDir). */
  get unsyncedDir(): string {
    return this.layout.unsyncedDir;
  }
  /** `<root>/index.json` (= layout.indexFile). */
  get indexPath(): string {
    return this.layout.indexFile;
  }
  /** Returns the path of a blob (whether or not it exists). */
  blobPath(d: Digest): string {
    return this.layout.blobPath(d);
  }

  // ---------------------------------------------------------------- blobs (blobs.ts)

  /**
   * Returns the descriptor of the stored blob after streaming `body` into a temp file in the blob dir,
   * hashing every byte, checking `want.digest`/`want.size` when given, fsyncing and renaming into place.
   * On any failure (mismatch, stream error, abort) the temp file is removed and nothing is left behind.
   * A blob already present with that digest (and size) is success without reading `body`. A big body not verified
   * already (a download copyImage asked for unhashed) is hashed from its temp file on a worker (blobs.ts).
   */
  putBlob(body: Readable, want: Partial<Descriptor> = {}, o: Abortable = {}): Promise<Descriptor> {
    return putBlob(this.layout, body, want, { ...o, hasher: this.#hasher });
  }

  /** Returns the descriptor of `bytes` stored as a blob (verified against `want` like putBlob). */
  putBytes(bytes: Uint8Array, want: Partial<Descriptor> = {}, o: Abortable = {}): Promise<Descriptor> {
    return putBytes(this.layout, bytes, want, o);
  }

  /**
   * Opens blob `d` for positioned reads (e.g. segments of an earlier layer to reuse). Rejects when it is not
   * stored. The bytes are not verified here: a reader checks what it takes (see layer-store/layer/gzip-segments.ts).
   */
  openBlobRanges(d: Digest): Promise<BlobRanges> {
    return openBlobRanges(this.layout, d);
  }

  /** Returns true when the blob file exists (content is rechecked on every read). */
  async hasBlob(d: Digest): Promise<boolean> {
    return blobSize(this.layout, d) !== undefined;
  }

  /**
   * Returns a stream of the blob's bytes that errors (DigestMismatchError/SizeMismatchError) instead of
   * ending when the stored content does not match `d`. A missing blob errors with BlobNotFoundError.
   */
  openBlob(d: Digest | Descriptor, o: Abortable = {}): Readable {
    return openBlob(this.layout, d, o);
  }

  /**
   * Returns the whole blob, verified against its digest; refuses blobs over `maxBytes` (default: the limit of
   * document `kind` when given, with the document readers' error, else MAX_DOCUMENT_BYTES, 8 MiB).
   */
  readBlob(d: Digest, o: ReadBlobOptions = {}): Promise<Buffer> {
    return readBlob(this.layout, d, o);
  }

  // ---------------------------------------------------------------- index.json and tags (image-index.ts)

  /** Returns the current index.json (an empty index when the file is missing). */
  readIndex(): Promise<ImageIndex> {
    return this.#index.read();
  }

  /**
   * Applies `fn` to index.json under the lock and writes the result atomically (temp, fsync, rename).
   * Returns what `fn` returned.
   */
  updateIndex<T>(fn: (manifests: Descriptor[]) => Promise<T> | T, o: Abortable = {}): Promise<T> {
    return this.#index.update(fn, o);
  }

  /** Returns each distinct top-level object of index.json (in index order) with its names. */
  listImages(): Promise<ImageEntry[]> {
    return this.#index.list();
  }

  /**
   * Points `name` (normalised docker-style) at `desc`, which must be stored with everything it references.
   * An image whose last name moves away stays as a dangling (unnamed) entry until gc.
   */
  async tag(name: string, desc: Descriptor, o: Abortable = {}): Promise<void> {
    await this.#index.tagMany([name], desc, o);
  }

  /** True when `names` is not empty and every one of them already names `digest` in index.json. */
  namesPointAt(names: readonly string[], digest: Digest): Promise<boolean> {
    return this.#index.namesPointAt(names, digest);
  }

  /** Points every name in `names` at `desc` in one index update (an empty list records `desc` unnamed). */
  tagMany(names: readonly string[], desc: Descriptor, o: Abortable = {}): Promise<void> {
    return this.#index.tagMany(names, desc, o);
  }

  /** Removes the name; returns false when no such name existed. The image's blobs stay until gc. */
  untag(name: string, o: Abortable = {}): Promise<boolean> {
    return this.#index.untag(name, o);
  }

  /**
   * Removes an image by name (that name only) or by digest/ID (every name and entry of it).
   * Returns the names and digests removed. Blobs stay until gc.
   */
  async remove(ref: string, o: Abortable & { force?: boolean } = {}): Promise<{ untagged: string[]; deleted: Digest[] }> {
    return this.#index.remove(ref, await this.resolve(ref), o);
  }

  /**
   * Returns the digests `desc` references, itself included (index → children → config + layers).
   * With tolerateMissing, missing or unreadable children are skipped instead of failing.
   */
  references(desc: Descriptor, o: ReferencesOptions = {}): Promise<Set<Digest>> {
    return references(this.layout, desc, o);
  }

  // ---------------------------------------------------------------- resolve (resolve.ts)

  /**
   * Returns the stored image or index that `ref` names: a tag name (docker-style normalisation,
   * `busybox` = `docker.io/library/busybox:latest`), `name@sha256:…`, a manifest/index digest, an image ID
   * (config digest) or a unique hex prefix of an ID or digest (at least 4 characters).
   */
  async resolve(ref: string, o: Abortable = {}): Promise<StoredObject> {
    return resolveRef(this.layout, await this.listImages(), ref, o);
  }

  /** Returns the parsed manifest (with config) or index that `desc` points at. */
  load(desc: Descriptor, names: readonly string[] = []): Promise<StoredObject> {
    return loadObject(this.layout, desc, names);
  }

  /**
   * Returns the image `ref` names; for an index, the child for `platform` (default: the host's, or the
   * only child). Throws ImageNotFoundError when no child matches.
   */
  async image(ref: string, o: { platform?: Platform } = {}): Promise<StoredImage> {
    return imageFor(this.layout, await this.resolve(ref), ref, o.platform);
  }

  /** Returns the platform of a stored image. */
  platformOf(img: StoredImage): Platform {
    return configPlatform(img.config);
  }

  // ---------------------------------------------------------------- snapshots (snapshot.ts)

  /**
   * Returns `<root>/snapshots/<diffId hex>`, the unpacked layer (created once, diffID-verified, shared by
   * every image that uses the layer). Do not modify it: use it as an overlay lower dir.
   */
  async snapshot(diffId: Digest, o: SnapshotOptions = {}): Promise<string> {
    // Checked once per process (a build asks for every parent layer at every step); that the directory is still
    // there (another process's gc) is a cheap synchronous stat.
    const known = this.#snapshots.get(diffId);
    if (known !== undefined) {
      try {
        if (statSync(known).isDirectory()) return known;
      } catch {
        // removed meanwhile
      }
      this.#snapshots.delete(diffId);
    }
    const p = await createSnapshot(this, diffId, o);
    this.#snapshots.set(diffId, p);
    return p;
  }

  /** The snapshot of `diffId` when it is already unpacked (and trusted), else undefined: never unpacks. */
  async existingSnapshot(diffId: Digest): Promise<string | undefined> {
    if (!statSync(this.layout.snapshotPath(diffId), { throwIfNoEntry: false })?.isDirectory()) return undefined;
    return this.snapshot(diffId).catch(() => undefined);
  }

  /**
   * Moves the finished tree `dir` (e.g. a step's overlay upper dir, already packed into the layer `diffId`) into
   * place as that layer's snapshot. When the snapshot exists already, it is kept and `dir` stays the caller's.
   */
  async installSnapshot(dir: string, diffId: Digest): Promise<string> {
    mkdirSync(this.layout.snapshotsDir, { recursive: true });
    const p = await installSnapshot(this, dir, diffId);
    this.#snapshots.set(diffId, p);
    return p;
  }

  /**
   * Returns true after moving the snapshot of `diffId` out of the store to `dest` (not existing, same filesystem),
   * for the caller to change; false, leaving it, when it is missing, from an earlier boot, or named by a live
   * lease (checked under the lease lock). Whoever needs `diffId` next unpacks it again from its blob.
   */
  async takeSnapshot(diffId: Digest, dest: string, o: Abortable = {}): Promise<boolean> {
    const taken = await withLeasesHeld(this.root, async (live) => takeSnapshot(this, diffId, dest, live.snapshots), o);
    if (taken) this.#snapshots.delete(diffId);
    return taken;
  }

  // ---------------------------------------------------------------- gc (gc.ts) and fsck (fsck.ts)

  /**
   * Returns what was removed after deleting dangling (unnamed) images from index.json, then every blob
   * and snapshot not reachable from a named image, `o.roots` or a live lease (lease.ts), and temp files older
   * than an hour. Runs under the index lock and the lease lock (so no lease gains a resource meanwhile);
   * leases of dead processes are deleted. A blob modified since the oldest live lease was created is kept
   * (it may be a layer a running build has packed but not yet leased). A layer shared by two images stays
   * while either is named.
   */
  gc(o: GcOptions = {}): Promise<GcReport> {
    return collectGarbage({ layout: this.layout, index: this.#index, logger: this.logger, forgetSnapshot: (d) => this.#snapshots.delete(d) }, o);
  }

  /**
   * Returns what fsck found (see fsck.ts for every check): corrupt blobs (re-hashed), index.json entries whose
   * closure is missing, corrupt or malformed, bad snapshot entries, and leftovers of killed processes. With
   * `repair`, corrupt blobs are deleted, broken entries removed from index.json (so no tag points at an image
   * with missing blobs), bad snapshots and leftovers of dead processes removed. Blobs are hashed first without
   * the lock; everything else runs under the index lock.
   */
  async fsck(o: FsckOptions = {}): Promise<FsckReport> {
    const blobs = await hashBlobs(this.layout, o);
    const staleLock = await staleLockHolder(this.layout.indexLockFile);
    return this.#index.withLock(() => checkStore({
      layout: this.layout, logger: this.logger,
      readIndex: () => this.readIndex(),
      writeIndexLocked: (idx) => this.#index.writeLocked({ ...idx, schemaVersion: 2, mediaType: MediaTypes.ociIndex }),
      writeLayoutFile: () => writeFileAtomic(this.layout.ociLayoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' })),
    }, blobs, { ...o, staleLock }), o);
  }

  // ---------------------------------------------------------------- views for copyImage (views.ts)

  /** Returns an ImageSource over the image `ref` names; every blob it returns is digest-verified. */
  source(ref: string): ImageSource {
    return storeSource(this, ref);
  }

  /**
   * Returns an ImageDestination writing into this store. Blobs and manifests are verified on the way in;
   * `commit(tags)` records the last manifest put under `tags` (or unnamed when none) in one index update.
   */
  destination(): ImageDestination & { readonly committed: Descriptor | undefined } {
    return storeDestination(this, (d) => blobSize(this.layout, d));
  }
}
