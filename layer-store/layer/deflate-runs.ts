/**
 * One segment of a segmented gzip blob (gzip-segments.ts) → deflate bytes, with incompressible stretches stored
 * instead of searched. Part of the blob format (segment index v2): changing a rule here changes layer digests.
 *
 * The segment is looked at in 64 KiB blocks (offsets from the segment's start). A block whose bytes look random
 * (an order-0 entropy of at least 7.9 bits per byte over every 4th byte) is "raw"; every other block, and the
 * tail shorter than a block, is "deflate". Each maximal run of deflate blocks is deflateRaw'd at the layer's level
 * with a sync flush (from an empty window, as a whole segment was before); each run of raw blocks becomes stored
 * blocks of at most 65,535 bytes; a segment that ends in a raw run gets an empty stored block, so that every
 * segment ends byte-aligned with the sync marker 00 00 ff ff. A segment with no raw block is deflated whole: its
 * bytes are those of segment index v1.
 *
 * Why: zlib at level 6 spends ~50 ms per MiB searching random data for matches it does not find, and then
 * stores it anyway (stored blocks are what it writes for such data). Storing it directly gives a blob of the
 * same size (5 bytes per 64 KiB) at memcpy speed; the text around it is deflated exactly as before. The
 * decision depends only on the segment's bytes, so the same tar gives the same blob on any machine.
 */
import zlib from 'node:zlib';

/** Bytes per block of the randomness test. */
export const PROBE_BLOCK = 64 * 1024;
/** A block is stored when its sampled order-0 entropy is at least this (bits per byte; random data: ~7.99). */
const RAW_ENTROPY_BITS = 7.9;
/** Every SAMPLE_STRIDE-th byte of a block is counted (16,384 samples a block). */
const SAMPLE_STRIDE = 4;
/** Largest stored block (its LEN field is 16 bits). */
const MAX_STORED = 65_535;
/** An empty, non-final stored block: ends a raw run byte-aligned with the sync marker 00 00 ff ff. */
const EMPTY_STORED = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

/**
 * log2 of 0..16384, for the entropy sum (c·log2 c) of big layers. Made once TABLE_AFTER_BLOCKS blocks have been
 * tested, not when the module loads (every command that opens the store loads this module: the loop took 1–3 ms
 * of their start, cli/README.md) nor at the first test (a small layer tests a few blocks, and the 16,384 Math.log2
 * calls, still interpreted in a fresh process, took ~7 ms of an edit rebuild's CPU). Before that, the sum calls
 * Math.log2 on each non-zero count: the same doubles added in the same order, so the same decision.
 */
let log2Table: Float64Array | undefined;
let blocksTested = 0;
const TABLE_AFTER_BLOCKS = 64;
function log2s(): Float64Array | undefined {
  if (log2Table) return log2Table;
  if (++blocksTested < TABLE_AFTER_BLOCKS) return undefined;
  const t = new Float64Array(PROBE_BLOCK / SAMPLE_STRIDE + 1);
  for (let i = 1; i < t.length; i++) t[i] = Math.log2(i);
  return (log2Table = t);
}

/** Whether this machine stores a 32-bit word's low byte first (looksRandom's word loop needs it). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * True if the full block `b[start, start + PROBE_BLOCK)` looks random (see the header). `counts` holds four
 * tables of 256 (1,024 entries): the samples are counted into four tables in turn, which lets the CPU overlap
 * the increments, and where the block is 4-byte aligned a sample is the low byte of a little-endian 32-bit word
 * (every 4th byte). The totals per byte value, and so the sum and the decision, are those of one table and a
 * byte loop (~3× faster on 512 MiB: 0.3 s instead of 0.8 s).
 */
function looksRandom(b: Buffer, start: number, counts: Uint32Array): boolean {
  counts.fill(0);
  const at = b.byteOffset + start;
  if (SAMPLE_STRIDE === 4 && at % 4 === 0 && LITTLE_ENDIAN) {
    const w = new Uint32Array(b.buffer, at, PROBE_BLOCK / 4);
    for (let j = 0; j < w.length; j += 4) {
      counts[w[j]! & 0xff]!++;
      counts[256 + (w[j + 1]! & 0xff)]!++;
      counts[512 + (w[j + 2]! & 0xff)]!++;
      counts[768 + (w[j + 3]! & 0xff)]!++;
    }
  } else {
    const end = start + PROBE_BLOCK;
    for (let i = start; i < end; i += SAMPLE_STRIDE) counts[b[i]!]!++;
  }
  const n = PROBE_BLOCK / SAMPLE_STRIDE;
  const LOG2 = log2s();
  let sum = 0;
  if (LOG2) {
    for (let k = 0; k < 256; k++) {
      const c = counts[k]! + counts[256 + k]! + counts[512 + k]! + counts[768 + k]!;
      sum += c * LOG2[c]!;
    }
  } else {
    for (let k = 0; k < 256; k++) {
      const c = counts[k]! + counts[256 + k]! + counts[512 + k]! + counts[768 + k]!;
      if (c > 0) sum += c * Math.log2(c);
    }
  }
  return Math.log2(n) - sum / n >= RAW_ENTROPY_BITS;
}

