/**
 * Snapshots: `<root>/snapshots/<diffID hex>`, each layer unpacked once (overlay-style whiteouts, hostile-safe,
 * diffID-verified) and shared by every image that lists it, as an overlay lower dir. Contract: a snapshot exists
 * under its final name only when complete (unpacked into a `.tmp-<pid>-…` dir beside it, then renamed), is
 * trusted only in the boot that wrote it (its `unsynced/` marker, see bootId), and is never modified once in
 * place. Paths come from StoreLayout; gc and fsck remove unused, bad and dead processes' temp dirs.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, type Abortable, type Descriptor, type Digest } from '../core/index.js';
import { applyLayer } from '../layer/index.js';
import { ImageNotFoundError } from './errors.js';
import { SNAPSHOT_TEMP_PREFIX, type StoreLayout } from './layout.js';
import { createdMs, ownerGone } from './scratch.js';
import type { Readable } from 'node:stream';

/** The part of LayerStore that snapshots need (kept structural to avoid an import cycle). */
export interface SnapshotHost {
  /** Where snapshots, their temps and their `unsynced/` markers (one per snapshot written since the last sync) live. */
  readonly layout: StoreLayout;
  openBlob(d: Descriptor, o?: Abortable): Readable;
  listImages(): Promise<readonly { readonly descriptor: Descriptor }[]>;
  load(d: Descriptor): Promise<
    | { kind: 'image'; manifest: { layers: readonly Descriptor[] }; config: { rootfs: { diff_ids: readonly Digest[] } } }
    | { kind: 'index'; index: { manifests: readonly Descriptor[] } }
  >;
}

export interface SnapshotOptions extends Abortable {
  /** The layer blob with this diffID; found by scanning the store's images when omitted. */
  readonly layer?: Descriptor;
}

export { SNAPSHOT_TEMP_PREFIX };

/**
 * Durability: nothing syncs a snapshot's files (an fsync per file, or a syncfs that waits for the whole disk, would
 * cost more than the step; overlay mounts are `volatile`, see runtime-exec/overlay.ts). So a snapshot is trusted
 * only in the boot that wrote it: before its final name appears, `<root>/unsynced/<diffId hex>` is written with the
 * kernel's boot id, and a snapshot whose marker names another boot (or is unreadable: a torn write) may have
 * lost data in a power failure, so it is discarded and unpacked again from its blob, which the store did fsync.
 * A snapshot with no marker was written by an older tsbuild, whose unmount synced it.
 */
export function bootId(): string {
  // Read once: it is constant for the life of the process (of the machine, until it reboots).
  BOOT.id ??= (() => {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return 'unknown';
    }
  })();
  return BOOT.id;
}
const BOOT: { id?: string } = {};

/** Whether the snapshot `final` (named `hex`) may be used: no marker, or one written in this boot. */
async function trusted(host: SnapshotHost, hex: string): Promise<boolean> {
  let marker: string;
  try {
    marker = readFileSync(join(host.layout.unsyncedDir, hex), 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
  return marker.trim() === bootId();
}

/** Moves a snapshot from an earlier boot out of the way (one rename: users in flight keep their mount) and removes it. */
async function discard(host: SnapshotHost, diffId: Digest, final: string): Promise<void> {
  const aside = host.layout.snapshotTempPath(diffId);
  try {
    await rename(final, aside);
  } catch {
    return; // another process discarded it first
  }
  await rm(aside, { recursive: true, force: true }).catch(() => undefined);
  await rm(host.layout.unsyncedMarker(diffId), { force: true }).catch(() => undefined);
}

/**
 * Renames the complete tree `dir` into place as the snapshot of `diffId` (after writing its unsynced marker).
 * Returns the final path; when the snapshot already exists, that one is kept and `dir` is left to the caller.
 */
export async function installSnapshot(host: SnapshotHost, dir: string, diffId: Digest): Promise<string> {
  // Synchronous: a few metadata calls at every step that makes a layer.
  const hex = digestHex(diffId);
  const final = host.layout.snapshotPath(diffId);
  if ((await isDir(final)) && (await trusted(host, hex))) return final;
  mkdirSync(host.layout.unsyncedDir, { recursive: true });
  writeFileSync(host.layout.unsyncedMarker(diffId), `${bootId()}\n`);
  try {
    renameSync(dir, final);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDir(final))) return final;
    throw e;
  }
  return final;
}

