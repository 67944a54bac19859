/**
 * Durable, atomic file writes for the store: a file is either absent, or complete and synced under its final name.
 *
 * - writeFileAtomic: small files (index.json, oci-layout, cache records) go to `<path>.tmp-<pid>-<uuid>` beside
 *   the target, are fsynced, renamed over it, and the directory is fsynced (`durable: false` skips both syncs
 *   for files that may be lost in a crash). On failure the temp file is removed; the target is untouched.
 * - DurableFileWriter: the sink of a streamed blob write (blobs.ts); it finishes only after a full fsync and
 *   never closes the file it was given.
 * - fsyncDir: makes the renames inside a directory survive a crash.
 * The temp names carry the writer's pid so that fsck and gc can tell a dead writer's leftover from a write in flight.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SizeMismatchError } from '../core/index.js';

/** Bytes written between background fdatasyncs of a blob being stored. */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

/** Options of DurableFileWriter. */
export interface DurableFileWriterOptions {
  /** Fail (SizeMismatchError) before writing past this many bytes: a body longer than its blob fills no disk. */
  readonly maxBytes?: number | undefined;
  /** Told the file's length each time a write has landed (in the page cache); putBlob's hasher reads behind it. */
  readonly onWritten?: ((bytes: number) => void) | undefined;
  /** Told the file's final length when the last write has landed, before the final fsync starts. */
  readonly onLastWrite?: ((bytes: number) => void) | undefined;
}

/**
 * A Writable over an open file that batches buffered chunks into one writev (1 MiB of buffering), starts an
 * fdatasync in the background every SYNC_EVERY_BYTES so the disk writes while the bytes still arrive (instead
 * of all at the end: dirty pages of a few hundred MiB are not written back on their own before the final
 * fsync), and finishes only after a full fsync. It does not close the file.
 */
export class DurableFileWriter extends Writable {
  readonly #fh: FileHandle;
  readonly #o: DurableFileWriterOptions;
  #written = 0;
  #sinceSync = 0;
  #syncing: Promise<void> | undefined;
  #syncError: unknown;

  constructor(fh: FileHandle, o: DurableFileWriterOptions = {}) {
    super({ highWaterMark: 1024 * 1024 });
    this.#fh = fh;
    this.#o = o;
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.#written;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    void this.#writeAll(chunks.map((c) => c.chunk)).then(() => cb(), (e: unknown) => cb(e as Error));
  }

  async #writeAll(bufs: Buffer[]): Promise<void> {
    let total = 0;
    for (const b of bufs) total += b.length;
    const max = this.#o.maxBytes;
    if (max !== undefined && this.#written + total > max) throw new SizeMismatchError(max, this.#written + total);
    let { bytesWritten } = await this.#fh.writev(bufs);
    // A regular file takes everything but for a full disk or a signal: write what is left, or fail trying.
    if (bytesWritten < total) {
      const rest = Buffer.concat(bufs).subarray(bytesWritten);
      for (let off = 0; off < rest.length; ) {
        const r = await this.#fh.write(rest, off, rest.length - off);
        if (r.bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        off += r.bytesWritten;
      }
      bytesWritten = total;
    }
    this.#written += bytesWritten;
    this.#o.onWritten?.(this.#written);
    this.#sinceSync += bytesWritten;
    if (this.#sinceSync >= SYNC_EVERY_BYTES && !this.#syncing) {
      this.#sinceSync = 0;
      this.#syncing = this.#fh.datasync().finally(() => { this.#syncing = undefined; });
      this.#syncing.catch((e: unknown) => { this.#syncError ??= e; }); // reported by _final
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#o.onLastWrite?.(this.#written);
    void (async () => {
      await this.#syncing?.catch(() => undefined);
      if (this.#syncError !== undefined) throw this.#syncError;
      await this.#fh.sync();
    })().then(() => cb(), (e: unknown) => cb(e as Error));
  }
}

/**
 * Writes `data` to `path` atomically: temp file in the same dir, fsync, rename, fsync the dir. `beforeRename` is
 * awaited between the temp file's fsync and the rename (its rejection leaves `path` untouched).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, o: { durable?: boolean; beforeRename?: () => Promise<unknown> | undefined } = {}): Promise<void> {
  const durable = o.durable ?? true;
  const tmp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  if (!durable) {
    // No fsync to wait for: three small synchronous calls instead of five thread-pool round trips (the cache
    // writes a few of these at every step it runs).
    try {
      writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
      renameSync(tmp, path);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
      throw e;
    }
    return;
  }
  // The same temp, fsync, rename and directory fsync, with only the two fsyncs on the thread pool: open, write,
  // close and rename of a small file are synchronous calls of microseconds, each of which was a round trip
  // through the pool (8 per file instead of 2; a fresh pull writes three such files on its path).
  let done = false;
  try {
    await writeNewFileSynced(tmp, data);
    await o.beforeRename?.();
    renameSync(tmp, path);
    done = true;
    await fsyncDir(join(path, '..'));
  } finally {
    if (!done) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
    }
  }
}

/**
 * Creates `file` (it must not exist), writes `data` and fsyncs it: open, write and close are synchronous calls of
 * microseconds, only the fsync goes through the thread pool. The file is closed either way; removing it on a
 * failure is the caller's.
 */
export async function writeNewFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const fd = openSync(file, 'wx', 0o644);
  try {
    writeFileSync(fd, data);
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Resolves once the file behind `fd` is on disk (fsync): one thread-pool round trip. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())));
}

/** fsyncs a directory so renames inside it survive a crash (open and close synchronous: one pool round trip). */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}
