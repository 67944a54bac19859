/**
 * The image store under `--root`: an OCI image layout, readable in place by skopeo and umoci.
 *
 * Layout (the lead copies this block to the README):
 *
 *   <root>/oci-layout              {"imageLayoutVersion":"1.0.0"}
 *   <root>/index.json              OCI image index: one entry per tag (plus one unnamed entry per dangling image)
 *   <root>/index.json.lock         inter-process lock (O_EXCL file holding "pid host time"), present only while writing
 *   <root>/blobs/sha256/<hex>      every manifest, index, config and layer blob, named by its sha256
 *   <root>/blobs/sha256/.tmp-*     in-flight blob writes (removed on failure; gc removes ones older than an hour)
 *   <root>/snapshots/<hex>         unpacked layer directories, keyed by the layer's diffID hex, shared by all images
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
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  MediaTypes, digestHex, digestOf, formatPlatform, hostPlatform, platformMatches, hashStream, isDigest, noopLogger, parseDigest, verifyStream, alreadyVerified,
  DigestMismatchError, SizeMismatchError, TsbuildError, MAX_DOCUMENT_BYTES, exists, checkDocumentSize, parseConfig, parseManifest,
  type DocumentKind,
  type Abortable, type Descriptor, type Digest, type ImageConfig, type ImageIndex, type ImageManifest,
  type ImageDestination, type ImageSource, type Logger, type Platform, type RawManifest,
} from '../core/index.js';
import { configPlatform } from '../image/index.js';
import { BlobNotFoundError, ImageNotFoundError, InvalidManifestError, InvalidReferenceError, StoreCorruptError } from './errors.js';
import { withLock } from './lock.js';
import { withLeasesHeld } from './lease.js';
import { ownerGone, ownerPid } from './scratch.js';
import { normalizeTagName, parseImageName } from './reference.js';
import { createSnapshot, installSnapshot, type SnapshotOptions } from './snapshot.js';
import { checkStore, hashBlobs, type FsckOptions, type FsckReport } from './fsck.js';
import { staleLockHolder } from './lock.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

/** An image manifest in the store with its parsed config. `id` is the config digest (docker's image ID). */
export interface StoredImage {
  readonly kind: 'image';
  readonly descriptor: Descriptor;
  readonly manifest: ImageManifest;
  readonly configDescriptor: Descriptor;
  readonly config: ImageConfig;
  readonly id: Digest;
  /** Normalised names pointing at this manifest (empty: dangling or only reachable by digest). */
  readonly names: readonly string[];
}

/** An image index (or Docker manifest list) in the store. `id` is the index digest. */
export interface StoredIndex {
  readonly kind: 'index';
  readonly descriptor: Descriptor;
  readonly index: ImageIndex;
  readonly id: Digest;
  readonly names: readonly string[];
}

export type StoredObject = StoredImage | StoredIndex;

/** One distinct top-level object of index.json with every name it carries. */
export interface ImageEntry {
  readonly descriptor: Descriptor;
  readonly names: readonly string[];
}

export interface GcOptions extends Abortable {
  /** Extra digests to keep with everything they reference (e.g. cache records held elsewhere). */
  readonly roots?: readonly Digest[];
  /** Also remove snapshots of live images (they are re-created on demand). Default false. */
  readonly allSnapshots?: boolean;
  /** Keep unreferenced blobs modified less than this many ms ago (in-flight writes of another process). Default 0. */
  readonly graceMs?: number;
  /**
   * More roots, asked for under the locks after the leases are read (e.g. the layers of cache records): a
   * record written by a build that released its lease just before is then seen.
   */
  readonly lateRoots?: () => Promise<Iterable<Digest>>;
}

export interface GcReport {
  /** Dangling (unnamed) images removed from index.json. */
  readonly removedImages: readonly Digest[];
  readonly removedBlobs: readonly Digest[];
  readonly removedSnapshots: readonly Digest[];
  /** Bytes of blobs removed. */
  readonly freedBytes: number;
}


export interface StoreOptions {
  readonly logger?: Logger;
  /** Milliseconds to wait for the index lock (default 60 000). */
  readonly lockTimeoutMs?: number;
}

/** Age (ms) after which a leftover temp file or directory is garbage. */
const STALE_TEMP_MS = 60 * 60 * 1000;

const EMPTY_INDEX: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };

export class LayerStore {
  readonly root: string;
  readonly logger: Logger;
  readonly #lockTimeoutMs: number;
  /** Snapshots this process has found or made, by diffID (see snapshot()). */
  readonly #snapshots = new Map<Digest, string>();

  private constructor(root: string, o: StoreOptions) {
    // Absolute, so paths handed to other processes (runc's bind sources, mount options) hold from any cwd.
    this.root = resolve(root);
    this.logger = o.logger ?? noopLogger;
    this.#lockTimeoutMs = o.lockTimeoutMs ?? 60_000;
  }

