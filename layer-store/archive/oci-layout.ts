/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) as an ImageSource, so the
 * one generic copy (copy.ts) brings its images into the store: BuildKit's `oci-layout://PATH[:TAG|@DIGEST]`
 * named contexts, skopeo's `oci:DIR[:REF]`. Every manifest and blob read is verified against its digest.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import {
  DigestMismatchError, TsbuildError, digestHex, digestOf, isDigest, parseManifest, verifyStream,
  type Descriptor, type Digest, type ImageSource, type RawManifest,
} from '../core/index.js';
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
