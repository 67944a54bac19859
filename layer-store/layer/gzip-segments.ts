/**
 * Segmented gzip: one ordinary gzip member built from independently deflated segments of the tar, so that
 * (1) segments are compressed in parallel on the libuv thread pool and (2) the compressed bytes of segments
 * that did not change are copied from the previous build's blob instead of being compressed again.
 *
 * The framing is part of the blob format (changing it changes digests):
 *   gzip header (1f 8b 08 00, mtime 0, XFL as zlib writes it for the level, OS 03)
 *   + for each segment: encodeSegment(segment, level) (deflate-runs.ts): deflateRaw(…, level, finishFlush
 *     Z_SYNC_FLUSH) of its compressible runs and stored blocks for its random-looking 64 KiB blocks;
 *     byte-aligned, non-final blocks ending in 00 00 ff ff
 *   + a final empty fixed-Huffman block (03 00)
 *   + CRC32 of the whole tar (LE) + tar length mod 2^32 (LE).
 * Each segment starts with an empty window, so its deflate bytes depend only on its own bytes, the level and
 * the zlib version: the same tar bytes give the same blob whether or not anything was reused.
 * Index v1 deflated every segment whole; v2 stores random-looking blocks (deflate-runs.ts). A v1 index is never
 * reused (its segments with random data are other bytes than v2 writes).
 */
import zlib from 'node:zlib';
import { throwIfAborted } from '../core/index.js';
import { deflateBound, encodeSegment } from './deflate-runs.js';

/** One segment of a segmented gzip blob. */
export interface SegmentEntry {
  /** Uncompressed length (tar bytes). */
  readonly ulen: number;
  /** CRC32 of the uncompressed bytes. */
  readonly crc: number;
  /** Compressed length (deflate bytes); segment i starts at 10 + sum of the earlier clen. */
  readonly clen: number;
  /** The fingerprint of what the segment's bytes are made of (segment-files.ts), when known. */
  readonly fp?: string;
}

/** Where each segment of a segmented gzip blob lies; stored beside the blob so the next build can reuse it. */
export interface SegmentIndex {
  /** 2: random-looking blocks stored (deflate-runs.ts); 1 (older builds, never reused): every segment deflated whole. */
  readonly v: 2;
  /** process.versions.zlib of the process that compressed the blob (deflate output depends on it). */
  readonly zlib: string;
  readonly level: number;
  readonly segments: readonly SegmentEntry[];
}

/** A previous blob whose verified segments may be copied instead of compressed. */
export interface SegmentReuse {
  readonly index: SegmentIndex;
  /** Returns `length` bytes of the previous blob at `offset` (a positioned read). A rejection means: compress fresh. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional, tried first: the compressed bytes of `seg` and its CRC-32, found without the CRC (speculative
   * segments: by a probe of its bytes) and checked to decode to exactly `seg`; undefined: look it up by CRC.
   */
  find?(seg: Buffer): Promise<SegmentFound | undefined>;
}

/** What SegmentReuse.find returns: `compressed` decodes to exactly the segment, whose CRC-32 is `crc`. */
export interface SegmentFound {
  readonly compressed: Buffer;
  readonly crc: number;
}

export interface SegmentedGzipOptions {
  /** zlib level 0-9 (caller resolves the default). */
  readonly level: number;
  readonly reuse?: SegmentReuse | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Segments compressed (or verified) at once; default 4. */
  readonly inFlight?: number | undefined;
  /** Segments already matched with the previous blob's, and the fingerprints to record (segment-files.ts). */
  readonly known?: SegmentMatches | undefined;
}

/**
 * A segment given to the encoder by its compressed bytes alone: one the previous blob has, whose tar bytes were
 * checked already (segment-files.ts) and hashed into the diffID, and are not held (a deferred pack, pack.ts).
 */
export interface StoredSegment {
  readonly ulen: number;
  readonly crc: number;
  readonly fp?: string | undefined;
  /** Reads its compressed bytes again (and throws unless they are the ones checked). */
  compressed(): Promise<Buffer>;
}

/** What the encoder asks about each segment it is given (segment-files.ts's KnownSegments). */
export interface SegmentMatches {
  /** The previous blob's compressed bytes and CRC-32 of `seg`, when they were taken from it. */
  match(seg: Buffer): { readonly compressed: Buffer; readonly crc: number } | undefined;
  /** The fingerprint to record for `seg`. */
  printOf(seg: Buffer): string | undefined;
}

export interface SegmentedGzipResult {
  readonly index: SegmentIndex;
  /** Segments copied from `reuse` after verification. */
  readonly reused: number;
  /** Segments compressed by this run. */
  readonly compressedSegments: number;
}