  /** Returns the store at `root`, creating the OCI layout (oci-layout, index.json, blobs/sha256) if missing. */
  static async open(root: string, o: StoreOptions = {}): Promise<LayerStore> {
    const s = new LayerStore(root, o);
    await mkdir(s.blobsDir, { recursive: true });
    await mkdir(s.snapshotsDir, { recursive: true });
    const layoutFile = join(root, 'oci-layout');
    if (!(await exists(layoutFile, { followSymlinks: true }))) await writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (!(await exists(s.indexPath, { followSymlinks: true }))) {
      await s.#withLock(async () => {
        if (!(await exists(s.indexPath, { followSymlinks: true }))) await writeFileAtomic(s.indexPath, JSON.stringify(EMPTY_INDEX));
      });
    }
    return s;
  }

  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }
  get snapshotsDir(): string {
    return join(this.root, 'snapshots');
  }
  /** Markers of snapshots written without a sync (snapshot.ts). */
  get unsyncedDir(): string {
    return join(this.root, 'unsynced');
  }
  get indexPath(): string {
    return join(this.root, 'index.json');
  }
  /** Returns the path of a blob (whether or not it exists). */
  blobPath(d: Digest): string {
    return join(this.blobsDir, digestHex(parseDigest(d)));
  }

  // ---------------------------------------------------------------- blobs

  /**
   * Returns the descriptor of the stored blob after streaming `body` into a temp file in the blob dir,
   * hashing every byte, checking `want.digest`/`want.size` when given, fsyncing and renaming into place.
   * On any failure (mismatch, stream error, abort) the temp file is removed and nothing is left behind.
   * A blob already present with that digest (and size) is success without reading `body`.
   */
  async putBlob(body: Readable, want: Partial<Descriptor> = {}, o: Abortable = {}): Promise<Descriptor> {
    const mediaType = want.mediaType ?? 'application/octet-stream';
    const extra = { ...(want.annotations ? { annotations: want.annotations } : {}), ...(want.platform ? { platform: want.platform } : {}) };
    if (want.digest !== undefined) {
      const size = await this.#blobSize(want.digest);
      if (size !== undefined && (want.size === undefined || want.size === size)) {
        body.destroy();
        return { mediaType, digest: want.digest, size, ...extra };
      }
    }
    // The temp name carries the writer's pid: gc removes a dead writer's temp at once (see #staleTemp).
    const tmp = join(this.blobsDir, `.tmp-${process.pid}-${randomUUID()}`);
    let renamed = false;
    try {
      // With the digest and size known, verifyStream alone checks every byte (it errors instead of ending on a
      // mismatch); hashing a second time would only cost another pass over the blob.
      const known = want.digest !== undefined && want.size !== undefined;
      const h = known ? undefined : hashStream();
      // A body that is itself a verifying stream for this digest and size (a registry download) is not hashed again.
      const stages: NodeJS.ReadWriteStream[] = want.digest !== undefined
        ? [...(alreadyVerified(body, want as Descriptor) ? [] : [verifyStream({ digest: want.digest, size: want.size })]), ...(h ? [h] : [])]
        : [h!];
      // The file is opened before streaming starts, so a stream that fails early can never create it after the
      // cleanup below has run. flush: fsync before close, so the renamed file is durable.
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await pipeline([body, ...stages, new DurableFileWriter(fh)], o.signal ? { signal: o.signal } : {});
      } finally {
        await fh.close();
      }
      const got = h ? await h.result : { digest: want.digest!, size: want.size! };
      if (want.size !== undefined && got.size !== want.size) throw new SizeMismatchError(want.size, got.size);
      if (want.digest !== undefined && got.digest !== want.digest) throw new DigestMismatchError(want.digest, got.digest, got.size);
      await rename(tmp, join(this.blobsDir, digestHex(got.digest)));
      renamed = true;
      return { mediaType, digest: got.digest, size: got.size, ...extra };
    } finally {
      if (!renamed) await unlink(tmp).catch(() => undefined);
    }
  }

  /** Returns the descriptor of `bytes` stored as a blob (verified against `want` like putBlob). */
  async putBytes(bytes: Uint8Array, want: Partial<Descriptor> = {}, o: Abortable = {}): Promise<Descriptor> {
    const digest = digestOf(bytes);
    if (want.digest !== undefined && want.digest !== digest) throw new DigestMismatchError(want.digest, digest, bytes.length);
    if (want.size !== undefined && want.size !== bytes.length) throw new SizeMismatchError(want.size, bytes.length);
    const body = new PassThrough();
    body.end(Buffer.from(bytes));
    return this.putBlob(body, { ...want, digest, size: bytes.length }, o);
  }

  /** Returns true when the blob file exists (content is rechecked on every read). */
  /**
   * Opens blob `d` for positioned reads (e.g. segments of an earlier layer to reuse). Rejects when it is not
   * stored. The bytes are not verified here: a reader checks what it takes (see layer-store/layer/gzip-segments.ts).
   */
  async openBlobRanges(d: Digest): Promise<{ read(offset: number, length: number): Promise<Buffer>; close(): Promise<void> }> {
    const fh = await open(this.blobPath(d), 'r');
    return {
      read: async (offset, length) => {
        const buf = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) throw new BlobNotFoundError(d);
          got += bytesRead;
        }
        return buf;
      },
      close: () => fh.close(),
    };
  }

  async hasBlob(d: Digest): Promise<boolean> {
    return (await this.#blobSize(d)) !== undefined;
  }

  async #blobSize(d: Digest): Promise<number | undefined> {
    try {
      const st = statSync(this.blobPath(d)); // one stat: cheaper than a thread-pool round trip
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Returns a stream of the blob's bytes that errors (DigestMismatchError/SizeMismatchError) instead of
   * ending when the stored content does not match `d`. A missing blob errors with BlobNotFoundError.
   */
  openBlob(d: Digest | Descriptor, o: Abortable = {}): Readable {
    const digest = typeof d === 'string' ? d : d.digest;
    const size = typeof d === 'string' ? undefined : d.size;
    // 1 MiB reads: a layer of hundreds of MiB goes through the hash and the upload in far fewer chunks.
    const src = createReadStream(this.blobPath(digest), { highWaterMark: 1024 * 1024 });
    const v = verifyStream({ digest, size });
    pipeline([src, v], o.signal ? { signal: o.signal } : {}).catch(() => undefined);
    src.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') v.destroy(new BlobNotFoundError(digest));
    });
    return v;
  }

  /**
   * Returns the whole blob, verified against its digest; refuses blobs over `maxBytes` (default: the limit of
   * document `kind` when given, with the document readers' error, else MAX_DOCUMENT_BYTES, 8 MiB).
   */
  async readBlob(d: Digest, o: { maxBytes?: number; kind?: DocumentKind } = {}): Promise<Buffer> {
    const max = o.maxBytes ?? MAX_DOCUMENT_BYTES;
    const size = await this.#blobSize(d);
    if (size === undefined) throw new BlobNotFoundError(d);
    if (o.kind !== undefined && o.maxBytes === undefined) checkDocumentSize(o.kind, size, d);
    if (size > max) throw new InvalidManifestError(`blob ${d} is ${size} bytes, more than the ${max}-byte limit for documents`, { location: { ref: d } });
    const bytes = await readFile(this.blobPath(d));
    const got = digestOf(bytes);
    if (got !== d) throw new StoreCorruptError(`blob ${d} has content ${got}`, { location: { ref: this.blobPath(d) } });
    return bytes;
  }

  // ---------------------------------------------------------------- index.json

  /** Runs `fn` under the store's inter-process index lock. */
  #withLock<T>(fn: () => Promise<T>, o: Abortable = {}): Promise<T> {
    return withLock(join(this.root, 'index.json.lock'), fn, { timeoutMs: this.#lockTimeoutMs, ...(o.signal ? { signal: o.signal } : {}) });
  }

  /** Returns the current index.json (an empty index when the file is missing). */
  async readIndex(): Promise<ImageIndex> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.indexPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_INDEX;
      throw e;
    }
    try {
      const p = parseManifest(bytes, MediaTypes.ociIndex, this.indexPath, { maxBytes: MAX_DOCUMENT_BYTES });
      if (p.kind !== 'index') throw new Error('not an index');
      return p.index;
    } catch (e) {
      throw new StoreCorruptError('index.json is not a valid OCI image index', { cause: e, location: { ref: this.indexPath } });
    }
  }

  /**
   * Applies `fn` to index.json under the lock and writes the result atomically (temp, fsync, rename).
   * Returns what `fn` returned.
   */
  async updateIndex<T>(fn: (manifests: Descriptor[]) => Promise<T> | T, o: Abortable = {}): Promise<T> {
    return this.#withLock(async () => {
      const idx = await this.readIndex();
      const manifests = [...idx.manifests];
      const r = await fn(manifests);
      await writeFileAtomic(this.indexPath, JSON.stringify({ ...idx, schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
      return r;
    }, o);
  }

  /** Returns each distinct top-level object of index.json (in index order) with its names. */
  async listImages(): Promise<ImageEntry[]> {
    const idx = await this.readIndex();
    const byDigest = new Map<string, { descriptor: Descriptor; names: string[] }>();
    for (const m of idx.manifests) {
      let e = byDigest.get(m.digest);
      if (!e) {
        const { annotations: _a, ...plain } = m;
        e = { descriptor: plain, names: [] };
        byDigest.set(m.digest, e);
      }
      const n = entryName(m);
      if (n !== undefined && !e.names.includes(n)) e.names.push(n);
    }
    return [...byDigest.values()];
  }

  /**
   * Points `name` (normalised docker-style) at `desc`, which must be stored with everything it references.
   * An image whose last name moves away stays as a dangling (unnamed) entry until gc.
   */
  async tag(name: string, desc: Descriptor, o: Abortable = {}): Promise<void> {
    await this.tagMany([name], desc, o);
  }

  /** True when `names` is not empty and every one of them already names `digest` in index.json. */
  async namesPointAt(names: readonly string[], digest: Digest): Promise<boolean> {
    if (names.length === 0) return false;
    const norm = names.map((n) => normalizeTagName(n));
    const current = (await this.readIndex()).manifests;
    return norm.every((n) => current.some((m) => entryName(m) === n && m.digest === digest));
  }

  /** Points every name in `names` at `desc` in one index update (an empty list records `desc` unnamed). */
  async tagMany(names: readonly string[], desc: Descriptor, o: Abortable = {}): Promise<void> {
    // A rebuild that changed nothing names the image it named before: no lock, no index rewrite, no fsync.
    if (await this.namesPointAt(names, desc.digest)) return;
    const norm = names.map((n) => normalizeTagName(n));
    await this.updateIndex(async (ms) => {
      await this.#checkClosure(desc);
      await fsyncDir(this.blobsDir); // the blobs' renames are durable before a name points at them
      const plain: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, ...(desc.platform ? { platform: desc.platform } : {}) };
      const displaced = new Set<Digest>();
      for (const n of norm) {
        for (let i = ms.length - 1; i >= 0; i--) {
          const m = ms[i]!;
          if (entryName(m) === n) {
            displaced.add(m.digest);
            ms.splice(i, 1);
          }
        }
      }
      // Drop an unnamed entry for desc: it is named now (or re-added once below).
      for (let i = ms.length - 1; i >= 0; i--) if (ms[i]!.digest === desc.digest && entryName(ms[i]!) === undefined) ms.splice(i, 1);
      for (const n of norm) ms.push({ ...plain, annotations: { [REF_NAME_ANNOTATION]: n, [CONTAINERD_NAME_ANNOTATION]: n } });
      if (norm.length === 0 && !ms.some((m) => m.digest === desc.digest)) ms.push(plain);
      for (const d of displaced) {
        if (d !== desc.digest && !ms.some((m) => m.digest === d)) {
          const old = (await this.#describeBlob(d)) ?? undefined;
          if (old) ms.push(old);
        }
      }
    }, o);
  }

  /** Removes the name; returns false when no such name existed. The image's blobs stay until gc. */
  async untag(name: string, o: Abortable = {}): Promise<boolean> {
    const n = this.#lookupName(name);
    return this.updateIndex((ms) => {
      const before = ms.length;
      for (let i = ms.length - 1; i >= 0; i--) {
        const en = entryName(ms[i]!);
        if (en !== undefined && (en === name || en === n)) ms.splice(i, 1);
      }
      return ms.length !== before;
    }, o);
  }

  /**
   * Removes an image by name (that name only) or by digest/ID (every name and entry of it).
   * Returns the names and digests removed. Blobs stay until gc.
   */
  async remove(ref: string, o: Abortable & { force?: boolean } = {}): Promise<{ untagged: string[]; deleted: Digest[] }> {
    const obj = await this.resolve(ref);
    const byName = obj.names.includes(this.#lookupName(ref) ?? '') || obj.names.includes(ref);
    if (byName) {
      const n = obj.names.includes(ref) ? ref : this.#lookupName(ref)!;
      await this.untag(n, o);
      return { untagged: [n], deleted: obj.names.length === 1 ? [obj.descriptor.digest] : [] };
    }
    if (obj.names.length > 1 && !o.force) {
      throw new TsbuildError('USAGE', `image ${ref} is referenced by ${obj.names.length} names`, {
        hint: `remove a name (${obj.names.join(', ')}) or pass --force to remove all of them`,
        location: { ref },
      });
    }
    await this.updateIndex((ms) => {
      for (let i = ms.length - 1; i >= 0; i--) if (ms[i]!.digest === obj.descriptor.digest) ms.splice(i, 1);
    }, o);
    return { untagged: [...obj.names], deleted: [obj.descriptor.digest] };
  }

  #lookupName(ref: string): string | undefined {
    try {
      return normalizeTagName(ref);
    } catch {
      return undefined;
    }
  }

  /** Returns the descriptor of a stored manifest/index blob (media type from its content). */
  async #describeBlob(d: Digest): Promise<Descriptor | undefined> {
    try {
      const bytes = await this.readBlob(d, { kind: 'image manifest' });
      const p = parseManifest(bytes, undefined, d);
      return { mediaType: p.mediaType, digest: d, size: bytes.length };
    } catch {
      return undefined;
    }
  }

  /** Throws BlobNotFoundError unless `desc` and every blob it references are stored. */
  async #checkClosure(desc: Descriptor): Promise<void> {
    for (const d of await this.references(desc, { tolerateMissing: false })) {
      if (!(await this.hasBlob(d))) throw new BlobNotFoundError(d, { hint: 'the image is incomplete (a concurrent prune may have removed it); pull, build or load it again' });
    }
  }

  /**
   * Returns the digests `desc` references, itself included (index → children → config + layers).
   * With tolerateMissing, missing or unreadable children are skipped instead of failing.
   */
  async references(desc: Descriptor, o: { tolerateMissing?: boolean; diffIds?: Set<Digest> } = {}): Promise<Set<Digest>> {
    const out = new Set<Digest>();
    const walk = async (d: Descriptor): Promise<void> => {
      if (out.has(d.digest)) return;
      out.add(d.digest);
      let p: ReturnType<typeof parseManifest>;
      try {
        p = parseManifest(await this.readBlob(d.digest, { kind: 'image manifest' }), d.mediaType, d.digest);
      } catch (e) {
        if (o.tolerateMissing) return; // missing, unreadable, or a leaf blob given as a gc root
        throw e;
      }
      if (p.kind === 'index') {
        for (const c of p.index.manifests) {
          if (c.mediaType === MediaTypes.ociManifest || c.mediaType === MediaTypes.ociIndex || c.mediaType === MediaTypes.dockerManifest || c.mediaType === MediaTypes.dockerManifestList) await walk(c);
          else out.add(c.digest);
        }
        return;
      }
      out.add(p.manifest.config.digest);
      for (const l of p.manifest.layers) out.add(l.digest);
      if (o.diffIds) {
        try {
          const c = parseConfig(await this.readBlob(p.manifest.config.digest, { kind: 'image config' }), p.manifest.config.digest);
          for (const id of c.rootfs.diff_ids) o.diffIds.add(id);
        } catch (e) {
          if (!o.tolerateMissing) throw e;
        }
      }
    };
    await walk(desc);
    return out;
  }

  // ---------------------------------------------------------------- resolve

  /**
   * Returns the stored image or index that `ref` names: a tag name (docker-style normalisation,
   * `busybox` = `docker.io/library/busybox:latest`), `name@sha256:…`, a manifest/index digest, an image ID
   * (config digest) or a unique hex prefix of an ID or digest (at least 4 characters).
   */
  async resolve(ref: string, o: Abortable = {}): Promise<StoredObject> {
    const entries = await this.listImages();
    const raw = ref.trim();
    // 1. exact index entry name (also names written by other tools, e.g. `latest`)
    const exact = entries.find((e) => e.names.includes(raw));
    if (exact) return this.load(exact.descriptor, exact.names);
    // 2. a digest
    const digestLike = raw.startsWith('sha256:') ? raw : /^[0-9a-f]{64}$/.test(raw) ? `sha256:${raw}` : undefined;
    if (digestLike !== undefined) {
      if (!isDigest(digestLike)) throw new InvalidReferenceError(ref, 'not a sha256 digest');
      return this.#byDigest(digestLike, entries, ref, o);
    }
    // 3. a name
    let name: ReturnType<typeof parseImageName> | undefined;
    try {
      name = parseImageName(raw);
    } catch (e) {
      if (!/^[0-9a-f]{4,63}$/.test(raw)) throw e;
    }
    if (name) {
      if (name.digest !== undefined) return this.#byDigest(name.digest, entries, ref, o);
      const full = `${name.repository}:${name.tag ?? 'latest'}`;
      const e = entries.find((x) => x.names.includes(full));
      if (e) return this.load(e.descriptor, e.names);
    }
    // 4. an ID prefix
    if (/^(sha256:)?[0-9a-f]{4,63}$/.test(raw)) {
      const prefix = raw.replace(/^sha256:/, '');
      const hits = new Map<Digest, StoredObject>();
      for (const e of entries) {
        const obj = await this.load(e.descriptor, e.names).catch(() => undefined);
        if (!obj) continue;
        if (digestHex(obj.id).startsWith(prefix) || digestHex(e.descriptor.digest).startsWith(prefix)) hits.set(e.descriptor.digest, obj);
      }
      if (hits.size > 1) throw new InvalidReferenceError(ref, `ambiguous: matches ${hits.size} images`, { hint: 'write more characters of the image ID' });
      const only = [...hits.values()][0];
      if (only) return only;
    }
    throw new ImageNotFoundError(ref);
  }

  async #byDigest(d: Digest, entries: readonly ImageEntry[], ref: string, _o: Abortable): Promise<StoredObject> {
    const e = entries.find((x) => x.descriptor.digest === d);
    if (e) return this.load(e.descriptor, e.names);
    // an image ID (config digest) of a listed image
    for (const x of entries) {
      const obj = await this.load(x.descriptor, x.names).catch(() => undefined);
      if (obj && obj.id === d) return obj;
    }
    const desc = await this.#describeBlob(d);
    if (desc) return this.load(desc, []);
    throw new ImageNotFoundError(ref);
  }

  /** Returns the parsed manifest (with config) or index that `desc` points at. */
  async load(desc: Descriptor, names: readonly string[] = []): Promise<StoredObject> {
    const bytes = await this.readBlob(desc.digest, { kind: 'image manifest' });
    const p = parseManifest(bytes, desc.mediaType, desc.digest);
    const descriptor: Descriptor = { mediaType: p.mediaType, digest: desc.digest, size: bytes.length, ...(desc.platform ? { platform: desc.platform } : {}) };
    if (p.kind === 'index') return { kind: 'index', descriptor, index: p.index, id: desc.digest, names };
    const cfgBytes = await this.readBlob(p.manifest.config.digest, { kind: 'image config' });
    const config = parseConfig(cfgBytes, p.manifest.config.digest);
    return { kind: 'image', descriptor, manifest: p.manifest, configDescriptor: p.manifest.config, config, id: p.manifest.config.digest, names };
  }

  /**
   * Returns the image `ref` names; for an index, the child for `platform` (default: the host's, or the
   * only child). Throws ImageNotFoundError when no child matches.
   */
  async image(ref: string, o: { platform?: Platform } = {}): Promise<StoredImage> {
    const obj = await this.resolve(ref);
    if (obj.kind === 'image') return obj;
    const want = o.platform ?? hostPlatform();
    const child = obj.index.manifests.find((m) => platformMatches(want, m.platform)) ?? (obj.index.manifests.length === 1 ? obj.index.manifests[0] : undefined);
    if (!child) throw new ImageNotFoundError(`${ref} for ${formatPlatform(want)}`, { hint: `the index lists ${obj.index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : '?')).join(', ')}` });
    const img = await this.load(child, obj.names);
    if (img.kind !== 'image') throw new InvalidManifestError(`nested index in ${ref} is not supported`, { location: { ref } });
    return img;
  }

  /** Returns the platform of a stored image. */
  platformOf(img: StoredImage): Platform {
    return configPlatform(img.config);
  }

  // ---------------------------------------------------------------- snapshots

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
    if (!statSync(join(this.snapshotsDir, digestHex(diffId)), { throwIfNoEntry: false })?.isDirectory()) return undefined;
    return this.snapshot(diffId).catch(() => undefined);
  }

  /**
   * Moves the finished tree `dir` (e.g. a step's overlay upper dir, already packed into the layer `diffId`) into
   * place as that layer's snapshot. When the snapshot exists already, it is kept and `dir` stays the caller's.
   */
  async installSnapshot(dir: string, diffId: Digest): Promise<string> {
    mkdirSync(this.snapshotsDir, { recursive: true });
    const p = await installSnapshot(this, dir, diffId);
    this.#snapshots.set(diffId, p);
    return p;
  }

  // ---------------------------------------------------------------- gc

  /**
   * Returns what was removed after deleting dangling (unnamed) images from index.json, then every blob
   * and snapshot not reachable from a named image, `o.roots` or a live lease (lease.ts), and temp files older
   * than an hour. Runs under the index lock and the lease lock (so no lease gains a resource meanwhile);
   * leases of dead processes are deleted. A blob modified since the oldest live lease was created is kept
   * (it may be a layer a running build has packed but not yet leased). A layer shared by two images stays
   * while either is named.
   */
  async gc(o: GcOptions = {}): Promise<GcReport> {
    return this.#withLock(() => withLeasesHeld(this.root, async (leases) => {
      const idx = await this.readIndex();
      const kept = idx.manifests.filter((m) => entryName(m) !== undefined);
      const removedImages = [...new Set(idx.manifests.filter((m) => entryName(m) === undefined && !kept.some((k) => k.digest === m.digest)).map((m) => m.digest))];
      if (kept.length !== idx.manifests.length) {
        await writeFileAtomic(this.indexPath, JSON.stringify({ ...idx, manifests: kept }));
      }
      // Leased blobs are kept as they are (a lease names every blob it needs, so they are not walked).
      const live = new Set<Digest>(leases.blobs);
      const diffIds = new Set<Digest>(leases.snapshots);
      const extra = o.lateRoots ? [...(await o.lateRoots())] : [];
      const roots: Descriptor[] = [...kept, ...[...(o.roots ?? []), ...extra].map((d) => ({ mediaType: '', digest: d, size: 0 }))];
      for (const r of roots) {
        for (const d of await this.references(r, { tolerateMissing: true, diffIds })) live.add(d);
      }
      const now = Date.now();
      const removedBlobs: Digest[] = [];
      let freedBytes = 0;
      for (const f of await readdir(this.blobsDir)) {
        const p = join(this.blobsDir, f);
        if (f.startsWith('.tmp-')) {
          const st = await stat(p).catch(() => undefined);
          if (st && staleTemp(f, st.mtimeMs, now)) await rm(p, { force: true });
          continue;
        }
        const d = `sha256:${f}`;
        if (!isDigest(d) || live.has(d)) continue;
        const st = await stat(p).catch(() => undefined);
        if (!st) continue;
        if (o.graceMs && now - st.mtimeMs < o.graceMs) continue;
        if (leases.since !== undefined && st.mtimeMs >= leases.since) continue;
        await rm(p, { force: true });
        removedBlobs.push(d);
        freedBytes += st.size;
      }
      const removedSnapshots: Digest[] = [];
      for (const f of await readdir(this.snapshotsDir).catch(() => [] as string[])) {
        const p = join(this.snapshotsDir, f);
        if (f.startsWith('.tmp-')) {
          const st = await stat(p).catch(() => undefined);
          if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(p, { recursive: true, force: true });
          continue;
        }
        const d = `sha256:${f}`;
        if (!isDigest(d)) continue;
        if (leases.snapshots.has(d)) continue;
        if (!o.allSnapshots && diffIds.has(d)) continue;
        await rm(p, { recursive: true, force: true });
        await rm(join(this.unsyncedDir, f), { force: true });
        this.#snapshots.delete(d);
        removedSnapshots.push(d);
      }
      // Markers whose snapshot is gone (a crash between marker and rename). Young ones may belong to a snapshot
      // being renamed into place right now.
      for (const f of await readdir(this.unsyncedDir).catch(() => [] as string[])) {
        if (await exists(join(this.snapshotsDir, f))) continue;
        const st = await stat(join(this.unsyncedDir, f)).catch(() => undefined);
        if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(join(this.unsyncedDir, f), { force: true });
      }
      this.logger.debug('gc done', { removedImages: removedImages.length, removedBlobs: removedBlobs.length, removedSnapshots: removedSnapshots.length, freedBytes, leases: leases.live, staleLeases: leases.removedStale });
      return { removedImages, removedBlobs, removedSnapshots, freedBytes };
    }, o), o);
  }

  // ---------------------------------------------------------------- fsck

  /**
   * Returns what fsck found (see fsck.ts for every check): corrupt blobs (re-hashed), index.json entries whose
   * closure is missing, corrupt or malformed, bad snapshot entries, and leftovers of killed processes. With
   * `repair`, corrupt blobs are deleted, broken entries removed from index.json (so no tag points at an image
   * with missing blobs), bad snapshots and leftovers of dead processes removed. Blobs are hashed first without
   * the lock; everything else runs under the index lock.
   */
  async fsck(o: FsckOptions = {}): Promise<FsckReport> {
    const blobs = await hashBlobs(this, o);
    const lockPath = join(this.root, 'index.json.lock');
    const staleLock = await staleLockHolder(lockPath);
    return this.#withLock(() => checkStore({
      root: this.root, blobsDir: this.blobsDir, snapshotsDir: this.snapshotsDir, unsyncedDir: this.unsyncedDir, indexPath: this.indexPath, logger: this.logger,
      readIndex: () => this.readIndex(),
      writeIndexLocked: (idx) => writeFileAtomic(this.indexPath, JSON.stringify({ ...idx, schemaVersion: 2, mediaType: MediaTypes.ociIndex })),
      writeLayoutFile: () => writeFileAtomic(join(this.root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' })),
    }, blobs, { ...o, staleLock }), o);
  }

  // ---------------------------------------------------------------- views for copyImage

  /** Returns an ImageSource over the image `ref` names; every blob it returns is digest-verified. */
  source(ref: string): ImageSource {
    let top: Promise<StoredObject> | undefined;
    return {
      ref,
      getManifest: async (digest?: Digest): Promise<RawManifest> => {
        const d = digest ?? (await (top ??= this.resolve(ref))).descriptor.digest;
        const bytes = await this.readBlob(d, { kind: 'image manifest' });
        const p = parseManifest(bytes, undefined, d);
        return { mediaType: p.mediaType, bytes, digest: d };
      },
      getBlob: async (d: Descriptor, o?: Abortable): Promise<Readable> => {
        if (!(await this.hasBlob(d.digest))) throw new BlobNotFoundError(d.digest);
        return this.openBlob(d, o);
      },
      close: async () => undefined,
    };
  }

  /**
   * Returns an ImageDestination writing into this store. Blobs and manifests are verified on the way in;
   * `commit(tags)` records the last manifest put under `tags` (or unnamed when none) in one index update.
   */
  destination(): ImageDestination & { readonly committed: Descriptor | undefined } {
    let last: Descriptor | undefined;
    let committed: Descriptor | undefined;
    return {
      ref: this.root,
      get committed() {
        return committed;
      },
      hasBlob: async (d: Descriptor) => {
        const size = await this.#blobSize(d.digest);
        return size !== undefined && size === d.size;
      },
      putBlob: (body: Readable, want: Descriptor, o?: Abortable) => this.putBlob(body, want, o),
      putManifest: async (raw: RawManifest, o?: Abortable) => {
        const p = parseManifest(raw.bytes, raw.mediaType, raw.digest);
        last = await this.putBytes(raw.bytes, { digest: raw.digest, mediaType: p.mediaType }, o);
      },
      commit: async (tags: readonly string[], o?: Abortable) => {
        if (!last) throw new TsbuildError('USAGE', 'commit called before any manifest was put', { hint: 'call putManifest first (blobs → manifests → commit)' });
        await this.tagMany(tags, last, o);
        committed = last;
      },
      close: async () => undefined,
    };
  }
}

