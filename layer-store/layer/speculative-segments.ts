/**
 * Speculative segments: the gzip segments of a directory's big files compressed while something (a RUN step)
 * is still writing the directory, so that the pack that follows copies them instead of compressing them.
 *
 * A file over SMALL_FILE bytes is cut by the layer format at fixed points (pack-tar.ts): one segment of its tar
 * header and first MiB, then one per further MiB of its data. Those segments depend only on the file (and, for
 * the first, its header), so they can be made before the tree is final. Every `intervalMs` the directory is
 * walked; a file's data MiB k ≥ 1 is compressed once it lay below the file's size in two walks in a row (files
 * are mostly written front to back), its first segment and a short last MiB once size, mtime and ctime held
 * still across two walks. The compressed bytes (encodeSegment, the same function and level the pack uses) are
 * appended to a scratch file laid out like a blob (a 10-byte gap for the gzip header, then the segments), and
 * `finish()` returns them as a SegmentReuse with a v2 segment index.
 *
 * Nothing here is trusted: the pack (gzip-segments.ts) finds a speculative segment by a probe of the final
 * segment's bytes (its length and the CRC-32 of 4 KiB at its start, middle and end) and takes it only when it
 * decodes to exactly those bytes, checked run by run (deflate-runs.ts verifyEncoded: random runs compared in
 * place as stored blocks, text runs inflated on their own); its CRC-32 then comes with it, so the pack computes
 * none over it. Anything that changed after it was read (a rewritten file, even behind stat's back through a
 * shared mapping; an xattr in the header, a hard link) is compressed afresh. The blob is byte for
 * byte what a pack without speculation makes. What speculation costs: CPU while the writer runs (work the pack
 * would do anyway, unless the file changes again), a scratch file about the size of the compressed big files,
 * and a walk of the directory per interval (the interval grows with the walk's cost).
 */
import { lstatSync, rmSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fsPath } from '../core/index.js';
import { encodeSegmentRuns, verifyEncoded, type EncodedRun } from './deflate-runs.js';
import { readdirNamesSync } from './fs-names.js';
import { crc32Impl, GZIP_HEADER_SIZE, type SegmentEntry, type SegmentIndex, type SegmentReuse, type SegmentFound } from './gzip-segments.js';
import { READ_CHUNK, SMALL_FILE } from './pack-tar.js';
import { encodeHeader } from './tar-format.js';

export interface SpeculationOptions {
  /** The scratch file the compressed segments go to (created; removed by `close()`). */
  readonly file: string;
  /** The level the pack will use. */
  readonly level: number;
  /** As the pack's: mtimes in headers are clamped to it. */
  readonly sourceDateEpoch?: number | undefined;
  /** Least time between two walks of the directory; default 200 ms. */
  readonly intervalMs?: number | undefined;
  /** Stop speculating once this many uncompressed bytes were compressed; default 8 GiB. */
  readonly maxBytes?: number | undefined;
}

