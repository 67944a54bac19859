import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type BuildOptions, type BuildResult } from '../../builder/index.js';
import { LayerStore, importRootfs, type BuildEvent } from '../../layer-store/index.js';
import { CacheStore } from '../../cache/index.js';
import { findRuntime, type Runtime } from '../../runtime-exec/index.js';
import { mountsUsing } from './owned.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from './rootfs.js';

/** A temporary store with `busybox:latest` imported from Debian's busybox-static, a cache and runc. */
export interface BuildEnv {
  readonly root: string;
  readonly store: LayerStore;
  readonly cache: CacheStore;
  readonly runtime: Runtime;
  /** Builds with this env's store, cache and runtime; collects events in `events`. */
  build(o: Omit<BuildOptions, 'store' | 'runtime' | 'cache'> & { cache?: false }): Promise<BuildResult & { events: BuildEvent[] }>;
  cleanup(): Promise<void>;
}

/** Returns the busybox rootfs tar shared by one test file (create in `before`, cleanup in `after`). */
export async function busyboxTar(): Promise<BusyboxRootfs & { tar: string }> {
  const r = await makeBusyboxRootfs({ tar: true });
  return r as BusyboxRootfs & { tar: string };
}

/** `isolation: 'chroot'`: RUN steps under chroot isolation (runtime-exec chroot-isolation.ts) instead of runc. */
export async function makeBuildEnv(busybox: { tar: string }, o: { isolation?: 'oci' | 'chroot' } = {}): Promise<BuildEnv> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-build-'));
  const store = await LayerStore.open(root);
  await importRootfs(store, busybox.tar, 'busybox:latest', { created: '1970-01-01T00:00:00.000Z' });
  const cache = await CacheStore.open(join(root, 'cache', 'steps'));
  const runtime = await findRuntime(o.isolation === 'chroot' ? { isolation: 'chroot' } : { runtime: 'runc' });
  return {
    root, store, cache, runtime,
    async build(o) {
      const events: BuildEvent[] = [];
      const { cache: useCache, ...rest } = o;
      const r = await build({ ...rest, store, runtime, ...(useCache === false ? {} : { cache }), events: (e) => { events.push(e); o.events?.(e); } });
      return { ...r, events };
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * Returns the mount points that use the test's own --root `root`: below it, or overlays over its layers (a runc
 * bundle's rootfs in os.tmpdir()). Only these count: every process on the machine shares this mount table, and
 * another tsbuild run's mounts are named `tsbuild-*` too.
 */
export function mountPoints(root: string): Promise<string[]> {
  return mountsUsing(root);
}

/** Returns the entries of `<root>/tmp` (scratch dirs a build must remove). */
export async function scratchLeft(root: string): Promise<string[]> {
  return readdir(join(root, 'tmp')).catch(() => []);
}

/** Returns the content of `path` in layer `index` (default: the top one) of `image` in `env`'s store, read with GNU tar. */
export async function layerFile(env: BuildEnv, image: string, path: string, index?: number): Promise<string> {
  const img = await env.store.image(image);
  const layer = img.manifest.layers[index ?? img.manifest.layers.length - 1]!;
  const { stdout } = await promisify(execFile)('tar', ['-xzOf', env.store.blobPath(layer.digest), path]);
  return stdout;
}
