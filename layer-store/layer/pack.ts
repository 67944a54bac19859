/**
 * Directory → layer: a deterministic tar, compressed, hashed twice (diffID and blob digest) in one pass.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compareNameBytes, encodeName, fsPath, Hasher, hashStream, throwIfAborted, type CommandRunner, type Digest, type EventSink, type Layer, type MediaType } from '../core/index.js';
import { compressor, DEFAULT_GZIP_LEVEL, layerMediaType, type Compression } from './compression.js';
import { LayerSourceChangedError } from './errors.js';
import { SegmentedGzipEncoder, type SegmentIndex, type SegmentReuse } from './gzip-segments.js';
import { readdirNamesSync, readlinkName } from './fs-names.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeader } from './tar-format.js';
import { readXattrTree, type XattrTable } from './xattr.js';

/** Where the compressed blob goes: a function that consumes the stream (e.g. the store's putBlob). */
export type LayerSink<T = unknown> = (compressed: Readable) => Promise<T>;

export interface PackOptions<T = unknown> {
  /**
   * Consumes the compressed bytes as they are produced (read the stream to its end, e.g. the store's putBlob);
   * packLayer settles after it does. If packing fails, the stream errors, so a verifying sink keeps nothing.
   */
  readonly sink: LayerSink<T>;
  /** Default 'gzip'. */
  readonly compression?: Compression | undefined;
  /** Compression level; default 6 for gzip (Docker/BuildKit), 3 for zstd. */
  readonly level?: number | undefined;
  /** Unix seconds: every mtime newer than this is clamped to it (reproducible builds). */
  readonly sourceDateEpoch?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Only these paths (relative to the root, '/'-separated) and everything below them are packed, plus
   * their ancestor directories so the layer is self-contained. Default: the whole tree.
   */
  readonly include?: readonly string[] | undefined;
  /** Return false to leave a path (and, for a directory, its subtree) out. `rel` has no leading '/'. */
  readonly filter?: ((rel: string, st: Stats) => boolean) | undefined;
  /** Read and store xattrs (needs getfattr from `attr`). Default true. */
  readonly xattrs?: boolean | undefined;
  /**
   * The tree's xattrs, read by the caller beforehand (readXattrTree), e.g. while it unmounts an overlay over the
   * tree: the tree must not change after they were read. Default: read here.
   */
  readonly xattrTable?: Promise<XattrTable> | undefined;
  /** Forks getfattr (a ShellRunner); default: spawned by this process. */
  readonly commands?: CommandRunner | undefined;
  readonly events?: EventSink | undefined;
  /** Progress id for 'transfer' events. */
  readonly id?: string | undefined;
  /**
   * gzip only: the previous blob of this layer and its segment index. Segments whose bytes are unchanged are
   * copied from it (after verifying that they inflate to the same bytes) instead of being compressed again;
   * the blob is byte-identical to a pack without reuse.
   */
  readonly reuse?: SegmentReuse | undefined;
}

/** A layer that has been packed: a core Layer (both identities, blob size, media type) plus how it was made and what the sink returned. */
export interface PackedLayer<T = unknown> extends Layer {
  /** Uncompressed tar size in bytes. */
  readonly uncompressedSize: number;
  readonly compression: Compression;
  /** Number of tar entries written. */
  readonly entries: number;
  /** What `sink` resolved to. */
  readonly sinkResult: T;
  /** gzip only: where each independently deflated segment lies in the blob (keep it to reuse the blob later). */
  readonly segments?: SegmentIndex;
  /** gzip: segments copied from `PackOptions.reuse`; 0 otherwise. */
  readonly reused: number;
  /** gzip: segments compressed by this pack; 0 otherwise. */
  readonly compressedSegments: number;
}

interface Item {
  readonly rel: string;          // tar name without trailing '/'
  readonly abs: string;
  readonly st: Stats;
  /** A synthetic empty whiteout file (overlay mode) instead of the on-disk object. */
  readonly whiteout?: boolean;
}

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

