/**
 * `<root>/index.json`: the store's OCI image index, the only mutable file of the image store. It names images:
 * each tagged entry carries the full normalised name, docker-style (`busybox` → `docker.io/library/busybox:latest`),
 * in both `org.opencontainers.image.ref.name` and `io.containerd.image.name`; an image whose last name moved away
 * stays as an unnamed (dangling) entry until gc.
 *
 * Contract: every change is read-modify-write under `index.json.lock` (lock.ts; O_EXCL, a dead holder's lock is
 * broken) and written atomically (temp, fsync, rename, fsync dir: atomic-write.ts). A name is only written after
 * the image's whole closure is stored and the blob dir is fsynced, so a crash never leaves a name pointing at
 * missing blobs. Reads take no lock (the file is replaced by rename, never rewritten in place).
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  MediaTypes, MAX_DOCUMENT_BYTES, TsbuildError, parseManifest,
  type Abortable, type Descriptor, type Digest, type ImageIndex,
} from '../core/index.js';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';
import { checkClosure, describeManifestBlob } from './closure.js';
import { StoreCorruptError } from './errors.js';
import type { StoreLayout } from './layout.js';
import { withLock } from './lock.js';
import { normalizeTagName } from './reference.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

/** One distinct top-level object of index.json with every name it carries. */
export interface ImageEntry {
  readonly descriptor: Descriptor;
  readonly names: readonly string[];
}

/** What index.json holds when the file is missing. */
export const EMPTY_INDEX: ImageIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };

/** Returns the name an index.json entry carries (`ref.name`, else the containerd name), if any. */
export function entryName(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME_ANNOTATION] ?? d.annotations?.[CONTAINERD_NAME_ANNOTATION];
}

/** index.json of one store: reads, locked updates, and the tag operations built on them. */
export class ImageIndexFile {
  readonly #layout: StoreLayout;
  readonly #lockTimeoutMs: number;
  /** Writes every update waits for (a new store's own files: LayerStore.open `layoutFilesBehind`). */
  #before: Promise<void> | undefined;

  constructor(layout: StoreLayout, lockTimeoutMs: number) {
    this.#layout = layout;
    this.#lockTimeoutMs = lockTimeoutMs;
  }

  /** Makes every later withLock wait for `p` first (and fail with its error). */
  after(p: Promise<void>): void {
    p.catch(() => undefined); // reported by the next withLock
    this.#before = p;
  }

