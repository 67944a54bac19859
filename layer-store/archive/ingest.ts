import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zc } from 'node:zlib';
import { MediaTypes, type Abortable, type Descriptor, type Digest, type Layer } from '../core/index.js';
import { detectCompression } from '../layer/index.js';
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
 * Returns the stored layer made from a tar stream, in one pass: an uncompressed tar is gzipped into the store,
 * an already-gzipped one is stored as is, and either way the bytes are read as a tar on the way in
 * (tar-check.ts), which also gives the diffID. Input that is not a tar archive fails with InvalidLayerError and
 * nothing is stored. Nothing but the verified blob is left behind.
 */
export async function ingestTar(store: LayerStore, input: Readable, o: IngestOptions = {}): Promise<IngestedLayer> {
  const { head, stream } = await peek(input);
  const gzipped = detectCompression(head) === 'gzip';
  const check = tarChecked(gzipped ? 'gzip' : 'none');
  check.diffId.catch(() => undefined); // the pipeline reports the failure
  const out = new PassThrough();
  const stages = gzipped ? [stream, check, out] : [stream, check, createGzip({ level: o.gzipLevel ?? zc.Z_DEFAULT_COMPRESSION }), out];
  const feeding = pipeline(stages, o.signal ? { signal: o.signal } : {});
  const storing = store.putBlob(out, { mediaType: MediaTypes.ociLayerGzip }, o).catch((e: unknown) => {
    out.destroy(e as Error);
    throw e;
  });
  const [fed, stored] = await Promise.allSettled([feeding, storing]);
  if (fed.status === 'rejected') throw fed.reason;
  if (stored.status === 'rejected') throw stored.reason;
  return layerOf(stored.value, await check.diffId);
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
