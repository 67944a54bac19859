/**
 * The blob files of a store: `<root>/blobs/sha256/<hex>`, content-addressed, written once, verified on every read.
 *
 * Contract:
 * - putBlob streams into `blobs/sha256/.tmp-<pid>-<uuid>` (StoreLayout.blobTempPath), hashing every byte and
 *   checking the wanted digest and size, fsyncs, then renames into place. On any failure (mismatch, stream error,
 *   abort) the temp file is removed: a blob is either absent or complete under its final name. A blob already
 *   present with that digest (and size) is success without reading the body (content-addressed writes are
 *   idempotent; fsck rechecks content).
 * - openBlob and readBlob verify the bytes they return against the digest (openBlob errors instead of ending);
 *   openBlobRanges does not (its reader checks what it takes).
 * - Nothing here takes a lock: blobs are immutable, and a name only points at one after tagMany (image-index.ts)
 *   has fsynced the blob dir. gc (gc.ts) removes unreachable blobs and dead writers' temps (staleBlobTemp).
 */
import { createReadStream, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  alreadyVerified, checkDocumentSize, digestOf, hashingResult, hashStream, verifyStream, DigestMismatchError, SizeMismatchError, MAX_DOCUMENT_BYTES,
  type Abortable, type Descriptor, type Digest, type DocumentKind,
} from '../core/index.js';
import { DurableFileWriter, writeNewFileSynced } from './atomic-write.js';
import type { FileHasher, FileHashJob } from './file-hasher.js';
import { BlobNotFoundError, InvalidManifestError, StoreCorruptError } from './errors.js';
import type { StoreLayout } from './layout.js';
import { ownerGone, ownerPid } from './scratch.js';

/**
 * A blob of a known digest and size up to this many bytes is gathered in memory (verified as it streams) and
 * written with synchronous calls around one fsync on the thread pool, instead of five pool round trips (open,
 * write, fsync, close, rename): a small image's config, manifests and small layers. At most this much memory
 * per blob in flight.
 */
export const SMALL_BLOB_BYTES = 4 * 1024 * 1024;

/** Age (ms) after which a leftover temp file or directory with no live owner in its name is garbage. */
export const STALE_TEMP_MS = 60 * 60 * 1000;

