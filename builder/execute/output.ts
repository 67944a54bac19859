/**
 * `--output`: where a finished build goes besides the store (the values are read by output-spec.ts). `image`
 * only names it in the store (the pipeline pushes it); `oci`/`docker` write an archive (`oci` with `tar: false`:
 * an OCI layout directory); `local` writes the
 * flattened root filesystem to a directory; `tar` writes that filesystem as one tar. A file or directory target
 * or a stream (stdout) alike. Several platforms: one `<os>_<arch>[_<variant>]` directory per platform (in the
 * directory, or in the one tar) unless `platformSplit: false`, which merges them and refuses a path that two
 * platforms both write, as BuildKit's local and tar exporters do.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import {
  TsbuildError, applyLayer, execFileAsync, isIndexType, writeArchive, writeLayoutDir,
  type Descriptor, type LayerStore, type Platform,
} from '../../layer-store/index.js';
import type { OutputSpec } from './output-spec.js';

export { parseOutput, checkOneStdout, type OutputSpec, type ImageOutputFormat, type ParseOutputOptions } from './output-spec.js';

const run = execFileAsync;

/** Returns BuildKit's directory name of a platform: `linux_arm64`, `linux_arm_v7`. */
function platformDir(p: Platform | undefined, digest: string): string {
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('_') : digest.slice(7, 19);
}

/**
 * Writes the built image `manifest` (a manifest, or the index of a multi-platform build) to `out`. For `oci` and
 * `docker`, `manifest` is already in the output's format and `names` are the names the archive carries. A
 * `docker` archive of an index is refused (BuildKit: the docker exporter exports one platform).
 */
export async function writeOutput(store: LayerStore, manifest: Descriptor, names: readonly string[], out: OutputSpec, o: { signal?: AbortSignal } = {}): Promise<void> {
  switch (out.type) {
    case 'image':
      return;
    case 'oci':
    case 'docker': {
      if (out.type === 'docker' && isIndexType(manifest.mediaType)) {
        throw new TsbuildError('USAGE', 'docker exporter does not support exporting manifest lists, use the oci exporter instead', {
          location: { ref: '--output type=docker' }, hint: 'write -o type=oci,dest=FILE, or build one --platform',
        });
      }
      const entries = [{ descriptor: manifest, names }];
      if (out.tar === false && typeof out.dest === 'string') return writeLayoutDir(store, entries, out.dest, o.signal ? { signal: o.signal } : {});
      const fmt = { format: out.type, ...(o.signal ? { signal: o.signal } : {}) } as const;
      if (typeof out.dest !== 'string') return writeArchive(store, entries, out.dest, { ...fmt, end: false });
      await toFile(out.dest, (w) => writeArchive(store, entries, w, { ...fmt, scratchDir: dirname(out.dest as string) }));
      return;
    }
    case 'local':
    case 'tar': {
      const tmp = out.type === 'tar' ? await mkdtemp(store.layout.outputTempPrefix) : undefined;
      try {
        const dir = tmp ?? out.dest as string;
        await mkdir(dir, { recursive: true });
        await writeFilesystems(store, manifest, dir, out.platformSplit);
        if (tmp) await tarTo(tmp, out.dest as string | Writable);
      } finally {
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
      return;
    }
  }
}

/** Runs `write` on a temp file beside `file`, then renames it into place (nothing is left on failure). */
async function toFile(file: string, write: (w: Writable) => Promise<void>): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${randomUUID()}.tmp`);
  try {
    await write(createWriteStream(tmp, { flags: 'wx' }));
    await rename(tmp, file);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Writes the directory `dir` as a tar (GNU tar, numeric owners, xattrs) to a file or a stream. */
async function tarTo(dir: string, dest: string | Writable): Promise<void> {
  const args = ['--numeric-owner', '--xattrs', '-C', dir, '-cf', '-', '.'];
  if (typeof dest === 'string') {
    await mkdir(dirname(dest), { recursive: true });
    await run('tar', [...args.slice(0, -2), dest, '.']);
    return;
  }
  const p = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (c: Buffer) => { if (err.length < 2000) err += c.toString(); });
  const exit = new Promise<number | null>((res, rej) => { p.on('error', rej); p.on('close', res); });
  await pipeline(p.stdout, dest, { end: false });
  const code = await exit;
  if (code !== 0) throw new TsbuildError('IO', `tar exited ${code}: ${err.trim()}`, { hint: 'check that GNU tar is installed' });
}

/**
 * Writes the root filesystem of `manifest` into `dir`: one image's directly; an index's one directory per
 * platform when `split` (default), else merged, refusing a non-directory path that two platforms write.
 */
async function writeFilesystems(store: LayerStore, manifest: Descriptor, dir: string, split: boolean | undefined): Promise<void> {
  if (!isIndexType(manifest.mediaType)) {
    const img = await store.load(manifest);
    const into = split === true && img.kind === 'image' ? join(dir, platformDir({ os: img.config.os, architecture: img.config.architecture, ...(img.config.variant ? { variant: img.config.variant } : {}) }, manifest.digest)) : dir;
    await mkdir(into, { recursive: true });
    await flatten(store, manifest, into);
    return;
  }
  const idx = await store.load(manifest);
  if (idx.kind !== 'index') return;
  const seen = new Map<string, string>();
  for (const child of idx.index.manifests) {
    const name = platformDir(child.platform, child.digest);
    if (split !== false) {
      await mkdir(join(dir, name), { recursive: true });
      await flatten(store, child, join(dir, name));
      continue;
    }
    // Merged: flatten apart first, to find a file both platforms write before anything is overwritten.
    const part = join(dir, `.${name}-${randomUUID().slice(0, 8)}`);
    await mkdir(part);
    try {
      await flatten(store, child, part);
      const { stdout } = await run('find', [part, '-mindepth', '1', '!', '-type', 'd', '-printf', '%P\\n'], { maxBuffer: 1 << 28 });
      for (const p of stdout.split('\n').filter(Boolean)) {
        const prev = seen.get(p);
        if (prev !== undefined) {
          throw new TsbuildError('USAGE', `cannot overwrite ${p} from ${prev} with ${name.replace(/_/g, '/')} when split option is disabled`, {
            location: { ref: '--output platform-split=false' }, hint: 'drop platform-split=false (one directory per platform), or build one platform',
          });
        }
        seen.set(p, name.replace(/_/g, '/'));
      }
      await run('cp', ['-a', `${part}/.`, dir]);
    } finally {
      await rm(part, { recursive: true, force: true });
    }
  }
}

async function flatten(store: LayerStore, manifest: Descriptor, dir: string): Promise<void> {
  const img = await store.image(manifest.digest);
  for (const layer of img.manifest.layers) {
    await applyLayer(store.openBlob(layer), dir, { whiteouts: 'apply' });
  }
}
