/**
 * A build context given as a stream, as `docker build -` reads stdin (docker/cli build/context.go
 * GetContextFromReader, buildx build/opt.go loadInputs): the first 1 KiB decides. A compressed stream (gzip,
 * bzip2, xz, zstd) or a block that reads as a tar header is the context, as a tar: it is unpacked into a scratch
 * directory under the store (with the hostile-archive checks of layer-store's applyLayer). Anything else is a
 * Dockerfile, built with an empty context. A Dockerfile on stdin together with another Dockerfile (`-f`) is
 * refused, as docker refuses it ("ambiguous Dockerfile source").
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  TsbuildError, applyLayer, decompressor, isTarHeader, sniffCompression, type LayerStore,
} from '../../layer-store/index.js';

/** Bytes read before deciding (buildx and docker peek two tar blocks). */
const PEEK = 1024;
/** Largest Dockerfile read from a stream (BuildKit's own limit for a Dockerfile is in the same range). */
const MAX_DOCKERFILE_BYTES = 16 * 1024 * 1024;

export interface StreamContext {
  /** The context directory: the unpacked tar, or an empty directory. */
  readonly dir: string;
  /** The Dockerfile when the stream was one (else the Dockerfile is read from `dir`). */
  readonly dockerfileContent?: Buffer;
  /** Removes `dir`. */
  cleanup(): Promise<void>;
}

/** Reads up to `n` bytes from the start of `it`; returns them and whether the stream ended. */
async function peek(it: AsyncIterator<Buffer>, n: number): Promise<{ head: Buffer; ended: boolean }> {
  const parts: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) return { head: Buffer.concat(parts), ended: true };
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    parts.push(c);
    len += c.length;
  }
  return { head: Buffer.concat(parts), ended: false };
}

/** Returns `head` followed by the rest of `it`, as one stream. */
function rejoin(head: Buffer, it: AsyncIterator<Buffer>, ended: boolean): Readable {
  return Readable.from((async function* () {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })(), { objectMode: false });
}

/**
 * Returns the context `stream` holds (see the header), unpacked under the store's scratch area (reclaimed by a
 * later build if this process dies). `dockerfile` is the `-f` value: a path inside the tar when the stream is an
 * archive; with a Dockerfile on the stream it is refused. Throws USAGE errors for an empty stream, an ambiguous
 * Dockerfile or a Dockerfile over 16 MiB; applyLayer's errors (InvalidLayerError, UnsafeLayerEntryError) for a
 * corrupt or hostile tar. Nothing is left under the store on failure.
 */
export async function contextFromStream(store: LayerStore, stream: Readable, o: { dockerfile?: string | undefined; dockerfileContent?: string | Uint8Array | undefined; signal?: AbortSignal | undefined } = {}): Promise<StreamContext> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const { head, ended } = await peek(it, PEEK);
  if (head.length === 0) {
    throw new TsbuildError('USAGE', 'the build context on stdin is empty', { location: { ref: '-' }, hint: 'pipe a tar of the context (tar -C DIR -c . | tsbuild build -) or a Dockerfile' });
  }
  const dir = store.layout.scratchPath('build', `context-${randomUUID()}`);
  await mkdir(dir, { recursive: true });
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const kind = sniffCompression(head);
    if (kind !== 'none' || isTarHeader(head)) {
      const body = rejoin(head, it, ended);
      let tar: Readable = body;
      if (kind !== 'none') {
        const d = decompressor(kind, o.signal);
        pipeline(body, d).catch((e: unknown) => d.destroy(e as Error));
        tar = d;
      }
      await applyLayer(tar, dir, { whiteouts: 'apply', xattrs: false, ...(o.signal ? { signal: o.signal } : {}) });
      return { dir, cleanup };
    }
    if (o.dockerfile !== undefined || o.dockerfileContent !== undefined) {
      throw new TsbuildError('USAGE', 'ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles', { location: { ref: '-' }, hint: 'drop -f, or pipe a tar of the context instead of a Dockerfile' });
    }
    const parts = [head];
    let len = head.length;
    for (let r = ended ? undefined : await it.next(); r && !r.done; r = await it.next()) {
      len += r.value.length;
      if (len > MAX_DOCKERFILE_BYTES) throw new TsbuildError('USAGE', `the Dockerfile on stdin is over ${MAX_DOCKERFILE_BYTES} bytes`, { location: { ref: '-' }, hint: 'pipe a tar of the context if this is an archive tsbuild did not recognise (tar, gzip, bzip2, xz, zstd)' });
      parts.push(r.value);
    }
    return { dir, dockerfileContent: Buffer.concat(parts), cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
