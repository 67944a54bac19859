/**
 * The one map of the store root (`--root`): every path under it is asked of a StoreLayout, never joined by hand.
 * Pure: no getter or method does I/O, creates a directory or checks that a path exists.
 *
 * The whole layout (layer-store/README.md's "Store layout" section copies this tree; keep the two in sync).
 * Owner: the module that writes the place. gc = LayerStore.gc (`tsbuild prune`), prune = `prune --cache`
 * (CacheStore.prune and the cache-mount sweep), fsck = LayerStore.fsck (`tsbuild fsck [--repair]`).
 *
 *   <root>/                                       StoreLayout.root (absolute)
 *   ├── oci-layout                                ociLayoutFile      layer-store   {"imageLayoutVersion":"1.0.0"}; fsck checks and rewrites it
 *   ├── index.json                                indexFile          layer-store   OCI image index: one entry per tag (plus one unnamed entry
 *   │                                                                              per dangling image); gc drops the dangling ones, fsck --repair
 *   │                                                                              the broken ones; rewritten (temp, fsync, rename) under its lock
 *   ├── index.json.lock                           indexLockFile      layer-store   O_EXCL lock ("pid host time"), present only while index.json
 *   │                                                                              is rewritten; a dead holder's lock is broken by the next taker
 *   ├── index.json.tmp-<pid>-<uuid>, …            (atomic-write.ts)  layer-store   temps of index.json, index.json.lock and oci-layout
 *   │                                                                              writes; fsck removes a dead writer's
 *   ├── blobs/sha256/<hex>                        blobsDir, blobPath layer-store   every manifest, index, config and layer blob, named by its
 *   │                                                                              sha256; gc removes unreachable ones, fsck re-hashes all
 *   ├── blobs/sha256/.tmp-<pid>-<uuid>            blobTempPath()     layer-store   in-flight blob writes; gc and fsck remove a dead writer's
 *   ├── snapshots/<hex>                           snapshotPath       layer-store   unpacked layers keyed by diffID, shared by every image
 *   │                                                                              (overlay lower dirs); gc removes unused ones, fsck bad ones
 *   ├── snapshots/.tmp-<pid>-<hex12>-<uuid>       snapshotTempPath() layer-store   unpacks in flight; gc and fsck remove a dead unpacker's
 *   ├── unsynced/<hex>                            unsyncedMarker     layer-store   the boot id a snapshot was written in (never synced: after a
 *   │                                                                              reboot it is unpacked again); gc with its snapshot, fsck
 *   ├── leases/<pid>-<start>-<id>.json            leasesDir          layer-store   what a running build or pull uses and has not tagged; read
 *   │                                                                              (dead ones deleted) by gc and prune under leases/.lock
 *   ├── leases/.lock                              leasesLockFile     layer-store   held by every lease update and for a whole gc or cache prune
 *   ├── tmp/                                      tmpDir             builder       scratch, removed when its build or run ends; a dead owner's
 *   │   │                                                                          is reclaimed (with its mounts) by the next build and by
 *   │   │                                                                          fsck --repair (layer-store scratch.ts); gc leaves it alone
 *   │   ├── build-<pid>-<id>, run-<pid>-<id>      scratchPath                      a build's or `tsbuild run`'s overlay upper/work dirs
 *   │   └── out-XXXXXX                            outputTempPrefix                 an output being written (no pid: reclaimed after an hour)
 *   ├── cache/                                    cacheDir           cache
 *   │   ├── steps/                                cacheStepsDir      cache         CacheStore.open's dir (stepCacheLayout); pruned by prune
 *   │   │   ├── records/<key hex>.json            .records                         one framed record per step key
 *   │   │   ├── steps/<sha256(step id) hex>.json  .steps                           the latest key built for a step id (explainMiss)
 *   │   │   ├── sources/<digest hex>.json         .sources                         per-file fingerprints of a COPY's sources
 *   │   │   └── gzindex/<blob hex>.json           .segments                        gzip segment index of a layer a step made
 *   │   ├── stat/statcache-<16 hex>.json          cacheStatDir,      cache         context stat cache (StatCache), one file per context dir
 *   │   │                                         statCachePath                    (16 hex of sha256 of its path); nothing prunes it
 *   │   ├── git/<commit>[-git][-nosub]/           gitCacheDir        builder       git checkouts of contexts and ADD, by commit (builder/context/
 *   │   │                                                                          remote-git.ts), mtime = last use; leased as `cache/git/<name>`
 *   │   │                                                                          (gitCacheLeaseName); prune removes unleased ones (git-cache.ts)
 *   │   ├── git/.fetch-<name>-XXXXXX/             gitCacheDir        builder       a fetch in flight; prune removes it unless <name> is leased
 *   │   └── locks/<key hex>.lock                  stepLockPath       builder       two builds of one step key build it once; removed by the
 *   │                                                                              holder, a dead holder's broken by the next taker
 *   ├── cache-mounts/<32 hex of sha256(id)>       cacheMountPath     builder       RUN --mount=type=cache dirs, kept between builds; leased as
 *   │                                                                              `cache-mounts/<name>` (cacheMountLeasePath); prune removes unleased
 *   │                                                                              ones; cache import (restoreMounts) fills missing ones
 *   └── manifests/<32 hex of sha256(name)>.json   manifestListPath   cli           `manifest create` lists waiting for `manifest push`;
 *                                                                                  removed by `manifest push --purge` or `manifest rm`, never by gc
 *
 * Not under the root: runc's container state (`/run/runc/<id>`, runc's own `--root`) and the runc bundles
 * runtime-exec makes (its `tmpDir`, default the OS temp dir). A container belongs to this store through its
 * owner annotation, which names `root` (layer-store containers.ts); fsck finds and removes leftover ones.
 * Paths inside a place (an entry found by readdir, a cache mount's own files) are the owner's business.
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { digestHex, digestOf, parseDigest, type Digest } from '../core/index.js';

/** The file names under `cache/steps` (CacheStore's dir), which may also live outside a store root. */
export interface StepCacheLayout {
  /** The CacheStore dir itself. */
  readonly dir: string;
  /** `records/`: one framed record per step key. */
  readonly records: string;
  /** `steps/`: the latest key built for each step id. */
  readonly steps: string;
  /** `sources/`: per-file fingerprints of COPY sources. */
  readonly sources: string;
  /** `gzindex/`: the gzip segment index of each layer a step made. */
  readonly segments: string;
  /** Every subdirectory above, in the order CacheStore creates and sweeps them. */
  readonly subdirs: readonly string[];
  /** Returns `records/<key hex>.json`. */
  recordPath(key: Digest): string;
  /** Returns `steps/<sha256 of stepId, hex>.json`. */
  stepPath(stepId: string): string;
  /** Returns `sources/<digest hex>.json`. */
  sourcesPath(d: Digest): string;
  /** Returns `gzindex/<blob hex>.json`. */
  segmentsPath(blob: Digest): string;
}

