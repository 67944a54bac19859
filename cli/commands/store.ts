/**
 * Image commands over the store under --root: tag, rmi, prune, du here; images, inspect and history in images.ts;
 * save, load and import in archive.ts. Handlers only parse flags and print; the logic lives in layer-store.
 */
import type { CommandModule } from 'yargs';
import { LayerStore, TsbuildError, withLeasesHeld } from '../../layer-store/index.js';
import { humanSize } from '../docker-view/view.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { readdir, rm, stat, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheStore } from '../../cache/index.js';
import { parseSize } from '../options.js';

function openStore(argv: GlobalArgs): Promise<LayerStore> {
  return LayerStore.open(argv.root, { logger: loggerFor(argv) });
}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}

interface TagArgs extends GlobalArgs { source: string; target: string }

export const tagCommand: CommandModule<GlobalArgs, TagArgs> = {
  command: 'tag <source> <target>',
  describe: 'give an image another name',
  builder: (y) => y.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true })
    .example('$0 tag app:1 localhost:5000/team/app:1', 'a registry name, ready for push') as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const obj = await store.resolve(argv.source);
    await store.tag(argv.target, obj.descriptor);
  },
};

interface RmiArgs extends GlobalArgs { refs: string[]; force: boolean }

export const rmiCommand: CommandModule<GlobalArgs, RmiArgs> = {
  command: 'rmi <refs..>',
  describe: 'remove image names (by ID: all its names); blobs are freed by `tsbuild prune`',
  builder: (y) =>
    y
      .positional('refs', { type: 'string', array: true, demandOption: true })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'remove an image ID that has several names' })
      .example('$0 rmi app:old && $0 prune -f', 'drop a name, then free its blobs') as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    for (const ref of argv.refs) {
      const r = await store.remove(ref, { force: argv.force });
      for (const n of r.untagged) out(`Untagged: ${n}`);
      for (const d of r.deleted) out(`Deleted: ${d}`);
    }
  },
};

interface PruneArgs extends GlobalArgs {
  cache: boolean;
  'keep-storage'?: string;
  filter?: string; all: boolean; force: boolean }

export const pruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'remove dangling images, unreferenced blobs and unused layer snapshots (with --cache: build cache too)',
  builder: (y) => y
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'also remove the snapshots of named images (re-created on demand)' })
    .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not prompt (tsbuild never prompts: accepted for docker scripts)' })
    .option('cache', { type: 'boolean', default: false, describe: 'also prune build cache records, RUN --mount=type=cache dirs and git checkouts (git contexts, ADD of a repository), least recently used first' })
    .option('keep-storage', { type: 'string', describe: 'with --cache: keep this much cache (e.g. 2g), dropping the least recently used' })
    .option('filter', { type: 'string', describe: 'with --cache: until=DURATION (e.g. 24h): drop cache unused for that long' })
    .example('$0 prune -f', 'dangling images, unreferenced blobs, unused snapshots')
    .example('$0 prune --cache --keep-storage 5g', 'build cache too, down to 5 GB') as never,
  handler: async (argv) => {
    if (!argv.cache && (argv.filter !== undefined || argv['keep-storage'] !== undefined)) {
      throw new TsbuildError('USAGE', `${argv.filter !== undefined ? '--filter' : '--keep-storage'} applies to the build cache only`, { hint: 'add --cache (tsbuild prune --cache …); images have no filter' });
    }
    const store = await openStore(argv);
    const cache = await CacheStore.open(store.layout.cacheStepsDir, { logger: loggerFor(argv) });
    if (argv.cache) {
      // The builder (Go durations, git checkouts) loads only here: tag, rmi, du and prune without --cache never need it.
      const { parseGoDuration, pruneGitCache } = await import('../../builder/index.js');
      let olderThanMs: number | undefined;
      if (argv.filter !== undefined) {
        const m = /^until=(.+)$/.exec(argv.filter);
        const ns = m ? parseGoDuration(m[1]!) : undefined;
        if (ns === undefined) throw new TsbuildError('USAGE', `invalid --filter ${JSON.stringify(argv.filter)}`, { hint: 'write --filter until=24h (a Go duration)' });
        olderThanMs = ns / 1e6;
      }
      const keepBytes = argv['keep-storage'] !== undefined ? parseSize(argv['keep-storage']) : undefined;
      // Under the lease lock: records and cache mounts that a running build has leased are kept.
      await withLeasesHeld(argv.root, async (leases) => {
        const pr = await cache.prune({ ...(keepBytes !== undefined ? { keepBytes } : { keepBytes: olderThanMs === undefined ? 0 : Number.MAX_SAFE_INTEGER }), ...(olderThanMs !== undefined ? { olderThanMs } : {}), keep: leases.cacheKeys });
        out(`Deleted ${pr.removed.length} cache records (${humanSize(pr.freedBytes)}), kept ${pr.kept}`);
        const mounts = store.layout.cacheMountsDir;
        let removedMounts = 0;
        for (const name of await readdir(mounts).catch(() => [] as string[])) {
          if (leases.paths.has(store.layout.cacheMountLeaseName(name))) continue;
          const p = join(mounts, name);
          const st = await stat(p).catch(() => undefined);
          if (!st) continue;
          if (keepBytes === undefined && (olderThanMs === undefined || Date.now() - st.mtimeMs > olderThanMs)) {
            await rm(p, { recursive: true, force: true });
            removedMounts++;
          }
        }
        if (removedMounts) out(`Deleted ${removedMounts} cache mounts`);
        // Git checkouts are cache records too (BuildKit's git sources go with buildx prune): the same rules, and
        // under --keep-storage what the step records left of the budget.
        const git = await pruneGitCache(store.layout.gitCacheDir, {
          olderThanMs, ...(keepBytes !== undefined ? { keepBytes: Math.max(0, keepBytes - pr.keptBytes) } : {}),
          leased: (entry) => leases.paths.has(store.layout.gitCacheLeaseName(entry)),
        });
        if (git.removed.length) out(`Deleted ${git.removed.length} git checkouts (${humanSize(git.freedBytes)})`);
      });
    }
    // Layers that cache records still reference are GC roots: a pruned image does not take its cache with it.
    // Read under gc's locks, after the leases: a record put by a build that has just released its lease is seen.
    const r = await store.gc({ allSnapshots: argv.all, lateRoots: async () => (await cache.usage()).layers.keys() });
    for (const d of r.removedImages) out(`Deleted image: ${d}`);
    out(`Deleted ${r.removedBlobs.length} blobs and ${r.removedSnapshots.length} snapshots`);
    out(`Total reclaimed space: ${humanSize(r.freedBytes)}`);
  },
};