/** Returns the size of the stored blob `d`, or undefined when it is not stored (or not a regular file). */
export function blobSize(layout: StoreLayout, d: Digest): number | undefined {
  try {
    const st = statSync(layout.blobPath(d)); // one stat: cheaper than a thread-pool round trip
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Options of putBlob beyond Abortable. */
export interface BlobWriteOptions extends Abortable {
  /**
   * The store's FileHasher: a big blob (`hasher.minBytes` or more) whose digest and size are wanted and whose
   * body is not verified already (a registry download asked for unhashed, see copyImage) is hashed on its worker,
   * from the temp file, behind the writer, instead of on this thread as it streams in.
   */
  readonly hasher?: FileHasher | undefined;
}

/**
 * Returns the descriptor of the stored blob after streaming `body` into a temp file in the blob dir,
 * hashing every byte, checking `want.digest`/`want.size` when given, fsyncing and renaming into place.
 * On any failure (mismatch, stream error, abort) the temp file is removed and nothing is left behind.
 * A blob already present with that digest (and size) is success without reading `body`.
 * With `o.hasher`, a big blob's bytes are hashed from the temp file on the hasher's worker (see BlobWriteOptions);
 * the digest is compared before the rename all the same.
 */
export async function putBlob(layout: StoreLayout, body: Readable, want: Partial<Descriptor> = {}, o: BlobWriteOptions = {}): Promise<Descriptor> {
  const mediaType = want.mediaType ?? 'application/octet-stream';
  const extra = { ...(want.annotations ? { annotations: want.annotations } : {}), ...(want.platform ? { platform: want.platform } : {}) };
  if (want.digest !== undefined) {
    const size = blobSize(layout, want.digest);
    if (size !== undefined && (want.size === undefined || want.size === size)) {
      body.destroy();
      return { mediaType, digest: want.digest, size, ...extra };
    }
  }
  if (want.digest !== undefined && want.size !== undefined && want.size <= SMALL_BLOB_BYTES) {
    return { mediaType, ...(await putSmallBlob(layout, body, { digest: want.digest, size: want.size }, o)), ...extra };
  }
  // The temp name carries the writer's pid: gc removes a dead writer's temp at once (see staleBlobTemp).
  const tmp = layout.blobTempPath();
  let renamed = false;
  let job: FileHashJob | undefined;
  try {
    // With the digest and size known, verifyStream alone checks every byte (it errors instead of ending on a
    // mismatch); hashing a second time would only cost another pass over the blob.
    const known = want.digest !== undefined && want.size !== undefined;
    const verified = known && alreadyVerified(body, want as Descriptor);
    // The file is opened before streaming starts, so a stream that fails early can never create it after the
    // cleanup below has run. flush: fsync before close, so the renamed file is durable.
    const fh = await open(tmp, 'wx', 0o644);
    // Hashed behind (o.hasher, a big unverified body): the worker reads what each write left in the page cache, and
    // is told the total as soon as the last write landed, so it hashes the tail while the final fsync runs. A
    // worker that cannot be started leaves the hashing to this thread, on the way in; one that stops mid-job, from
    // the temp file once it is written (FileHashJob.finish).
    if (o.hasher !== undefined && known && !verified && want.size! >= o.hasher.minBytes) {
      try {
        job = o.hasher.start(tmp);
      } catch {
        job = undefined;
      }
    }
    // A body that is itself a hashStream (a layer being packed) has its digest computed on the way already.
    const hashed = want.digest === undefined ? hashingResult(body) : undefined;
    const h = known || hashed ? undefined : hashStream();
    // A body that is itself a verifying stream for this digest and size (a registry download) is not hashed again.
    const stages: NodeJS.ReadWriteStream[] = want.digest !== undefined
      ? [...(verified || job ? [] : [verifyStream({ digest: want.digest, size: want.size })]), ...(h ? [h] : [])]
      : h ? [h] : [];
    let behindResult: Promise<{ digest: Digest; size: number }> | undefined;
    const writer = new DurableFileWriter(fh, job ? {
      maxBytes: want.size,
      onWritten: (n) => job!.written(n),
      onLastWrite: (n) => {
        behindResult = job!.finish(n);
        behindResult.catch(() => undefined);
      },
    } : {});
    try {
      await pipeline([body, ...stages, writer], o.signal ? { signal: o.signal } : {});
    } finally {
      await fh.close();
    }
    const got = job ? await (behindResult ?? job.finish(writer.bytesWritten))
      : h ? await h.result : hashed ? await hashed : { digest: want.digest!, size: want.size! };
    if (want.size !== undefined && got.size !== want.size) throw new SizeMismatchError(want.size, got.size);
    if (want.digest !== undefined && got.digest !== want.digest) throw new DigestMismatchError(want.digest, got.digest, got.size);
    await rename(tmp, layout.blobPath(got.digest));
    renamed = true;
    return { mediaType, digest: got.digest, size: got.size, ...extra };
  } finally {
    job?.drop();
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}

/**
 * putBlob for a blob of known digest and size up to SMALL_BLOB_BYTES: the bytes are read whole (through
 * verifyStream unless `body` already verifies exactly this, so a mismatch errors before anything is written),
 * then written to a temp file in the blob dir, fsynced, and renamed into place, as putBlob does; on failure the
 * temp file is removed.
 */
async function putSmallBlob(layout: StoreLayout, body: Readable, want: { digest: Digest; size: number }, o: Abortable): Promise<{ digest: Digest; size: number }> {
  const chunks: Buffer[] = [];
  const gather = new Writable({ write: (c: Buffer, _e, cb) => { chunks.push(c); cb(); } });
  await pipeline([body, ...(alreadyVerified(body, want) ? [] : [verifyStream(want)]), gather], o.signal ? { signal: o.signal } : {});
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (bytes.length !== want.size) throw new SizeMismatchError(want.size, bytes.length); // verifyStream checked; kept plain
  const tmp = layout.blobTempPath();
  let renamed = false;
  try {
    await writeNewFileSynced(tmp, bytes);
    renameSync(tmp, layout.blobPath(want.digest));
    renamed = true;
    return want;
  } finally {
    if (!renamed) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created
      }
    }
  }
}

/** Returns the descriptor of `bytes` stored as a blob (verified against `want` like putBlob). */
export async function putBytes(layout: StoreLayout, bytes: Uint8Array, want: Partial<Descriptor> = {}, o: Abortable = {}): Promise<Descriptor> {
  const digest = digestOf(bytes);
  if (want.digest !== undefined && want.digest !== digest) throw new DigestMismatchError(want.digest, digest, bytes.length);
  if (want.size !== undefined && want.size !== bytes.length) throw new SizeMismatchError(want.size, bytes.length);
  const body = new PassThrough();
  body.end(Buffer.from(bytes));
  return putBlob(layout, body, { ...want, digest, size: bytes.length }, o);
}

/** Positioned reads of one stored blob; `read` rejects with BlobNotFoundError past the end of the file. */
export interface BlobRanges {
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Opens blob `d` for positioned reads (e.g. segments of an earlier layer to reuse). Rejects when it is not
 * stored. The bytes are not verified here: a reader checks what it takes (see layer-store/layer/gzip-segments.ts).
 */
export async function openBlobRanges(layout: StoreLayout, d: Digest): Promise<BlobRanges> {
  const fh = await open(layout.blobPath(d), 'r');
  return {
    read: async (offset, length) => {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) throw new BlobNotFoundError(d);
        got += bytesRead;
      }
      return buf;
    },
    close: () => fh.close(),
  };
}

