/**
 * Directory → layer: a deterministic tar (pack-tar.ts), compressed, hashed twice (diffID and blob digest) in one
 * pass, and streamed to the caller's sink. gzip goes through the segmented, parallel, reusable encoder
 * (gzip-segments.ts); zstd and none stream. If packing fails, the sink's stream errors, so a verifying sink
 * (the store's putBlob) keeps nothing.
 */
import type { Stats } from 'node:fs';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Hasher, hashStream, overlayXattrPrefix, throwIfAborted, type CommandRunner, type Digest, type EventSink, type Layer } from '../core/index.js';
import { compressor, DEFAULT_GZIP_LEVEL, layerMediaType, type Compression } from './compression.js';
import { LayerSourceChangedError } from './errors.js';
import { crc32Impl, SegmentedGzipEncoder, type SegmentIndex, type SegmentReuse, type StoredSegment } from './gzip-segments.js';
import { tarBytes, walk, type Item, type TarTreeOptions } from './pack-tar.js';
import { KnownSegments, type Match } from './segment-files.js';
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
  /** gzip: of the `reused` segments, those taken by their fingerprint without reading their files (segment-files.ts). */
  readonly unread: number;
}

/** The compressed byte stream of a pack and, once it has ended, the tar's identity and the gzip segment stats. */
interface Encoded {
  /** The source and transforms that produce the compressed bytes, in pipeline order. */
  readonly stages: readonly [Readable, ...Duplex[]];
  result(): Promise<{ diff: { digest: Digest; size: number }; segments?: SegmentIndex; reused: number; compressedSegments: number }>;
}

