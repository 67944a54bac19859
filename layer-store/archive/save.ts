import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type tar from 'tar-stream';

/** tar-stream (with streamx) loads on first use: ~15 ms that a build never needs. */
const tarStream = async (): Promise<typeof tar> => (await import('tar-stream')).default;
import {
  MediaTypes, digestHex, throwIfAborted, verifyStream, imageLayers, layerDescriptor, type Layer,
  type Abortable, type Descriptor, type Digest, type EventSink, type Platform,
} from '../core/index.js';
import { layerCompression } from '../image/index.js';
import { decompressor } from '../layer/index.js';
import {
  CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION, normalizeTagName,
  type LayerStore, type StoredObject,
} from '../store/index.js';
import { checkOutputFile } from './paths.js';

export interface SaveOptions extends Abortable {
  /** `oci` (default): an OCI image layout in a tar. `docker`: a docker-archive for `docker load`/`podman load`. */
  readonly format?: 'oci' | 'docker';
  /** For docker archives of an index: the platform to save (default: the host's). */
  readonly platform?: Platform;
  readonly events?: EventSink;
}

/** A fixed mtime so the same images always give the same archive bytes. */
const EPOCH = new Date(0);

/**
 * Writes the images `refs` name to `file` as one archive, atomically (temp file beside it, then rename).
 * OCI: `oci-layout`, `index.json` (names in `org.opencontainers.image.ref.name`), `blobs/sha256/*`;
 * readable as `oci-archive:FILE:NAME`. Docker: `manifest.json`, `repositories`, `<config hex>.json` and
 * uncompressed `<diffID hex>/layer.tar`, as `docker save` writes them. A missing directory or a `file` that is a
 * directory fails (ArchivePathError) before anything is written; on any failure no temp file is left.
 */
export async function saveImages(store: LayerStore, refs: readonly string[], file: string, o: SaveOptions = {}): Promise<void> {
  const abs = await checkOutputFile(file);
  const entries: ArchiveEntry[] = [];
  for (const ref of refs) {
    const obj = await store.resolve(ref);
    entries.push({ descriptor: obj.descriptor, names: namesFor(ref, obj) });
  }
  const tmp = join(dirname(abs), `.${randomUUID()}.tmp`);
  try {
    await writeArchive(store, entries, createWriteStream(tmp, { flags: 'wx' }), { ...o, scratchDir: dirname(abs) });
    await rename(tmp, abs);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** One image (or index) of an archive: its descriptor (for OCI, as index.json lists it) and its names. */
export interface ArchiveEntry {
  /** The manifest or index, stored with everything it references; OCI keeps its annotations in index.json. */
  readonly descriptor: Descriptor;
  /** Full names (`docker.io/library/app:1`); none: listed by digest only (OCI) or untagged (docker). */
  readonly names: readonly string[];
}

export interface WriteArchiveOptions extends SaveOptions {
  /** Directory for the docker format's layer scratch files (default: the OS temp dir). */
  readonly scratchDir?: string | undefined;
  /** End `out` when the archive is complete (default true; false for a stream the caller keeps, e.g. stdout). */
  readonly end?: boolean | undefined;
}

/**
 * Writes `entries` as one archive to the stream `out` (format as saveImages). Streams: nothing is buffered but
 * the documents; the docker format decompresses each layer to a scratch file first (its tar header needs the
 * size). Rejects on the first read or write error; what was written to `out` by then stays written.
 */
export async function writeArchive(store: LayerStore, entries: readonly ArchiveEntry[], out: Writable, o: WriteArchiveOptions = {}): Promise<void> {
  if (o.format === 'docker') await writeDockerArchive(store, entries, out, o);
  else await writeOciArchive(store, entries, out, o);
}

/** Returns the names the archive should carry for `ref`: the name written, else every name of the image. */
function namesFor(ref: string, obj: StoredObject): string[] {
  if (obj.names.includes(ref)) return [ref];
  try {
    const n = normalizeTagName(ref);
    if (obj.names.includes(n)) return [n];
  } catch {
    /* an id or digest */
  }
  return [...obj.names];
}

/** Returns pipeline's options for writing an archive to `out` (ended unless `o.end` is false). */
function sinkOptions(o: WriteArchiveOptions): { end: boolean; signal?: AbortSignal } {
  return { end: o.end !== false, ...(o.signal ? { signal: o.signal } : {}) };
}

/** Where archive writers read blobs from: the store, or an OCI layout directory (the archive transports). */
export interface BlobReader {
  /** Returns a verified stream of the blob. */
  open(d: Descriptor, o?: Abortable): Readable;
  /** Returns the blob's size in bytes. */
  size(d: Digest): Promise<number>;
  /** Returns the whole (small) blob, verified. */
  read(d: Digest): Promise<Buffer>;
}

/** Returns the store as a BlobReader. */
export function storeBlobs(store: LayerStore): BlobReader {
  return {
    open: (d, o) => store.openBlob(d, o ?? {}),
    size: async (d) => (await stat(store.blobPath(d))).size,
    read: (d) => store.readBlob(d),
  };
}

/** `out` as a stream: a path is a new file (`wx`: never an existing one). */
function sink(out: string | Writable): Writable {
  return typeof out === 'string' ? createWriteStream(out, { flags: 'wx' }) : out;
}

async function writeOciArchive(store: LayerStore, items: readonly ArchiveEntry[], out: Writable, o: WriteArchiveOptions): Promise<void> {
  const entries: Descriptor[] = [];
  const blobs = new Set<Digest>();
  for (const { descriptor: d, names } of items) {
    const plain: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.annotations ? { annotations: d.annotations } : {}) };
    if (names.length === 0) entries.push(plain);
    for (const n of names) entries.push({ ...plain, annotations: { ...d.annotations, [REF_NAME_ANNOTATION]: n, [CONTAINERD_NAME_ANNOTATION]: n } });
    for (const x of await store.references(d)) blobs.add(x);
  }
  await writeOciLayoutTar(out, entries, blobs, storeBlobs(store), o);
}