/** What `finish()` hands the pack. */
export interface Speculated {
  readonly reuse: SegmentReuse;
  /** Segments compressed. */
  readonly segments: number;
  /** Removes the scratch file (also done by SegmentSpeculator.close). */
  close(): Promise<void>;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const DEFAULT_INTERVAL_MS = 200;
const DEFAULT_MAX_BYTES = 8 * 2 ** 30;
/** A walk that took t ms is followed by a pause of at least WALK_COST_FACTOR·t (the walk stays a small cost). */
const WALK_COST_FACTOR = 8;
/**
 * A walk that saw no big file appear or change doubles the pause (up to this): a RUN that writes many small
 * files and no big one (a package install) is walked rarely.
 */
const MAX_IDLE_PAUSE_MS = 5000;
/** Segments compressed at once (the writer keeps the other core). */
const IN_FLIGHT = 2;

/** A segment in the scratch file. */
interface Written {
  /** Its offset in the scratch file. */
  readonly at: number;
  readonly entry: SegmentEntry;
  /** How its deflate bytes are laid out (deflate-runs.ts), for verifyEncoded. */
  readonly runs: readonly EncodedRun[];
  readonly probe: string;
}

/** Bytes at the start, middle and end of a segment whose CRC-32 make its probe. */
const PROBE_BYTES = 4096;

/**
 * A cheap key of a segment's bytes (its length and the CRC-32 of three 4 KiB samples): how the pack finds the
 * speculated copy of a segment without computing the CRC of all of it. Only a key: a copy it finds is checked
 * byte for byte before it is used.
 */
function probeOf(seg: Buffer, crc32: (d: Buffer, v: number) => number): string {
  const n = seg.length;
  if (n <= 3 * PROBE_BYTES) return `${n}:${crc32(seg, 0)}`;
  const mid = Math.floor(n / 2);
  return `${n}:${crc32(seg.subarray(0, PROBE_BYTES), 0)}:${crc32(seg.subarray(mid, mid + PROBE_BYTES), 0)}:${crc32(seg.subarray(n - PROBE_BYTES), 0)}`;
}

/** What the last walk saw of one file. */
interface Seen {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** The data MiBs (k ≥ 1) done for this inode. */
  readonly done: Set<number>;
  /** The header signature whose first segment was done. */
  header?: string;
}

interface Job {
  readonly rel: string;
  readonly abs: string;
  /** The MiB of the file's data; 0: the header and the first MiB. */
  readonly k: number;
  /** k = 0: the stat the header is made from. */
  readonly st?: Stats;
}

/**
 * Compresses the big files' segments of `dir` while it is being written (see the header). `start` begins the
 * walks; `finish` stops them and returns what was made; `close` removes the scratch file.
 */
export class SegmentSpeculator {
  readonly #dir: string;
  readonly #o: SpeculationOptions;
  readonly #seen = new Map<string, Seen>();
  readonly #queue: Job[] = [];
  /** The segments in the scratch file, where each starts and its runs (in the order their writes ended). */
  readonly #written: Written[] = [];
  readonly #crc32 = crc32Impl();
  #fh: Promise<FileHandle> | undefined;
  #end = GZIP_HEADER_SIZE;
  #bytes = 0;
  #running = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #walking: Promise<void> | undefined;
  /** Length:CRC of every segment compressed (or being compressed). */
  readonly #keys = new Set<string>();
  /** Walks in a row that saw no big file appear or change. */
  #idleWalks = 0;
  readonly #idle: (() => void)[] = [];
  #closed = false;

  private constructor(dir: string, o: SpeculationOptions) {
    this.#dir = dir;
    this.#o = o;
  }

