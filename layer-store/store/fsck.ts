/**
 * `fsck`: checks the store under `--root` and optionally repairs it. What is checked, and how:
 *
 * - oci-layout: present and `{"imageLayoutVersion":"1.0.0"}`.
 * - blobs/sha256/<hex>: every blob is re-hashed; content that does not match its name is corrupt (repair deletes it).
 * - index.json: parses as an OCI index; for every entry, the closure (manifest or index → children → config and
 *   layers) is present, each blob's size matches its descriptor, manifests and configs parse, and a config lists
 *   one diffID per layer. An entry whose closure is broken is a broken image; repair removes the entry (named or
 *   not), so no tag ever points at an image with missing or corrupt blobs. The image can then be pulled again.
 * - snapshots/<diffId hex>: a snapshot is complete by construction (unpacked or written elsewhere and renamed into
 *   place in one step, see snapshot.ts), so the final name is the completion marker and the tree is not re-hashed
 *   (hashing would need the original tar, which a directory cannot reproduce). An entry there that is not a
 *   directory, or whose name is not a diffID, is a problem (repair removes it; it is re-created on demand).
 *   Whether a snapshot is still used is gc's business, not a consistency question. A snapshot written without a
 *   sync in an earlier boot (its `<root>/unsynced/<hex>` marker names another boot id) is a leftover: it is
 *   unpacked again from its blob when next used, and repair removes it now.
 * - leftovers of killed processes (reported as `leftover`, which alone does not make the store inconsistent; a
 *   crash is allowed to leave them, and gc, the next build or `fsck --repair` removes them): blob temp files no
 *   process holds open, snapshot temp dirs and index.json temp files whose pid is gone, a stale index lock,
 *   scratch dirs under `<root>/tmp` whose build is gone and the mounts still held over them, and runc containers
 *   of this root whose build is gone (containers.ts; repair kills and deletes them and unmounts their rootfs).
 *
 * Blobs are hashed without the index lock (they are immutable; a concurrent gc may remove one, which is then
 * skipped); the index, snapshot and leftover checks and every repair run under it.
 */
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  MediaTypes, hashStream, isDigest, parseConfig, parseManifest, type Abortable, type Descriptor, type Digest, type ImageIndex, type Logger,
} from '../core/index.js';
import { checkLeftoverContainers } from './containers.js';
import { createdMs, findStaleScratch, ownerGone, ownerPid, reclaimStaleScratch } from './scratch.js';
import type { StoreLayout } from './layout.js';
import { SNAPSHOT_TEMP_PREFIX, bootId } from './snapshot.js';

/** What a finding says about the store. `problem`: inconsistent. `leftover`: garbage a crash may leave. */
export type FsckSeverity = 'problem' | 'leftover';

export type FsckKind =
  | 'bad-layout'        // oci-layout missing or wrong
  | 'bad-index'         // index.json unreadable
  | 'corrupt-blob'      // content does not hash to its name
  | 'stray-blob'        // a file in blobs/sha256 that is neither a blob nor a temp file
  | 'missing-blob'      // referenced by an image, not stored
  | 'size-mismatch'     // stored size differs from the descriptor's
  | 'bad-document'      // a manifest, index or config that does not parse
  | 'bad-image'         // a config whose diffIDs do not match the manifest's layers
  | 'broken-image'      // an index.json entry whose closure has one of the problems above
  | 'bad-snapshot'      // an entry in snapshots/ that is not a complete snapshot dir
  | 'incomplete-snapshot' // a snapshot temp dir whose creator is gone
  | 'unsynced-snapshot' // a snapshot written without a sync in an earlier boot (re-created from its blob on use)
  | 'temp-file'         // a blob or index.json temp file nobody is writing
  | 'stale-lock'        // index.json.lock held by a dead process
  | 'stale-scratch'     // <root>/tmp/<build|run>-<pid>-… of a dead process
  | 'leaked-mount'      // a mount over such scratch, or the rootfs of a leaked container
  | 'leaked-container'; // a runc container of this root whose build process is gone (containers.ts)

