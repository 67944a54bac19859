import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import {
  DigestMismatchError, MediaTypes, TsbuildError, layerDescriptor, MAX_DOCUMENT_BYTES, parseConfig, parseJson, parseManifest,
  type Abortable, type Descriptor, type Digest,
} from '../core/index.js';
import { buildManifest, encodeDocument } from '../image/index.js';
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION, normalizeTagName, type LayerStore } from '../store/index.js';
import { ingestTar, type IngestedLayer } from './ingest.js';
import { checkInputFile } from './paths.js';
import { readArchiveFiles } from './archive-entries.js';

export interface LoadOptions extends Abortable {
  readonly gzipLevel?: number;
}

export interface LoadedImage {
  /** Normalised names given to the image (empty: loaded unnamed). */
  readonly names: readonly string[];
  readonly descriptor: Descriptor;
}

export interface LoadResult {
  readonly format: 'oci' | 'docker';
  readonly images: readonly LoadedImage[];
}

/** Entry names read into memory instead of being stored as blobs. */
function isSmallDocument(name: string): boolean {
  return name === 'manifest.json' || name === 'repositories' || name === 'index.json' || name === 'oci-layout' ||
    (!name.includes('/') && name.endsWith('.json')) || name.endsWith('/json') || name.endsWith('/VERSION');
}