  /** Runs `fn` under the store's inter-process index lock (after the writes `after` was given). */
  async withLock<T>(fn: () => Promise<T>, o: Abortable = {}): Promise<T> {
    if (this.#before) await this.#before;
    return this.#locked(fn, o);
  }

  #locked<T>(fn: () => Promise<T>, o: Abortable = {}): Promise<T> {
    return withLock(this.#layout.indexLockFile, fn, { timeoutMs: this.#lockTimeoutMs, ...(o.signal ? { signal: o.signal } : {}) });
  }

  /** Writes an empty index unless index.json exists (checked again under the lock). */
  async ensureExists(): Promise<void> {
    const p = this.#layout.indexFile;
    if (existsSync(p)) return; // synchronous, as the lock's calls: a new store's open waits on no pool round trip but the fsyncs
    await this.#locked(async () => {
      if (!existsSync(p)) await writeFileAtomic(p, JSON.stringify(EMPTY_INDEX));
    });
  }

  /** Returns the current index.json (an empty index when the file is missing). */
  async read(): Promise<ImageIndex> {
    const path = this.#layout.indexFile;
    let bytes: Buffer;
    try {
      // Synchronous, as lock.ts's metadata calls: one small file, read once or twice per command, and a
      // command that reads no blob then never loads node:fs/promises (LayerStore.open).
      bytes = readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_INDEX;
      throw e;
    }
    try {
      const p = parseManifest(bytes, MediaTypes.ociIndex, path, { maxBytes: MAX_DOCUMENT_BYTES });
      if (p.kind !== 'index') throw new Error('not an index');
      return p.index;
    } catch (e) {
      throw new StoreCorruptError('index.json is not a valid OCI image index', { cause: e, location: { ref: path } });
    }
  }

  /**
   * Replaces index.json with `idx` as given; the caller holds the lock. `beforeRename` (when given) is awaited
   * after the new file is written and synced and before it replaces the old one; if it rejects, nothing changes.
   */
  writeLocked(idx: ImageIndex, beforeRename?: () => Promise<unknown> | undefined): Promise<void> {
    return writeFileAtomic(this.#layout.indexFile, JSON.stringify(idx), beforeRename ? { beforeRename } : {});
  }

  /**
   * Applies `fn` to index.json under the lock and writes the result atomically (temp, fsync, rename).
   * Returns what `fn` returned.
   */
  async update<T>(fn: (manifests: Descriptor[]) => Promise<T> | T, o: Abortable & { beforeRename?: () => Promise<unknown> | undefined } = {}): Promise<T> {
    return this.withLock(async () => {
      const idx = await this.read();
      const manifests = [...idx.manifests];
      const r = await fn(manifests);
      await this.writeLocked({ ...idx, schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }, o.beforeRename);
      return r;
    }, o);
  }

  /** Returns each distinct top-level object of index.json (in index order) with its names. */
  async list(): Promise<ImageEntry[]> {
    const idx = await this.read();
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

  /** True when `names` is not empty and every one of them already names `digest` in index.json. */
  async namesPointAt(names: readonly string[], digest: Digest): Promise<boolean> {
    if (names.length === 0) return false;
    const norm = names.map((n) => normalizeTagName(n));
    const current = (await this.read()).manifests;
    return norm.every((n) => current.some((m) => entryName(m) === n && m.digest === digest));
  }

  /** Points every name in `names` at `desc` in one index update (an empty list records `desc` unnamed). */
  async tagMany(names: readonly string[], desc: Descriptor, o: Abortable = {}): Promise<void> {
    // A rebuild that changed nothing names the image it named before: no lock, no index rewrite, no fsync.
    if (await this.namesPointAt(names, desc.digest)) return;
    const layout = this.#layout;
    const norm = names.map((n) => normalizeTagName(n));
    // The blobs' renames are durable before a name points at them: index.json is renamed only after this fsync,
    // which runs while the closure is read and the new index.json is written and synced.
    let blobsDurable: Promise<void> | undefined;
    await this.update(async (ms) => {
      blobsDurable = fsyncDir(layout.blobsDir);
      blobsDurable.catch(() => undefined);
      await checkClosure(layout, desc);
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
          const old = (await describeManifestBlob(layout, d)) ?? undefined;
          if (old) ms.push(old);
        }
      }
    }, { ...o, beforeRename: () => blobsDurable });
  }

  /** Removes the name; returns false when no such name existed. The image's blobs stay until gc. */
  async untag(name: string, o: Abortable = {}): Promise<boolean> {
    const n = lookupName(name);
    return this.update((ms) => {
      const before = ms.length;
      for (let i = ms.length - 1; i >= 0; i--) {
        const en = entryName(ms[i]!);
        if (en !== undefined && (en === name || en === n)) ms.splice(i, 1);
      }
      return ms.length !== before;
    }, o);
  }

  /**
   * Removes the image `obj` (what `ref` resolved to) by name (that name only) or by digest/ID (every name and
   * entry of it). Returns the names and digests removed. Blobs stay until gc.
   */
  async remove(ref: string, obj: { readonly descriptor: Descriptor; readonly names: readonly string[] }, o: Abortable & { force?: boolean } = {}): Promise<{ untagged: string[]; deleted: Digest[] }> {
    const byName = obj.names.includes(lookupName(ref) ?? '') || obj.names.includes(ref);
    if (byName) {
      const n = obj.names.includes(ref) ? ref : lookupName(ref)!;
      await this.untag(n, o);
      return { untagged: [n], deleted: obj.names.length === 1 ? [obj.descriptor.digest] : [] };
    }
    if (obj.names.length > 1 && !o.force) {
      throw new TsbuildError('USAGE', `image ${ref} is referenced by ${obj.names.length} names`, {
        hint: `remove a name (${obj.names.join(', ')}) or pass --force to remove all of them`,
        location: { ref },
      });
    }
    await this.update((ms) => {
      for (let i = ms.length - 1; i >= 0; i--) if (ms[i]!.digest === obj.descriptor.digest) ms.splice(i, 1);
    }, o);
    return { untagged: [...obj.names], deleted: [obj.descriptor.digest] };
  }
}

/** Returns the normalised form of a tag name, or undefined when `ref` is not one. */
function lookupName(ref: string): string | undefined {
  try {
    return normalizeTagName(ref);
  } catch {
    return undefined;
  }
}