export interface FsckFinding {
  readonly severity: FsckSeverity;
  readonly kind: FsckKind;
  /** What the finding is about: a digest, a tag name (or the digest of an unnamed entry), or a path. */
  readonly subject: string;
  readonly detail: string;
  /** What repair did about it (only with `repair`). */
  readonly repaired?: string;
}

export interface FsckReport {
  /** Blobs re-hashed. */
  readonly checked: number;
  /** Blobs whose content does not match their digest (deleted when repairing). */
  readonly corrupt: readonly Digest[];
  /** Blobs referenced from index.json (through any image) that are not stored. */
  readonly missing: readonly Digest[];
  /** index.json entries checked, and snapshots seen. */
  readonly images: number;
  readonly snapshots: number;
  /** Every finding, problems first, in check order. */
  readonly findings: readonly FsckFinding[];
  /** True when no problem remains (a problem that repair fixed does not count; leftovers never do). */
  readonly consistent: boolean;
}

export interface FsckOptions extends Abortable {
  /** Delete corrupt blobs, drop broken index entries, remove bad snapshots and leftovers of dead processes. */
  readonly repair?: boolean;
}

/** The part of LayerStore fsck uses (structural, so this file needs no runtime import of store.ts). */
export interface FsckHost {
  /** Every path fsck looks at. */
  readonly layout: StoreLayout;
  readonly logger: Logger;
  readIndex(): Promise<ImageIndex>;
  writeIndexLocked(idx: ImageIndex): Promise<void>;
  writeLayoutFile(): Promise<void>;
}

/** Blob temp files younger than this are left alone even when no process holds them open (close→rename window). */
export const TEMP_GRACE_MS = 10_000;
const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociConfig, MediaTypes.dockerConfig]);
const MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const INDEX_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);

/** Returns true for layers that registries and stores may legitimately lack (foreign / non-distributable). */
function mayBeAbsent(mediaType: string): boolean {
  return /nondistributable|foreign/.test(mediaType);
}

/**
 * Returns the blob digests whose content does not match their name, after re-hashing every blob (phase 1, run
 * without the index lock); also returns the temp files found there.
 */
