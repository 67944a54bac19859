/**
 * Garbage collection of the image store (`tsbuild prune`): what it may remove, and what it must keep.
 *
 * Removed: dangling (unnamed) entries of index.json; blobs not reachable from a named image, `o.roots`,
 * `o.lateRoots` or a live lease; snapshots whose diffID no kept image lists (all unleased ones with
 * `allSnapshots`) with their `unsynced/` markers; dead writers' blob temps, unpack temps and markers over an hour
 * old whose snapshot is gone. Kept: everything a live lease names, and every blob modified since the oldest live
 * lease was created (a layer a running build has packed but not yet leased).
 *
 * Runs under the index lock, then the lease lock (lease.ts), for its whole length: no tag and no lease changes
 * meanwhile. Leases of dead processes are deleted on the way. Touches nothing else under the root (tmp/, cache/,
 * cache-mounts/, manifests/ belong to their owners; see layout.ts).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, isDigest, type Abortable, type Descriptor, type Digest, type Logger } from '../core/index.js';
import { STALE_TEMP_MS, staleBlobTemp } from './blobs.js';
import { references } from './closure.js';
import { entryName, type ImageIndexFile } from './image-index.js';
import type { StoreLayout } from './layout.js';
import { withLeasesHeld } from './lease.js';

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

/** What gc needs of the store. */
export interface GcHost {
  readonly layout: StoreLayout;
  readonly index: ImageIndexFile;
  readonly logger: Logger;
  /** Called for each snapshot removed (the store forgets it knew it). */
  forgetSnapshot(diffId: Digest): void;
}

/** Returns what was removed (see the module comment for the rules). */
export async function collectGarbage(host: GcHost, o: GcOptions = {}): Promise<GcReport> {
  const { layout, index } = host;
  return index.withLock(() => withLeasesHeld(layout.root, async (leases) => {
    const idx = await index.read();
    const kept = idx.manifests.filter((m) => entryName(m) !== undefined);
    const removedImages = [...new Set(idx.manifests.filter((m) => entryName(m) === undefined && !kept.some((k) => k.digest === m.digest)).map((m) => m.digest))];
    if (kept.length !== idx.manifests.length) {
      await index.writeLocked({ ...idx, manifests: kept });
    }
    // Leased blobs are kept as they are (a lease names every blob it needs, so they are not walked).
    const live = new Set<Digest>(leases.blobs);
    const diffIds = new Set<Digest>(leases.snapshots);
    const extra = o.lateRoots ? [...(await o.lateRoots())] : [];
    const roots: Descriptor[] = [...kept, ...[...(o.roots ?? []), ...extra].map((d) => ({ mediaType: '', digest: d, size: 0 }))];
    for (const r of roots) {
      for (const d of await references(layout, r, { tolerateMissing: true, diffIds })) live.add(d);
    }
    const now = Date.now();
    const removedBlobs: Digest[] = [];
    let freedBytes = 0;
    for (const f of await readdir(layout.blobsDir)) {
      const p = join(layout.blobsDir, f);
      if (f.startsWith('.tmp-')) {
        const st = await stat(p).catch(() => undefined);
        if (st && staleBlobTemp(f, st.mtimeMs, now)) await rm(p, { force: true });
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
    for (const f of await readdir(layout.snapshotsDir).catch(() => [] as string[])) {
      const p = join(layout.snapshotsDir, f);
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
      await rm(layout.unsyncedMarker(d), { force: true });
      host.forgetSnapshot(d);
      removedSnapshots.push(d);
    }
    // Markers whose snapshot is gone (a crash between marker and rename). Young ones may belong to a snapshot
    // being renamed into place right now.
    for (const f of await readdir(layout.unsyncedDir).catch(() => [] as string[])) {
      if (await exists(join(layout.snapshotsDir, f))) continue;
      const st = await stat(join(layout.unsyncedDir, f)).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(join(layout.unsyncedDir, f), { force: true });
    }
    host.logger.debug('gc done', { removedImages: removedImages.length, removedBlobs: removedBlobs.length, removedSnapshots: removedSnapshots.length, freedBytes, leases: leases.live, staleLeases: leases.removedStale });
    return { removedImages, removedBlobs, removedSnapshots, freedBytes };
  }, o), o);
}
