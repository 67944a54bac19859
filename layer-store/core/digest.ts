import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError, InvalidDigestError, SizeMismatchError } from './errors.js';

/** A content digest, always `sha256:<64 lowercase hex>`; produced only by parseDigest or hashing. */
export type Digest = `sha256:${string}` & { readonly __brand: 'Digest' };

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Returns `s` as a Digest; throws InvalidDigestError unless it is `sha256:` + 64 lowercase hex. */
export function parseDigest(s: string): Digest {
  if (typeof s !== 'string' || !DIGEST_RE.test(s)) throw new InvalidDigestError(String(s));
  return s as Digest;
}

/** True when `s` is a well-formed sha256 digest. */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/** Returns the sha256 Digest of `data`. */
export function digestOf(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** Returns the hex part of a digest (the blob file name in an OCI layout). */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** A running sha256 over bytes fed by the caller. */
export class Hasher {
  #h: Hash = createHash('sha256');
  size = 0;
  update(chunk: Uint8Array): void {
    this.#h.update(chunk);
    this.size += chunk.length;
  }
  digest(): Digest {
    return `sha256:${this.#h.digest('hex')}` as Digest;
  }
}

export type HashingStream = Transform & { readonly result: Promise<{ digest: Digest; size: number }> };

/** Returns a pass-through that hashes every byte; `result` settles at end of stream. */
export function hashStream(): HashingStream {
  const h = new Hasher();
  let resolve!: (v: { digest: Digest; size: number }) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<{ digest: Digest; size: number }>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => undefined);
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      h.update(chunk);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      resolve({ digest: h.digest(), size: h.size });
      cb();
    },
  });
  t.on('error', (e) => reject(e));
  t.on('close', () => reject(new Error('stream closed before end')));
  const s = Object.assign(t, { result });
  hashing.add(s);
  return s;
}

/** Streams made by hashStream. */
const hashing = new WeakSet<object>();

/**
 * Returns what `stream` hashes to when it is a hashStream (it hashes every byte it passes on, and `result`
 * settles when it ends), so a consumer that stores those bytes need not hash them again; else undefined. Only for
 * a stream handed over before anything read from it (as pack.ts hands its blob stream to the sink).
 */
export function hashingResult(stream: unknown): Promise<{ digest: Digest; size: number }> | undefined {
  return typeof stream === 'object' && stream !== null && hashing.has(stream) ? (stream as HashingStream).result : undefined;
}

/**
 * Returns a pass-through that hashes every byte, fails as soon as more than `want.size` bytes arrive,
 * and at end of stream errors with DigestMismatchError/SizeMismatchError instead of ending cleanly.
 * Unverified bytes therefore can never be committed by a consumer that waits for 'finish'.
 */
export function verifyStream(want: { digest: Digest; size?: number | undefined }): Transform {
  const h = new Hasher();
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      h.update(chunk);
      if (want.size !== undefined && h.size > want.size) {
        cb(new SizeMismatchError(want.size, h.size));
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (want.size !== undefined && h.size !== want.size) {
        cb(new SizeMismatchError(want.size, h.size));
        return;
      }
      const got = h.digest();
      if (got !== want.digest) {
        cb(new DigestMismatchError(want.digest, got, h.size));
        return;
      }
      cb();
    },
  });
  verifying.set(t, { digest: want.digest, size: want.size });
  return t;
}

/**
 * Returns a pass-through that fails as soon as more than `size` bytes arrive and at end of stream errors with
 * SizeMismatchError when fewer did. It checks no digest: only for a reader that verifies the digest itself
 * before committing (GetBlobOptions.digestCheckedByReader); alreadyVerified is false for it.
 */
export function sizeCheckedStream(size: number): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      n += chunk.length;
      if (n > size) {
        cb(new SizeMismatchError(size, n));
        return;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(n === size ? null : new SizeMismatchError(size, n));
    },
  });
}

/** Streams made by verifyStream (and streams vouched for by one), with what they check. */
const verifying = new WeakMap<object, { readonly digest: Digest; readonly size: number | undefined }>();

/**
 * Marks `stream` as carrying `by`'s check: only for a stream that passes `by`'s bytes unchanged and is
 * destroyed with `by`'s error (both in one stream.pipeline), so it errors instead of ending on a mismatch too.
 */
export function vouchFor(stream: object, by: object): void {
  const v = verifying.get(by);
  if (v) verifying.set(stream, v);
}

/**
 * True when `stream` comes from verifyStream (or is vouched for by one) checking exactly `want`'s digest and
 * size: it errors instead of ending when the bytes differ, so hashing them again would only cost a pass.
 */
export function alreadyVerified(stream: unknown, want: { digest: Digest; size?: number | undefined }): boolean {
  const v = typeof stream === 'object' && stream !== null ? verifying.get(stream) : undefined;
  return v !== undefined && v.digest === want.digest && want.size !== undefined && v.size === want.size;
}
