/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) as an ImageSource, so the
 * one generic copy (copy.ts) brings its images into the store: BuildKit's `oci-layout://PATH[:TAG|@DIGEST]`
 * named contexts, skopeo's `oci:DIR[:REF]`. Every manifest and blob read is verified against its digest.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import {
  DigestMismatchError, MediaTypes, TsbuildError, digestHex, digestOf, isDigest, parseManifest, verifyStream,
  type Abortable, type Descriptor, type Digest, type ImageDestination, type ImageSource, type RawManifest,
} from '../core/index.js';
import { writeFileAtomic } from '../store/atomic-write.js';
import { putBlob } from '../store/blobs.js';
import { StoreLayout } from '../store/layout.js';
import type { BlobReader } from './save.js';
import { ArchivePathError } from './paths.js';

/** The OCI annotation a layout's index.json names an entry by. */
const REF_NAME = 'org.opencontainers.image.ref.name';

export interface OciLayoutRef {
  /** The entry named `tag` (its ref.name annotation); default `latest`, or the only entry. */
  readonly tag?: string | undefined;
  /** The manifest or index with this digest (listed in index.json, or any stored in the layout). */
  readonly digest?: Digest | undefined;
}

/** Returns the image `ref` picks in the layout at `dir`, as an ImageSource. A missing layout or entry fails now. */
export async function ociLayoutSource(dir: string, ref: OciLayoutRef = {}): Promise<ImageSource & { readonly top: Descriptor }> {
  const where = `${dir}${ref.digest ? `@${ref.digest}` : ref.tag ? `:${ref.tag}` : ''}`;
  let index: { manifests?: Descriptor[] };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  } catch (e) {
    throw new ArchivePathError(dir, `not an OCI image layout (index.json: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'give the directory of an OCI layout, e.g. one written by tsbuild build -o type=oci,tar=false or skopeo copy … oci:DIR', { cause: e });
  }
  const entries = Array.isArray(index.manifests) ? index.manifests : [];
  const named = (t: string): Descriptor | undefined => entries.find((m) => m.annotations?.[REF_NAME] === t);
  let top: Descriptor | undefined;
  if (ref.digest) {
    top = entries.find((m) => m.digest === ref.digest);
    if (!top) {
      const bytes = await readBlobFile(dir, ref.digest).catch(() => undefined);
      if (bytes) top = { mediaType: parseManifest(bytes, undefined, ref.digest).mediaType, digest: ref.digest, size: bytes.length };
    }
  } else {
    top = named(ref.tag ?? 'latest') ?? (ref.tag === undefined && entries.length === 1 ? entries[0] : undefined);
  }
  if (!top) {
    const names = entries.map((m) => m.annotations?.[REF_NAME]).filter((n): n is string => !!n);
    throw new TsbuildError('IMAGE_NOT_FOUND', `no image ${ref.digest ?? ref.tag ?? 'latest'} in the OCI layout ${dir}`, {
      location: { ref: where }, hint: names.length > 0 ? `its names: ${names.join(', ')}` : `it has ${entries.length} unnamed entries: name one by digest (PATH@sha256:…)`,
    });
  }
  const found = top;
  return {
    ref: where,
    top: found,
    getManifest: async (digest?: Digest): Promise<RawManifest> => {
      const d = digest ?? found.digest;
      const bytes = await readBlobFile(dir, d);
      return { mediaType: parseManifest(bytes, undefined, d).mediaType, bytes, digest: d };
    },
    getBlob: async (d: Descriptor) => pipeline(createReadStream(blobFile(dir, d.digest)), verifyStream(d), () => undefined),
    close: async () => undefined,
  };
}

function blobFile(dir: string, d: Digest): string {
  if (!isDigest(d)) throw new TsbuildError('INVALID_DIGEST', `bad digest ${String(d)}`);
  return join(dir, 'blobs', 'sha256', digestHex(d));
}

/** Returns a manifest blob of the layout, checked against its digest. */
async function readBlobFile(dir: string, d: Digest): Promise<Buffer> {
  const bytes = await readFile(blobFile(dir, d));
  const got = digestOf(bytes);
  if (got !== d) throw new DigestMismatchError(d, got, bytes.length);
  return bytes;
}

export interface OciLayoutDestinationOptions {
  /** The name (`org.opencontainers.image.ref.name`) commit gives the image when commit gets no tags. */
  readonly tag?: string | undefined;
}

/**
 * Returns an ImageDestination writing into the OCI layout at `dir` (created with `oci-layout` when missing), as
 * skopeo's `oci:DIR[:REF]` does. Blobs and manifests go to `blobs/sha256` verified and atomically (the store's
 * putBlob); commit replaces the index.json entry of each name (the entry without a name, when there is none) with
 * the last manifest put, in one atomic write. Before commit the layout only gains unreferenced blobs.
 */
export async function ociLayoutDestination(dir: string, o: OciLayoutDestinationOptions = {}): Promise<ImageDestination & { readonly committed: Descriptor | undefined }> {
  const layout = new StoreLayout(dir);
  try {
    await mkdir(layout.blobsDir, { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }), { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  } catch (e) {
    throw new ArchivePathError(dir, `cannot create an OCI layout (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'give a directory you can write, or a path whose parent exists', { cause: e });
  }
  let last: Descriptor | undefined;
  let committed: Descriptor | undefined;
  return {
    ref: `oci:${dir}${o.tag ? `:${o.tag}` : ''}`,
    get committed() {
      return committed;
    },
    hasBlob: async (d: Descriptor) => (await stat(layout.blobPath(d.digest)).catch(() => undefined))?.size === d.size,
    putBlob: (body: Readable, want: Descriptor, po?: Abortable) => putBlob(layout, body, want, po ?? {}),
    putManifest: async (raw: RawManifest, po?: Abortable) => {
      const p = parseManifest(raw.bytes, raw.mediaType, raw.digest);
      const d = await putBlob(layout, Readable.from([Buffer.from(raw.bytes)]), { digest: raw.digest, size: raw.bytes.length, mediaType: p.mediaType }, po ?? {});
      last = { mediaType: p.mediaType, digest: d.digest, size: d.size };
    },
    commit: async (tags: readonly string[]) => {
      if (!last) throw new TsbuildError('USAGE', 'commit called before any manifest was put', { hint: 'call putManifest first (blobs → manifests → commit)' });
      const names = tags.length > 0 ? tags : o.tag ? [o.tag] : [];
      let index: { schemaVersion?: number; manifests?: Descriptor[] } = {};
      try {
        index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as typeof index;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ArchivePathError(dir, 'its index.json is not valid JSON', 'repair or remove it', { cause: e });
      }
      let entries = Array.isArray(index.manifests) ? index.manifests : [];
      const top = last;
      if (names.length === 0) {
        entries = entries.filter((m) => m.annotations?.[REF_NAME] !== undefined || m.digest !== top.digest);
        entries.push(top);
      }
      for (const n of names) {
        entries = entries.filter((m) => m.annotations?.[REF_NAME] !== n);
        entries.push({ ...top, annotations: { [REF_NAME]: n } });
      }
      await writeFileAtomic(join(dir, 'index.json'), JSON.stringify({ ...index, schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries }));
      committed = top;
    },
    close: async () => undefined,
  };
}

/** Returns the blobs of the OCI layout at `dir` as a BlobReader (every read verified). */
export function layoutBlobs(dir: string): BlobReader {
  return {
    open: (d) => pipeline(createReadStream(blobFile(dir, d.digest)), verifyStream(d.size > 0 ? d : { digest: d.digest }), () => undefined),
    size: async (d) => (await stat(blobFile(dir, d))).size,
    read: (d) => readBlobFile(dir, d),
  };
}
