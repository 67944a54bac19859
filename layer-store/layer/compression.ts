/**
 * Layer compression: gzip through Node's zlib (work runs on the libuv thread pool), zstd through the `zstd` CLI.
 *
 * Why the zstd CLI: Node 20's zlib has no zstd (it arrived in Node 22.15/23.8). The npm alternatives are either
 * native addons (a compiler or a matching prebuilt needed at install) or WebAssembly ports without a streaming
 * API, which would force a layer into memory. `zstd` is a Debian base package, streams through pipes, and
 * compresses in its own process, i.e. in parallel with our hashing. Its output is deterministic for a given
 * level and version.
 */
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { MediaTypes, type MediaType } from '../core/index.js';
import { InvalidLayerError, LayerToolError } from './errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Default gzip level: Go's compress/gzip DefaultCompression (6), what Docker and BuildKit write. */
export const DEFAULT_GZIP_LEVEL = 6;
/** Default zstd level: the zstd CLI's default (3), as BuildKit and containerd use. */
export const DEFAULT_ZSTD_LEVEL = 3;

/** Returns the OCI layer media type for a compression. */
export function layerMediaType(c: Compression): MediaType {
  return c === 'gzip' ? MediaTypes.ociLayerGzip : c === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.ociLayer;
}

/** Returns a Duplex that runs `zstd args` on its input; errors if zstd exits non-zero. */
function zstdProcess(args: readonly string[], signal: AbortSignal | undefined, decompress: boolean): Duplex {
  const p = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  p.stderr.on('data', (c: Buffer) => { if (err.length < 64) err.push(c); });
  const exit = new Promise<void>((resolve, reject) => {
    p.on('error', (e: NodeJS.ErrnoException) => reject(new LayerToolError('zstd', e.code === 'ENOENT' ? 'not installed' : e.message, { cause: e })));
    p.on('close', (code, sig) => {
      if (code === 0) resolve();
      else {
        const msg = `exited ${code ?? sig}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 300)}`;
        reject(decompress ? new InvalidLayerError(`zstd stream: ${msg}`) : new LayerToolError('zstd', msg));
      }
    });
  });
  exit.catch(() => undefined);
  async function* out(): AsyncGenerator<Buffer> {
    for await (const c of p.stdout) yield c as Buffer;
    await exit;
  }
  p.stdin.on('error', () => undefined); // EPIPE when zstd dies early; the exit code carries the error
  const d = Duplex.from({ writable: p.stdin, readable: Readable.from(out(), { objectMode: false }) });
  const kill = (): void => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); };
  d.on('close', kill);
  signal?.addEventListener('abort', kill, { once: true });
  return d;
}

/** Returns a compressing Transform/Duplex for `c` at `level` (undefined: the format's default). */
export function compressor(c: Compression, level: number | undefined, signal?: AbortSignal): Duplex {
  switch (c) {
    case 'gzip':
      return createGzip({ level: level ?? DEFAULT_GZIP_LEVEL, chunkSize: 256 * 1024 });
    case 'zstd':
      return zstdProcess(['-q', '-c', `-${level ?? DEFAULT_ZSTD_LEVEL}`, '-'], signal, false);
    case 'none':
      return new PassThrough({ highWaterMark: 1 << 20 });
  }
}

/** Detects the compression of a stream from its first bytes (gzip 1f 8b, zstd 28 b5 2f fd, else plain). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Returns the uncompressed bytes of `input` (gzip, zstd or plain tar, autodetected) as an async iterable.
 * Corrupt or truncated compressed data ends in InvalidLayerError.
 */
export async function* decompressed(input: Readable, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first: Buffer[] = [];
  let len = 0;
  let ended = false;
  while (len < 4) {
    const r = await it.next();
    if (r.done) { ended = true; break; }
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    first.push(c);
    len += c.length;
  }
  const head = Buffer.concat(first);
  const kind = detectCompression(head);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  if (kind === 'none') { yield* rest(); return; }
  const dec: Duplex = kind === 'gzip' ? createGunzip({ chunkSize: 256 * 1024 }) : zstdProcess(['-d', '-q', '-c', '-'], signal, true);
  const src = Readable.from(rest(), { objectMode: false });
  let srcErr: unknown;
  src.on('error', (e) => { srcErr = e; });
  const feeding = pipeline(src, dec);
  feeding.catch(() => undefined);
  let total = 0;
  try {
    for await (const c of dec) { total += (c as Buffer).length; yield c as Buffer; }
  } catch (e) {
    if (srcErr !== undefined) throw srcErr;
    if (e instanceof InvalidLayerError) throw e;
    throw new InvalidLayerError(`${kind} stream is corrupt or truncated after ${total} uncompressed bytes: ${(e as Error).message}`, { cause: e });
  } finally {
    src.destroy();
    dec.destroy();
  }
}
