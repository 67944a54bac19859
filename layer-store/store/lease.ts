/**
 * Leases (containerd's idea): a running build or pull records what it uses, or has produced but not yet
 * tagged, so that a `gc`/`prune` running beside it in another process keeps those things.
 *
 * Layout:
 *
 *   <root>/leases/<pid>-<starttime>-<id>.json   one lease: {v, pid, start, host, createdAt, blobs, snapshots, cacheKeys, paths}
 *   <root>/leases/.lock                        inter-process lock (lock.ts); held by every lease update and
 *                                              for the whole of a gc or cache prune
 *
 * A lease is live while its process is: same host, the pid exists and its start time (field 22 of
 * /proc/PID/stat, so a reused pid is not mistaken for the owner) matches. Leases of dead processes are
 * deleted by whoever reads them under the lock. A lease is not fsynced: a crash kills its owner, so it would
 * be stale anyway.
 *
 * Protocol: `lease.add(x)` BEFORE checking that x exists (hasBlob, cache get) or writing it under a name
 * known in advance. Because gc holds the lease lock from reading the leases to its last delete, an add
 * either completes before gc starts (gc keeps x) or waits until gc is done (the existence check then sees
 * what gc left). Blobs whose digest is only known after writing (a layer being packed) are covered by the
 * time rule: a live lease also protects every blob modified since the lease was created.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isDigest, type Abortable, type Descriptor, type Digest, type ImageDestination, type Layer, type RawManifest } from '../core/index.js';
import { rootLayout } from './layout.js';
import { withLock } from './lock.js';

/** What a lease protects. Every field is optional; `add` merges. */
export interface LeaseResources {
  /** Blob digests (manifests, configs, layer blobs). */
  readonly blobs?: readonly Digest[];
  /** Layer diffIDs whose `<root>/snapshots/<hex>` directories are in use (overlay lower dirs). */
  readonly snapshots?: readonly Digest[];
  /** Build-cache step keys whose records are being written or are about to be read. */
  readonly cacheKeys?: readonly Digest[];
  /** Other paths under the root in use, relative to it (e.g. `cache-mounts/<name>`). */
  readonly paths?: readonly string[];
}

/** The union of every live lease, read under the lease lock. */
export interface LiveLeases {
  readonly blobs: ReadonlySet<Digest>;
  readonly snapshots: ReadonlySet<Digest>;
  readonly cacheKeys: ReadonlySet<Digest>;
  readonly paths: ReadonlySet<string>;
  /**
   * Epoch ms (minus a second of clock slack) of the oldest live lease; undefined with none. A blob modified at
   * or after this time may be an in-flight write of a lease holder and must be kept.
   */
  readonly since: number | undefined;
  /** Number of live leases. */
  readonly live: number;
  /** Leases of dead processes deleted while reading. */
  readonly removedStale: number;
}

export interface LeaseOptions extends Abortable {
  /** Milliseconds to wait for the lease lock (a gc holds it while it runs). Default 600 000. */
  readonly lockTimeoutMs?: number;
}

interface LeaseFile {
  v: 1;
  pid: number;
  start: string | undefined;
  host: string;
  createdAt: number;
  blobs: string[];
  snapshots: string[];
  cacheKeys: string[];
  paths: string[];
}

const LEASE_VERSION = 1;
/** Clock slack (ms) subtracted from a lease's creation time when comparing with file mtimes. */
const CLOCK_SLACK_MS = 1000;
const DEFAULT_LOCK_TIMEOUT_MS = 600_000;

/** Returns `<root>/leases` (StoreLayout.leasesDir). */
export function leasesDir(root: string): string {
  return rootLayout(root).leasesDir;
}

function lockPath(root: string): string {
  return rootLayout(root).leasesLockFile;
}

