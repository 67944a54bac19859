/**
 * validateStoredImage: recomputes every digest, diffID and size of an image (or index and all its children)
 * in a LayerStore, as ggcr's validate package does, and checks each document against the OCI schemas
 * (OCI media types only; Docker v2s2 documents are checked structurally by the store's parser).
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createReadStream } from 'node:fs';
import {
  MediaTypes, digestOf, layerCompression, decompressor, parseConfig, parseManifest,
  type Descriptor, type Digest, type LayerStore,
} from '../../layer-store/index.js';
import { validateOci } from './oci-schema.js';

async function hashFile(path: string, transform?: NodeJS.ReadWriteStream): Promise<{ digest: Digest; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      h.update(c);
      size += c.length;
      cb();
    },
  });
  await pipeline([createReadStream(path), ...(transform ? [transform] : []), sink]);
  return { digest: `sha256:${h.digest('hex')}` as Digest, size };
}

/** Throws unless every blob of `desc` matches its digest and size and every layer its diffID. */
export async function validateStoredImage(store: LayerStore, desc: Descriptor): Promise<void> {
  const bytes = await store.readBlob(desc.digest);
  if (digestOf(bytes) !== desc.digest) throw new Error(`manifest ${desc.digest} content mismatch`);
  if (bytes.length !== desc.size) throw new Error(`manifest ${desc.digest} size ${bytes.length} != ${desc.size}`);
  const p = parseManifest(bytes, desc.mediaType);
  const doc = JSON.parse(bytes.toString('utf8'));
  if (p.kind === 'index') {
    if (p.mediaType === MediaTypes.ociIndex) validateOci('index', doc);
    for (const c of p.index.manifests) await validateStoredImage(store, c);
    return;
  }
  if (p.mediaType === MediaTypes.ociManifest) validateOci('manifest', doc);
  const cfgBytes = await store.readBlob(p.manifest.config.digest);
  if (cfgBytes.length !== p.manifest.config.size) throw new Error(`config size ${cfgBytes.length} != ${p.manifest.config.size}`);
  const config = parseConfig(cfgBytes);
  validateOci('config', JSON.parse(cfgBytes.toString('utf8')));
  if (config.rootfs.diff_ids.length !== p.manifest.layers.length) throw new Error(`config has ${config.rootfs.diff_ids.length} diff_ids for ${p.manifest.layers.length} layers`);
  for (const [i, l] of p.manifest.layers.entries()) {
    const path = store.blobPath(l.digest);
    const c = await hashFile(path);
    if (c.digest !== l.digest || c.size !== l.size) throw new Error(`layer ${i}: blob is ${c.digest}/${c.size}, manifest says ${l.digest}/${l.size}`);
    const u = await hashFile(path, decompressor(layerCompression(l.mediaType)));
    if (u.digest !== config.rootfs.diff_ids[i]) throw new Error(`layer ${i}: diffID is ${u.digest}, config says ${config.rootfs.diff_ids[i]}`);
  }
}

/** Writes a small tar (files: path → content, dirs for paths ending in '/') to `path` with GNU-compatible ustar headers. */
export async function writeTestTar(path: string, files: Readonly<Record<string, string>>): Promise<void> {
  const tarStream = (await import('tar-stream')).default;
  const { createWriteStream } = await import('node:fs');
  const pack = tarStream.pack();
  const writing = pipeline(pack, createWriteStream(path));
  for (const [name, content] of Object.entries(files)) {
    await new Promise<void>((res, rej) => {
      if (name.endsWith('/')) pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) }, (e) => (e ? rej(e) : res()));
      else pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content, (e) => (e ? rej(e) : res()));
    });
  }
  pack.finalize();
  await writing;
}

/**
 * Returns a stored image made of one layer per entry of `layers` (each a file map), tagged `name`:
 * layers are imported through importRootfs-like ingestion, then a manifest lists them base first.
 */
export async function makeTestImage(store: LayerStore, name: string, layers: readonly Readonly<Record<string, string>>[], o: { dir: string; platform?: { os: string; architecture: string; variant?: string }; created?: string }): Promise<{ descriptor: Descriptor; config: Descriptor; layers: Descriptor[]; diffIds: Digest[] }> {
  const ls = await import('../../layer-store/index.js');
  const { join } = await import('node:path');
  const { createReadStream } = await import('node:fs');
  const descs: Descriptor[] = [];
  const diffIds: Digest[] = [];
  for (const [i, files] of layers.entries()) {
    const p = join(o.dir, `layer-${name.replace(/[^a-z0-9]/gi, '_')}-${i}.tar`);
    await writeTestTar(p, files);
    const ing = await ls.ingestTar(store, createReadStream(p));
    descs.push(ls.layerDescriptor(ing));
    diffIds.push(ing.diffId);
  }
  const created = o.created ?? '2024-01-01T00:00:00Z';
  const cfg = ls.encodeDocument(ls.buildConfig({ diffIds, created, ...(o.platform ? { platform: o.platform } : {}), config: { Env: ['PATH=/bin'], Labels: { 'test.name': name } } }), MediaTypes.ociConfig);
  const config = await store.putBytes(cfg.bytes, cfg.descriptor);
  const man = ls.encodeDocument(ls.buildManifest(config, descs), MediaTypes.ociManifest);
  const descriptor = await store.putBytes(man.bytes, man.descriptor);
  await store.tag(name, descriptor);
  return { descriptor, config, layers: descs, diffIds };
}
