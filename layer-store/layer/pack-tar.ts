/**
 * Directory → deterministic tar bytes (pack.ts compresses and hashes them). Determinism is the contract: the
 * same tree gives the same bytes on any machine. The walk is depth first with each directory's children sorted
 * bytewise by tar name; sockets are skipped; mtimes are clamped to `sourceDateEpoch`; a file seen again through
 * another hard link becomes a `link` entry to its first tar name; overlay whiteouts (0/0 character devices, an
 * opaque xattr) become OCI `.wh.` entries in overlay mode; `trusted.overlay.*` xattrs are never packed. A source
 * file whose size changes while it is read throws LayerSourceChangedError (never a torn layer).
 *
 * Segmented output (gzip) is part of the blob format: where segments are cut depends only on the tar (see
 * tarBytes and gzip-segments.ts), so an unchanged stretch of a rebuilt layer compresses to the same bytes.
 */
import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { join } from 'node:path';
import { compareNameBytes, encodeName, fsPath, overlayXattrPrefix, throwIfAborted } from '../core/index.js';
import { LayerSourceChangedError } from './errors.js';
import { readdirNamesSync, readlinkName } from './fs-names.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeader } from './tar-format.js';
import type { XattrTable } from './xattr.js';
import { SegmentPlan, type KnownSegments } from './segment-files.js';

/** The part of PackOptions that decides which entries the tar holds and how they look. */
export interface TarTreeOptions {
  readonly sourceDateEpoch?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly include?: readonly string[] | undefined;
  readonly filter?: ((rel: string, st: Stats) => boolean) | undefined;
  /**
   * gzip (segmented) only: fingerprint each segment, and take those the previous layer has from it instead of
   * reading their small files (segment-files.ts).
   */
  readonly known?: KnownSegments | undefined;
}

/** One object of the tree, in tar order. */
export interface Item {
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
export async function walk(root: string, o: TarTreeOptions, overlay: boolean, xattrs: XattrTable | undefined): Promise<Item[]> {
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
        if (overlay && w === 'yes' && xattrs?.get(k.abs)?.get(`${overlayXattrPrefix()}opaque`)?.toString() === 'y') {
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
  const ours = overlayXattrPrefix();
  for (const [k, v] of m) if (!k.startsWith('trusted.overlay.') && !k.startsWith(ours)) keep.set(k, v);
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

/** Files up to this size are read whole; bigger ones in READ_CHUNKs, each its own gzip segment (speculative-segments.ts). */
export const SMALL_FILE = 512 * 1024;
export const READ_CHUNK = 1 << 20;
/** Segmented gzip: a new segment starts before an entry once the current one holds this much. */
const SEGMENT_TARGET = 4 << 20;
/** Segmented gzip: a new segment starts before an entry whose name hashes to 0 modulo this. */
const SEGMENT_NAME_MODULUS = 64;
/** Segments planned ahead of the one yielded (segment-files.ts). */
const PLANNED_AHEAD = 4;

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
export async function* tarBytes(items: readonly Item[], xattrs: XattrTable | undefined, o: TarTreeOptions, counter: { entries: number }, segmented: boolean): AsyncGenerator<Buffer> {
  const clamp = (t: number): number => (o.sourceDateEpoch !== undefined && t > o.sourceDateEpoch ? o.sourceDateEpoch : t);
  const firstPath = new Map<string, string>(); // dev:ino → first tar name (hardlinks)
  const out = new Batcher();
  // gzip with fingerprints: segments are planned (small files unread) and taken whole (segment-files.ts); up to
  // PLANNED_AHEAD of them are in flight, so reused ones are inflated on the thread pool while planning goes on.
  const plan = segmented && o.known ? new SegmentPlan(o.known) : undefined;
  const ahead: Promise<Buffer>[] = [];
  const readSmall = (abs: string, size: number): Buffer => {
    const b = readFileSync(fsPath(abs));
    if (b.length !== size) throw new LayerSourceChangedError(abs, `size was ${size}, read ${b.length}`);
    return b;
  };
  const cut = (): Promise<Buffer> => {
    const p = plan!.take(readSmall);
    p.catch(() => undefined); // awaited in order below
    return p;
  };
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
    let lazy = false;
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
      if (st.size > 0 && st.size <= SMALL_FILE && plan) {
        lazy = true;
      } else if (st.size > 0 && st.size <= SMALL_FILE) {
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
    if (plan) {
      if (!plan.empty && (bigFile || plan.length >= SEGMENT_TARGET || fnv1a32(h.name) % SEGMENT_NAME_MODULUS === 0)) {
        ahead.push(cut());
        if (ahead.length >= PLANNED_AHEAD) yield await ahead.shift()!;
      }
      plan.push(encodeHeader(h));
      if (lazy) { plan.pushFile(it.abs, st); plan.push(padding(st.size)); }
    }
    if (segmented && !plan && !out.empty && (bigFile || out.length >= SEGMENT_TARGET || fnv1a32(h.name) % SEGMENT_NAME_MODULUS === 0)) {
      yield out.take();
    }
    if (!plan) out.push(encodeHeader(h));
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
          else if (plan) {
            plan.push(chunk, { st, from: pos - bytesRead });
            if (pos % READ_CHUNK === 0 || pos === st.size) {
              while (ahead.length) yield await ahead.shift()!;
              yield await cut();
            }
          } else {
            out.push(chunk);
            if (pos % READ_CHUNK === 0 || pos === st.size) yield out.take();
          }
        }
        const probe = Buffer.allocUnsafe(1);
        if ((await fh.read(probe, 0, 1, pos)).bytesRead !== 0) throw new LayerSourceChangedError(it.abs, `grew beyond ${st.size} bytes`);
      } finally {
        await fh.close();
      }
      if (plan) plan.push(padding(st.size));
      else out.push(padding(st.size));
    }
    if (!segmented && out.full) yield out.take();
  }
  if (plan) {
    plan.push(END_OF_ARCHIVE);
    ahead.push(cut());
    while (ahead.length) yield await ahead.shift()!;
    return;
  }
  out.push(END_OF_ARCHIVE);
  yield out.take();
}