export async function hashBlobs(layout: StoreLayout, o: Abortable = {}): Promise<{ checked: number; corrupt: Digest[]; stray: string[]; temps: string[] }> {
  const corrupt: Digest[] = [];
  const stray: string[] = [];
  const temps: string[] = [];
  let checked = 0;
  for (const f of (await readdir(layout.blobsDir)).sort()) {
    if (f.startsWith('.tmp-')) {
      temps.push(f);
      continue;
    }
    const d = `sha256:${f}`;
    const p = join(layout.blobsDir, f);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue; // removed meanwhile (gc)
    if (!isDigest(d) || !st.isFile()) {
      stray.push(f);
      continue;
    }
    const h = hashStream();
    try {
      await pipeline([createReadStream(p), h, new Writable({ write: (_c, _e, cb) => cb() })], o.signal ? { signal: o.signal } : {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    checked++;
    if ((await h.result).digest !== d) corrupt.push(d);
  }
  return { checked, corrupt, stray, temps };
}

/** Returns the absolute paths under `root` that some process holds open (from /proc/<pid>/fd). */
async function openPathsUnder(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const procs = await readdir('/proc').catch(() => [] as string[]);
  for (const p of procs) {
    if (!/^\d+$/.test(p)) continue;
    const fds = await readdir(`/proc/${p}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${p}/fd/${fd}`).catch(() => '');
      if (target.startsWith(root + '/')) out.add(target);
    }
  }
  return out;
}

/**
 * Returns the fsck report for the store (phase 2, called under the index lock with phase 1's result).
 * With `repair`, fixes what it reports (see the module comment) and says so in each finding's `repaired`.
 */
export async function checkStore(host: FsckHost, blobs: Awaited<ReturnType<typeof hashBlobs>>, o: FsckOptions & { staleLock?: string | undefined } = {}): Promise<FsckReport> {
  const repair = o.repair === true;
  const problems: FsckFinding[] = [];
  const leftovers: FsckFinding[] = [];
  const problem = (f: Omit<FsckFinding, 'severity'>): void => { problems.push({ severity: 'problem', ...f }); };
  const leftover = (f: Omit<FsckFinding, 'severity'>): void => { leftovers.push({ severity: 'leftover', ...f }); };

  // --- oci-layout
  const layoutText = await readFile(host.layout.ociLayoutFile, 'utf8').catch(() => undefined);
  let layoutOk = false;
  try {
    layoutOk = layoutText !== undefined && (JSON.parse(layoutText) as { imageLayoutVersion?: unknown }).imageLayoutVersion === '1.0.0';
  } catch {
    layoutOk = false;
  }
  if (!layoutOk) {
    if (repair) await host.writeLayoutFile();
    problem({ kind: 'bad-layout', subject: host.layout.ociLayoutFile, detail: layoutText === undefined ? 'missing' : 'not {"imageLayoutVersion":"1.0.0"}', ...(repair ? { repaired: 'rewritten' } : {}) });
  }

  // --- blobs (hashed in phase 1)
  const corrupt = new Set<Digest>();
  for (const d of blobs.corrupt) {
    // Re-check under the lock: a blob rewritten in between (an idempotent put) would be fine now.
    const still = await hashBlobFile(host.layout.blobPath(d));
    if (still === undefined || still === d) continue;
    corrupt.add(d);
    if (repair) await rm(host.layout.blobPath(d), { force: true });
    problem({ kind: 'corrupt-blob', subject: d, detail: `content hashes to ${still}`, ...(repair ? { repaired: 'deleted' } : {}) });
  }
  for (const f of blobs.stray) {
    problem({ kind: 'stray-blob', subject: join(host.layout.blobsDir, f), detail: 'not a sha256 blob file', ...(repair ? { repaired: 'deleted' } : {}) });
    if (repair) await rm(join(host.layout.blobsDir, f), { recursive: true, force: true });
  }
  const blobSize = async (d: Digest): Promise<number | undefined> => {
    if (corrupt.has(d)) return undefined;
    const st = await stat(host.layout.blobPath(d)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  };

  // --- index.json and every image's closure
  let idx: ImageIndex | undefined;
  try {
    idx = await host.readIndex();
  } catch (e) {
    problem({ kind: 'bad-index', subject: host.layout.indexFile, detail: (e as Error).message });
  }
  const missing = new Set<Digest>();
  const verdict = new Map<string, string | undefined>(); // `digest role` → first problem in its closure (undefined: fine)
  const reported = new Set<string>();
  const once = (key: string, f: Omit<FsckFinding, 'severity'>): void => {
    if (reported.has(key)) return;
    reported.add(key);
    problem(f);
  };
  /** Returns the first problem of `d`'s closure (and reports each problem once), or undefined when it is whole. */
  const checkTree = async (d: Descriptor, role: 'manifest' | 'config' | 'layer' | 'blob'): Promise<string | undefined> => {
    const key = `${d.digest} ${role}`;
    if (verdict.has(key)) return verdict.get(key);
    verdict.set(key, undefined); // cycles: a digest being checked counts as fine
    const r = await checkTreeUncached(d, role);
    verdict.set(key, r);
    return r;
  };
  const checkTreeUncached = async (d: Descriptor, role: 'manifest' | 'config' | 'layer' | 'blob'): Promise<string | undefined> => {
    const size = await blobSize(d.digest);
    if (size === undefined) {
      if (role === 'layer' && mayBeAbsent(d.mediaType)) return undefined;
      missing.add(d.digest);
      once(`missing ${d.digest}`, { kind: 'missing-blob', subject: d.digest, detail: corrupt.has(d.digest) ? `${role} blob is corrupt` : `${role} blob is not stored` });
      return `${role} ${d.digest} is ${corrupt.has(d.digest) ? 'corrupt' : 'missing'}`;
    }
    if (size !== d.size) {
      once(`size ${d.digest}`, { kind: 'size-mismatch', subject: d.digest, detail: `${role} blob is ${size} bytes, its descriptor says ${d.size}` });
      return `${role} ${d.digest} has the wrong size`;
    }
    if (role === 'layer' || role === 'blob' || role === 'config') return undefined;
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(await readFile(host.layout.blobPath(d.digest)), d.mediaType, d.digest);
    } catch (e) {
      once(`doc ${d.digest}`, { kind: 'bad-document', subject: d.digest, detail: (e as Error).message });
      return `manifest ${d.digest} does not parse`;
    }
    if (parsed.kind === 'index') {
      let first: string | undefined;
      for (const c of parsed.index.manifests) {
        const childRole = MANIFEST_TYPES.has(c.mediaType) || INDEX_TYPES.has(c.mediaType) ? 'manifest' : 'blob';
        const r = await checkTree(c, childRole);
        first ??= r;
      }
      return first;
    }
    const m = parsed.manifest;
    let first = await checkTree(m.config, 'config');
    for (const l of m.layers) first = (await checkTree(l, 'layer')) ?? first;
    if (IMAGE_CONFIG_TYPES.has(m.config.mediaType) && (await blobSize(m.config.digest)) !== undefined) {
      try {
        const c = parseConfig(await readFile(host.layout.blobPath(m.config.digest)), m.config.digest);
        if (c.rootfs.diff_ids.length !== m.layers.length) {
          once(`image ${d.digest}`, { kind: 'bad-image', subject: d.digest, detail: `config lists ${c.rootfs.diff_ids.length} diffIDs for ${m.layers.length} layers` });
          first ??= `config ${m.config.digest} does not match the layers`;
        }
      } catch (e) {
        once(`doc ${m.config.digest}`, { kind: 'bad-document', subject: m.config.digest, detail: (e as Error).message });
        first ??= `config ${m.config.digest} does not parse`;
      }
    }
    return first;
  };

  const broken = new Set<number>();
  if (idx) {
    for (const [i, e] of idx.manifests.entries()) {
      const why = await checkTree(e, MANIFEST_TYPES.has(e.mediaType) || INDEX_TYPES.has(e.mediaType) ? 'manifest' : 'blob');
      if (why === undefined) continue;
      broken.add(i);
      const name = e.annotations?.['org.opencontainers.image.ref.name'] ?? e.annotations?.['io.containerd.image.name'];
      problem({
        kind: 'broken-image', subject: name ?? e.digest,
        detail: `${name ? `tag points at ${e.digest}, ` : 'unnamed entry, '}${why}`,
        ...(repair ? { repaired: 'removed from index.json' } : {}),
      });
    }
    if (repair && broken.size > 0) {
      await host.writeIndexLocked({ ...idx, manifests: idx.manifests.filter((_, i) => !broken.has(i)) });
    }
  }

  // --- snapshots
  const now = Date.now();
  let snapshots = 0;
  for (const f of (await readdir(host.layout.snapshotsDir).catch(() => [] as string[])).sort()) {
    const p = join(host.layout.snapshotsDir, f);
    if (f.startsWith(SNAPSHOT_TEMP_PREFIX)) {
      const pid = ownerPid(f, /^\.tmp-(\d+)-[0-9a-f]{12}-/);
      const st = await lstat(p).catch(() => undefined);
      if (!st) continue;
      const gone = pid !== undefined ? ownerGone(pid, createdMs(st)) : now - st.mtimeMs > 60 * 60 * 1000;
      if (!gone) continue; // an unpack in flight
      if (repair) await rm(p, { recursive: true, force: true });
      leftover({ kind: 'incomplete-snapshot', subject: p, detail: pid !== undefined ? `unpack by process ${pid}, which is gone` : 'unpack older than an hour', ...(repair ? { repaired: 'removed' } : {}) });
      continue;
    }
    snapshots++;
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    const why = !/^[0-9a-f]{64}$/.test(f) ? 'name is not a sha256 diffID' : !st.isDirectory() ? 'not a directory' : undefined;
    if (why === undefined) continue;
    if (repair) await rm(p, { recursive: true, force: true });
    problem({ kind: 'bad-snapshot', subject: p, detail: why, ...(repair ? { repaired: 'removed (re-created on demand)' } : {}) });
  }

  // --- snapshots of an earlier boot that were never synced (snapshot.ts): a power failure may have cut them short
  const boot = bootId();
  for (const f of (await readdir(host.layout.unsyncedDir).catch(() => [] as string[])).sort()) {
    const marker = join(host.layout.unsyncedDir, f);
    const written = (await readFile(marker, 'utf8').catch(() => '')).trim();
    if (written === boot) continue;
    const snap = join(host.layout.snapshotsDir, f);
    const present = await lstat(snap).then(() => true, () => false);
    if (repair) {
      if (present) await rm(snap, { recursive: true, force: true });
      await rm(marker, { force: true });
    }
    leftover({
      kind: 'unsynced-snapshot', subject: present ? snap : marker,
      detail: present ? 'written without a sync before the last reboot; it is unpacked again from its blob when used' : 'marker of a snapshot that is gone',
      ...(repair ? { repaired: 'removed' } : {}),
    });
  }

  // --- leftovers: temp files, lock, scratch
  if (blobs.temps.length > 0) {
    const open = await openPathsUnder(host.layout.root);
    for (const f of blobs.temps) {
      const p = join(host.layout.blobsDir, f);
      const st = await lstat(p).catch(() => undefined);
      if (!st || open.has(p) || now - st.mtimeMs < TEMP_GRACE_MS) continue; // a write in flight
      if (repair) await rm(p, { force: true });
      leftover({ kind: 'temp-file', subject: p, detail: 'blob write that never finished', ...(repair ? { repaired: 'removed' } : {}) });
    }
  }
  for (const f of await readdir(host.layout.root).catch(() => [] as string[])) {
    const m = /^(?:index\.json|index\.json\.lock|oci-layout)\.tmp-(\d+)-/.exec(f);
    if (!m) continue;
    const p = join(host.layout.root, f);
    const st = await lstat(p).catch(() => undefined);
    if (!st || !ownerGone(Number(m[1]), createdMs(st))) continue;
    if (repair) await rm(p, { force: true });
    leftover({ kind: 'temp-file', subject: p, detail: `${f.startsWith('index.json.lock') ? 'lock' : 'index'} write by process ${m[1]}, which is gone`, ...(repair ? { repaired: 'removed' } : {}) });
  }
  if (o.staleLock !== undefined) {
    leftover({ kind: 'stale-lock', subject: host.layout.indexLockFile, detail: `held by ${o.staleLock}, which is gone`, repaired: 'broken (as any command does)' });
  }
  const tmpRoot = host.layout.tmpDir;
  // Containers before scratch: a running container holds its rootfs mount.
  const containers = await checkLeftoverContainers(host.layout.root, repair);
  for (const f of containers.findings) leftover(f);
  const stale = await findStaleScratch(tmpRoot);
  if (repair && stale.dirs.length > 0) await reclaimStaleScratch(tmpRoot, host.logger);
  for (const m of stale.mounts) if (!containers.mounts.has(m.point)) leftover({ kind: 'leaked-mount', subject: m.point, detail: 'mount over the scratch of a killed build', ...(repair ? { repaired: 'unmounted' } : {}) });
  for (const d of stale.dirs) leftover({ kind: 'stale-scratch', subject: d, detail: 'scratch of a build or run that is gone', ...(repair ? { repaired: 'removed' } : {}) });

  // Closure problems are fixed by dropping every entry that reaches them (the blobs stay for gc).
  const closureKinds: ReadonlySet<FsckKind> = new Set(['missing-blob', 'size-mismatch', 'bad-document', 'bad-image']);
  if (repair && idx) {
    for (const [i, f] of problems.entries()) if (closureKinds.has(f.kind) && f.repaired === undefined) problems[i] = { ...f, repaired: 'every image using it removed from index.json' };
  }
  const unrepaired = problems.filter((f) => f.repaired === undefined);
  return {
    checked: blobs.checked,
    corrupt: [...corrupt],
    missing: [...missing],
    images: idx?.manifests.length ?? 0,
    snapshots,
    findings: [...problems, ...leftovers],
    consistent: unrepaired.length === 0,
  };
}

async function hashBlobFile(p: string): Promise<Digest | undefined> {
  const h = hashStream();
  try {
    await pipeline([createReadStream(p), h, new Writable({ write: (_c, _e, cb) => cb() })]);
  } catch {
    return undefined;
  }
  return (await h.result).digest;
}
