/**
 * Where steps write: scratch dirs (upper, work, merged) below the build's tmp dir, the overlay of a stage's
 * layers (lowerDirs, withMerged), read-only-ish views of another stage or image (stageView), and turning an
 * upper dir into a layer (commitUpper: the snapshot is installed now, the blob compressed behind the next step,
 * reusing the previous build's compressed segments where the tar did not change).
 *
 * Left behind on failure: a scratch dir lives below ctx.tmp, which build() removes; every mount made here is
 * unmounted in a `finally` (withMerged) or by the caller's cleanup stack (stageView).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chainReuse, diffToLayerDeferred, fuseOverlayfsUppers, normaliseFuseOverlayUpper, readXattrTree, withLocation, type ErrorLocation, type Layer, type SegmentReuse, type Speculated, type XattrTable } from '../../layer-store/index.js';
import { mountOverlay, unmount } from '../../runtime-exec/index.js';
import type { CopyIntoOptions } from './copy.js';
import { chrootIsolation, plainView, withPlainRootfs } from './plain-workspace.js';
import { asStepError } from './step-error.js';
import { LayerTree } from './layer-tree.js';
import { descriptorOf, inBackground, type BuildCtx, type PendingLayer, type StageLayer } from './context.js';

/**
 * Returns the snapshot directories of `layers`, top first (overlay lowerdir order). A layer still being identified
 * gives its tree's dir, held until the caller calls the releases pushed on `holds` (after its last use of the dirs:
 * the unmount of what it mounted); the caller releases them on failure too.
 */
export async function lowerDirs(ctx: BuildCtx, layers: readonly StageLayer[], holds: (() => void)[]): Promise<string[]> {
  // Every look-up settles before this returns or throws, so each hold taken is on `holds` for the caller's release.
  const got = await Promise.allSettled(layers.map(async (l) => {
    if ('packed' in l) {
      const h = await l.tree.hold();
      holds.push(h.release);
      return h.dir;
    }
    return ctx.o.store.snapshot(l.diffId, { layer: descriptorOf(l), signal: ctx.signal });
  }));
  const dirs: string[] = [];
  for (const r of got) {
    if (r.status === 'rejected') throw r.reason;
    dirs.push(r.value);
  }
  return dirs.reverse();
}

/** Releases the holds lowerDirs took. */
export function releaseAll(holds: (() => void)[]): void {
  for (const r of holds.splice(0)) r();
}

export interface Scratch {
  /** Work to do in the upper dir once the overlay is unmounted (a COPY that hard-links into it: copy.ts). */
  afterUnmount?: (() => Promise<void>)[];
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly merged: string;
  /** The lower dirs the upper dir was mounted over, top first (fuse-overlayfs uppers are read against them). */
  lower?: readonly string[];
  /** The upper dir's xattrs, when read already (withMerged reads them while it unmounts). */
  xattrs?: Promise<XattrTable>;
  /** Segments of the upper dir's big files compressed while the step ran (speculate.ts); commitUpper takes them over. */
  speculated?: Speculated | undefined;
  /** Whether the upper dir was normalised from fuse-overlayfs's form already (normaliseUpper). */
  normalised?: boolean;
}

/**
 * Returns fresh `upper`, `work` and `merged` dirs in `<tmp>/<label>-<random>`. `o.merged: false` leaves the merged
 * dir uncreated (a RUN mounts its overlay in the runtime's bundle): one mkdir and one rmdir fewer on the disk.
 */
