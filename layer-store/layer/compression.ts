/**
 * The one place that recognises and opens compressed streams: magic-byte detection for gzip, zstd, bzip2 and xz,
 * and the matching decompressor. Layers use gzip (Node's zlib, on the libuv thread pool) and zstd; ADD's local
 * archives may also be bzip2 or xz. zstd, bzip2 and xz run through their CLIs.
 *
 * Why the zstd CLI: Node 20's zlib has no zstd (it arrived in Node 22.15/23.8). The npm alternatives are either
 * native addons (a compiler or a matching prebuilt needed at install) or WebAssembly ports without a streaming
 * API, which would force a layer into memory. `zstd` is a Debian base package, streams through pipes, and
 * compresses in its own process, i.e. in parallel with our hashing. Its output is deterministic for a given
 * level and version.
 *
 * Size limits: decompressed layer bytes are capped by the reader (TarReader's `maxBytes`, default
 * DEFAULT_MAX_UNCOMPRESSED), so a gzip bomb ends in InvalidLayerError, never a full disk.
 */
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { MediaTypes, type MediaType } from '../core/index.js';
import { InvalidLayerError, LayerToolError } from './errors.js';

/** The compressions a layer blob may have. */
export type Compression = 'gzip' | 'zstd' | 'none';
/** Every compression the detector recognises (bzip2 and xz occur only in ADD's local archives). */
export type StreamCompression = Compression | 'bzip2' | 'xz';

/**
 * Largest uncompressed size of one layer (bytes, 64 GiB) that applyLayer reads: the gzip-bomb limit. Real layers
 * are at most a few GiB; a 10 MB gzip of zeros inflates to 10 GB.
 */
export const DEFAULT_MAX_UNCOMPRESSED = 64 * 1024 ** 3;
/** Bytes of a stream's start that sniffCompression needs (xz's magic is the longest, 6 bytes). */
export const COMPRESSION_MAGIC_BYTES = 6;

/** Default gzip level: Go's compress/gzip DefaultCompression (6), what Docker and BuildKit write. */
export const DEFAULT_GZIP_LEVEL = 6;
/** Default zstd level: the zstd CLI's default (3), as BuildKit and containerd use. */
export const DEFAULT_ZSTD_LEVEL = 3;

/** Returns the OCI layer media type for a compression. */
export function layerMediaType(c: Compression): MediaType {
  return c === 'gzip' ? MediaTypes.ociLayerGzip : c === 'zstd' ? MediaTypes.ociLayerZstd : MediaTypes.ociLayer;
}

/**
 * Returns a Duplex that runs `tool args` on its input; errors if the tool exits non-zero (InvalidLayerError when
 * decompressing: the input was corrupt; else LayerToolError) or cannot start (LayerToolError).
 */
function toolProcess(tool: 'zstd' | 'bzip2' | 'xz', args: readonly string[], signal: AbortSignal | undefined, decompress: boolean): Duplex {
  const p = spawn(tool, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  p.stderr.on('data', (c: Buffer) => { if (err.length < 64) err.push(c); });
  const exit = new Promise<void>((resolve, reject) => {
    p.on('error', (e: NodeJS.ErrnoException) => reject(new LayerToolError(tool, e.code === 'ENOENT' ? 'not installed' : e.message, { cause: e })));
    p.on('close', (code, sig) => {
      if (code === 0) resolve();
      else {
        const msg = `exited ${code ?? sig}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 300)}`;
        reject(decompress ? new InvalidLayerError(`${tool} stream: ${msg}`) : new LayerToolError(tool, msg));
      }
    });
  });
  exit.catch(() => undefined);
  async function* out(): AsyncGenerator<Buffer> {
    for await (const c of p.stdout) yield c as Buffer;
    await exit;
  }
  p.stdin.on('error', () => undefined); // EPIPE when the tool dies early; the exit code carries the error
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
      return toolProcess('zstd', ['-q', '-c', `-${level ?? DEFAULT_ZSTD_LEVEL}`, '-'], signal, false);
    case 'none':
      return new PassThrough({ highWaterMark: 1 << 20 });
  }
}

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/**
 * Returns the compression `head` (a stream's first bytes, COMPRESSION_MAGIC_BYTES suffice) starts with: gzip 1f 8b,
 * zstd 28 b5 2f fd, bzip2 "BZh", xz fd 37 7a 58 5a 00; else 'none'.
 */
export function sniffCompression(head: Uint8Array): StreamCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  if (head.length >= 6 && XZ_MAGIC.every((b, i) => head[i] === b)) return 'xz';
  return 'none';
}

/** Returns the compression of a layer stream from its first bytes: gzip, zstd, else plain ('none'; a layer is never bzip2/xz). */
export function detectCompression(head: Uint8Array): Compression {
  const c = sniffCompression(head);
  return c === 'bzip2' || c === 'xz' ? 'none' : c;
}

/**
 * Returns a Duplex that turns `kind`-compressed bytes into the plain bytes ('none': a pass-through). Corrupt input
 * errors with InvalidLayerError (zstd, bzip2, xz) or zlib's error (gzip); a missing tool with LayerToolError.
 */
export function decompressor(kind: StreamCompression, signal?: AbortSignal): Duplex {
  switch (kind) {
    case 'gzip':
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd':
      return toolProcess('zstd', ['-d', '-q', '-c', '-'], signal, true);
    case 'bzip2':
      return toolProcess('bzip2', ['-d', '-q', '-c'], signal, true);
    case 'xz':
      return toolProcess('xz', ['-d', '-q', '-c', '-'], signal, true);
    case 'none':
      return new PassThrough({ highWaterMark: 1 << 20 });
  }
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
  while (len < COMPRESSION_MAGIC_BYTES) {
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
  const dec = decompressor(kind, signal);
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