function normRel(p: string): string {
  return p.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

/** Tree walk in deterministic order: depth first, each directory's children sorted bytewise by tar name. */
async function walk(root: string, o: PackOptions, overlay: boolean, xattrs: XattrTable | undefined): Promise<Item[]> {
  const include = o.include?.map(normRel);
  const wanted = (rel: string): 'yes' | 'ancestor' | 'no' => {
    if (!include) return 'yes';
    for (const p of include) {
      if (p === '' || rel === p || rel.startsWith(`${p}/`)) return 'yes';
    }
    for (const p of include) if (p.startsWith(`${rel}/`)) return 'ancestor';
    return 'no';
  };
  const out: Item[] = [];
  let dirs = 0;
  const visit = async (dirAbs: string, dirRel: string): Promise<void> => {
    throwIfAborted(o.signal);
    // Synchronous readdir/lstat: a tree of 20,000 files is walked in ~0.1 s instead of ~2 s of thread-pool round
    // trips (one per call); the event loop gets a turn every 64 directories.
    if (++dirs % 64 === 0) await yieldToLoop();
    const names = readdirNamesSync(dirAbs);
    const kids: { name: string; rel: string; abs: string; st: Stats; whiteout: boolean }[] = [];
    for (const n of names) {
      const abs = join(dirAbs, n);
      const rel = dirRel === '' ? n : `${dirRel}/${n}`;
      const st = lstatSync(fsPath(abs));
      if ((st.mode & S_IFMT) === S_IFSOCK) continue; // sockets cannot be archived
      const isWhiteout = overlay && st.isCharacterDevice() && st.rdev === 0;
      const name = isWhiteout ? `.wh.${n}` : n;
      kids.push({ name, rel: dirRel === '' ? name : `${dirRel}/${name}`, abs, st, whiteout: isWhiteout });
      void rel;
    }
    kids.sort((a, b) => compareNameBytes(a.name, b.name));
    for (const k of kids) {
      const w = wanted(k.whiteout ? `${dirRel === '' ? '' : `${dirRel}/`}${k.name.slice(4)}` : k.rel);
      if (w === 'no') continue;
      if (o.filter && !o.filter(k.rel, k.st)) continue;
      if (w === 'yes' || k.st.isDirectory()) out.push({ rel: k.rel, abs: k.abs, st: k.st, whiteout: k.whiteout });
      if (k.st.isDirectory()) {
        if (overlay && w === 'yes' && xattrs?.get(k.abs)?.get('trusted.overlay.opaque')?.toString() === 'y') {
          out.push({ rel: `${k.rel}/.wh..wh..opq`, abs: k.abs, st: k.st, whiteout: true });
        }
        await visit(k.abs, k.rel);
      }
    }
  };
  await visit(root, '');
  // An included ancestor dir that ended up with nothing below it is still harmless; keep order stable.
  return out;
}

function xattrsFor(table: XattrTable | undefined, abs: string): Map<string, Buffer> | undefined {
  const m = table?.get(abs);
  if (!m) return undefined;
  const keep = new Map<string, Buffer>();
  for (const [k, v] of m) if (!k.startsWith('trusted.overlay.')) keep.set(k, v);
  return keep.size ? keep : undefined;
}

/** Batches small writes into ~1 MiB chunks so per-chunk stream overhead stays low. */
class Batcher {
  #parts: Buffer[] = [];
  #len = 0;
  push(b: Buffer): void { if (b.length) { this.#parts.push(b); this.#len += b.length; } }
  get length(): number { return this.#len; }
  get full(): boolean { return this.#len >= 1 << 20; }
  take(): Buffer { const b = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#len); this.#parts = []; this.#len = 0; return b; }
  get empty(): boolean { return this.#len === 0; }
}

const SMALL_FILE = 512 * 1024;
const READ_CHUNK = 1 << 20;
/** Segmented gzip: a new segment starts before an entry once the current one holds this much. */
const SEGMENT_TARGET = 4 << 20;
/** Segmented gzip: a new segment starts before an entry whose name hashes to 0 modulo this. */
const SEGMENT_NAME_MODULUS = 64;

/** FNV-1a 32-bit hash of the bytes of the name `s`. */
function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of encodeName(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/**
 * Yields the tar. Unsegmented: ~1 MiB batches. Segmented (gzip): each yielded buffer is one segment, cut at
 * points that depend only on the tar (part of the blob format, see gzip-segments.ts): before an entry whose
 * name's FNV-1a-32 is 0 mod 64; before an entry once the segment holds >= 4 MiB; before a big file's header
 * and after each 1 MiB of its data (offsets from the start of that data). End-of-archive ends the last segment.
 */
async function* tarBytes(items: readonly Item[], xattrs: XattrTable | undefined, o: PackOptions, counter: { entries: number }, segmented: boolean): AsyncGenerator<Buffer> {
  const clamp = (t: number): number => (o.sourceDateEpoch !== undefined && t > o.sourceDateEpoch ? o.sourceDateEpoch : t);
  const firstPath = new Map<string, string>(); // dev:ino → first tar name (hardlinks)
  const out = new Batcher();
  for (let i = 0; i < items.length; i++) {
    if (i % 256 === 0) throwIfAborted(o.signal);
    const it = items[i]!;
    const st = it.st;
    const mtime = clamp(Math.floor(st.mtimeMs / 1000));
    const base = { uid: st.uid, gid: st.gid, mtime, xattrs: it.whiteout ? undefined : xattrsFor(xattrs, it.abs) };
    counter.entries++;
    let h: TarHeader;
    let body: Buffer | undefined;
    let bigFile = false;
    if (it.whiteout) {
      h = { name: it.rel, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime };
    } else if (st.isDirectory()) {
      h = { ...base, name: `${it.rel}/`, type: 'dir', mode: st.mode & 0o7777, size: 0 };
    } else if (st.isSymbolicLink()) {
      h = { ...base, name: it.rel, type: 'symlink', mode: st.mode & 0o7777, size: 0, linkname: await readlinkName(it.abs) };
    } else if (st.isFile() && st.nlink > 1 && firstPath.has(`${st.dev}:${st.ino}`)) {
      h = { ...base, name: it.rel, type: 'link', mode: st.mode & 0o7777, size: 0, linkname: firstPath.get(`${st.dev}:${st.ino}`) };
    } else if (st.isFile()) {
      if (st.nlink > 1) firstPath.set(`${st.dev}:${st.ino}`, it.rel);
      h = { ...base, name: it.rel, type: 'file', mode: st.mode & 0o7777, size: st.size };
      if (st.size > 0 && st.size <= SMALL_FILE) {
        // Small files are read synchronously: 20,000 of them take ~0.35 s this way and ~2 s as thread-pool
        // round trips (even 32 at a time). The loop still turns at every 1 MiB batch yielded below.
        body = readFileSync(fsPath(it.abs));
        if (body.length !== st.size) throw new LayerSourceChangedError(it.abs, `size was ${st.size}, read ${body.length}`);
      } else if (st.size > SMALL_FILE) bigFile = true;
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      h = {
        ...base, name: it.rel, type: st.isCharacterDevice() ? 'char' : 'block', mode: st.mode & 0o7777, size: 0,
        devmajor: Math.floor(st.rdev / 256) & 0xfff | (Math.floor(st.rdev / 2 ** 32) & ~0xfff),
        devminor: (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00)),
      };
    } else if (st.isFIFO()) {
      h = { ...base, name: it.rel, type: 'fifo', mode: st.mode & 0o7777, size: 0 };
    } else {
      continue;
    }
    if (segmented && !out.empty && (bigFile || out.length >= SEGMENT_TARGET || fnv1a32(h.name) % SEGMENT_NAME_MODULUS === 0)) {
      yield out.take();
    }
    out.push(encodeHeader(h));
    if (body) { out.push(body); out.push(padding(body.length)); }
    if (bigFile) {
      if (!segmented && !out.empty) yield out.take();
      const fh = await open(fsPath(it.abs), 'r');
      try {
        let pos = 0;
        while (pos < st.size) {
          const want = Math.min(READ_CHUNK - (pos % READ_CHUNK), st.size - pos);
          const buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await fh.read(buf, 0, want, pos);
          if (bytesRead === 0) throw new LayerSourceChangedError(it.abs, `size was ${st.size}, file ended at ${pos}`);
          pos += bytesRead;
          const chunk = bytesRead === want ? buf : buf.subarray(0, bytesRead);
          if (!segmented) yield chunk;
          else {
            out.push(chunk);
            if (pos % READ_CHUNK === 0 || pos === st.size) yield out.take();
          }
        }
        const probe = Buffer.allocUnsafe(1);
        if ((await fh.read(probe, 0, 1, pos)).bytesRead !== 0) throw new LayerSourceChangedError(it.abs, `grew beyond ${st.size} bytes`);
      } finally {
        await fh.close();
      }
      out.push(padding(st.size));
    }
    if (!segmented && out.full) yield out.take();
  }
  out.push(END_OF_ARCHIVE);
  yield out.take();
}

/** The compressed byte stream of a pack and, once it has ended, the tar's identity and the gzip segment stats. */
interface Encoded {
  /** The source and transforms that produce the compressed bytes, in pipeline order. */
  readonly stages: readonly [Readable, ...Duplex[]];
  result(): Promise<{ diff: { digest: Digest; size: number }; segments?: SegmentIndex; reused: number; compressedSegments: number }>;
}

/** Today's path (zstd, none): tar → diffID hash → compressor. */
function encodeStreamed(tar: AsyncGenerator<Buffer>, o: PackOptions, compression: Compression, onTar: (n: number) => void): Encoded {
  const diff = hashStream();
  diff.on('data', (c: Buffer) => onTar(c.length));
  const comp = compressor(compression, o.level, o.signal);
  return {
    stages: [Readable.from(tar, { objectMode: false, highWaterMark: 1 << 20 }), diff, comp],
    result: async () => ({ diff: await diff.result, reused: 0, compressedSegments: 0 }),
  };
}

/** gzip: tar segments → diffID hash → segmented, parallel, reusable gzip (gzip-segments.ts). */
function encodeSegmentedGzip(tar: AsyncGenerator<Buffer>, o: PackOptions, onTar: (n: number) => void): Encoded {
  const diff = new Hasher();
  const enc = new SegmentedGzipEncoder({ level: o.level ?? DEFAULT_GZIP_LEVEL, reuse: o.reuse, signal: o.signal });
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const seg of tar) {
      diff.update(seg);
      onTar(seg.length);
      yield seg;
    }
  }
  return {
    stages: [Readable.from(enc.encode(hashed()), { objectMode: false, highWaterMark: 1 << 20 })],
    result: () => {
      const r = enc.result; // set: the pipeline that drained encode() has succeeded
      return Promise.resolve({
        diff: { digest: diff.digest(), size: diff.size },
        ...(r ? { segments: r.index } : {}), reused: r?.reused ?? 0, compressedSegments: r?.compressedSegments ?? 0,
      });
    },
  };
}

/** Shared implementation of packLayer/diffToLayer. */
export async function packTree<T>(dir: string, o: PackOptions<T>, overlay: boolean): Promise<PackedLayer<T>> {
  const prep = await prepare(dir, o, overlay);
  return packFrom(tarBytes(prep.items, prep.xattrs, o, prep.counter, (o.compression ?? 'gzip') === 'gzip'), o, prep.counter, dir);
}

interface Prepared {
  readonly xattrs: XattrTable | undefined;
  readonly items: readonly Item[];
  readonly counter: { entries: number };
}

async function prepare(dir: string, o: PackOptions, overlay: boolean): Promise<Prepared> {
  throwIfAborted(o.signal);
  const xattrs = o.xattrs === false ? undefined : await (o.xattrTable ?? readXattrTree(dir, o.signal, o.commands));
  const items = await walk(dir, o, overlay, xattrs);
  return { xattrs, items, counter: { entries: 0 } };
}

/** A layer whose tar is read, held in memory and identified; `compress()` makes and stores its blob (once). */
export interface DeferredLayer<T = unknown> {
  readonly diffId: Digest;
  readonly uncompressedSize: number;
  compress(): Promise<PackedLayer<T>>;
}

/**
 * diffToLayer in two halves, for a builder whose next step should not wait for compression: the upper dir is
 * read into memory as tar segments and its diffID returned at once (the dir may be moved or used right after),
 * and the blob is compressed and sunk when `compress()` is called (same bytes as diffToLayer writes). A tree
 * holding more than `maxBytes` of file data is packed in full first (memory stays bounded); its compress()
 * then just returns the result.
 */
export async function diffToLayerDeferred<T>(upper: string, o: PackOptions<T>, maxBytes: number): Promise<DeferredLayer<T>> {
  const prep = await prepare(upper, o, true);
  const segmented = (o.compression ?? 'gzip') === 'gzip';
  let bytes = 0;
  for (const it of prep.items) if (!it.whiteout && it.st.isFile()) bytes += it.st.size;
  if (bytes > maxBytes) {
    const packed = await packFrom(tarBytes(prep.items, prep.xattrs, o, prep.counter, segmented), o, prep.counter, upper);
    return { diffId: packed.diffId, uncompressedSize: packed.uncompressedSize, compress: () => Promise.resolve(packed) };
  }
  const held: Buffer[] = [];
  const diff = new Hasher();
  for await (const seg of tarBytes(prep.items, prep.xattrs, o, prep.counter, segmented)) {
    diff.update(seg);
    held.push(seg);
  }
  const diffId = diff.digest();
  let started: Promise<PackedLayer<T>> | undefined;
  const compress = (): Promise<PackedLayer<T>> => {
    started ??= (async () => {
      async function* replay(): AsyncGenerator<Buffer> {
        for (let i = 0; i < held.length; i++) {
          const seg = held[i]!;
          held[i] = EMPTY; // let each segment go once it has been handed on
          yield seg;
        }
      }
      const packed = await packFrom(replay(), o, prep.counter, upper);
      if (packed.diffId !== diffId) throw new LayerSourceChangedError(upper, `the tar hashed to ${diffId}, then to ${packed.diffId}`);
      return packed;
    })();
    return started;
  };
  return { diffId, uncompressedSize: diff.size, compress };
}

const EMPTY = Buffer.alloc(0);

/** Compresses the tar `tar` (segments when gzip), hashes both sides and streams the blob to `o.sink`. */
async function packFrom<T>(tar: AsyncGenerator<Buffer>, o: PackOptions<T>, counter: { entries: number }, dir: string): Promise<PackedLayer<T>> {
  const compression = o.compression ?? 'gzip';
  let n = 0;
  const id = o.id ?? dir;
  const onTar = o.events
    ? (len: number): void => { n += len; o.events!({ type: 'transfer', id, op: 'pack', current: n }); }
    : (): void => undefined;
  const segmented = compression === 'gzip';
  const encoded = segmented ? encodeSegmentedGzip(tar, o, onTar) : encodeStreamed(tar, o, compression, onTar);
  const blob = hashStream();
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let sinkFailed = false;
    const [piped, sunk] = await Promise.allSettled([
      pipeline([...encoded.stages, blob], { signal: ac.signal }),
      o.sink(blob).catch((e: unknown) => { sinkFailed = true; ac.abort(e); throw e; }),
    ]);
    // Report the root cause: a failed sink aborts the pipeline; a failed pipeline breaks the sink's stream.
    if (sunk.status === 'rejected' && (sinkFailed || piped.status === 'fulfilled')) throw sunk.reason;
    if (piped.status === 'rejected') throw piped.reason;
    if (sunk.status === 'rejected') throw sunk.reason;
    const [r, b] = await Promise.all([encoded.result(), blob.result]);
    return {
      digest: b.digest, diffId: r.diff.digest, size: b.size, uncompressedSize: r.diff.size,
      mediaType: layerMediaType(compression), compression, entries: counter.entries, sinkResult: sunk.value,
      ...(r.segments ? { segments: r.segments } : {}), reused: r.reused, compressedSegments: r.compressedSegments,
    };
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Returns the identities of a deterministic layer made from the tree at `dir`, after streaming its compressed
 * bytes to `o.sink`. Order: depth first, each directory's entries sorted bytewise; uname/gname empty; no
 * atime/ctime; mtimes in whole seconds, clamped to `sourceDateEpoch`. Hardlinks are detected by dev+ino (the
 * second path becomes a link entry). The root directory itself is not an entry. On failure the sink's stream
 * errors, so a verifying sink keeps nothing.
 */
export function packLayer<T>(dir: string, o: PackOptions<T>): Promise<PackedLayer<T>> {
  return packTree(dir, o, false);
}

/**
 * Returns the layer of an overlayfs upper directory: a 0/0 character device becomes the OCI whiteout
 * `.wh.<name>`, a directory with `trusted.overlay.opaque=y` is followed by `<dir>/.wh..wh..opq`, and no
 * `trusted.overlay.*` xattr is copied. Otherwise as packLayer.
 */
export function diffToLayer<T>(upper: string, o: PackOptions<T>): Promise<PackedLayer<T>> {
  return packTree(upper, o, true);
}