/** Returns the bytes under `dir` (files' sizes, not following symlinks); 0 when it does not exist. */
async function dirBytes(dir: string): Promise<{ bytes: number; entries: number }> {
  let bytes = 0;
  let entries = 0;
  // A file with several links (snapshots share the unchanged files of an edited COPY) is counted once.
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      entries++;
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await lstat(p);
      if (st.nlink > 1) {
        const id = `${st.dev}:${st.ino}`;
        if (seen.has(id)) continue;
        seen.add(id);
      }
      bytes += st.size;
    }
  };
  await walk(dir);
  return { bytes, entries };
}

/** `tsbuild du`: what the store and the build cache hold. */
export const duCommand: CommandModule<GlobalArgs, GlobalArgs & { format?: string }> = {
  command: 'du',
  describe: 'show disk usage of images, blobs, snapshots, build cache records, cache mounts and git checkouts',
  builder: (y) => y.option('format', { choices: ['table', 'json'] as const, default: 'table', describe: 'output format' })
    .example('$0 du --format json', 'the figures as JSON') as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const cache = await CacheStore.open(store.layout.cacheStepsDir, { logger: loggerFor(argv) });
    const images = await store.listImages();
    const blobs = await dirBytes(store.blobsDir);
    const snaps = await dirBytes(store.snapshotsDir);
    const usage = await cache.usage();
    const mounts = await readdir(store.layout.cacheMountsDir).catch(() => [] as string[]);
    const mountBytes = await dirBytes(store.layout.cacheMountsDir);
    const gitBytes = await dirBytes(store.layout.gitCacheDir);
    const rows = {
      images: images.length,
      blobs: { count: blobs.entries, bytes: blobs.bytes },
      snapshots: { count: (await readdir(store.snapshotsDir).catch(() => [])).length, bytes: snaps.bytes },
      cacheRecords: { count: usage.records, bytes: usage.recordBytes, layers: usage.layers.size, layerBytes: usage.layerBytes },
      cacheMounts: { count: mounts.length, bytes: mountBytes.bytes },
      gitCheckouts: { count: (await readdir(store.layout.gitCacheDir).catch(() => [])).length, bytes: gitBytes.bytes },
    };
    if (argv.format === 'json') return out(JSON.stringify(rows, null, 2));
    out(`TYPE            COUNT   SIZE`);
    out(`images          ${String(rows.images).padEnd(7)} -`);
    out(`blobs           ${String(rows.blobs.count).padEnd(7)} ${humanSize(rows.blobs.bytes)}`);
    out(`snapshots       ${String(rows.snapshots.count).padEnd(7)} ${humanSize(rows.snapshots.bytes)}`);
    out(`cache records   ${String(rows.cacheRecords.count).padEnd(7)} ${humanSize(rows.cacheRecords.bytes)} (+ ${rows.cacheRecords.layers} layers, ${humanSize(rows.cacheRecords.layerBytes)})`);
    out(`cache mounts    ${String(rows.cacheMounts.count).padEnd(7)} ${humanSize(rows.cacheMounts.bytes)}`);
    out(`git checkouts   ${String(rows.gitCheckouts.count).padEnd(7)} ${humanSize(rows.gitCheckouts.bytes)}`);
  },
};