/** Size of the gzip header this format writes (no optional fields). */
export const GZIP_HEADER_SIZE = 10;
/** The final, empty fixed-Huffman deflate block that ends the member. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
const DEFAULT_IN_FLIGHT = 4;

/** CRC-32 (IEEE) table for the fallback below. */
function crcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/**
 * Returns a CRC-32 function continuing from `value`: zlib.crc32 (Node >= 20.15, native), else a table-driven
 * JavaScript version (the engines field allows any Node 20).
 */
export function crc32Impl(): (data: Buffer, value: number) => number {
  const native = (zlib as { crc32?: (d: Buffer, v?: number) => number }).crc32;
  if (typeof native === 'function') return (d, v) => native(d, v) >>> 0;
  const t = crcTable();
  return (d, v) => {
    let c = (v ^ 0xffffffff) >>> 0;
    for (let i = 0; i < d.length; i++) c = t[(c ^ d[i]!) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
}

/** The CRC-32 polynomial, reflected. */
const CRC_POLY = 0xedb88320;

/** Returns a(x)·b(x) modulo the CRC polynomial (both reflected, as zlib's multmodp). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ CRC_POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial for k = 0..31 (zlib's x2n_table), made at the first combine. */
let x2nTable: Uint32Array | undefined;
function x2n(): Uint32Array {
  if (x2nTable) return x2nTable;
  const t = new Uint32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let k = 1; k < 32; k++) t[k] = p = multModP(p, p);
  return (x2nTable = t);
}

/** Returns x^(n·2^k) modulo the polynomial (zlib's x2nmodp): with k = 3, the operator of n zero bytes. */
function x2nModP(n: number, k: number): number {
  const t = x2n();
  let p = 0x80000000; // x^0
  for (; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) p = multModP(t[k & 31]!, p);
  return p;
}

/**
 * Returns the CRC-32 of A followed by B from crc(A), crc(B) and B's length (zlib's crc32_combine): the whole
 * tar's CRC from the segments' without a second pass over the bytes. As zlib since 1.2.12: crc(A) times x^(8·lenB)
 * modulo the polynomial, ~log2(lenB) products of 32 steps (the GF(2) matrices before it took ~40,000 steps for a
 * new length, several ms of a small build's CPU while still interpreted).
 */
export function crc32Combine(crcA: number, crcB: number, lenB: number): number {
  if (lenB <= 0) return crcA >>> 0;
  return (multModP(x2nModP(lenB, 3), crcA >>> 0) ^ crcB) >>> 0;
}

/** Returns the 10-byte gzip header zlib itself writes for `level` (mtime 0, OS Unix). */
export function gzipHeader(level: number): Buffer {
  // zlib's deflate.c: XFL 2 for level 9, 4 for the fastest levels (< 2), else 0.
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, xfl, 0x03]);
}

/** Returns the 8-byte gzip trailer: CRC32 and length mod 2^32, little endian. */
function gzipTrailer(crc: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(crc >>> 0, 0);
  b.writeUInt32LE(length % 2 ** 32, 4);
  return b;
}

/** The empty stored block a Z_SYNC_FLUSH ends with: it leaves the stream byte-aligned. */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Returns what `bytes` inflates to (from an empty window), or undefined unless it is a byte-aligned run of non-final
 * deflate blocks of at most `maxLength` bytes of output: then it is interchangeable with a fresh deflate of that
 * output inside the member. It must end in the sync-flush marker, and the final block is appended so that a stream
 * that ends early (a BFINAL bit inside `bytes`) is detected: all input must be used.
 */
export function inflateSegment(bytes: Buffer, maxLength: number): Promise<Buffer | undefined> {
  if (bytes.length < SYNC_MARKER.length || !bytes.subarray(bytes.length - SYNC_MARKER.length).equals(SYNC_MARKER)) return Promise.resolve(undefined);
  const input = Buffer.concat([bytes, FINAL_BLOCK]);
  return new Promise((resolve) => {
    zlib.inflateRaw(input, { info: true, chunkSize: Math.max(64 * 1024, maxLength + 1024), maxOutputLength: maxLength + 1 }, (e, r) => {
      if (e) { resolve(undefined); return; }
      const { buffer, engine } = r as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      resolve(engine.bytesWritten === input.length && buffer.length <= maxLength ? buffer : undefined);
    });
  });
}

/** Returns true if `bytes` inflates (see inflateSegment) to exactly `seg`. */
async function verifySegment(bytes: Buffer, seg: Buffer): Promise<boolean> {
  return (await inflateSegment(bytes, seg.length))?.equals(seg) ?? false;
}

function plausibleClen(ulen: number, clen: number): boolean {
  return Number.isSafeInteger(clen) && clen > 0 && clen <= deflateBound(ulen);
}