export async function scratchDirs(ctx: BuildCtx, label: string, o: { merged?: boolean } = {}): Promise<Scratch> {
  const dir = join(ctx.tmp, `${label}-${randomUUID().slice(0, 8)}`);
  const s = { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged') };
  mkdirSync(dir, { recursive: true });
  mkdirSync(s.upper, { mode: 0o755 });
  mkdirSync(s.work);
  if (o.merged !== false) mkdirSync(s.merged);
  return s;
}

/** Mounts the layers (+ a fresh upper) at a merged dir, runs `fn`, and always unmounts. */
export async function withMerged<T>(ctx: BuildCtx, layers: readonly StageLayer[], s: Scratch, fn: (merged: string) => Promise<T>): Promise<T> {
  const holds: (() => void)[] = [];
  try {
    const lower = await lowerDirs(ctx, layers, holds);
    s.lower = lower;
    if (chrootIsolation(ctx)) return await withPlainRootfs(ctx, lower, s, fn);
    return await mountedOn(ctx, lower, s, fn);
  } finally {
    releaseAll(holds);
  }
}

async function mountedOn<T>(ctx: BuildCtx, lower: readonly string[], s: Scratch, fn: (merged: string) => Promise<T>): Promise<T> {
  await mountOverlay({ lower, upper: s.upper, work: s.work, target: s.merged, emptyLower: join(s.dir, 'empty'), commands: ctx.commands });
  let done = false;
  try {
    const r = await fn(s.merged);
    done = true;
    return r;
  } finally {
    // The upper dir is final once `fn` is done (and nothing is left for after the unmount): its xattrs (getfattr,
    // a helper process) are read while the overlay is unmounted (another one), not after.
    const after = s.afterUnmount ?? [];
    if (done && after.length === 0) {
      s.xattrs = readXattrTree(s.upper, ctx.signal, ctx.commands);
      s.xattrs.catch(() => undefined); // awaited by commitUpper
    }
    await unmount(s.merged, ctx.commands);
    if (done) for (const job of after) await job();
    // While the lower dirs are still held (withMerged releases them after this): the normalisation reads them.
    if (done) await normaliseUpper(s);
  }
}

/**
 * Rootless with fuse-overlayfs: its whiteout and opaque marks in the upper dir become overlayfs's, for the packer
 * and the snapshot (once per upper dir). It reads the lower dirs, so it runs while the step holds them.
 */
async function normaliseUpper(s: Scratch): Promise<void> {
  if (s.normalised || !fuseOverlayfsUppers()) return;
  await normaliseFuseOverlayUpper(s.upper, s.lower ?? [], s.xattrs ? await s.xattrs : undefined);
  s.normalised = true;
}

/**
 * Mounts a read-only-ish view (overlay with a throwaway upper) of `layers` (a stage's or image's filesystem);
 * returns its dir. The unmount and removal are pushed on `cleanups` (the caller's LIFO stack).
 */
export async function mountView(ctx: BuildCtx, layers: readonly StageLayer[], cleanups: (() => Promise<void>)[]): Promise<string> {
  const v = await scratchDirs(ctx, 'view');
  const holds: (() => void)[] = [];
  cleanups.push(async () => releaseAll(holds)); // after the unmount below (LIFO)
  const lower = await lowerDirs(ctx, layers, holds);
  if (chrootIsolation(ctx)) {
    cleanups.push(() => rm(v.dir, { recursive: true, force: true }));
    return plainView(ctx, lower, v.merged, cleanups);
  }
  await mountOverlay({ lower, upper: v.upper, work: v.work, target: v.merged, emptyLower: join(v.dir, 'empty'), commands: ctx.commands });
  cleanups.push(async () => {
    await unmount(v.merged, ctx.commands);
    // A dozen entries, synchronously: async, each call waited behind the compression in the thread pool (W4: ~30 ms).
    rmSync(v.dir, { recursive: true, force: true });
  });
  return v.merged;
}

/**
 * Packs the upper dir into a layer blob in the store and moves the upper dir into place as that layer's
 * snapshot. Returns undefined when the step changed nothing, unless `keepEmpty` (RUN: BuildKit's exec gives
 * every RUN a layer, an empty one when nothing changed). The layer is returned pending, at once: it is identified
 * (tar read and hashed) and its blob compressed behind the next steps, which run on its tree where it is
 * (layer-tree.ts); the tree becomes the snapshot once identified and no step holds it. A failure of that surfaces,
 * as the step's error with its location, where the step's record, the image or a key naming the layer waits for it.
 */
export async function commitUpper(ctx: BuildCtx, s: Scratch, id: string, o: { keepEmpty?: boolean; location?: ErrorLocation } = {}): Promise<PendingLayer | undefined> {
  await normaliseUpper(s); // done by withMerged already for COPY and WORKDIR; a RUN still holds its lower dirs here
  if (o.keepEmpty !== true && readdirSync(s.upper).length === 0) return undefined;
  const compression = ctx.o.compression ?? 'gzip';
  const spec = s.speculated;
  s.speculated = undefined;
  const previous = compression === 'gzip' ? await previousSegments(ctx, id).catch(async (e: unknown) => { await spec?.close(); throw e; }) : undefined;
  // This run's speculative segments first (fresh, in the page cache), then the previous build's blob.
  const reuseFrom = chainReuse(spec?.reuse, previous?.reuse);
  const reuse = reuseFrom ? { reuse: reuseFrom, close: async () => { await spec?.close(); await previous?.close(); } } : undefined;
  // Lazy identity: the tar is read and hashed (the diffID), and the blob compressed, behind the next steps, which
  // run on the upper dir meanwhile (layer-tree.ts); it becomes the snapshot once identified and no step uses it.
  const located = (e: unknown): unknown => {
    const err = asStepError(e);
    return o.location ? withLocation(err, o.location) : err;
  };
  const tree = new LayerTree(s.upper);
  const identifying = diffToLayerDeferred(s.upper, {
    // ctx.cancel, not ctx.signal: a later step's failure does not stop this finished step's layer (and record).
    sink: (compressed) => ctx.o.store.putBlob(compressed, {}, { signal: ctx.cancel }),
    compression,
    ...(reuse ? { reuse: reuse.reuse } : {}),
    ...(s.xattrs ? { xattrTable: s.xattrs } : {}),
    commands: ctx.commands,
    ...(ctx.o.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.o.sourceDateEpoch } : {}),
    signal: ctx.cancel,
    events: ctx.events,
    id,
  }, DEFER_COMPRESSION_MAX_BYTES);
  const identity = identifying.then((d) => d.diffId, (e: unknown) => { throw located(e); });
  let installed: Promise<string> | undefined;
  const stored = (async (): Promise<Layer> => {
    let deferred;
    try {
      deferred = await identifying;
    } catch (e) {
      await reuse?.close();
      throw located(e);
    }
    const diffId = deferred.diffId;
    // The snapshot is leased and moved into place once no step runs on the upper dir; the blob is written meanwhile.
    installed = tree.installWhenFree(async () => {
      await ctx.lease.add({ snapshots: [diffId] });
      return ctx.o.store.installSnapshot(s.upper, diffId);
    });
    installed.catch(() => undefined); // awaited by packed, after the blob
    let p;
    try {
      p = await deferred.compress();
    } catch (e) {
      // Surfaces after the step (its record, the manifest): still the step's error, as its own failures read.
      throw located(e);
    } finally {
      await reuse?.close();
    }
    // The blob was kept by the lease's time rule so far; from here on it is leased by name.
    await ctx.lease.addLayer(p);
    if (p.segments && ctx.o.cache) {
      await ctx.o.cache.putSegments(p.digest, p.segments);
      if (reuse) ctx.log.debug('layer segments', { step: id, reused: p.reused, compressed: p.compressedSegments, unread: p.unread, speculated: spec?.segments ?? 0 });
    }
    return { mediaType: p.mediaType, digest: p.digest, size: p.size, diffId };
  })();
  const packed = stored.then(async (layer) => {
    try {
      await installed;
    } catch (e) {
      throw located(e);
    }
    return layer;
  });
  identity.catch(() => undefined); // awaited by what needs the diffID (the image config, a key naming the layers)
  stored.catch(() => undefined); // awaited by the step's cache record
  // Awaited by commitImage (the build fails there), and behind the build: nothing below its scratch dir is removed
  // while the tree may still be moved into place.
  inBackground(ctx, packed);
  if ((s.lower?.length ?? 0) >= LAZY_IDENTITY_MAX_LOWER) {
    // A deep stage: the next step gets the snapshot (identified now, as before; the blob still behind it).
    await identity;
    await tree.moved;
  }
  return { identity, stored, packed, tree };
}