/**
 * Returns true after moving the snapshot of `diffId` to `dest` (a path that does not exist, on the snapshots'
 * filesystem): it then belongs to the caller, who may change it (an edited COPY brings the previous build's tree up
 * to date instead of re-creating it). Returns false, leaving it, when it is missing, from an earlier boot, or named
 * by `inUse` (the live leases, read by the caller under the lease lock, so no process can start using it while
 * it is moved). The next user of `diffId` unpacks it again from its blob.
 */
export function takeSnapshot(host: SnapshotHost, diffId: Digest, dest: string, inUse: ReadonlySet<Digest>): boolean {
  const final = host.layout.snapshotPath(diffId);
  if (inUse.has(diffId) || !statSync(final, { throwIfNoEntry: false })?.isDirectory()) return false;
  let marker: string | undefined;
  try {
    marker = readFileSync(host.layout.unsyncedMarker(diffId), 'utf8').trim();
  } catch {
    marker = undefined; // none: written by an older tsbuild, synced
  }
  if (marker !== undefined && marker !== bootId()) return false;
  try {
    renameSync(final, dest);
  } catch {
    return false; // another process took or discarded it first
  }
  rmSync(host.layout.unsyncedMarker(diffId), { force: true });
  return true;
}

/**
 * Completion: a snapshot exists at its final name only once complete. It is unpacked (or, by the builder, written
 * as an overlay upper dir and packed) elsewhere and renamed into place in one step, so a crash leaves at most a
 * `.tmp-*` dir, never a half-filled final dir; the final name is the completion marker.
 *
 * Returns the directory `<root>/snapshots/<diffId hex>` holding the unpacked layer, creating it once:
 * the blob is applied (overlay-style whiteouts, hostile-safe) into a temp dir beside it, its diffID checked,
 * and the temp dir is renamed into place (a concurrent creator's result wins; ours is removed).
 */
export async function createSnapshot(store: SnapshotHost, diffId: Digest, o: SnapshotOptions = {}): Promise<string> {
  const final = store.layout.snapshotPath(diffId);
  if (await isDir(final)) {
    if (await trusted(store, digestHex(diffId))) return final;
    await discard(store, diffId, final);
  }
  const layer = o.layer ?? (await findLayer(store, diffId));
  if (!layer) throw new ImageNotFoundError(`layer ${diffId}`, { hint: 'no stored image lists this diffID; pull or build the image that contains it' });
  await mkdir(store.layout.snapshotsDir, { recursive: true });
  await sweepDeadTemps(store.layout.snapshotsDir, diffId);
  // The pid in the name lets fsck tell an unpack in flight from one a killed process left behind.
  const tmp = store.layout.snapshotTempPath(diffId);
  await mkdir(tmp, { mode: 0o755 });
  try {
    await applyLayer(store.openBlob(layer, o), tmp, { whiteouts: 'overlay', expectDiffId: diffId, ...(o.signal ? { signal: o.signal } : {}) });
    return await installSnapshot(store, tmp, diffId);
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Removes temp dirs of earlier unpacks of `diffId` whose process is gone (killed mid-unpack). Best effort. */
async function sweepDeadTemps(dir: string, diffId: Digest): Promise<void> {
  const infix = `-${digestHex(diffId).slice(0, 12)}-`;
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (!n.startsWith(SNAPSHOT_TEMP_PREFIX) || !n.includes(infix)) continue;
    const pid = Number(n.slice(SNAPSHOT_TEMP_PREFIX.length).split('-')[0]);
    const st = await stat(join(dir, n)).catch(() => undefined);
    if (st && Number.isInteger(pid) && pid > 0 && ownerGone(pid, createdMs(st))) await rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined);
  }
}

async function isDir(p: string): Promise<boolean> {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** Returns the layer descriptor whose diffID is `diffId` in any stored image (index children included). */
async function findLayer(store: SnapshotHost, diffId: Digest): Promise<Descriptor | undefined> {
  for (const e of await store.listImages()) {
    const obj = await store.load(e.descriptor).catch(() => undefined);
    if (!obj) continue;
    const imgs = obj.kind === 'image' ? [obj] : await Promise.all(obj.index.manifests.map((c) => store.load(c).catch(() => undefined)));
    for (const img of imgs) {
      if (!img || img.kind !== 'image') continue;
      const i = img.config.rootfs.diff_ids.indexOf(diffId);
      const l = i >= 0 ? img.manifest.layers[i] : undefined;
      if (l) return l;
    }
  }
  return undefined;
}