  /** Starts speculating on `dir` (its first walk after `intervalMs`). */
  static start(dir: string, o: SpeculationOptions): SegmentSpeculator {
    const s = new SegmentSpeculator(dir, o);
    s.#schedule(o.intervalMs ?? DEFAULT_INTERVAL_MS);
    return s;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#walking = this.#walk().catch(() => undefined);
    }, ms);
    this.#timer.unref();
  }

  async #walk(): Promise<void> {
    const t0 = performance.now();
    let dirs = 0;
    let changed = false;
    const visit = async (abs: string, rel: string): Promise<void> => {
      if (this.#stopped) return;
      if (++dirs % 64 === 0) await yieldToLoop();
      let names: string[];
      try {
        names = readdirNamesSync(abs);
      } catch {
        return; // removed meanwhile
      }
      for (const n of names) {
        const a = join(abs, n);
        const r = rel === '' ? n : `${rel}/${n}`;
        let st: Stats;
        try {
          st = lstatSync(fsPath(a));
        } catch {
          continue;
        }
        if (st.isDirectory()) await visit(a, r);
        else if ((st.mode & S_IFMT) === S_IFREG && st.size > SMALL_FILE && this.#look(r, a, st)) changed = true;
      }
    };
    await visit(this.#dir, '');
    this.#pump();
    const took = performance.now() - t0;
    this.#idleWalks = changed ? 0 : this.#idleWalks + 1;
    const interval = this.#o.intervalMs ?? DEFAULT_INTERVAL_MS;
    const pause = Math.max(interval, Math.min(MAX_IDLE_PAUSE_MS, interval * 2 ** Math.min(this.#idleWalks, 8)));
    this.#schedule(Math.max(this.#idleWalks === 0 ? interval : pause, WALK_COST_FACTOR * took));
  }

  /** Queues what became ready in file `rel` since the last walk; returns whether the file is new or changed. */
  #look(rel: string, abs: string, st: Stats): boolean {
    const prev = this.#seen.get(rel);
    const same = prev !== undefined && prev.ino === st.ino && st.size >= prev.size;
    const done = same ? prev.done : new Set<number>();
    const now: Seen = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, done, ...(same && prev.header !== undefined ? { header: prev.header } : {}) };
    this.#seen.set(rel, now);
    if (!same) return true;
    const still = prev.size === st.size && prev.mtimeMs === st.mtimeMs && prev.ctimeMs === st.ctimeMs;
    // Data MiBs that were complete in both walks (the last, short one only once the file held still).
    const below = still ? st.size : Math.floor(prev.size / READ_CHUNK) * READ_CHUNK;
    for (let k = 1; k * READ_CHUNK < below; k++) {
      if (done.has(k)) continue;
      done.add(k);
      this.#queue.push({ rel, abs, k });
    }
    // The first segment holds the header: only a file that held still, and is not a hard link (whose first name
    // in tar order is not known here).
    const sig = `${st.size}:${st.mtimeMs}:${st.mode}:${st.uid}:${st.gid}`;
    if (still && st.nlink === 1 && now.header !== sig) {
      now.header = sig;
      this.#queue.push({ rel, abs, k: 0, st });
    }
    return !still;
  }

  #pump(): void {
    while (!this.#stopped && this.#running < IN_FLIGHT && this.#queue.length > 0 && this.#bytes < (this.#o.maxBytes ?? DEFAULT_MAX_BYTES)) {
      const job = this.#queue.shift()!;
      this.#running++;
      void this.#one(job).catch(() => undefined).finally(() => {
        this.#running--;
        if (this.#running === 0) for (const r of this.#idle.splice(0)) r();
        this.#pump();
      });
    }
  }

  /** Reads, compresses and appends one segment; a file that is gone or short is skipped. */
  async #one(job: Job): Promise<void> {
    const f = await open(fsPath(job.abs), 'r');
    let seg: Buffer;
    try {
      const pos = job.k * READ_CHUNK;
      const st = job.st;
      const want = st ? Math.min(READ_CHUNK, st.size) : READ_CHUNK;
      const data = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await f.read(data, got, want - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (st) {
        // The header as pack-tar.ts writes it for a plain file (no xattrs: a file with some misses).
        if (got !== want) return;
        const mtime = Math.floor(st.mtimeMs / 1000);
        const clamped = this.#o.sourceDateEpoch !== undefined && mtime > this.#o.sourceDateEpoch ? this.#o.sourceDateEpoch : mtime;
        const h = encodeHeader({ uid: st.uid, gid: st.gid, mtime: clamped, name: job.rel, type: 'file', mode: st.mode & 0o7777, size: st.size });
        seg = Buffer.concat([h, data]);
      } else {
        if (got === 0) return;
        seg = got === want ? data : data.subarray(0, got);
      }
    } finally {
      await f.close();
    }
    if (this.#stopped) return;
    const crc = this.#crc32(seg, 0);
    // The pack looks segments up by length and CRC and takes the first of equal keys: a second copy (the same
    // MiB in several files) would never be read.
    const key = `${seg.length}:${crc}`;
    if (this.#keys.has(key)) return;
    this.#keys.add(key);
    const probe = probeOf(seg, this.#crc32);
    const { bytes, runs } = await encodeSegmentRuns(seg, this.#o.level);
    if (this.#closed) return;
    const fh = await (this.#fh ??= open(this.#o.file, 'w+', 0o600));
    const at = this.#end;
    this.#end += bytes.length;
    this.#bytes += seg.length;
    await fh.write(bytes, 0, bytes.length, at);
    this.#written.push({ at, entry: { ulen: seg.length, crc, clen: bytes.length }, runs, probe });
  }

  /**
   * Stops the walks, waits for the segments being compressed, and returns them as a reuse source for the pack
   * (undefined when none was made; then the scratch file is removed already).
   */
  async finish(): Promise<Speculated | undefined> {
    await this.#stop();
    const fh = await this.#fh?.catch(() => undefined);
    if (this.#written.length === 0 || !fh) {
      await this.close();
      return undefined;
    }
    // The index says segment i starts at 10 + the earlier clens: true of the file up to its first gap (a write
    // that failed).
    const index: SegmentEntry[] = [];
    let expect = GZIP_HEADER_SIZE;
    for (const w of [...this.#written].sort((x, y) => x.at - y.at)) {
      if (w.at !== expect) break;
      index.push(w.entry);
      expect += w.entry.clen;
    }
    const ix: SegmentIndex = { v: 2, zlib: process.versions.zlib, level: this.#o.level, segments: index };
    const read = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new Error('speculative segment cut short');
      return buf;
    };
    const byProbe = new Map<string, Written>();
    for (const w of this.#written) if (!byProbe.has(w.probe)) byProbe.set(w.probe, w);
    const crc32 = this.#crc32;
    return {
      reuse: {
        index: ix,
        read,
        // By a probe of the bytes instead of their CRC (which the pack then need not compute), and checked run by
        // run (deflate-runs.ts verifyEncoded): exact, and a memcmp for the random runs instead of an inflate.
        find: async (seg) => {
          const w = byProbe.get(probeOf(seg, crc32));
          if (!w || w.entry.ulen !== seg.length) return undefined;
          const bytes = await read(w.at, w.entry.clen).catch(() => undefined);
          return bytes && verifyEncoded(bytes, w.runs, seg) ? { compressed: bytes, crc: w.entry.crc } : undefined;
        },
      },
      segments: index.length,
      close: () => this.close(),
    };
  }

  /** Stops the walks and waits for the segments in flight. */
  async #stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#walking;
    if (this.#running > 0) await new Promise<void>((r) => { this.#idle.push(r); });
  }

  /** Stops speculating and removes the scratch file (after the segments in flight; idempotent). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#stop();
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh) await (await fh.catch(() => undefined))?.close().catch(() => undefined);
    // One unlink, synchronous: most RUNs write no big file and the file was never made, and an async rm would wait
    // in the thread pool behind the previous layer's compression, after the container exited (W5: up to 47 ms).
    rmSync(this.#o.file, { force: true });
  }
}

/**
 * Returns one reuse source that offers the segments of `first`, then those of `second` (e.g. speculative
 * segments, then the previous build's blob): the index lists both, as if the blobs were laid end to end, and a
 * read goes to the blob that holds the offset. Either may be undefined; an index the encoder would not take
 * (another version, zlib or level) is left out.
 */
export function chainReuse(first: SegmentReuse | undefined, second: SegmentReuse | undefined): SegmentReuse | undefined {
  if (!first || !second) return first ?? second;
  const a = first.index;
  const b = second.index;
  const usable = (x: SegmentIndex): boolean => x.v === 2 && Array.isArray(x.segments);
  if (!usable(a)) return second;
  if (!usable(b) || b.zlib !== a.zlib || b.level !== a.level) return first;
  let split = GZIP_HEADER_SIZE;
  for (const s of a.segments) split += s.clen;
  const find = first.find ?? second.find;
  return {
    index: { ...a, segments: [...a.segments, ...b.segments] },
    read: (offset, length) => (offset < split ? first.read(offset, length) : second.read(offset - split + GZIP_HEADER_SIZE, length)),
    ...(find ? { find: async (seg: Buffer): Promise<SegmentFound | undefined> => (await first.find?.(seg)) ?? second.find?.(seg) } : {}),
  };
}