function archiveError(file: string, what: string, cause?: unknown): TsbuildError {
  return new TsbuildError('INVALID_MANIFEST', `${what} in archive`, {
    hint: 'the file is not an OCI archive or docker-archive that tsbuild can read; recreate it with `tsbuild save` or `docker save`',
    location: { ref: file },
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * Returns the images loaded from an OCI archive or docker-archive (detected from its content), read in one
 * sequential pass. OCI blobs are stored with their digest verified; docker layer tars are gzipped into the
 * store and their diffIDs checked against the config. Names are committed only after every blob an image
 * needs is stored and verified; a bad archive leaves at most unreferenced blobs for gc. A path that is missing or
 * a directory fails (ArchivePathError) before anything is read.
 */
export async function loadArchive(store: LayerStore, file: string, o: LoadOptions = {}): Promise<LoadResult> {
  await checkInputFile(file, { verb: 'load', noun: 'archive', expect: 'load takes an OCI archive or docker-archive written by tsbuild save, docker save or podman save' });
  return loadArchiveStream(store, createReadStream(file), file, o);
}

/**
 * loadArchive reading from a stream (e.g. stdin) instead of a file; `label` names the input in errors (`-` for
 * stdin). The same single sequential pass, the same verification and commit order.
 */
export async function loadArchiveStream(store: LayerStore, input: Readable, label: string, o: LoadOptions = {}): Promise<LoadResult> {
  const file = label;
  const docs = new Map<string, Buffer>();
  const layers = new Map<string, IngestedLayer>();
  const blobs = new Set<Digest>();
  const links = await readArchiveFiles(input, (what, cause) => archiveError(file, what, cause), async ({ name, digest, entry }) => {
    if (digest) {
      // A blob the store has is skipped by reading past it: putBlob would destroy the entry, and with it the tar.
      if (await store.hasBlob(digest)) for await (const _ of entry) void _;
      else await store.putBlob(Readable.from(entry), { digest, size: entry.header.size ?? 0 }, o);
      blobs.add(digest);
    } else if (isSmallDocument(name)) {
      if ((entry.header.size ?? 0) > MAX_DOCUMENT_BYTES) throw archiveError(file, `${name} is too large`);
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      docs.set(name, Buffer.concat(chunks));
    } else {
      layers.set(name, await ingestTar(store, Readable.from(entry), o));
    }
  }, o);
  if (docs.has('oci-layout') && docs.has('index.json')) return { format: 'oci', images: await commitOci(store, file, docs.get('index.json')!, o) };
  if (docs.has('manifest.json')) return { format: 'docker', images: await commitDocker(store, file, docs, layers, links, blobs, o) };
  throw archiveError(file, 'neither oci-layout+index.json nor manifest.json found');
}

/** Returns the name an OCI archive entry gives (containerd's full name, else a ref.name that is a full name). */
function ociEntryName(d: Descriptor): string | undefined {
  const full = d.annotations?.[CONTAINERD_NAME_ANNOTATION];
  const ref = d.annotations?.[REF_NAME_ANNOTATION];
  for (const n of [full, ref]) {
    if (n === undefined) continue;
    // A bare tag (`latest`, as docker/buildkit write ref.name) names no repository: skip it.
    if (n === ref && full === undefined && !n.includes('/') && !n.includes(':')) continue;
    try {
      return normalizeTagName(n);
    } catch {
      /* not a docker-style name */
    }
  }
  return undefined;
}

async function commitOci(store: LayerStore, file: string, indexBytes: Buffer, o: LoadOptions): Promise<LoadedImage[]> {
  const p = parseManifest(indexBytes, MediaTypes.ociIndex, `${file}:index.json`);
  if (p.kind !== 'index') throw archiveError(file, 'index.json is not an image index');
  const byDigest = new Map<Digest, { descriptor: Descriptor; names: string[] }>();
  for (const d of p.index.manifests) {
    const e = byDigest.get(d.digest) ?? { descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size }, names: [] };
    byDigest.set(d.digest, e);
    const n = ociEntryName(d);
    if (n !== undefined && !e.names.includes(n)) e.names.push(n);
  }
  const out: LoadedImage[] = [];
  for (const e of byDigest.values()) {
    await store.tagMany(e.names, e.descriptor, o); // checks that every referenced blob is stored
    out.push(e);
  }
  return out;
}

interface DockerManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function commitDocker(
  store: LayerStore, file: string, docs: Map<string, Buffer>, layers: Map<string, IngestedLayer>,
  links: Map<string, string>, blobs: Set<Digest>, o: LoadOptions,
): Promise<LoadedImage[]> {
  const items = parseJson(docs.get('manifest.json')!, 'manifest.json', file) as DockerManifestItem[];
  if (!Array.isArray(items)) throw archiveError(file, 'manifest.json is not an array');
  const resolveLink = (n: string): string => {
    let cur = posix.normalize(n);
    for (let i = 0; i < 16 && links.has(cur); i++) cur = links.get(cur)!;
    return cur;
  };
  const out: LoadedImage[] = [];
  for (const item of items) {
    if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers)) throw archiveError(file, 'manifest.json entry lacks Config or Layers');
    const cfgName = resolveLink(item.Config);
    let cfgBytes = docs.get(cfgName);
    const cfgBlob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(cfgName);
    if (!cfgBytes && cfgBlob) cfgBytes = await store.readBlob(`sha256:${cfgBlob[1]}` as Digest);
    if (!cfgBytes) throw archiveError(file, `config ${item.Config} missing`);
    const config = parseConfig(cfgBytes, `${file}:${item.Config}`);
    const configDesc = await store.putBytes(cfgBytes, { mediaType: MediaTypes.ociConfig }, o);
    const hexName = /^([a-f0-9]{64})\.json$/.exec(cfgName);
    if (hexName && `sha256:${hexName[1]}` !== configDesc.digest) throw new DigestMismatchError(`sha256:${hexName[1]}`, configDesc.digest, cfgBytes.length, { location: { ref: `${file}:${item.Config}` } });
    if (config.rootfs.diff_ids.length !== item.Layers.length) throw archiveError(file, `${item.Config} lists ${config.rootfs.diff_ids.length} diff_ids but manifest.json ${item.Layers.length} layers`);
    const layerDescs: Descriptor[] = [];
    for (const [i, l] of item.Layers.entries()) {
      const ln = resolveLink(l);
      const want = config.rootfs.diff_ids[i]!;
      const ing = layers.get(ln);
      const rawBlob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(ln);
      if (ing) {
        if (ing.diffId !== want) throw new DigestMismatchError(want, ing.diffId, ing.size, { location: { ref: `${file}:${l}` } });
        layerDescs.push(layerDescriptor(ing));
      } else if (rawBlob && blobs.has(`sha256:${rawBlob[1]}` as Digest)) {
        // docker ≥ 25 stores layers as uncompressed blobs named by their diffID
        if (`sha256:${rawBlob[1]}` !== want) throw new DigestMismatchError(want, `sha256:${rawBlob[1]}`, 0, { location: { ref: `${file}:${l}` } });
        const size = (await stat(store.blobPath(want))).size;
        layerDescs.push({ mediaType: MediaTypes.ociLayer, digest: want, size });
      } else {
        throw archiveError(file, `layer ${l} missing`);
      }
    }
    const man = encodeDocument(buildManifest(configDesc, layerDescs), MediaTypes.ociManifest);
    const desc = await store.putBytes(man.bytes, man.descriptor, o);
    const names = (item.RepoTags ?? []).map((t) => normalizeTagName(t));
    await store.tagMany(names, desc, o);
    out.push({ names, descriptor: desc });
  }
  return out;
}