/** Returns the names under a CacheStore dir (`<root>/cache/steps`, or any dir a caller opens a CacheStore in). */
export function stepCacheLayout(dir: string): StepCacheLayout {
  const records = join(dir, 'records');
  const steps = join(dir, 'steps');
  const sources = join(dir, 'sources');
  const segments = join(dir, 'gzindex');
  return {
    dir, records, steps, sources, segments,
    subdirs: [records, steps, sources, segments],
    recordPath: (key) => join(records, `${digestHex(key)}.json`),
    stepPath: (stepId) => join(steps, `${sha256Hex(stepId)}.json`),
    sourcesPath: (d) => join(sources, `${digestHex(d)}.json`),
    segmentsPath: (blob) => join(segments, `${digestHex(blob)}.json`),
  };
}

/** Returns `<dir>/statcache-<16 hex of sha256(name)>.json`, the StatCache file of the context `name` in `dir`. */
export function statCacheFile(dir: string, name: string): string {
  return join(dir, `statcache-${sha256Hex(name).slice(0, 16)}.json`);
}

/** Returns the directory name a cache mount id maps to under `<root>/cache-mounts`: 32 hex of its sha256. */
export function cacheMountDirName(id: string): string {
  return sha256Hex(id).slice(0, 32);
}

/** The paths of a store root. Construct with `rootLayout(root)`; a LayerStore exposes its own as `store.layout`. */
export class StoreLayout {
  /** The root, absolute: paths handed to other processes (runc bind sources, mount options) hold from any cwd. */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  // ------------------------------------------------------------ OCI image layout (layer-store)

