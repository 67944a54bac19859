/**
 * Image commands over the store under --root: images, inspect, history, tag, rmi, prune, save, load, import.
 * Handlers only parse flags and print; the logic lives in layer-store.
 */
import type { CommandModule } from 'yargs';
import {
  parsePlatform,
  LayerStore, TsbuildError, familiarRepository, imageHistory, importRootfs, listImageSummaries, loadArchive,
  normalizeTagName, parseImageName, saveImages, splitTagName, digestHex, withLeasesHeld,
  type ImageSummary,
} from '../../layer-store/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { readdir, rm, stat, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheStore } from '../../cache/index.js';
import { parseGoDuration } from '../../builder/index.js';
import { parseSize } from './build.js';

function openStore(argv: GlobalArgs): Promise<LayerStore> {
  return LayerStore.open(argv.root, { logger: loggerFor(argv) });
}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}

function usage(msg: string, hint: string): TsbuildError {
  return new TsbuildError('USAGE', msg, { hint });
}

/** Formats bytes the way docker does (kB/MB/GB, base 1000). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toPrecision(3)}${units[i]}`;
}

/** Formats an RFC 3339 time as "N units ago". */
export function ago(created: string | undefined, now = Date.now()): string {
  if (!created) return 'N/A';
  const t = Date.parse(created);
  if (Number.isNaN(t)) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const steps: [number, string][] = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];
  let v = s;
  for (const [k, name] of steps) {
    if (v < k) return v <= 1 && name === 'second' ? 'Less than a second ago' : `${Math.floor(v)} ${name}${Math.floor(v) === 1 ? '' : 's'} ago`;
    v /= k;
  }
  return 'N/A';
}

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')).join('\n');
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
}

/** Returns a predicate for one `--filter key=value`; throws TsbuildError on unknown keys. */
export function imageFilter(f: string): (s: ImageSummary) => boolean {
  const eq = f.indexOf('=');
  if (eq <= 0) throw usage(`invalid filter ${JSON.stringify(f)}`, 'write --filter dangling=true|false, reference=PATTERN or label=KEY[=VALUE]');
  const key = f.slice(0, eq);
  const value = f.slice(eq + 1);
  switch (key) {
    case 'dangling': {
      if (value !== 'true' && value !== 'false') throw usage(`invalid dangling filter ${JSON.stringify(value)}`, 'write dangling=true or dangling=false');
      const want = value === 'true';
      return (s) => (s.names.length === 0) === want;
    }
    case 'reference': {
      const hasTag = value.includes(':') && value.lastIndexOf(':') > value.lastIndexOf('/');
      const re = globToRegExp(value);
      return (s) =>
        s.names.some((n) => {
          const { repository, tag } = splitTagName(n);
          const fam = familiarRepository(repository);
          const cands = hasTag ? [`${fam}:${tag}`, n] : [fam, repository];
          return cands.some((c) => re.test(c));
        });
    }
    case 'label': {
      const e2 = value.indexOf('=');
      const k = e2 < 0 ? value : value.slice(0, e2);
      const v = e2 < 0 ? undefined : value.slice(e2 + 1);
      return (s) => k in s.labels && (v === undefined || s.labels[k] === v);
    }
    default:
      throw usage(`unknown filter ${JSON.stringify(key)}`, 'supported filters: dangling, reference, label');
  }
}

interface ImagesArgs extends GlobalArgs { filter: string[]; digests: boolean; format: string; quiet: boolean }