/** Returns field 22 (start time in clock ticks since boot) of /proc/PID/stat, or undefined when unreadable. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    // Synchronous: a read of procfs, no disk (the lease's other file calls are synchronous too).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/** Returns true when the process that wrote a lease is still running (other hosts' leases count as live). */
async function ownerAlive(f: Pick<LeaseFile, 'pid' | 'start' | 'host'>): Promise<boolean> {
  if (f.host !== hostname()) return true;
  try {
    process.kill(f.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (f.start === undefined) return true;
  const now = await processStartTime(f.pid);
  return now === undefined || now === f.start;
}

/**
 * A lease held by this process on the store at `root`. Create with `Lease.acquire`, record resources with
 * `add` before using them, and `release` when the result is tagged (or the work failed). A process killed
 * without releasing leaves a file that the next gc deletes.
 */
export class Lease {
  readonly root: string;
  /** The lease file. */
  readonly path: string;
  /** Epoch ms when the lease was created. */
  readonly createdAt: number;
  readonly #o: LeaseOptions;
  readonly #held: LeaseFile;
  readonly #sets = { blobs: new Set<string>(), snapshots: new Set<string>(), cacheKeys: new Set<string>(), paths: new Set<string>() };
  #queue: Promise<void> = Promise.resolve();
  /** The write that will record what add() merged since the last write started; undefined when none is pending. */
  #scheduled: Promise<void> | undefined;
  #released = false;

  private constructor(root: string, path: string, held: LeaseFile, o: LeaseOptions) {
    this.root = root;
    this.path = path;
    this.createdAt = held.createdAt;
    this.#held = held;
    this.#o = o;
  }

  /** Returns a new lease on the store at `root`, recorded on disk (under the lease lock) before it returns. */
  static async acquire(root: string, o: LeaseOptions = {}): Promise<Lease> {
    mkdirSync(leasesDir(root), { recursive: true });
    const start = await processStartTime(process.pid);
    const id = randomUUID().slice(0, 8);
    const held: LeaseFile = { v: LEASE_VERSION, pid: process.pid, start, host: hostname(), createdAt: Date.now(), blobs: [], snapshots: [], cacheKeys: [], paths: [] };
    const l = new Lease(root, join(leasesDir(root), `${process.pid}-${start ?? 'x'}-${id}.json`), held, o);
    await l.#write();
    return l;
  }

  /**
   * Records `r` in the lease (a no-op for what it already holds). Resolves once a gc started after this call
   * can see it: call it before checking that the resource exists.
   */
  add(r: LeaseResources): Promise<void> {
    if (this.#released) return Promise.resolve();
    let changed = false;
    for (const k of ['blobs', 'snapshots', 'cacheKeys', 'paths'] as const) {
      for (const v of r[k] ?? []) {
        if (this.#sets[k].has(v)) continue;
        this.#sets[k].add(v);
        changed = true;
      }
    }
    // Held already: recorded by a write that is done, running or scheduled; the queue settles after the last one.
    if (!changed) return this.#queue;
    // Adds made before the scheduled write starts share it (a pull's workers add their blobs at the same moment):
    // it writes the sets as they are when it runs, after the write before it.
    if (!this.#scheduled) {
      const next = this.#queue.then(async () => {
        this.#scheduled = undefined;
        if (!this.#released) await this.#write();
      });
      this.#scheduled = next;
      this.#queue = next.catch(() => undefined);
    }
    return this.#scheduled;
  }

  /** Records a layer: its blob and its snapshot. */
  addLayer(l: Pick<Layer, 'digest' | 'diffId'>): Promise<void> {
    return this.add({ blobs: [l.digest], snapshots: [l.diffId] });
  }

  /** Deletes the lease file; what it protected may be collected by the next gc. Idempotent. */
  async release(): Promise<void> {
    await this.#queue;
    if (this.#released) return;
    this.#released = true;
    try { unlinkSync(this.path); } catch { /* gone already */ }
  }

  /** Writes the lease file (temp + rename) under the lease lock. */
  async #write(): Promise<void> {
    const doc: LeaseFile = { ...this.#held, blobs: [...this.#sets.blobs], snapshots: [...this.#sets.snapshots], cacheKeys: [...this.#sets.cacheKeys], paths: [...this.#sets.paths] };
    await withLock(lockPath(this.root), async () => {
      // Synchronous: a build writes its lease at nearly every step, and these are two small metadata operations.
      const tmp = `${this.path}.tmp-${randomUUID().slice(0, 8)}`;
      try {
        writeFileSync(tmp, JSON.stringify(doc), { mode: 0o644 });
        // The old file goes first: a rename over an existing file makes ext4 (auto_da_alloc) write the new
        // one's data out at once, 0.2 ms to 10+ ms on a busy disk, four times a step. Readers hold this lock,
        // so none sees the moment without a file; a crash then kills the owner, whose lease is stale anyway.
        try {
          unlinkSync(this.path);
        } catch {
          // the first write
        }
        renameSync(tmp, this.path);
      } catch (e) {
        try {
          unlinkSync(tmp);
        } catch {
          // not created
        }
        throw e;
      }
    }, { timeoutMs: this.#o.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, ...(this.#o.signal ? { signal: this.#o.signal } : {}) });
  }
}

/** Removes `p`, whatever stops it (gone meanwhile, or not ours to remove: it is left). */
function quietUnlink(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // as before: best effort
  }
}

/**
 * Returns the union of the live leases under `root` after deleting the leases of dead processes. Does not take
 * the lock: the answer may be stale at once. Use withLeasesHeld to act on it.
 */
export async function readLiveLeases(root: string): Promise<LiveLeases> {
  const blobs = new Set<Digest>();
  const snapshots = new Set<Digest>();
  const cacheKeys = new Set<Digest>();
  const paths = new Set<string>();
  let since: number | undefined;
  let live = 0;
  let removedStale = 0;
  const dir = leasesDir(root);
  // Synchronous, as the lease writes are: a few small files, read under the lease lock while a build's earlier
  // layers may keep the thread pool busy with their compression (an edited COPY taking its previous tree waited).
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  for (const name of names) {
    const p = join(dir, name);
    if (!name.endsWith('.json')) {
      // A temp file of a lease write whose process was killed mid-write (`<pid>-….json.tmp-…`).
      const pid = Number(/^(\d+)-.*\.tmp-/.exec(name)?.[1]);
      if (pid > 0 && !(await ownerAlive({ pid, start: undefined, host: hostname() }))) quietUnlink(p);
      continue;
    }
    let f: LeaseFile;
    try {
      f = JSON.parse(readFileSync(p, 'utf8')) as LeaseFile;
    } catch {
      continue; // released meanwhile (ENOENT); a torn file cannot exist (written by rename)
    }
    if (typeof f !== 'object' || f === null || typeof f.pid !== 'number') continue;
    if (!(await ownerAlive(f))) {
      quietUnlink(p);
      removedStale++;
      continue;
    }
    live++;
    if (typeof f.createdAt === 'number') since = Math.min(since ?? Infinity, f.createdAt - CLOCK_SLACK_MS);
    for (const d of f.blobs ?? []) if (isDigest(d)) blobs.add(d);
    for (const d of f.snapshots ?? []) if (isDigest(d)) snapshots.add(d);
    for (const d of f.cacheKeys ?? []) if (isDigest(d)) cacheKeys.add(d);
    for (const s of f.paths ?? []) if (typeof s === 'string') paths.add(s);
  }
  return { blobs, snapshots, cacheKeys, paths, since, live, removedStale };
}

/**
 * Returns what `fn` returned after running it while holding the lease lock, so no lease can gain a resource
 * meanwhile. `fn` receives the live leases (stale ones are deleted first). Used by gc and cache prune; do not
 * call LayerStore.gc() inside `fn` (it takes the same lock).
 */
export async function withLeasesHeld<T>(root: string, fn: (live: LiveLeases) => Promise<T>, o: LeaseOptions = {}): Promise<T> {
  mkdirSync(leasesDir(root), { recursive: true });
  return withLock(lockPath(root), async () => fn(await readLiveLeases(root)), {
    timeoutMs: o.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, ...(o.signal ? { signal: o.signal } : {}),
  });
}

/**
 * Returns `dst` with every blob and manifest it is asked about added to `lease` first, so a pull into the
 * store keeps what it skipped as already present until its commit tags it. The blobs of a manifest that
 * copyImage announces (willCopy) are added in one lease write before any of them is checked; the per-blob adds
 * that follow find them held and write nothing (a pull of a manifest and 5 blobs: 2 lease writes instead of 6).
 */
export function leaseDestination<D extends ImageDestination>(dst: D, lease: Lease): D {
  return Object.assign(Object.create(dst) as D, {
    willCopy: async (blobs: readonly Descriptor[], o?: Abortable) => {
      await lease.add({ blobs: blobs.map((b) => b.digest) });
      await dst.willCopy?.(blobs, o);
    },
    hasBlob: async (d: Descriptor, o?: Abortable) => {
      await lease.add({ blobs: [d.digest] });
      return dst.hasBlob(d, o);
    },
    putBlob: async (body: Readable, want: Descriptor, o?: Abortable) => {
      if (want.digest !== undefined) await lease.add({ blobs: [want.digest] });
      return dst.putBlob(body, want, o);
    },
    putManifest: async (raw: RawManifest, o?: Abortable) => {
      await lease.add({ blobs: [raw.digest] });
      return dst.putManifest(raw, o);
    },
  });
}