/** One run of a segment: [start, end) and whether it is stored. */
export interface Run {
  readonly start: number;
  readonly end: number;
  readonly raw: boolean;
}

/** Returns the runs of `seg` in order (one deflate run covering it all when nothing looks random). */
export function segmentRuns(seg: Buffer): Run[] {
  const runs: Run[] = [];
  const counts = new Uint32Array(4 * 256);
  let start = 0;
  let raw = false;
  for (let off = 0; off < seg.length; off += PROBE_BLOCK) {
    const r = off + PROBE_BLOCK <= seg.length && looksRandom(seg, off, counts);
    if (off === 0) raw = r;
    else if (r !== raw) {
      runs.push({ start, end: off, raw });
      start = off;
      raw = r;
    }
  }
  runs.push({ start, end: seg.length, raw });
  return runs;
}

/** Returns the size of `n` bytes as non-final stored blocks (storedBlocks). */
function storedSize(n: number): number {
  return n + 5 * Math.max(1, Math.ceil(n / MAX_STORED));
}

/** Writes `data` as non-final stored blocks (each at most 65,535 bytes) into `out` at `at`; returns the end. */
function writeStored(data: Buffer, out: Buffer, at: number): number {
  const blocks = Math.max(1, Math.ceil(data.length / MAX_STORED));
  let o = at;
  for (let i = 0; i < blocks; i++) {
    const part = data.subarray(i * MAX_STORED, Math.min(data.length, (i + 1) * MAX_STORED));
    out[o] = 0x00; // BFINAL 0, BTYPE 00, padding to the byte boundary
    out.writeUInt16LE(part.length, o + 1);
    out.writeUInt16LE(~part.length & 0xffff, o + 3);
    part.copy(out, o + 5);
    o += 5 + part.length;
  }
  return o;
}

/** Returns `data` as non-final stored blocks (each at most 65,535 bytes). */
export function storedBlocks(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(storedSize(data.length));
  writeStored(data, out, 0);
  return out;
}

/**
 * The output buffer of one zlib job: large enough for the whole input, so a run is compressed in one thread-pool
 * job instead of one job per 16 KiB. Deflate's output does not depend on it.
 */
function chunkSizeFor(n: number): number {
  return Math.max(64 * 1024, deflateBound(n));
}

/** Upper bound on the deflate output for `n` input bytes (deflate's worst case is ~0.03% expansion plus a few bytes). */
export function deflateBound(n: number): number {
  return n + Math.ceil(n / 64) + 64;
}

function deflateRun(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(data, { level, chunkSize: chunkSizeFor(data.length), finishFlush: zlib.constants.Z_SYNC_FLUSH }, (e, out) => (e ? reject(e) : resolve(out)));
  });
}

/** How one run of an encoded segment lies in its deflate bytes: `ulen` tar bytes, `clen` deflate bytes. */
export interface EncodedRun {
  readonly ulen: number;
  readonly clen: number;
  /** Stored blocks (else a deflateRaw with a sync flush). */
  readonly raw: boolean;
}

/** One segment's deflate bytes and the runs they are made of, in order (a trailing raw run's empty stored block is counted in its clen). */
export interface EncodedSegment {
  readonly bytes: Buffer;
  readonly runs: readonly EncodedRun[];
}

/** Returns the deflate bytes of one segment (see the header): byte-aligned, non-final, ending in 00 00 ff ff. */
export async function encodeSegment(seg: Buffer, level: number): Promise<Buffer> {
  return (await encodeSegmentRuns(seg, level)).bytes;
}

