/**
 * The store seen as copyImage's two ends (containers/image's split): an ImageSource over one stored image and an
 * ImageDestination writing into the store. Every blob a source returns is digest-verified (openBlob); every blob
 * and manifest a destination takes is verified on the way in (putBlob). Call order for a destination: blobs →
 * manifests → commit; nothing is named before commit, which tags the last manifest put in one index update.
 */
import {
  TsbuildError, parseManifest,
  type Abortable, type Descriptor, type Digest, type ImageDestination, type ImageSource, type RawManifest,
} from '../core/index.js';
import type { Readable } from 'node:stream';
import { BlobNotFoundError } from './errors.js';
import type { StoredObject } from './resolve.js';

/** What the views need of the store (LayerStore satisfies it). */
export interface ViewHost {
  readonly root: string;
  resolve(ref: string): Promise<StoredObject>;
  readBlob(d: Digest, o: { kind: 'image manifest' }): Promise<Buffer>;
  hasBlob(d: Digest): Promise<boolean>;
  openBlob(d: Descriptor, o?: Abortable): Readable;
  putBlob(body: Readable, want: Partial<Descriptor>, o?: Abortable): Promise<Descriptor>;
  putBytes(bytes: Uint8Array, want: Partial<Descriptor>, o?: Abortable): Promise<Descriptor>;
  tagMany(names: readonly string[], desc: Descriptor, o?: Abortable): Promise<void>;
}

/** Returns an ImageSource over the image `ref` names; every blob it returns is digest-verified. */
export function storeSource(store: ViewHost, ref: string): ImageSource {
  let top: Promise<StoredObject> | undefined;
  return {
    ref,
    getManifest: async (digest?: Digest): Promise<RawManifest> => {
      const d = digest ?? (await (top ??= store.resolve(ref))).descriptor.digest;
      const bytes = await store.readBlob(d, { kind: 'image manifest' });
      const p = parseManifest(bytes, undefined, d);
      return { mediaType: p.mediaType, bytes, digest: d };
    },
    getBlob: async (d: Descriptor, o?: Abortable): Promise<Readable> => {
      if (!(await store.hasBlob(d.digest))) throw new BlobNotFoundError(d.digest);
      return store.openBlob(d, o);
    },
    close: async () => undefined,
  };
}

/**
 * Returns an ImageDestination writing into the store. Blobs and manifests are verified on the way in;
 * `commit(tags)` records the last manifest put under `tags` (or unnamed when none) in one index update.
 * `blobSize` answers hasBlob (a blob counts only with the wanted size).
 */
export function storeDestination(store: ViewHost, blobSize: (d: Digest) => number | undefined): ImageDestination & { readonly committed: Descriptor | undefined } {
  let last: Descriptor | undefined;
  let committed: Descriptor | undefined;
  return {
    ref: store.root,
    get committed() {
      return committed;
    },
    hasBlob: async (d: Descriptor) => {
      const size = blobSize(d.digest);
      return size !== undefined && size === d.size;
    },
    putBlob: (body: Readable, want: Descriptor, o?: Abortable) => store.putBlob(body, want, o),
    putManifest: async (raw: RawManifest, o?: Abortable) => {
      const p = parseManifest(raw.bytes, raw.mediaType, raw.digest);
      last = await store.putBytes(raw.bytes, { digest: raw.digest, mediaType: p.mediaType }, o);
    },
    commit: async (tags: readonly string[], o?: Abortable) => {
      if (!last) throw new TsbuildError('USAGE', 'commit called before any manifest was put', { hint: 'call putManifest first (blobs → manifests → commit)' });
      await store.tagMany(tags, last, o);
      committed = last;
    },
    close: async () => undefined,
  };
}
