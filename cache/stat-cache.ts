import type { Stats } from 'node:fs';
import { closeSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { noopLogger, statCacheFile, type Logger } from '../layer-store/index.js';
import { frame, unframe, writeFileAtomic } from './fsutil.js';

/**
 * How long (ms) a file must have been unchanged before it was hashed for its stat entry to be trusted.
 * A write in the same timestamp tick as the hash would otherwise go unnoticed (git's "racy clean" problem);
 * the margin covers the kernel's coarse timestamp clock.
 */
export const RACY_MARGIN_MS = 100;
/** Suffix of the entry that holds a path's xattr digest (a NUL cannot be in a path). */
const XATTRS_KEY = '\0xattrs';
/** Most selections whose digest is remembered (the most recently recorded ones). */
const MAX_SELECTIONS = 64;

/** Identity of a file version: size, mtime, ctime (ms with sub-ms fraction), inode, device. Any write changes ctime. */
function signature(st: Stats): string {
  return `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.dev}`;
}

export interface StatCacheOptions {
  /** Names the cache file (one file per name, e.g. the context's real path). Default: 'default'. */
  readonly name?: string;
  readonly logger?: Logger;
}

/** Bytes read at open: the first line (64 selections: ~9 KB) and, for a small cache, all of it. */
const HEAD_BYTES = 64 * 1024;

/** The start of `file` (its whole text when `whole`): HEAD_BYTES, or everything when its first line is longer. Throws when unreadable. */
function readHead(file: string): { text: string; whole: boolean } {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(HEAD_BYTES);
    let n = 0;
    for (let got = -1; got !== 0 && n < HEAD_BYTES; n += got) got = readSync(fd, buf, n, HEAD_BYTES - n, n);
    if (n < HEAD_BYTES) return { text: buf.toString('utf8', 0, n), whole: true };
    if (buf.indexOf(10) >= 0) return { text: buf.toString('utf8', 0, n), whole: false };
  } finally {
    closeSync(fd);
  }
  return { text: readFileSync(file, 'utf8'), whole: true };
}

/** The first line of the file: the remembered selections (v2). */
interface Header {
  readonly v: 2;
  /** [selection print, sources digest], oldest first. */
  readonly selections: [string, string][];
}

/**
 * A persistent map from a file's identity (path, size, mtime, ctime, inode, device) to its content digest,
 * so unchanged files are verified with one lstat and never read; and from a whole selection's lstat print
 * (hash-sources.ts selectionPrint) to its sources digest, so an unchanged selection is verified without a lookup
 * per file. Stored as one file `<dir>/statcache-<hash of name>.json` of two framed JSON lines: the selections
 * (`{v:2, selections: [[print, digest], …]}`, read at open) and the per-file entries (`{keys: [path, …], values:
 * ['<signature> <sha256 hex>', …]}`, parsed only when a lookup needs them), written atomically by save() and only when something was
 * recorded; a corrupt line is ignored. A file modified less than RACY_MARGIN_MS before it was hashed is not
 * recorded (it could change again within the same timestamp tick), so it is read again next time, and a selection
 * is remembered only when every file and xattr digest in it was recorded.
 */
export class StatCache {
  readonly file: string;
  /** Lookups answered from the cache (no read) and not answered, since open; a remembered selection answers each of its files. */
  readonly stats = { hits: 0, misses: 0 };
  readonly #log: Logger;
  /** The entries line as read, until a lookup parses it. */
  #raw: string | undefined;
  /** Path (or path + XATTRS_KEY) → `<signature> <sha256 hex>` ('' hex: no xattrs). */
  #entries: Map<string, string> | undefined;
  readonly #selections: Map<string, string>;
  #dirty = false;

  /** Whether the entries line is still only in the file (read at the first lookup, or by save()). */
  #rawInFile: boolean;

  private constructor(file: string, raw: string | undefined, rawInFile: boolean, selections: Map<string, string>, log: Logger) {
    this.file = file;
    this.#raw = raw;
    this.#rawInFile = rawInFile;
    this.#selections = selections;
    this.#log = log;
  }

  /**
   * Opens (creating `dir` if needed) the stat cache named `o.name` under `dir`; reads its first line (the
   * selections), not yet its entries (20,000 files: 6 MB, ~17 ms to read and decode).
   */
  static async open(dir: string, o: StatCacheOptions = {}): Promise<StatCache> {
    mkdirSync(dir, { recursive: true }); // synchronous, as the head read below
    const file = statCacheFile(dir, o.name ?? 'default');
    const log = o.logger ?? noopLogger;
    let head: { text: string; whole: boolean } | undefined;
    try {
      head = readHead(file);
    } catch {
      head = undefined;
    }
    const selections = new Map<string, string>();
    if (head === undefined) return new StatCache(file, undefined, false, selections, log);
    const text = head.text;
    const nl = text.indexOf('\n');
    try {
      const json = unframe(nl < 0 ? text : text.slice(0, nl + 1));
      if (json === undefined) throw new Error('hash mismatch');
      const doc = JSON.parse(json) as Header | { v: 1 };
      // The entries of a version 1 file, which was one line of them.
      if (doc.v === 1) return new StatCache(file, text, false, selections, log);
      if (doc.v !== 2 || !Array.isArray(doc.selections)) throw new Error('version');
      for (const s of doc.selections) if (Array.isArray(s) && typeof s[0] === 'string' && typeof s[1] === 'string') selections.set(s[0], s[1]);
      return head.whole ? new StatCache(file, text.slice(nl + 1), false, selections, log) : new StatCache(file, undefined, true, selections, log);
    } catch (e) {
      log.warn('ignoring corrupt stat cache', { file, error: String(e) });
      return new StatCache(file, undefined, false, new Map(), log);
    }
  }