/**
 * A layer made over this many lower dirs or more is identified and installed before the step returns. A lower dir
 * outside the snapshots dir makes overlay.ts pass every lower dir relative to the store's root, not to the snapshots
 * dir (10 more bytes each in the mount's one page of options, ~52 lower dirs instead of ~61): below this many, a
 * pending tree leaves room for 20 more layers.
 */
const LAZY_IDENTITY_MAX_LOWER = 30;

/**
 * A layer whose new tar bytes come to at most this much is compressed behind the next step: those bytes are held
 * in memory, and the segments the previous build's blob has are held as where they lie in it (an edited COPY of
 * W2's 167 MB: 12 MB held). Bigger ones are compressed before the step returns (memory stays bounded).
 */
const DEFER_COMPRESSION_MAX_BYTES = 32 * 1024 * 1024;

/**
 * The compressed segments of the layer the previous build of step `id` made (its record is in ctx.previous),
 * as a reuse source for packing this build's layer: the parts of the tar that did not change are copied instead
 * of compressed again (each one checked first; see layer-store/layer/gzip-segments.ts). Undefined when there is
 * no such layer, no index, or its blob is gone.
 */
async function previousSegments(ctx: BuildCtx, id: string): Promise<{ reuse: SegmentReuse; close(): Promise<void> } | undefined> {
  const prev = ctx.previous.get(id)?.result.layer;
  if (!prev || !ctx.o.cache) return undefined;
  const index = await ctx.o.cache.segments(prev.digest);
  if (!index) return undefined;
  await ctx.lease.add({ blobs: [prev.digest] });
  const ranges = await ctx.o.store.openBlobRanges(prev.digest).catch(() => undefined);
  return ranges ? { reuse: { index, read: ranges.read }, close: ranges.close } : undefined;
}

