/**
 * Which files each gzip segment covers (segment index v2's optional `fp`), so that a rebuilt layer's unchanged
 * segments are taken from the previous blob without reading their files.
 *
 * A segment's fingerprint is a hash of what decides its tar bytes, known before any file is read: every header's
 * bytes (names, modes, owners, mtimes, sizes, xattrs, link targets), the padding and end-of-archive bytes, and,
 * for file data, the file's identity (device, inode, size, mtime and ctime to the sub-millisecond) and the byte
 * range. Writing a file, or changing its metadata, changes its ctime (the kernel sets it; no call can set it
 * back), so the same fingerprint means the same bytes, provided the bytes recorded were read after the clock tick
 * of that ctime had passed: a write within the same tick would leave the ctime as it was (git's "racily clean"
 * problem). So a segment is recorded with its fingerprint only when every file in it was read at least
 * RACY_MARGIN_MS after its ctime: whatever was written before that read is in the bytes, and whatever is written
 * after it gets a later ctime.
 *
 * On a rebuild (KnownSegments), a planned segment whose fingerprint and length match a segment of the previous
 * index is read from the previous blob, inflated and checked against the recorded length and CRC-32: those are its
 * tar bytes (the diffID is still the hash of every tar byte), and its compressed bytes are handed to the encoder
 * unchanged (gzip-segments.ts), so nothing is compressed or compared again. Anything that does not check out
 * (a missing, changed or corrupt old blob, another zlib or level) makes the segment be read from its files and
 * packed as usual: the blob is always byte-identical to a fresh pack.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { crc32Impl, inflateSegment, type SegmentIndex, type SegmentReuse } from './gzip-segments.js';

/** A segment is fingerprinted only when its files were read at least this many ms after their ctime (see the header). */
export const RACY_MARGIN_MS = 100;

/** Accumulates one segment's fingerprint while the tar writer plans it. */
export class SegmentPrint {
  readonly #h: Hash = createHash('sha256');
  readonly #cutoffMs: number;
  /** A file read before planning (a big file's data) had a ctime within the margin of the walk's start. */
  #racy = false;
  /** The newest ctime of the files read only when the segment is taken (small files). */
  #lazyCtime = -Infinity;

  constructor(cutoffMs: number) {
    this.#cutoffMs = cutoffMs;
  }

  /** Literal tar bytes (a header, padding, end-of-archive). */
  bytes(b: Buffer): void {
    this.#h.update(`L${b.length}:`);
    this.#h.update(b);
  }