/** As encodeSegment, with the layout of its runs (what verifyEncoded checks a copy of the bytes against). */
export async function encodeSegmentRuns(seg: Buffer, level: number): Promise<EncodedSegment> {
  const runs = segmentRuns(seg);
  if (runs.length === 1 && !runs[0]!.raw) {
    const bytes = await deflateRun(seg, level);
    return { bytes, runs: [{ ulen: seg.length, clen: bytes.length, raw: false }] };
  }
  // The deflated runs are compressed on the thread pool at once; the stored runs are copied once, straight into
  // the segment's bytes (not into a buffer of their own first).
  const deflated = await Promise.all(runs.map((r) => (r.raw ? undefined : deflateRun(seg.subarray(r.start, r.end), level))));
  const last = runs.length - 1;
  const layout = runs.map((r, i) => ({
    ulen: r.end - r.start, raw: r.raw,
    clen: (deflated[i]?.length ?? storedSize(r.end - r.start)) + (i === last && r.raw ? EMPTY_STORED.length : 0),
  }));
  let size = 0;
  for (const r of layout) size += r.clen;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  runs.forEach((r, i) => {
    const d = deflated[i];
    o = d ? o + d.copy(out, o) : writeStored(seg.subarray(r.start, r.end), out, o);
  });
  if (runs[last]!.raw) o += EMPTY_STORED.copy(out, o);
  return { bytes: out, runs: layout };
}

/** The final, empty fixed-Huffman block: appended to a deflate run before it is inflated, so a final block inside it shows. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/**
 * True if the deflate bytes `bytes`, read as the runs `runs` say, decode to exactly `seg`, each run on its own
 * (from an empty window) and byte-aligned with no final block: then `bytes` decode to `seg` inside any gzip member
 * at a byte boundary, as a fresh encodeSegment(seg) does. Nothing in `runs` is trusted: a stored run must be stored
 * blocks (header byte 00, LEN, ~LEN) whose payload is the tar bytes, compared in place (nothing is inflated or
 * copied); a deflate run is inflated and must end in the sync marker with all its input used; a trailing stored
 * run ends with the empty stored block. Costs a memcmp for random data and an inflate of the text.
 */
export function verifyEncoded(bytes: Buffer, runs: readonly EncodedRun[], seg: Buffer): boolean {
  let at = 0; // in bytes
  let u = 0; // in seg
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i]!;
    if (!Number.isSafeInteger(r.ulen) || !Number.isSafeInteger(r.clen) || r.ulen < 0 || r.clen < 0 || at + r.clen > bytes.length || u + r.ulen > seg.length) return false;
    const piece = bytes.subarray(at, at + r.clen);
    const want = seg.subarray(u, u + r.ulen);
    if (r.raw ? !storedEquals(piece, want, i === runs.length - 1) : !inflatesTo(piece, want)) return false;
    at += r.clen;
    u += r.ulen;
  }
  return at === bytes.length && u === seg.length && runs.length > 0;
}

/** True if `piece` is non-final stored blocks holding exactly `want` (and then EMPTY_STORED when `trailing`). */
function storedEquals(piece: Buffer, want: Buffer, trailing: boolean): boolean {
  let p = 0;
  let w = 0;
  while (w < want.length) {
    if (p + 5 > piece.length || piece[p] !== 0x00) return false;
    const len = piece.readUInt16LE(p + 1);
    if (piece.readUInt16LE(p + 3) !== (~len & 0xffff) || len === 0 || p + 5 + len > piece.length || w + len > want.length) return false;
    if (!piece.subarray(p + 5, p + 5 + len).equals(want.subarray(w, w + len))) return false;
    p += 5 + len;
    w += len;
  }
  if (trailing) {
    if (!piece.subarray(p, p + EMPTY_STORED.length).equals(EMPTY_STORED)) return false;
    p += EMPTY_STORED.length;
  }
  return p === piece.length && (want.length > 0 || trailing);
}

/** True if `piece` (a deflateRaw with a sync flush) inflates from an empty window to exactly `want`, ending byte-aligned, non-final, all input used. */
function inflatesTo(piece: Buffer, want: Buffer): boolean {
  if (piece.length < 4 || piece.readUInt32BE(piece.length - 4) !== 0x0000ffff) return false;
  const input = Buffer.concat([piece, FINAL_BLOCK]);
  try {
    const r = zlib.inflateRawSync(input, { info: true, chunkSize: Math.max(64 * 1024, want.length + 1024), maxOutputLength: want.length + 1 }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return r.engine.bytesWritten === input.length && r.buffer.equals(want);
  } catch {
    return false;
  }
}
