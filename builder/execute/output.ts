/**
 * `--output`: where a finished build goes besides the store. `image` (default) only keeps it in the store;
 * `oci`/`docker` write an archive; `local` writes the flattened root filesystem to a directory; `tar` writes
 * that filesystem as one tar file.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TsbuildError, applyLayer, isIndexType, saveImages, type Descriptor, type LayerStore } from '../../layer-store/index.js';

const run = promisify(execFile);

export type OutputSpec =
  /** `names`: the `name=` values (buildx: more names for the image, as -t gives); checked by the caller. */
  | { readonly type: 'image'; readonly names: readonly string[] }
  | { readonly type: 'oci' | 'docker' | 'tar'; readonly dest: string }
  | { readonly type: 'local'; readonly dest: string };

/** Parses `type=TYPE,dest=PATH` (also the shorthand `PATH`, meaning type=local). */
export function parseOutput(spec: string): OutputSpec {
  if (!spec.includes('=')) return { type: 'local', dest: resolve(spec) };
  const kv = new Map<string, string>();
  const names: string[] = [];
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) throw new TsbuildError('USAGE', `invalid --output ${JSON.stringify(spec)}`, { hint: 'write type=image|oci|docker|local|tar[,dest=PATH]' });
    kv.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
    if (part.slice(0, i).trim() === 'name') names.push(part.slice(i + 1).trim());
  }
  const type = kv.get('type') ?? 'local';
  const dest = kv.get('dest');
  if (type === 'image' || type === 'registry') return { type: 'image', names };
  if (type !== 'oci' && type !== 'docker' && type !== 'tar' && type !== 'local') {
    throw new TsbuildError('USAGE', `unknown --output type ${JSON.stringify(type)}`, { hint: 'use image, oci, docker, local or tar' });
  }
  if (!dest) throw new TsbuildError('USAGE', `--output type=${type} needs dest=PATH`, { hint: `write --output type=${type},dest=PATH` });
  return { type, dest: resolve(dest) };
}

/** Writes the built image `manifest` (named `names` in the store) to `out`. */
export async function writeOutput(store: LayerStore, manifest: Descriptor, names: readonly string[], out: OutputSpec): Promise<void> {
  if (isIndexType(manifest.mediaType) && (out.type === 'local' || out.type === 'tar')) {
    // One filesystem per platform, as BuildKit does: DEST/<os>_<arch>[_<variant>].
    const idx = await store.resolve(manifest.digest);
    if (idx.kind === 'index') {
      for (const child of idx.index.manifests) {
        const p = child.platform;
        const sub = p ? [p.os, p.architecture, p.variant].filter(Boolean).join('_') : child.digest.slice(7, 19);
        const dest = out.type === 'local' ? join(out.dest, sub) : out.dest.replace(/(\.tar)?$/, `-${sub}$1`);
        await writeOutput(store, child, [], { type: out.type, dest });
      }
      return;
    }
  }
  switch (out.type) {
    case 'image':
      return;
    case 'oci':
    case 'docker':
      await mkdir(dirname(out.dest), { recursive: true });
      await saveImages(store, names.length > 0 ? names : [manifest.digest], out.dest, { format: out.type });
      return;
    case 'local':
      await mkdir(out.dest, { recursive: true });
      await flatten(store, manifest, out.dest);
      return;
    case 'tar': {
      const tmp = await mkdtemp(store.layout.outputTempPrefix);
      try {
        await flatten(store, manifest, tmp);
        await mkdir(dirname(out.dest), { recursive: true });
        await run('tar', ['--numeric-owner', '--xattrs', '-C', tmp, '-cf', out.dest, '.']);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return;
    }
  }
}

async function flatten(store: LayerStore, manifest: Descriptor, dir: string): Promise<void> {
  const img = await store.image(manifest.digest);
  for (const layer of img.manifest.layers) {
    await applyLayer(store.openBlob(layer), dir, { whiteouts: 'apply' });
  }
}
