/**
 * Pruning the git checkout cache (`<root>/cache/git`, remote-git.ts). BuildKit keeps a git source's checkout as
 * a cache record, and `buildx prune` removes it by the rules of every other record; so does `tsbuild prune
 * --cache`, by the same rules as the step records (cache/store.ts prune):
 *
 * - no rule: every entry;
 * - `olderThanMs` (`--filter until=D`): entries last used (their mtime: made or reused by a build) longer ago;
 * - `keepBytes` (`--keep-storage`): the least recently used first, until the entries left fit in it.
 *
 * An entry a live lease names (`cache/git/<name>`: a build is using it, or fetching it) is never removed. A fetch
 * left behind by a killed build (`.fetch-<name>-XXXXXX`) goes whatever the rules, unless its entry is leased.
 */
import { lstat, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FETCH_PREFIX } from './remote-git.js';

export interface GitCachePruneOptions {
  /** Remove entries last used longer ago than this (ms). */
  readonly olderThanMs?: number | undefined;
  /** Keep at most this many bytes of entries, the most recently used. */
  readonly keepBytes?: number | undefined;
  /** True for an entry name a live lease holds. */
  readonly leased: (entry: string) => boolean;
  readonly now?: number;
}

export interface GitCachePruneReport {
  /** Entry names removed (fetches left behind included). */
  readonly removed: readonly string[];
  readonly freedBytes: number;
  /** Entries kept, and their bytes. */
  readonly kept: number;
  readonly keptBytes: number;
}

interface Entry {
  readonly name: string;
  readonly lastUsed: number;
  readonly bytes: number;
}

/** Prunes the git checkouts under `dir` (`<root>/cache/git`) by the rules of the header; hold the lease lock. */
export async function pruneGitCache(dir: string, o: GitCachePruneOptions): Promise<GitCachePruneReport> {
  const now = o.now ?? Date.now();
  const removed: string[] = [];
  let freedBytes = 0;
  const entries: Entry[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const entry = { name, lastUsed: st.mtimeMs, bytes: await treeBytes(join(dir, name)) };
    if (name.startsWith(FETCH_PREFIX)) {
      // `.fetch-<entry>-XXXXXX`: in flight while its entry is leased, else left by a killed build.
      if (o.leased(name.slice(FETCH_PREFIX.length).replace(/-[^-]+$/, ''))) continue;
      await remove(dir, entry);
      continue;
    }
    entries.push(entry);
  }
  // Least recently used first.
  entries.sort((a, b) => a.lastUsed - b.lastUsed || (a.name < b.name ? -1 : 1));
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  let kept = 0;
  for (const e of entries) {
    const noRule = o.olderThanMs === undefined && o.keepBytes === undefined;
    const old = o.olderThanMs !== undefined && now - e.lastUsed > o.olderThanMs;
    const over = o.keepBytes !== undefined && total > o.keepBytes;
    if ((!noRule && !old && !over) || o.leased(e.name)) {
      kept++;
      continue;
    }
    await remove(dir, e);
    total -= e.bytes;
  }
  return { removed, freedBytes, kept, keptBytes: total };

  async function remove(d: string, e: Entry): Promise<void> {
    await rm(join(d, e.name), { recursive: true, force: true });
    removed.push(e.name);
    freedBytes += e.bytes;
  }
}

/** Returns the bytes of the files under `dir` (not following symlinks). */
async function treeBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) bytes += (await lstat(join(e.parentPath ?? e.path, e.name)).catch(() => undefined))?.size ?? 0;
  }
  return bytes;
}