/**
 * For an edited COPY: the snapshot of the layer the previous build of step `id` made, and which source files
 * (below `base`, the source dir's context path) are unchanged since then by the step's cache records, so that
 * copyIntoRootfs can hard-link those from it. Undefined when there is no previous layer or it is not unpacked.
 */
export async function previousTree(ctx: BuildCtx, id: string, instruction: string, current: Record<string, string> | undefined, base: string, s: Scratch): Promise<CopyIntoOptions['previous']> {
  const prev = ctx.previous.get(id);
  const layer = prev?.result.layer;
  const before = prev?.inputs.sources?.files;
  // The same COPY (sources, destination, flags, working dir): its layer holds the file copied from the same path.
  if (!layer || !before || !current || prev.inputs.instruction !== instruction) return undefined;
  if (chrootIsolation(ctx)) return undefined; // its links go into the upper dir, which the tree walk writes
  // A source with extended attributes, now or then (`;x=` in its print, cache/hash-sources.ts), is cp -a's: the
  // tree kept from the previous build would keep a directory's old ones, and Node cannot copy them. linkTree and
  // adoptTree (copy.ts, adopt-tree.ts) read no xattrs: this check is what keeps them out of such a tree.
  if (hasXattrPrint(current) || hasXattrPrint(before)) return undefined;
  // Not leased yet: the copy first tries to take it (which only succeeds when no build, this one included, leases
  // it); linking from it leases it first.
  const snapshot = ctx.o.store.layout.snapshotPath(layer.diffId);
  if (!statSync(snapshot, { throwIfNoEntry: false })?.isDirectory()) return undefined;
  const prefix = base && base !== '.' ? `${base}/` : '';
  return {
    snapshot,
    upper: s.upper,
    afterUnmount: (job) => (s.afterUnmount ??= []).push(job),
    take: async (ctrPath) => {
      const dest = join(s.dir, 'previous');
      if (!(await ctx.o.store.takeSnapshot(layer.diffId, dest, { signal: ctx.signal }))) return undefined;
      return join(dest, ctrPath);
    },
    lease: async () => {
      await ctx.lease.add({ snapshots: [layer.diffId] });
      return (await ctx.o.store.existingSnapshot(layer.diffId)) === snapshot;
    },
    same: (rel) => {
      const k = prefix + rel;
      const was = before[k];
      return was !== undefined && was === current[k];
    },
  };
}

/** Whether any source print (cache/hash-sources.ts) records extended attributes. */
function hasXattrPrint(prints: Readonly<Record<string, string>>): boolean {
  for (const k in prints) if (prints[k]!.includes(';x=')) return true;
  return false;
}