  /**
   * Bytes [from, to) of the data of the file `st` describes: read already (`lazy` false: its stat, taken in the
   * walk, must be clearly older than the walk) or read only when the segment is taken (`validAt`).
   */
  data(st: Stats, from: number, to: number, lazy = false): void {
    if (lazy) this.#lazyCtime = Math.max(this.#lazyCtime, st.ctimeMs);
    else if (!(st.ctimeMs < this.#cutoffMs)) this.#racy = true;
    this.#h.update(`F${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${from}-${to};`);
  }

  /** The fingerprint (call once). */
  digest(): string {
    return this.#h.digest('base64');
  }

  /** Whether the fingerprint may be recorded for bytes whose small files were read from `readAtMs` on (see the header). */
  validAt(readAtMs: number): boolean {
    return !this.#racy && this.#lazyCtime < readAtMs - RACY_MARGIN_MS;
  }
}

/** An old segment that a planned one matched: its compressed bytes and CRC-32, for the encoder, and where they lie. */
export interface Match {
  readonly compressed: Buffer;
  readonly crc: number;
  /** Offset and length of `compressed` in the reuse source (SegmentReuse.read). */
  readonly offset: number;
  readonly clen: number;
}

const crc32 = crc32Impl();

/**
 * Returns the bytes `compressed` inflates to, or undefined unless it is a run of non-final deflate blocks that
 * inflates (gzip-segments.ts inflateSegment) to exactly `ulen` bytes with CRC-32 `crc`.
 */
async function inflateChecked(compressed: Buffer, ulen: number, crc: number): Promise<Buffer | undefined> {
  const out = await inflateSegment(compressed, ulen);
  return out && out.length === ulen && crc32(out, 0) >>> 0 === crc ? out : undefined;
}

/**
 * The fingerprints of one pack (recorded in its index) and the previous layer's fingerprinted segments (reused
 * when one matches). The tar writer asks `lookup` for each planned segment and tells `note` the fingerprint of each
 * segment it yields; the encoder asks `match` and `print` for each segment it is given (same Buffer objects).
 */
export class KnownSegments {
  readonly cutoffMs: number;
  readonly #reuse: SegmentReuse | undefined;
  readonly #table = new Map<string, { offset: number; ulen: number; crc: number; clen: number }>();
  readonly #matched = new WeakMap<Buffer, Match>();
  readonly #prints = new WeakMap<Buffer, string>();
  /** Segments `lookup` took from the previous layer (their files unread). */
  hits = 0;

  /**
   * `walkStartMs`: when the walk that stat'ed the tree began. `reuse`: the previous blob and its index, used only
   * when made by this zlib at `level`.
   */
  constructor(walkStartMs: number, reuse: SegmentReuse | undefined, level: number) {
    this.cutoffMs = walkStartMs - RACY_MARGIN_MS;
    const ix = reuse?.index as Partial<SegmentIndex> | undefined;
    if (!reuse || !ix || ix.v !== 2 || ix.zlib !== process.versions.zlib || ix.level !== level || !Array.isArray(ix.segments)) return;
    this.#reuse = reuse;
    let offset = 10; // the gzip header
    for (const s of ix.segments) {
      const { ulen, crc, clen, fp } = s as { ulen?: unknown; crc?: unknown; clen?: unknown; fp?: unknown };
      if (typeof ulen !== 'number' || typeof crc !== 'number' || typeof clen !== 'number' || !Number.isSafeInteger(clen) || clen <= 0) break;
      if (typeof fp === 'string' && !this.#table.has(fp)) this.#table.set(fp, { offset, ulen, crc: crc >>> 0, clen });
      offset += clen;
    }
  }

  /** A new accumulator for one planned segment. */
  print(): SegmentPrint {
    return new SegmentPrint(this.cutoffMs);
  }

  /** Returns the tar bytes of the previous layer's segment with fingerprint `fp` and length `ulen`, checked; else undefined (read the files). */
  async lookup(fp: string | undefined, ulen: number): Promise<Buffer | undefined> {
    const hit = fp === undefined ? undefined : this.#table.get(fp);
    if (!hit || hit.ulen !== ulen || !this.#reuse) return undefined;
    let compressed: Buffer;
    try {
      compressed = await this.#reuse.read(hit.offset, hit.clen);
    } catch {
      return undefined;
    }
    if (compressed.length !== hit.clen) return undefined;
    const tar = await inflateChecked(compressed, ulen, hit.crc);
    if (!tar) return undefined;
    this.#matched.set(tar, { compressed, crc: hit.crc, offset: hit.offset, clen: hit.clen });
    this.hits++;
    this.#prints.set(tar, fp!);
    return tar;
  }

  /** Records the fingerprint of a segment the tar writer yields (read from files). */
  note(seg: Buffer, fp: string | undefined): void {
    if (fp !== undefined) this.#prints.set(seg, fp);
  }

  /** The old compressed bytes and CRC of `seg` when `lookup` produced it. */
  match(seg: Buffer): Match | undefined {
    return this.#matched.get(seg);
  }

  /** The fingerprint to record for `seg` in the new index. */
  printOf(seg: Buffer): string | undefined {
    return this.#prints.get(seg);
  }
}

/** One planned segment's parts: literal bytes, or a small file's whole data (read only if the segment is not reused). */
type Part = Buffer | { readonly abs: string; readonly st: Stats };

/**
 * One segment of the tar being planned (pack-tar.ts, gzip): its parts in order, its length and fingerprint.
 * `take` returns its bytes: the previous layer's (KnownSegments.lookup), else read from the files now.
 */
export class SegmentPlan {
  readonly #known: KnownSegments;
  #parts: Part[] = [];
  #len = 0;
  #print: SegmentPrint;

  constructor(known: KnownSegments) {
    this.#known = known;
    this.#print = known.print();
  }

  get length(): number {
    return this.#len;
  }

  get empty(): boolean {
    return this.#len === 0;
  }

  /** Literal bytes (a header, padding, end-of-archive, or file data already read). */
  push(b: Buffer, file?: { st: Stats; from: number }): void {
    if (b.length === 0) return;
    if (file) this.#print.data(file.st, file.from, file.from + b.length);
    else this.#print.bytes(b);
    this.#parts.push(b);
    this.#len += b.length;
  }

  /** The whole data of the small regular file at `abs` (`st.size` bytes), read only when needed. */
  pushFile(abs: string, st: Stats): void {
    this.#print.data(st, 0, st.size, true);
    this.#parts.push({ abs, st });
    this.#len += st.size;
  }

  /**
   * Returns the segment's bytes and starts the next segment. `read(abs, size)` reads a small file (and throws
   * when its size changed).
   */
  async take(read: (abs: string, size: number) => Buffer): Promise<Buffer> {
    const parts = this.#parts;
    const len = this.#len;
    const print = this.#print;
    const fp = print.digest();
    this.#parts = [];
    this.#len = 0;
    this.#print = this.#known.print();
    const old = await this.#known.lookup(fp, len);
    if (old) return old;
    const readAt = Date.now();
    const bufs = parts.map((p) => (Buffer.isBuffer(p) ? p : read(p.abs, p.st.size)));
    const seg = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs, len);
    this.#known.note(seg, print.validAt(readAt) ? fp : undefined);
    return seg;
  }
}