/** The tar of a pack that is not segmented: no StoredSegment can be in it. */
async function* buffersOf(tar: AsyncGenerator<Buffer | StoredSegment>): AsyncGenerator<Buffer> {
  for await (const b of tar) {
    if (!Buffer.isBuffer(b)) throw new Error('a stored segment in a tar that is not segmented');
    yield b;
  }
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

/**
 * gzip: tar segments → diffID hash → segmented, parallel, reusable gzip (gzip-segments.ts). With `identity`, the
 * producer of `tar` hashed it already (and may give StoredSegments): nothing is hashed here.
 */
function encodeSegmentedGzip(tar: AsyncGenerator<Buffer | StoredSegment>, o: PackOptions, onTar: (n: number) => void, known: KnownSegments | undefined, identity?: () => { digest: Digest; size: number }): Encoded {
  const diff = identity ? undefined : new Hasher();
  const enc = new SegmentedGzipEncoder({ level: o.level ?? DEFAULT_GZIP_LEVEL, reuse: o.reuse, signal: o.signal, known });
  async function* hashed(): AsyncGenerator<Buffer | StoredSegment> {
    for await (const seg of tar) {
      if (Buffer.isBuffer(seg)) {
        diff?.update(seg);
        onTar(seg.length);
      } else if (diff) {
        throw new Error('a stored segment in a tar that is hashed here');
      } else {
        onTar(seg.ulen);
      }
      yield seg;
    }
  }
  return {
    stages: [Readable.from(enc.encode(hashed()), { objectMode: false, highWaterMark: 1 << 20 })],
    result: () => {
      const r = enc.result; // set: the pipeline that drained encode() has succeeded
      return Promise.resolve({
        diff: identity ? identity() : { digest: diff!.digest(), size: diff!.size },
        ...(r ? { segments: r.index } : {}), reused: r?.reused ?? 0, compressedSegments: r?.compressedSegments ?? 0,
      });
    },
  };
}

/** Shared implementation of packLayer/diffToLayer. */
export async function packTree<T>(dir: string, o: PackOptions<T>, overlay: boolean): Promise<PackedLayer<T>> {
  const prep = await prepare(dir, o, overlay);
  return packFrom(tarBytes(prep.items, prep.xattrs, prep.tarOptions, prep.counter, (o.compression ?? 'gzip') === 'gzip'), o, prep.counter, dir, prep.known);
}

interface Prepared {
  readonly xattrs: XattrTable | undefined;
  readonly items: readonly Item[];
  readonly counter: { entries: number };
  /** gzip: the segments' fingerprints and the previous layer's (segment-files.ts). */
  readonly known: KnownSegments | undefined;
  /** `o` plus `known`, for tarBytes. */
  readonly tarOptions: TarTreeOptions;
}

async function prepare(dir: string, o: PackOptions, overlay: boolean): Promise<Prepared> {
  throwIfAborted(o.signal);
  const reading = o.xattrs === false ? undefined : (o.xattrTable ?? readXattrTree(dir, o.signal, o.commands));
  reading?.catch(() => undefined); // awaited below
  // The walk needs the xattrs only for overlay opaque markers; without an include list those are added after it,
  // so getfattr (another process) reads the tree while this process walks it (W2's 24,000 entries: ~0.3 s each).
  const later = overlay && o.include === undefined;
  const walkStart = Date.now();
  let items = await walk(dir, o, overlay, later ? undefined : await reading);
  const xattrs = await reading;
  if (later && xattrs) items = withOpaqueMarkers(items, xattrs);
  const known = (o.compression ?? 'gzip') === 'gzip' ? new KnownSegments(walkStart, o.reuse, o.level ?? DEFAULT_GZIP_LEVEL) : undefined;
  return { xattrs, items, counter: { entries: 0 }, known, tarOptions: { ...o, known } };
}

/** Returns `items` with `<dir>/.wh..wh..opq` after each directory overlay marked opaque (as walk() adds it when given the xattrs). */
function withOpaqueMarkers(items: readonly Item[], xattrs: XattrTable): Item[] {
  const opaque = `${overlayXattrPrefix()}opaque`;
  const out: Item[] = [];
  for (const it of items) {
    out.push(it);
    if (!it.whiteout && it.st.isDirectory() && xattrs.get(it.abs)?.get(opaque)?.toString() === 'y') {
      out.push({ rel: `${it.rel}/.wh..wh..opq`, abs: it.abs, st: it.st, whiteout: true });
    }
  }
  return out;
}

/** A layer whose tar is read and identified; `compress()` makes and stores its blob (once). */
export interface DeferredLayer<T = unknown> {
  readonly diffId: Digest;
  readonly uncompressedSize: number;
  compress(): Promise<PackedLayer<T>>;
}

/**
 * diffToLayer in two halves, for a builder whose next step should not wait for compression: the upper dir's tar is
 * read and hashed, its diffID returned (the dir may be moved or used right after), and the blob is compressed and
 * sunk when `compress()` is called (same bytes as diffToLayer writes). What is held in between: the tar bytes
 * that are new, and for each segment taken from the previous blob (gzip, `o.reuse`, checked while the tar was
 * read: segment-files.ts) only where it lies there (its compressed bytes are read again, and compared, by
 * compress()). When the new bytes come to more than `maxBytes`, the layer is packed in full before this returns
 * (memory stays bounded); its compress() then just returns the result.
 */
export async function diffToLayerDeferred<T>(upper: string, o: PackOptions<T>, maxBytes: number): Promise<DeferredLayer<T>> {
  const prep = await prepare(upper, o, true);
  const segmented = (o.compression ?? 'gzip') === 'gzip';
  const known = prep.known;
  const reuse = o.reuse;
  const diff = new Hasher();
  let hashing = true;
  async function* source(): AsyncGenerator<Buffer | StoredSegment> {
    for await (const seg of tarBytes(prep.items, prep.xattrs, prep.tarOptions, prep.counter, segmented)) {
      if (hashing) diff.update(seg);
      const m = known?.match(seg);
      yield m && reuse ? storedSegment(seg.length, m, known!.printOf(seg), reuse) : seg;
    }
  }
  const tar = source();
  const held: (Buffer | StoredSegment)[] = [];
  let heldBytes = 0;
  for (;;) {
    const r = await tar.next();
    if (r.done) break;
    held.push(r.value);
    if (Buffer.isBuffer(r.value)) heldBytes += r.value.length;
    if (heldBytes > maxBytes) {
      // Packed now, from what is held and the rest of the tar (zstd and none hash the whole tar themselves).
      if (!segmented) hashing = false;
      const rest = async function* (): AsyncGenerator<Buffer | StoredSegment> { yield* replay(held); yield* tar; };
      const packed = await packFrom(rest(), o, prep.counter, upper, known, segmented ? () => ({ digest: diff.digest(), size: diff.size }) : undefined);
      return { diffId: packed.diffId, uncompressedSize: packed.uncompressedSize, compress: () => Promise.resolve(packed) };
    }
  }
  const identity = { digest: diff.digest(), size: diff.size };
  let started: Promise<PackedLayer<T>> | undefined;
  const compress = (): Promise<PackedLayer<T>> => {
    started ??= (async () => {
      const packed = await packFrom(replay(held), o, prep.counter, upper, known, segmented ? () => identity : undefined);
      if (packed.diffId !== identity.digest) throw new LayerSourceChangedError(upper, `the tar hashed to ${identity.digest}, then to ${packed.diffId}`);
      return packed;
    })();
    return started;
  };
  return { diffId: identity.digest, uncompressedSize: identity.size, compress };
}

/** Yields `held` in order, letting each entry go once it has been handed on. */
async function* replay(held: (Buffer | StoredSegment)[]): AsyncGenerator<Buffer | StoredSegment> {
  for (let i = 0; i < held.length; i++) {
    const seg = held[i]!;
    held[i] = EMPTY;
    yield seg;
  }
}

const crc32 = crc32Impl();

/**
 * A segment of `ulen` tar bytes that KnownSegments took from the previous blob (`m`: inflated, checked against
 * its recorded length and CRC-32, and hashed into the diffID): the encoder reads its compressed bytes again from
 * `reuse` and uses them when their CRC-32 is the one they had then (the blob is immutable and leased; a
 * difference fails the pack, never a wrong blob). Holds no bytes meanwhile.
 */
function storedSegment(ulen: number, m: Match, fp: string | undefined, reuse: SegmentReuse): StoredSegment {
  const { offset, clen, crc } = m;
  const ccrc = crc32(m.compressed, 0);
  return {
    ulen, crc, fp,
    compressed: async () => {
      const b = await reuse.read(offset, clen);
      if (b.length !== clen || crc32(b, 0) !== ccrc) {
        throw new LayerSourceChangedError(`previous blob at offset ${offset}`, `its ${clen} compressed bytes read differently the second time`, { hint: 'run tsbuild fsck: the store may be damaged' });
      }
      return b;
    },
  };
}

const EMPTY = Buffer.alloc(0);

/** Compresses the tar `tar` (segments when gzip), hashes both sides and streams the blob to `o.sink`. */
async function packFrom<T>(tar: AsyncGenerator<Buffer | StoredSegment>, o: PackOptions<T>, counter: { entries: number }, dir: string, known?: KnownSegments, identity?: () => { digest: Digest; size: number }): Promise<PackedLayer<T>> {
  const compression = o.compression ?? 'gzip';
  let n = 0;
  const id = o.id ?? dir;
  const onTar = o.events
    ? (len: number): void => { n += len; o.events!({ type: 'transfer', id, op: 'pack', current: n }); }
    : (): void => undefined;
  const segmented = compression === 'gzip';
  const encoded = segmented ? encodeSegmentedGzip(tar, o, onTar, known, identity) : encodeStreamed(buffersOf(tar), o, compression, onTar);
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
      unread: known?.hits ?? 0,
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