export const imagesCommand: CommandModule<GlobalArgs, ImagesArgs> = {
  command: 'images',
  describe: 'list images in the store',
  builder: (y) =>
    y
      .option('filter', { type: 'string', array: true, default: [] as string[], describe: 'dangling=true|false, reference=PATTERN, label=KEY[=VALUE] (repeatable, all must match)' })
      .option('digests', { type: 'boolean', default: false, describe: 'show manifest digests' })
      .option('format', { type: 'string', default: 'table', choices: ['table', 'json'], describe: 'table or json' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'only image IDs' }) as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const preds = argv.filter.map(imageFilter);
    const rows = (await listImageSummaries(store)).filter((s) => preds.every((p) => p(s)));
    if (argv.format === 'json') {
      out(JSON.stringify(rows.map((s) => ({
        id: s.id, names: s.names, digest: s.descriptor.digest, mediaType: s.descriptor.mediaType,
        created: s.created ?? null, size: s.size, labels: s.labels, platforms: s.platforms, dangling: s.names.length === 0,
      })), null, 2));
      return;
    }
    if (argv.quiet) {
      out([...new Set(rows.map((s) => digestHex(s.id).slice(0, 12)))].join('\n'));
      return;
    }
    const head = ['REPOSITORY', 'TAG', ...(argv.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
    const body: string[][] = [];
    for (const s of rows) {
      const common = (repo: string, tag: string) => [repo, tag, ...(argv.digests ? [s.descriptor.digest] : []), digestHex(s.id).slice(0, 12), ago(s.created), humanSize(s.size)];
      if (s.names.length === 0) body.push(common('<none>', '<none>'));
      for (const n of s.names) {
        const { repository, tag } = splitTagName(n);
        body.push(common(familiarRepository(repository), tag));
      }
    }
    out(table([head, ...body]));
  },
};

interface RefArgs extends GlobalArgs { ref: string; platform?: string }

export const inspectCommand: CommandModule<GlobalArgs, RefArgs> = {
  command: 'inspect <ref>',
  describe: 'print an image\'s descriptor, manifest and config (or an index) as JSON',
  builder: (y) => y.positional('ref', { type: 'string', demandOption: true, describe: 'name, digest or image ID' }) as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const obj = await store.resolve(argv.ref);
    if (obj.kind === 'index') {
      out(JSON.stringify({ Id: obj.id, Names: obj.names, Descriptor: obj.descriptor, Index: obj.index }, null, 2));
      return;
    }
    out(JSON.stringify({
      Id: obj.id, Names: obj.names, Descriptor: obj.descriptor, Created: obj.config.created ?? null,
      Architecture: obj.config.architecture, Os: obj.config.os, ...(obj.config.variant ? { Variant: obj.config.variant } : {}),
      Manifest: obj.manifest, Config: obj.config,
    }, null, 2));
  },
};

interface HistoryArgs extends RefArgs { noTrunc: boolean; format: string }

export const historyCommand: CommandModule<GlobalArgs, HistoryArgs> = {
  command: 'history <ref>',
  describe: 'show the history of an image (newest first)',
  builder: (y) =>
    y
      .positional('ref', { type: 'string', demandOption: true })
      .option('no-trunc', { type: 'boolean', default: false, describe: 'do not truncate CREATED BY' })
      .option('format', { type: 'string', default: 'table', choices: ['table', 'json'] }) as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const img = await store.image(argv.ref);
    const rows = imageHistory(img);
    if (argv.format === 'json') {
      out(JSON.stringify(rows, null, 2));
      return;
    }
    const trunc = (s: string) => (argv.noTrunc || s.length <= 45 ? s : s.slice(0, 44) + '…');
    out(table([
      ['CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
      ...rows.map((r) => [ago(r.created), trunc(r.createdBy), r.layer ? humanSize(r.layer.size) : '0B', r.comment ?? '']),
    ]));
  },
};

interface TagArgs extends GlobalArgs { source: string; target: string }

export const tagCommand: CommandModule<GlobalArgs, TagArgs> = {
  command: 'tag <source> <target>',
  describe: 'give an image another name',
  builder: (y) => y.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true }) as never,
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
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'remove an image ID that has several names' }) as never,
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
  filter?: string; all: boolean }