/**
 * Writes an OCI image layout as a tar to `out` (a new file, or a stream: ended unless `o.end` is false):
 * `oci-layout`, `index.json` listing `entries`, `blobs/sha256/*` for `blobs` in digest order, with fixed mtimes
 * and owners so equal input gives equal bytes.
 */
export async function writeOciLayoutTar(out: string | Writable, entries: readonly Descriptor[], blobs: ReadonlySet<Digest>, from: BlobReader, o: WriteArchiveOptions = {}): Promise<void> {
  const pack = (await tarStream()).pack();
  const writing = pipeline(pack, sink(out), sinkOptions(o));
  const work = (async () => {
    const hdr = { mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
    await addBuffer(pack, { ...hdr, name: 'oci-layout', mode: 0o644 }, Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await addBuffer(pack, { ...hdr, name: 'index.json', mode: 0o644 }, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries })));
    await addBuffer(pack, { ...hdr, name: 'blobs/', type: 'directory', mode: 0o755 }, Buffer.alloc(0));
    await addBuffer(pack, { ...hdr, name: 'blobs/sha256/', type: 'directory', mode: 0o755 }, Buffer.alloc(0));
    for (const d of [...blobs].sort()) {
      throwIfAborted(o.signal);
      const size = await from.size(d);
      const entry = pack.entry({ ...hdr, name: `blobs/sha256/${digestHex(d)}`, size, mode: 0o644 });
      await pipeline([from.open({ mediaType: '', digest: d, size }, o), entry]);
    }
    pack.finalize();
  })().catch((e: unknown) => {
    pack.destroy(e as Error);
    throw e;
  });
  const [a, b] = await Promise.allSettled([work, writing]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
}

function addBuffer(pack: tar.Pack, h: tar.Header extends infer H ? Partial<H> & { name: string } : never, b: Buffer): Promise<void> {
  return new Promise((res, rej) => {
    pack.entry({ ...h, size: b.length }, b, (e) => (e ? rej(e) : res()));
  });
}

interface DockerItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