  /** `<root>/oci-layout`. */
  get ociLayoutFile(): string {
    return join(this.root, 'oci-layout');
  }
  /** `<root>/index.json`. */
  get indexFile(): string {
    return join(this.root, 'index.json');
  }
  /** `<root>/index.json.lock`: the inter-process lock of index.json. */
  get indexLockFile(): string {
    return join(this.root, 'index.json.lock');
  }
  /** `<root>/blobs/sha256`. */
  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }
  /** Returns `<root>/blobs/sha256/<hex>` (whether or not it exists); throws InvalidDigestError on a malformed digest. */
  blobPath(d: Digest): string {
    return join(this.blobsDir, digestHex(parseDigest(d)));
  }
  /** Returns a fresh temp path in the blob dir for this process: `.tmp-<pid>-<uuid>` (gc reads the pid back). */
  blobTempPath(): string {
    return join(this.blobsDir, `${BLOB_TEMP_PREFIX}${process.pid}-${randomUUID()}`);
  }

  // ------------------------------------------------------------ snapshots (layer-store)

  /** `<root>/snapshots`. */
  get snapshotsDir(): string {
    return join(this.root, 'snapshots');
  }
  /** Returns `<root>/snapshots/<diffId hex>`. */
  snapshotPath(diffId: Digest): string {
    return join(this.snapshotsDir, digestHex(diffId));
  }
  /**
   * Returns a fresh `<root>/snapshots/.tmp-<pid>-<diffId hex[:12]>-<uuid>`, where this process unpacks `diffId`
   * (or moves a discarded snapshot aside) before one rename; fsck and gc read the pid back.
   */
  snapshotTempPath(diffId: Digest): string {
    return join(this.snapshotsDir, `${SNAPSHOT_TEMP_PREFIX}${process.pid}-${digestHex(diffId).slice(0, 12)}-${randomUUID()}`);
  }
  /** `<root>/unsynced`: markers of snapshots written without a sync (snapshot.ts). */
  get unsyncedDir(): string {
    return join(this.root, 'unsynced');
  }
  /** Returns `<root>/unsynced/<diffId hex>`. */
  unsyncedMarker(diffId: Digest): string {
    return join(this.unsyncedDir, digestHex(diffId));
  }

  // ------------------------------------------------------------ leases (layer-store)

  /** `<root>/leases`. */
  get leasesDir(): string {
    return join(this.root, 'leases');
  }
  /** `<root>/leases/.lock`. */
  get leasesLockFile(): string {
    return join(this.leasesDir, '.lock');
  }

  // ------------------------------------------------------------ scratch (builder; reclaimed by layer-store)

  /** `<root>/tmp`: per-build and per-run scratch. */
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  /**
   * Returns `<root>/tmp/<kind>-<pid>-<id>`, the scratch dir of this process (stale-scratch detection reads the
   * pid back; `kind` is `build` or `run`).
   */
  scratchPath(kind: string, id: string): string {
    return join(this.tmpDir, `${kind}-${process.pid}-${id}`);
  }
  /**
   * Returns `<root>/tmp/out-`, the `mkdtemp` prefix of an output's scratch dir (no pid in its name: a leftover
   * one is reclaimed once it is over an hour old).
   */
  get outputTempPrefix(): string {
    return join(this.tmpDir, 'out-');
  }

  // ------------------------------------------------------------ build cache (cache, builder)

  /** `<root>/cache`. */
  get cacheDir(): string {
    return join(this.root, 'cache');
  }
  /** `<root>/cache/git`: git checkouts of contexts and ADD, by commit (builder/context/remote-git.ts). */
  get gitCacheDir(): string {
    return join(this.cacheDir, 'git');
  }
  /** Returns `cache/git/<entry>`, the root-relative path a lease records for the git checkout `entry`. */
  gitCacheLeaseName(entry: string): string {
    return `cache/git/${entry}`;
  }
  /** `<root>/cache/steps`: the CacheStore dir. */
  get cacheStepsDir(): string {
    return join(this.cacheDir, 'steps');
  }
  /** The names inside `<root>/cache/steps` (records, steps, sources, gzip segment indexes). */
  get cacheSteps(): StepCacheLayout {
    return stepCacheLayout(this.cacheStepsDir);
  }
  /** `<root>/cache/stat`: the StatCache dir. */
  get cacheStatDir(): string {
    return join(this.cacheDir, 'stat');
  }
  /** Returns `<root>/cache/stat/statcache-<16 hex of sha256(name)>.json`, the stat cache of the context `name`. */
  statCachePath(name: string): string {
    return statCacheFile(this.cacheStatDir, name);
  }
  /** `<root>/cache/locks`. */
  get cacheLocksDir(): string {
    return join(this.cacheDir, 'locks');
  }
  /** Returns `<root>/cache/locks/<key hex>.lock`, the O_EXCL lock serialising the builders of one step key. */
  stepLockPath(key: Digest): string {
    return join(this.cacheLocksDir, `${digestHex(key)}.lock`);
  }

  // ------------------------------------------------------------ cache mounts (builder, cache import, prune)

  /** `<root>/cache-mounts`. */
  get cacheMountsDir(): string {
    return join(this.root, 'cache-mounts');
  }
  /** Returns `<root>/cache-mounts/<cacheMountDirName(id)>`, the directory of the cache mount `id`. */
  cacheMountPath(id: string): string {
    return join(this.cacheMountsDir, cacheMountDirName(id));
  }
  /** Returns `cache-mounts/<name>`, the root-relative path a lease records for the cache mount `id`. */
  cacheMountLeasePath(id: string): string {
    return cacheMountLeaseName(cacheMountDirName(id));
  }
  /** Returns `cache-mounts/<dirName>` for a directory name found in cacheMountsDir (what prune checks leases for). */
  cacheMountLeaseName(dirName: string): string {
    return cacheMountLeaseName(dirName);
  }

  // ------------------------------------------------------------ manifest lists (cli)

  /** `<root>/manifests`: `manifest create` lists not yet pushed. */
  get manifestListsDir(): string {
    return join(this.root, 'manifests');
  }
  /** Returns `<root>/manifests/<32 hex of sha256(name)>.json`; `name` is the list's normalised reference. */
  manifestListPath(name: string): string {
    return join(this.manifestListsDir, `${sha256Hex(name).slice(0, 32)}.json`);
  }
}

/** Returns the layout of the store root `root` (resolved to an absolute path). */
export function rootLayout(root: string): StoreLayout {
  return new StoreLayout(root);
}

/** Prefix of an in-flight blob write in the blob dir: `.tmp-<pid>-<uuid>`. */
export const BLOB_TEMP_PREFIX = '.tmp-';
/** Prefix of a snapshot being unpacked: `.tmp-<pid>-<diffId hex[:12]>-<uuid>` beside the final dirs. */
export const SNAPSHOT_TEMP_PREFIX = '.tmp-';

function cacheMountLeaseName(dirName: string): string {
  return `cache-mounts/${dirName}`;
}

/** Returns the sha256 hex of the UTF-8 bytes of `s`. */
function sha256Hex(s: string): string {
  return digestHex(digestOf(s));
}
