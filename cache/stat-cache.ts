import type { BigIntStats } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, digestOf, noopLogger, type Logger } from '../layer-store/core/index.js';
import { frame, unframe, writeFileAtomic } from './fsutil.js';

/**
 * How long (ns) a file must have been unchanged before it was hashed for its stat entry to be trusted.
 * A write in the same timestamp tick as the hash would otherwise go unnoticed (git's "racy clean" problem);
 * the margin covers the kernel's coarse timestamp clock.
 */
export const RACY_MARGIN_NS = 100_000_000n;

interface Entry {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
  /** sha256 hex of the content. */
  hex: string;
  /** Wall time (ns) taken just before the file was stat'ed and read. */
  hashedAtNs: bigint;
}

export interface StatCacheOptions {
  /** Names the cache file (one file per name, e.g. the context's real path). Default: 'default'. */
  readonly name?: string;
  readonly logger?: Logger;
}

/**
 * A persistent map from a file's identity (path, size, mtime, ctime, inode, device) to its content digest,
 * so unchanged files are verified with one lstat and never read. Stored as one framed JSON file
 * `<dir>/statcache-<hash of name>.json`, written atomically by save(); a corrupt file is ignored.
 */
export class StatCache {
  readonly file: string;
  /** Lookups answered from the cache (no read) and not answered, since open. */
  readonly stats = { hits: 0, misses: 0 };
  readonly #entries: Map<string, Entry>;
  #dirty = false;

  private constructor(file: string, entries: Map<string, Entry>) {
    this.file = file;
    this.#entries = entries;
  }

  /** Opens (creating `dir` if needed) the stat cache named `o.name` under `dir`. */
  static async open(dir: string, o: StatCacheOptions = {}): Promise<StatCache> {
    await mkdir(dir, { recursive: true });
    const file = join(dir, `statcache-${digestHex(digestOf(o.name ?? 'default')).slice(0, 16)}.json`);
    const entries = new Map<string, Entry>();
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
        const doc = JSON.parse(json) as { v: number; entries: Record<string, string[]> };
        if (doc.v !== 1) throw new Error('version');
        for (const [p, a] of Object.entries(doc.entries)) {
          const [size, mtimeNs, ctimeNs, ino, dev, hex, hashedAtNs] = a;
          if (hex === undefined || hashedAtNs === undefined) continue;
          entries.set(p, { size: BigInt(size!), mtimeNs: BigInt(mtimeNs!), ctimeNs: BigInt(ctimeNs!), ino: BigInt(ino!), dev: BigInt(dev!), hex, hashedAtNs: BigInt(hashedAtNs) });
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
    return this.#entries.size;
  }

  /** Returns the content sha256 (hex) recorded for `absPath` when `st` (a bigint lstat) shows the file unchanged since it was hashed. */
  lookup(absPath: string, st: BigIntStats): string | undefined {
    const e = this.#entries.get(absPath);
    if (
      e !== undefined &&
      e.size === st.size &&
      e.mtimeNs === st.mtimeNs &&
      e.ctimeNs === st.ctimeNs &&
      e.ino === st.ino &&
      e.dev === st.dev &&
      (st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) + RACY_MARGIN_NS < e.hashedAtNs
    ) {
      this.stats.hits++;
      return e.hex;
    }
    this.stats.misses++;
    return undefined;
  }

  /** Records that `absPath`, with lstat `st` taken at wall time `hashedAtNs` (before reading), has content sha256 `hex`. */
  record(absPath: string, st: BigIntStats, hex: string, hashedAtNs: bigint): void {
    this.#entries.set(absPath, { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev, hex, hashedAtNs });
    this.#dirty = true;
  }

  /** Forgets `absPath`. */
  forget(absPath: string): void {
    if (this.#entries.delete(absPath)) this.#dirty = true;
  }

  /** Writes the cache atomically when it changed since open or the last save. */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    const entries: Record<string, string[]> = {};
    for (const [p, e] of this.#entries) {
      entries[p] = [e.size, e.mtimeNs, e.ctimeNs, e.ino, e.dev, e.hex, e.hashedAtNs].map(String);
    }
    await writeFileAtomic(this.file, frame(JSON.stringify({ v: 1, entries })));
    this.#dirty = false;
  }
}

/** The current wall time in ns. */
export function wallNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
