import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import {
  MediaTypes, digestOf, hostPlatform, type Descriptor, type Digest, type ImageDestination, type ImageSource, type RawManifest,
} from '../../layer-store/core/index.js';
import type { PutBlobOptions } from '../../registry-client/index.js';

export interface TestImage {
  readonly manifest: RawManifest;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly blobs: ReadonlyMap<Digest, Buffer>;
}

/** Returns a gzipped tar holding one file of `size` random bytes (incompressible, so the blob is about `size`). */
export async function randomLayer(size: number, name = 'data.bin'): Promise<{ gz: Buffer; diffId: Digest }> {
  const p = pack();
  p.entry({ name, size, mode: 0o644, mtime: new Date(0) }, randomBytes(size));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const tar = Buffer.concat(chunks);
  return { gz: gzipSync(tar), diffId: digestOf(tar) };
}

/** Returns an OCI image with one layer per entry of `sizes` (random content, so each run is unique). */
export async function makeImage(sizes: readonly number[]): Promise<TestImage> {
  const blobs = new Map<Digest, Buffer>();
  const layers: Descriptor[] = [];
  const diffIds: Digest[] = [];
  for (const [i, s] of sizes.entries()) {
    const { gz, diffId } = await randomLayer(s, `layer${i}.bin`);
    const d = digestOf(gz);
    blobs.set(d, gz);
    layers.push({ mediaType: MediaTypes.ociLayerGzip, digest: d, size: gz.length });
    diffIds.push(diffId);
  }
  const p = hostPlatform();
  const cfgBytes = Buffer.from(JSON.stringify({ architecture: p.architecture, os: p.os, rootfs: { type: 'layers', diff_ids: diffIds }, config: {} }));
  const config: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(cfgBytes), size: cfgBytes.length };
  blobs.set(config.digest, cfgBytes);
  const mBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers }));
  return { manifest: { mediaType: MediaTypes.ociManifest, bytes: mBytes, digest: digestOf(mBytes) }, config, layers, blobs };
}

/** Pushes `img` in the contract's order: blobs, manifest, commit(tags). */
export async function pushImage(dst: ImageDestination & { putBlob(b: Readable, d: Descriptor, o?: PutBlobOptions): Promise<Descriptor> }, img: TestImage, tags: readonly string[], o: PutBlobOptions = {}): Promise<void> {
  for (const d of [img.config, ...img.layers]) {
    const bytes = img.blobs.get(d.digest)!;
    await dst.putBlob(Readable.from([bytes]), d, { ...o, reopen: async () => Readable.from([bytes]) });
  }
  await dst.putManifest(img.manifest);
  await dst.commit(tags);
}

/** Reads a whole verified blob stream into memory. */
export async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Pulls the manifest and every blob it names; returns the blobs by digest. */
export async function pullAll(src: ImageSource, digest?: Digest): Promise<{ manifest: RawManifest; blobs: Map<Digest, Buffer> }> {
  const manifest = await src.getManifest(digest);
  const m = JSON.parse(Buffer.from(manifest.bytes).toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  const blobs = new Map<Digest, Buffer>();
  for (const d of [m.config, ...m.layers]) blobs.set(d.digest, await readAll(await src.getBlob(d)));
  return { manifest, blobs };
}