export const pruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'remove dangling images, unreferenced blobs and unused layer snapshots (with --cache: build cache too)',
  builder: (y) => y
    .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'also remove the snapshots of named images (re-created on demand)' })
    .option('cache', { type: 'boolean', default: false, describe: 'also prune build cache records and RUN --mount=type=cache dirs, least recently used first' })
    .option('keep-storage', { type: 'string', describe: 'with --cache: keep this much cache (e.g. 2g), dropping the least recently used' })
    .option('filter', { type: 'string', describe: 'with --cache: until=DURATION (e.g. 24h): drop cache unused for that long' }) as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const cache = await CacheStore.open(store.layout.cacheStepsDir, { logger: loggerFor(argv) });
    if (argv.cache) {
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
  describe: 'show disk usage of images, blobs, snapshots, build cache records and cache mounts',
  builder: (y) => y.option('format', { choices: ['table', 'json'] as const, default: 'table', describe: 'output format' }) as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const cache = await CacheStore.open(store.layout.cacheStepsDir, { logger: loggerFor(argv) });
    const images = await store.listImages();
    const blobs = await dirBytes(store.blobsDir);
    const snaps = await dirBytes(store.snapshotsDir);
    const usage = await cache.usage();
    const mounts = await readdir(store.layout.cacheMountsDir).catch(() => [] as string[]);
    const mountBytes = await dirBytes(store.layout.cacheMountsDir);
    const rows = {
      images: images.length,
      blobs: { count: blobs.entries, bytes: blobs.bytes },
      snapshots: { count: (await readdir(store.snapshotsDir).catch(() => [])).length, bytes: snaps.bytes },
      cacheRecords: { count: usage.records, bytes: usage.recordBytes, layers: usage.layers.size, layerBytes: usage.layerBytes },
      cacheMounts: { count: mounts.length, bytes: mountBytes.bytes },
    };
    if (argv.format === 'json') return out(JSON.stringify(rows, null, 2));
    out(`TYPE            COUNT   SIZE`);
    out(`images          ${String(rows.images).padEnd(7)} -`);
    out(`blobs           ${String(rows.blobs.count).padEnd(7)} ${humanSize(rows.blobs.bytes)}`);
    out(`snapshots       ${String(rows.snapshots.count).padEnd(7)} ${humanSize(rows.snapshots.bytes)}`);
    out(`cache records   ${String(rows.cacheRecords.count).padEnd(7)} ${humanSize(rows.cacheRecords.bytes)} (+ ${rows.cacheRecords.layers} layers, ${humanSize(rows.cacheRecords.layerBytes)})`);
    out(`cache mounts    ${String(rows.cacheMounts.count).padEnd(7)} ${humanSize(rows.cacheMounts.bytes)}`);
  },
};

interface SaveArgs extends GlobalArgs { refs: string[]; output: string; format: 'oci' | 'docker' }

export const saveCommand: CommandModule<GlobalArgs, SaveArgs> = {
  command: 'save <refs..>',
  describe: 'write images to an OCI archive or a docker-archive (for docker/podman load)',
  builder: (y) =>
    y
      .positional('refs', { type: 'string', array: true, demandOption: true })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'archive file to write' })
      .option('format', { type: 'string', choices: ['oci', 'docker'] as const, default: 'oci' as const, describe: 'oci (oci-archive) or docker (docker-archive)' }) as never,
  handler: async (argv) => {
    if (!argv.output) throw usage('save needs -o FILE', 'write tsbuild save REF… -o FILE');
    const store = await openStore(argv);
    await saveImages(store, argv.refs, argv.output, { format: argv.format });
  },
};

interface LoadArgs extends GlobalArgs { input: string }

export const loadCommand: CommandModule<GlobalArgs, LoadArgs> = {
  command: 'load',
  describe: 'load images from an OCI archive or a docker-archive',
  builder: (y) => y.option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'archive file to read' }) as never,
  handler: async (argv) => {
    const store = await openStore(argv);
    const r = await loadArchive(store, argv.input);
    for (const img of r.images) {
      if (img.names.length === 0) out(`Loaded image ID: ${img.descriptor.digest}`);
      for (const n of img.names) out(`Loaded image: ${n}`);
    }
  },
};

interface ImportArgs extends GlobalArgs { file: string; name: string; message?: string; platform?: string }

export const importCommand: CommandModule<GlobalArgs, ImportArgs> = {
  command: 'import <file> <name>',
  describe: 'make a one-layer image from a root filesystem tar (like docker import)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'rootfs tar (plain or gzip)' })
      .positional('name', { type: 'string', demandOption: true, describe: 'NAME[:TAG]' })
      .option('message', { alias: 'm', type: 'string', describe: 'history comment' })
      .option('platform', { type: 'string', describe: 'os/arch[/variant] of the files (default: this machine)' }) as never,
  handler: async (argv) => {
    parseImageName(argv.name);
    const store = await openStore(argv);
    const r = await importRootfs(store, argv.file, normalizeTagName(argv.name), {
      ...(argv.message !== undefined ? { message: argv.message } : {}),
      ...(argv.platform !== undefined ? { platform: parsePlatform(argv.platform) } : {}),
    });
    out(r.configDescriptor.digest);
  },
};

/** Every image command, in help order. */
export const storeCommands: readonly CommandModule<GlobalArgs, never>[] = [
  imagesCommand, inspectCommand, historyCommand, tagCommand, rmiCommand, pruneCommand, duCommand, saveCommand, loadCommand, importCommand,
] as unknown as readonly CommandModule<GlobalArgs, never>[];
