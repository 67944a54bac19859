/**
 * A pass-through that proves a stream is a tar archive while it flows: every byte goes on unchanged, and a
 * copy (decompressed first when the stream is compressed) is read by the layer tar reader, entry by entry.
 * When the copy is not a tar (a bad header checksum, an unknown entry type, a truncated entry, no bytes at
 * all), the pass-through fails with that reason instead of ending, so a store write fed by it commits
 * nothing (putBlob leaves nothing behind when its input errors). The end is held back until the reader has
 * seen the end of the archive, so `diffId` (the reader's hash of the whole uncompressed stream) is known by then.
 */
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import type { Digest } from '../core/index.js';
import { InvalidLayerError, TarReader, decompressor, type StreamCompression } from '../layer/index.js';

/** The checking pass-through, and the sha256 of the uncompressed tar (its diffID) once the stream has ended. */
export type TarCheck = Transform & { readonly diffId: Promise<Digest> };

/** Returns the checking pass-through; `compression` is how the stream is compressed ('none' for a plain tar). */
export function tarChecked(compression: StreamCompression): TarCheck {
  const copy = new PassThrough();
  const plain = compression === 'none' ? copy : copy.pipe(decompressor(compression));
  if (plain !== copy) copy.on('error', (e) => plain.destroy(e));
  let bytes = 0;
  // The reader hashes every byte it reads, what follows the end-of-archive marker included: the diffID.
  const reading = (async (): Promise<Digest> => {
    const reader = new TarReader(plain);
    try {
      while ((await reader.next()) !== null) { /* bodies are skipped by next() */ }
      return reader.digest().digest;
    } finally {
      await reader.close();
    }
  })();
  reading.catch(() => undefined);
  let failed: Error | undefined;
  reading.catch((e: unknown) => { failed = e as Error; });
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback): void {
      if (failed) return cb(failed);
      bytes += chunk.length;
      if (!copy.write(chunk)) copy.once('drain', () => cb(null, chunk));
      else cb(null, chunk);
    },
    flush(cb: TransformCallback): void {
      if (bytes === 0) return cb(new InvalidLayerError('the file is empty'));
      copy.end();
      reading.then(() => cb(), (e: unknown) => cb(e as Error));
    },
    destroy(err, cb): void {
      copy.destroy();
      cb(err);
    },
  });
  return Object.assign(check, { diffId: reading });
}
