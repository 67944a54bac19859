import type { Stats } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
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

/** Identity of a file version: size, mtime, ctime (ms with sub-ms fraction), inode, device. Any write changes ctime. */
function signature(st: Stats): string {
  return `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.dev}`;
}

export interface StatCacheOptions {
  /** Names the cache file (one file per name, e.g. the context's real path). Default: 'default'. */
  readonly name?: string;
  readonly logger?: Logger;
}

/**
 * A persistent map from a file's identity (path, size, mtime, ctime, inode, device) to its content digest,
 * so unchanged files are verified with one lstat and never read. Stored as one framed JSON file
 * `<dir>/statcache-<hash of name>.json` (`{v:1, entries: {path: [signature, sha256 hex]}}`), written
 * atomically by save(); a corrupt file is ignored. A file modified less than RACY_MARGIN_MS before it
 * was hashed is not recorded (it could change again within the same timestamp tick), so it is read
 * again next time.
 */
export class StatCache {
  readonly file: string;
  /** Lookups answered from the cache (no read) and not answered, since open. */
  readonly stats = { hits: 0, misses: 0 };
  readonly #entries: Map<string, [string, string]>;
  #dirty = false;

  private constructor(file: string, entries: Map<string, [string, string]>) {
    this.file = file;
    this.#entries = entries;
  }

  /** Opens (creating `dir` if needed) the stat cache named `o.name` under `dir`. */
  static async open(dir: string, o: StatCacheOptions = {}): Promise<StatCache> {
    await mkdir(dir, { recursive: true });
    const file = statCacheFile(dir, o.name ?? 'default');
    const entries = new Map<string, [string, string]>();
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      const json = unframe(text);
      try {
        if (json === undefined) throw new Error('hash mismatch');
        const doc = JSON.parse(json) as { v: number; entries: Record<string, [string, string]> };
        if (doc.v !== 1 || typeof doc.entries !== 'object') throw new Error('version');
        for (const [p, a] of Object.entries(doc.entries)) {
          if (Array.isArray(a) && typeof a[0] === 'string' && typeof a[1] === 'string') entries.set(p, a);
        }
      } catch (e) {
        (o.logger ?? noopLogger).warn('ignoring corrupt stat cache', { file, error: String(e) });
        entries.clear();
      }
    }
    return new StatCache(file, entries);
  }

  /** Number of files the cache knows. */
  get size(): number {
    let n = 0;
    for (const k of this.#entries.keys()) if (!k.endsWith(XATTRS_KEY)) n++;
    return n;
  }

  /** Returns the content sha256 (hex) recorded for `absPath` when `st` (its lstat) shows the file unchanged since it was hashed. */
  lookup(absPath: string, st: Stats): string | undefined {
    const e = this.#entries.get(absPath);
    if (e !== undefined && e[0] === signature(st)) {
      this.stats.hits++;
      return e[1];
    }
    this.stats.misses++;
    return undefined;
  }

  /**
   * Records that `absPath`, with lstat `st`, read starting at wall time `hashedAtMs` (after the lstat), has content
   * sha256 `hex`; a file changed within RACY_MARGIN_MS of `hashedAtMs` is forgotten instead.
   */
  record(absPath: string, st: Stats, hex: string, hashedAtMs: number): void {
    if (Math.max(st.mtimeMs, st.ctimeMs) + RACY_MARGIN_MS < hashedAtMs) this.#entries.set(absPath, [signature(st), hex]);
    else this.#entries.delete(absPath);
    this.#dirty = true;
  }

  /**
   * Returns the digest of the extended attributes recorded for `absPath` ('' for none) when `st` shows it unchanged
   * since they were read (setting an xattr changes ctime). Not counted in `stats`.
   */
  lookupXattrs(absPath: string, st: Stats): string | undefined {
    const e = this.#entries.get(absPath + XATTRS_KEY);
    return e !== undefined && e[0] === signature(st) ? e[1] : undefined;
  }

  /** Records the digest of `absPath`'s extended attributes, read at `readAtMs`, as `record` does its content. */
  recordXattrs(absPath: string, st: Stats, hex: string, readAtMs: number): void {
    this.record(absPath + XATTRS_KEY, st, hex, readAtMs);
  }

  /** Forgets `absPath`. */
  forget(absPath: string): void {
    if (this.#entries.delete(absPath)) this.#dirty = true;
  }

  /** Writes the cache atomically when it changed since open or the last save. */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    await writeFileAtomic(this.file, frame(JSON.stringify({ v: 1, entries: Object.fromEntries(this.#entries) })));
    this.#dirty = false;
  }
}