  /** The entries line as read (from the file, the first time), or undefined when there is none. */
  #rawEntries(): string | undefined {
    if (this.#rawInFile) {
      this.#rawInFile = false;
      try {
        const text = readFileSync(this.file, 'utf8');
        const nl = text.indexOf('\n');
        this.#raw = nl < 0 ? undefined : text.slice(nl + 1);
      } catch {
        this.#raw = undefined; // removed meanwhile: no entries
      }
    }
    return this.#raw;
  }

  /** The per-file entries, parsed from the file at the first use. */
  #map(): Map<string, string> {
    if (this.#entries) return this.#entries;
    const entries = new Map<string, string>();
    const raw = this.#rawEntries();
    this.#raw = undefined;
    if (raw) {
      try {
        const json = unframe(raw);
        if (json === undefined) throw new Error('hash mismatch');
        // Two arrays (keys, values): parsed several times faster than an object of 40,000 keys.
        const doc = JSON.parse(json) as { keys?: unknown; values?: unknown; entries?: Record<string, [string, string]> };
        if (Array.isArray(doc.keys) && Array.isArray(doc.values) && doc.keys.length === doc.values.length) {
          const { keys, values } = doc as { keys: unknown[]; values: unknown[] };
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i];
            const v = values[i];
            if (typeof k === 'string' && typeof v === 'string') entries.set(k, v);
          }
        } else if (typeof doc.entries === 'object' && doc.entries !== null) {
          // version 1's shape: {entries: {path: [signature, hex]}}
          for (const [p, a] of Object.entries(doc.entries)) {
            if (Array.isArray(a) && typeof a[0] === 'string' && typeof a[1] === 'string') entries.set(p, `${a[0]} ${a[1]}`);
          }
        } else {
          throw new Error('shape');
        }
      } catch (e) {
        this.#log.warn('ignoring corrupt stat cache', { file: this.file, error: String(e) });
        entries.clear();
      }
    }
    this.#entries = entries;
    return entries;
  }

  /** The hex recorded under `key` when it was recorded for the signature `sig`, else undefined. */
  #get(key: string, sig: string): string | undefined {
    const e = this.#map().get(key);
    return e !== undefined && e.length > sig.length && e.charCodeAt(sig.length) === 32 && e.startsWith(sig) ? e.slice(sig.length + 1) : undefined;
  }

  /** Number of files the cache knows. */
  get size(): number {
    let n = 0;
    for (const k of this.#map().keys()) if (!k.endsWith(XATTRS_KEY)) n++;
    return n;
  }

  /** Returns the content sha256 (hex) recorded for `absPath` when `st` (its lstat) shows the file unchanged since it was hashed. */
  lookup(absPath: string, st: Stats): string | undefined {
    const hex = this.#get(absPath, signature(st));
    if (hex !== undefined && hex !== '') {
      this.stats.hits++;
      return hex;
    }
    this.stats.misses++;
    return undefined;
  }

  /**
   * Records that `absPath`, with lstat `st`, read starting at wall time `hashedAtMs` (after the lstat), has content
   * sha256 `hex`; a file changed within RACY_MARGIN_MS of `hashedAtMs` is forgotten instead. Returns whether it was recorded.
   */
  record(absPath: string, st: Stats, hex: string, hashedAtMs: number): boolean {
    const ok = Math.max(st.mtimeMs, st.ctimeMs) + RACY_MARGIN_MS < hashedAtMs;
    if (ok) this.#map().set(absPath, `${signature(st)} ${hex}`);
    else this.#map().delete(absPath);
    this.#dirty = true;
    return ok;
  }

  /**
   * Returns the digest of the extended attributes recorded for `absPath` ('' for none) when `st` shows it unchanged
   * since they were read (setting an xattr changes ctime). Not counted in `stats`.
   */
  lookupXattrs(absPath: string, st: Stats): string | undefined {
    return this.#get(absPath + XATTRS_KEY, signature(st));
  }

  /** Records the digest of `absPath`'s extended attributes, read at `readAtMs`, as `record` does its content. */
  recordXattrs(absPath: string, st: Stats, hex: string, readAtMs: number): boolean {
    return this.record(absPath + XATTRS_KEY, st, hex, readAtMs);
  }

  /** Returns the sources digest recorded for the selection print `print` (hash-sources.ts), or undefined. */
  lookupSelection(print: string): string | undefined {
    return this.#selections.get(print);
  }

  /** Records that the selection with print `print` has sources digest `digest` (only when every file and xattr digest in it is recorded). */
  recordSelection(print: string, digest: string): void {
    if (this.#selections.get(print) === digest) return;
    this.#selections.delete(print);
    this.#selections.set(print, digest);
    for (const k of this.#selections.keys()) {
      if (this.#selections.size <= MAX_SELECTIONS) break;
      this.#selections.delete(k);
    }
    this.#dirty = true;
  }

  /** Forgets `absPath`. */
  forget(absPath: string): void {
    if (this.#map().delete(absPath)) this.#dirty = true;
  }

  /** Writes the cache atomically when it changed since open or the last save (the entries as read when none was looked up). */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    const header: Header = { v: 2, selections: [...this.#selections] };
    const entries = this.#entries ? frame(JSON.stringify({ keys: [...this.#entries.keys()], values: [...this.#entries.values()] }))
      : (this.#rawEntries() ?? frame(JSON.stringify({ keys: [], values: [] })));
    await writeFileAtomic(this.file, frame(JSON.stringify(header)) + entries);
    this.#dirty = false;
  }
}