/** Returns the name an index.json entry carries (`ref.name`, else the containerd name), if any. */
export function entryName(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME_ANNOTATION] ?? d.annotations?.[CONTAINERD_NAME_ANNOTATION];
}

/** Writes `data` to `path` atomically: temp file in the same dir, fsync, rename, fsync the dir. */
/** Bytes written between background fdatasyncs of a blob being stored. */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * A Writable over an open file that batches buffered chunks into one writev (1 MiB of buffering), starts an
 * fdatasync in the background every SYNC_EVERY_BYTES so the disk writes while the bytes still arrive (instead
 * of all at the end: dirty pages of a few hundred MiB are not written back on their own before the final
 * fsync), and finishes only after a full fsync. It does not close the file.
 */
class DurableFileWriter extends Writable {
  readonly #fh: FileHandle;
  #sinceSync = 0;
  #syncing: Promise<void> | undefined;
  #syncError: unknown;

  constructor(fh: FileHandle) {
    super({ highWaterMark: 1024 * 1024 });
    this.#fh = fh;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    void this.#writeAll(chunks.map((c) => c.chunk)).then(() => cb(), (e: unknown) => cb(e as Error));
  }

  async #writeAll(bufs: Buffer[]): Promise<void> {
    let total = 0;
    for (const b of bufs) total += b.length;
    let { bytesWritten } = await this.#fh.writev(bufs);
    // A regular file takes everything but for a full disk or a signal: write what is left, or fail trying.
    if (bytesWritten < total) {
      const rest = Buffer.concat(bufs).subarray(bytesWritten);
      for (let off = 0; off < rest.length; ) {
        const r = await this.#fh.write(rest, off, rest.length - off);
        if (r.bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        off += r.bytesWritten;
      }
      bytesWritten = total;
    }
    this.#sinceSync += bytesWritten;
    if (this.#sinceSync >= SYNC_EVERY_BYTES && !this.#syncing) {
      this.#sinceSync = 0;
      this.#syncing = this.#fh.datasync().finally(() => { this.#syncing = undefined; });
      this.#syncing.catch((e: unknown) => { this.#syncError ??= e; }); // reported by _final
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    void (async () => {
      await this.#syncing?.catch(() => undefined);
      if (this.#syncError !== undefined) throw this.#syncError;
      await this.#fh.sync();
    })().then(() => cb(), (e: unknown) => cb(e as Error));
  }
}

/**
 * True when a blob temp file may go: its writer (the pid in `.tmp-<pid>-<uuid>`) is gone, or it carries no pid
 * (older versions) and is over an hour old. A live writer's temp always stays.
 */
function staleTemp(name: string, mtimeMs: number, now: number): boolean {
  const pid = ownerPid(name, /^\.tmp-(\d+)-/);
  if (pid !== undefined) return ownerGone(pid, mtimeMs);
  return now - mtimeMs > STALE_TEMP_MS;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, o: { durable?: boolean } = {}): Promise<void> {
  const durable = o.durable ?? true;
  const tmp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  if (!durable) {
    // No fsync to wait for: three small synchronous calls instead of five thread-pool round trips (the cache
    // writes a few of these at every step it runs).
    try {
      writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
      renameSync(tmp, path);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      throw e;
    }
    return;
  }
  let done = false;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    done = true;
    if (durable) await fsyncDir(join(path, '..'));
  } finally {
    if (!done) await unlink(tmp).catch(() => undefined);
  }
}

/** fsyncs a directory so renames inside it survive a crash. */
async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