/**
 * Returns a stream of the blob's bytes that errors (DigestMismatchError/SizeMismatchError) instead of
 * ending when the stored content does not match `d`. A missing blob errors with BlobNotFoundError.
 */
export function openBlob(layout: StoreLayout, d: Digest | Descriptor, o: Abortable = {}): Readable {
  const digest = typeof d === 'string' ? d : d.digest;
  const size = typeof d === 'string' ? undefined : d.size;
  // 1 MiB reads: a layer of hundreds of MiB goes through the hash and the upload in far fewer chunks.
  const src = createReadStream(layout.blobPath(digest), { highWaterMark: 1024 * 1024 });
  const v = verifyStream({ digest, size });
  pipeline([src, v], o.signal ? { signal: o.signal } : {}).catch(() => undefined);
  src.on('error', (e) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') v.destroy(new BlobNotFoundError(digest));
  });
  return v;
}

/** Options of readBlob. */
export interface ReadBlobOptions {
  /** Refuse blobs over this many bytes (default: the limit of `kind` when given, else MAX_DOCUMENT_BYTES, 8 MiB). */
  maxBytes?: number;
  /** The document kind expected (its byte limit and error apply when `maxBytes` is not given). */
  kind?: DocumentKind;
}

/**
 * Returns the whole blob, verified against its digest; refuses blobs over `maxBytes` (default: the limit of
 * document `kind` when given, with the document readers' error, else MAX_DOCUMENT_BYTES, 8 MiB).
 */
export async function readBlob(layout: StoreLayout, d: Digest, o: ReadBlobOptions = {}): Promise<Buffer> {
  const max = o.maxBytes ?? MAX_DOCUMENT_BYTES;
  const size = blobSize(layout, d);
  if (size === undefined) throw new BlobNotFoundError(d);
  if (o.kind !== undefined && o.maxBytes === undefined) checkDocumentSize(o.kind, size, d);
  if (size > max) throw new InvalidManifestError(`blob ${d} is ${size} bytes, more than the ${max}-byte limit for documents`, { location: { ref: d } });
  // A document (at most a few MiB, mostly a few KiB): read synchronously. Node's async readFile is four thread-pool
  // round trips, and a build reads its base's index, manifest and config at the start and again at its commit,
  // where they waited behind the last layers' writes and fsyncs (up to 14 ms each in a W5 edit).
  const bytes = readFileSync(layout.blobPath(d));
  const got = digestOf(bytes);
  if (got !== d) throw new StoreCorruptError(`blob ${d} has content ${got}`, { location: { ref: layout.blobPath(d) } });
  return bytes;
}

/**
 * True when a blob temp file may go: its writer (the pid in `.tmp-<pid>-<uuid>`) is gone, or it carries no pid
 * (older versions) and is over an hour old. A live writer's temp always stays.
 */
export function staleBlobTemp(name: string, mtimeMs: number, now: number): boolean {
  const pid = ownerPid(name, /^\.tmp-(\d+)-/);
  if (pid !== undefined) return ownerGone(pid, mtimeMs);
  return now - mtimeMs > STALE_TEMP_MS;
}
