import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zc } from 'node:zlib';
import { MediaTypes, hashStream, type Abortable, type Descriptor, type Digest, type Layer } from '../core/index.js';
import { decompressor, detectCompression } from '../layer/index.js';
import type { LayerStore } from '../store/index.js';
import { tarChecked } from './tar-check.js';

/** A layer ingestTar stored (gzip-compressed): core's Layer. */
export type IngestedLayer = Layer;

function layerOf(d: Descriptor, diffId: Digest): Layer {
  return { digest: d.digest, diffId, size: d.size, mediaType: d.mediaType };
}

export interface IngestOptions extends Abortable {
  /** gzip level 1–9 (default 6, as docker). */
  readonly gzipLevel?: number;
}

/**
 * Returns the stored layer made from a tar stream: an uncompressed tar is hashed (diffID) and gzipped into
 * the store in one pass; an already-gzipped tar is stored as is and its diffID computed from the stored
 * blob. The bytes are read as a tar on the way in (tar-check.ts): input that is not a tar archive fails with
 * InvalidLayerError and nothing is stored. Nothing but the verified blob is left behind.
 */
export async function ingestTar(store: LayerStore, input: Readable, o: IngestOptions = {}): Promise<IngestedLayer> {
  const { head, stream } = await peek(input);
  const sig = o.signal ? { signal: o.signal } : {};
  if (detectCompression(head) === 'gzip') {
    const out = new PassThrough();
    const feeding = pipeline([stream, tarChecked('gzip'), out], sig);
    const storing = store.putBlob(out, { mediaType: MediaTypes.ociLayerGzip }, o).catch((e: unknown) => {
      out.destroy(e as Error);
      throw e;
    });
    const [fed, stored] = await Promise.allSettled([feeding, storing]);
    if (fed.status === 'rejected') throw fed.reason;
    if (stored.status === 'rejected') throw stored.reason;
    const descriptor = stored.value;
    const h = hashStream();
    await pipeline([store.openBlob(descriptor, o), decompressor('gzip'), h], sig);
    const { digest } = await h.result;
    return layerOf(descriptor, digest);
  }
  const diff = hashStream();
  const gz = createGzip({ level: o.gzipLevel ?? zc.Z_DEFAULT_COMPRESSION });
  const out = new PassThrough();
  const feeding = pipeline([stream, tarChecked('none'), diff, gz, out], sig);
  const storing = store.putBlob(out, { mediaType: MediaTypes.ociLayerGzip }, o).catch((e: unknown) => {
    out.destroy(e as Error);
    throw e;
  });
  const [r1, r2] = await Promise.allSettled([feeding, storing]);
  if (r1.status === 'rejected') throw r1.reason;
  if (r2.status === 'rejected') throw r2.reason;
  return layerOf(r2.value, (await diff.result).digest);
}

/** Returns the first bytes of `input` and a stream that replays them followed by the rest. */
async function peek(input: Readable): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  }
  return { head, stream: Readable.from(rest(), { objectMode: false }) };
}