async function writeDockerArchive(store: LayerStore, entries: readonly ArchiveEntry[], out: Writable, o: WriteArchiveOptions): Promise<void> {
  const items = new Map<Digest, { id: Digest; names: string[]; layers: Layer[] }>();
  for (const { descriptor, names } of entries) {
    const obj = await store.load(descriptor);
    const img = obj.kind === 'image' ? obj : await store.image(obj.descriptor.digest, o.platform ? { platform: o.platform } : {});
    // names are full: docker load normalises them, podman keeps docker.io/library/…
    let item = items.get(img.id);
    if (!item) {
      item = { id: img.id, names: [], layers: imageLayers(img.manifest, img.config, descriptor.digest) };
      items.set(img.id, item);
    }
    for (const n of names) if (!item.names.includes(n)) item.names.push(n);
  }
  await writeDockerArchiveTar(out, [...items.values()], storeBlobs(store), o);
}

/** One image of a docker-archive: its config (image id), names and layers base first. */
export interface DockerArchiveItem {
  readonly id: Digest;
  readonly names: readonly string[];
  readonly layers: readonly Layer[];
}

/**
 * Writes a docker-archive (as `docker save` does: `<id hex>.json`, uncompressed `<diffID hex>/layer.tar`,
 * `manifest.json`, `repositories`) to `out` (a new file, or a stream). Layers are decompressed to a scratch dir
 * (`o.scratchDir`, else beside a file `out`, else the OS temp dir: the tar header needs the size first) with
 * their diffIDs verified; the scratch dir is removed in any case.
 */
export async function writeDockerArchiveTar(out: string | Writable, list: readonly DockerArchiveItem[], from: BlobReader, o: WriteArchiveOptions = {}): Promise<void> {
  const repositories: Record<string, Record<string, string>> = {};
  const items = new Map(list.map((i) => [i.id, {
    Config: `${digestHex(i.id)}.json`, RepoTags: [...i.names], Layers: i.layers.map((l) => `${digestHex(l.diffId)}/layer.tar`), layers: i.layers,
  }]));
  for (const i of list) {
    for (const n of i.names) {
      const colon = n.lastIndexOf(':');
      const top = i.layers.at(-1);
      (repositories[n.slice(0, colon)] ??= {})[n.slice(colon + 1)] = top ? digestHex(top.diffId) : '';
    }
  }
  const scratch = await mkdtemp(join(o.scratchDir ?? (typeof out === 'string' ? dirname(out) : tmpdir()), '.tsbuild-save-'));
  const pack = (await tarStream()).pack();
  const writing = pipeline(pack, sink(out), sinkOptions(o));
  const work = (async () => {
    const hdr = { mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
    const written = new Set<string>();
    for (const [id, item] of items) {
      if (!written.has(item.Config)) {
        written.add(item.Config);
        await addBuffer(pack, { ...hdr, name: item.Config, mode: 0o644 }, await from.read(id));
      }
      for (const l of item.layers) {
        const name = `${digestHex(l.diffId)}/layer.tar`;
        if (written.has(name)) continue;
        written.add(name);
        throwIfAborted(o.signal);
        // The tar header needs the uncompressed size first: decompress (verifying the diffID) to scratch.
        const tmp = join(scratch, digestHex(l.diffId));
        await pipeline([from.open(layerDescriptor(l), o), decompressor(layerCompression(l.mediaType)), verifyStream({ digest: l.diffId }), createWriteStream(tmp)], o.signal ? { signal: o.signal } : {});
        const size = (await stat(tmp)).size;
        await addBuffer(pack, { ...hdr, name: `${digestHex(l.diffId)}/`, type: 'directory', mode: 0o755 }, Buffer.alloc(0));
        await pipeline([createReadStream(tmp), pack.entry({ ...hdr, name, size, mode: 0o644 })]);
        await rm(tmp, { force: true });
      }
    }
    const manifest: DockerItem[] = [...items.values()].map((i) => ({ Config: i.Config, RepoTags: i.RepoTags.length ? i.RepoTags : null, Layers: i.Layers }));
    await addBuffer(pack, { ...hdr, name: 'manifest.json', mode: 0o644 }, Buffer.from(JSON.stringify(manifest)));
    await addBuffer(pack, { ...hdr, name: 'repositories', mode: 0o644 }, Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
  })().catch((e: unknown) => {
    pack.destroy(e as Error);
    throw e;
  });
  try {
    const [a, b] = await Promise.allSettled([work, writing]);
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
