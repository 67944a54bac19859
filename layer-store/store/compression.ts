import { spawn } from 'node:child_process';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TsbuildError } from '../core/index.js';

/** Returns a transform that decompresses a layer blob of the given compression to its tar bytes. */
export function decompressor(kind: 'gzip' | 'zstd' | 'none'): Duplex {
  if (kind === 'gzip') return createGunzip();
  if (kind === 'none') return new PassThrough();
  const child = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString();
  });
  const d = Duplex.from({ writable: child.stdin, readable: child.stdout as Readable });
  child.on('error', (e) => d.destroy(new TsbuildError('UNSUPPORTED', 'cannot run zstd to decompress a zstd layer', { cause: e, hint: 'install zstd (apt-get install zstd)' })));
  child.on('exit', (code) => {
    if (code !== 0) d.destroy(new TsbuildError('INVALID_LAYER', `zstd failed (exit ${code}): ${stderr.trim()}`, { hint: 'the layer blob is not valid zstd' }));
  });
  d.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return d;
}

/** True when `head` starts with the gzip magic bytes. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}