/** Returns (ulen:crc → offset, clen) for a reuse index made with the same zlib and level, else undefined. */
function reuseTable(reuse: SegmentReuse | undefined, level: number): Map<string, { offset: number; clen: number }> | undefined {
  const ix = reuse?.index as Partial<SegmentIndex> | undefined;
  if (!ix || ix.v !== 2 || ix.zlib !== process.versions.zlib || ix.level !== level || !Array.isArray(ix.segments)) return undefined;
  const table = new Map<string, { offset: number; clen: number }>();
  let offset = GZIP_HEADER_SIZE;
  for (const s of ix.segments as readonly Partial<SegmentEntry>[]) {
    const { ulen, crc, clen } = s;
    if (typeof ulen !== 'number' || typeof crc !== 'number' || typeof clen !== 'number' || !Number.isSafeInteger(ulen) || !plausibleClen(ulen, clen)) return table;
    const key = `${ulen}:${crc >>> 0}`;
    if (!table.has(key)) table.set(key, { offset, clen });
    offset += clen;
  }
  return table;
}

/**
 * Encodes a tar, given as its segments in order, into one gzip member. Segments are deflated on the libuv
 * thread pool, up to `inFlight` at once, and emitted in order; a segment whose (length, CRC32) matches one in
 * `reuse.index` is read from the old blob and used only if it verifies (see verifySegment), else compressed.
 * `result` is set once `encode` has finished.
 */
export class SegmentedGzipEncoder {
  readonly #o: SegmentedGzipOptions;
  #result: SegmentedGzipResult | undefined;

  constructor(o: SegmentedGzipOptions) {
    this.#o = o;
  }

  /** The index and counts; undefined until `encode` has yielded its last chunk. */
  get result(): SegmentedGzipResult | undefined {
    return this.#result;
  }

  async *encode(segments: AsyncIterable<Buffer | StoredSegment>): AsyncGenerator<Buffer> {
    const { level, signal } = this.#o;
    const inFlight = Math.max(1, this.#o.inFlight ?? DEFAULT_IN_FLIGHT);
    const table = reuseTable(this.#o.reuse, level);
    const reuse = this.#o.reuse;
    const crc32 = crc32Impl();
    const entries: SegmentEntry[] = [];
    let reused = 0;
    let compressed = 0;
    let crcAll = 0;
    let total = 0;
    const queue: Promise<{ bytes: Buffer; entry: SegmentEntry }>[] = [];

    const known = this.#o.known;
    const one = async (seg: Buffer | StoredSegment): Promise<{ bytes: Buffer; crc: number }> => {
      if (!Buffer.isBuffer(seg)) {
        reused++;
        return { bytes: await seg.compressed(), crc: seg.crc >>> 0 };
      }
      const matched = known?.match(seg);
      if (matched) {
        reused++;
        return { bytes: matched.compressed, crc: matched.crc };
      }
      const found = reuse?.find ? await reuse.find(seg) : undefined;
      if (found) {
        reused++;
        return { bytes: found.compressed, crc: found.crc >>> 0 };
      }
      const crc = crc32(seg, 0);
      const hit = table?.get(`${seg.length}:${crc}`);
      if (hit && reuse) {
        let old: Buffer | undefined;
        try {
          old = await reuse.read(hit.offset, hit.clen);
        } catch {
          old = undefined;
        }
        if (old && old.length === hit.clen && (await verifySegment(old, seg))) {
          reused++;
          return { bytes: old, crc };
        }
      }
      compressed++;
      return { bytes: await encodeSegment(seg, level), crc };
    };
    const emit = async (): Promise<Buffer> => {
      const done = await queue.shift()!;
      entries.push(done.entry);
      crcAll = crc32Combine(crcAll, done.entry.crc, done.entry.ulen);
      total += done.entry.ulen;
      return done.bytes;
    };

    yield gzipHeader(level);
    try {
      for await (const seg of segments) {
        const ulen = Buffer.isBuffer(seg) ? seg.length : seg.ulen;
        if (ulen === 0) continue;
        throwIfAborted(signal);
        const fp = Buffer.isBuffer(seg) ? known?.printOf(seg) : seg.fp;
        const p = one(seg).then(({ bytes, crc }) => ({ bytes, entry: { ulen, crc, clen: bytes.length, ...(fp !== undefined ? { fp } : {}) } }));
        p.catch(() => undefined); // awaited in order below; an abandoned one must not be an unhandled rejection
        queue.push(p);
        if (queue.length >= inFlight) yield await emit();
      }
      while (queue.length) yield await emit();
    } finally {
      queue.length = 0;
    }
    yield FINAL_BLOCK;
    yield gzipTrailer(crcAll, total);
    this.#result = {
      index: { v: 2, zlib: process.versions.zlib, level, segments: entries },
      reused, compressedSegments: compressed,
    };
  }
}
