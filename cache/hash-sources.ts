import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { digestOf, encodeName, parseDigest, fsPath, readXattrsOf, readlinkNameSync, throwIfAborted, type Abortable, type CommandRunner } from '../layer-store/index.js';
import { CacheIoError } from './errors.js';
import { compareNames } from './fsutil.js';
import type { SourceDigest } from './keys.js';
import type { StatCache } from './stat-cache.js';

/** The files a COPY/ADD selects: context-relative '/'-separated paths (dirs, files, symlinks), as builder/context's selectSources returns. */
export interface HashSelection {
  readonly paths: readonly string[];
  /**
   * lstat results already taken for these paths (builder/context's SourceSelection has this shape): they
   * are used instead of a second lstat. Their content is read only after, so a file changing in between
   * is caught next time by its ctime.
   */
  readonly sources?: readonly { readonly entries: readonly { readonly relPath: string; readonly stat: Stats; readonly linkTarget?: string }[] }[];
}

export interface HashSourcesOptions extends Abortable {
  /** Returns the sha256 hex of a file's content. Default: streams the file through node:crypto. Injectable to count reads. */
  readonly hashFile?: (absPath: string) => Promise<string>;
  /** Include uid/gid in the fingerprints (default true; COPY without --chown may pass false, since the result is 0:0). */
  readonly ownership?: boolean;
  /**
   * Answer from the stat cache's remembered selections when `selection.sources` has the lstat of every path and none
   * changed since (see selectionPrint): then no per-file lookup is made and `files` is absent. Default false. Only
   * for a selection whose `paths` are exactly its sources' entries' paths (as builder/context's selections are):
   * the print covers the entries, the digest the paths.
   */
  readonly memo?: boolean;
  /**
   * Runs the one `getfattr` of paths whose xattrs are not known (a build passes its helper shell: no fork of this
   * process). Default: spawned from this process.
   */
  readonly commands?: CommandRunner;
}

const SMALL = 1 << 20;

/** Returns the sha256 hex of the file at `absPath`, reading it once (small files in one read, large ones streamed). */
export async function sha256File(absPath: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(fsPath(absPath), 'r');
  try {
    const { size } = await fh.stat();
    if (size < SMALL) return h.update(await fh.readFile()).digest('hex');
    for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: SMALL })) h.update(chunk as Buffer);
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

function typeOf(st: Stats): 'file' | 'dir' | 'symlink' | 'other' {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** Whether `paths` are unique and in name order (as selectSources gives them). */
function inOrder(paths: readonly string[]): boolean {
  for (let i = 1; i < paths.length; i++) if (compareNames(paths[i - 1]!, paths[i]!) >= 0) return false;
  return true;
}

type KnownEntry = { readonly stat: Stats; readonly linkTarget?: string };

/**
 * Returns the lookup of the lstat already taken for `paths[i]`: by position when one source's entries are exactly
 * `paths` (the common case), else by path.
 */
function knownEntries(paths: readonly string[], sources: HashSelection['sources']): (i: number, rel: string) => KnownEntry | undefined {
  const one = sources?.length === 1 ? sources[0]!.entries : undefined;
  if (one && one.length === paths.length && one.every((e, i) => e.relPath === paths[i])) return (i) => one[i];
  const known = new Map<string, KnownEntry>();
  for (const s of sources ?? []) for (const e of s.entries) known.set(e.relPath, e);
  return (_i, rel) => known.get(rel);
}

/**
 * Returns the sha256 hex of what identifies the selection's state without reading any file: `root`, `ownership`, and
 * for every entry of every source, in order, its path, link target, mode, owner, size, mtime, ctime, inode and
 * device (the stat cache's signature plus what a fingerprint takes from the lstat). Any write to a file changes its
 * ctime (a content, mode, owner or xattr change), an added, removed or renamed entry changes the paths, so the same
 * print means the same sources digest, as long as every file and xattr digest behind it was recorded, not racy.
 * Undefined when `sources` is not given.
 */
function selectionPrint(root: string, ownership: boolean, sources: HashSelection['sources']): string | undefined {
  if (!sources) return undefined;
  let n = 0;
  for (const s of sources) n += s.entries.length;
  // The numbers as float64 bytes (no number formatting: 24,000 entries × 9 numbers), the names as one string.
  const nums = new Float64Array(n * 9);
  const names: string[] = [`tsbuild-selection-v1\0${root}\0${ownership ? 'owner' : '-'}`];
  let i = 0;
  for (const s of sources) {
    names.push('\x01');
    for (const e of s.entries) {
      const st = e.stat;
      nums[i++] = st.mode;
      nums[i++] = st.uid;
      nums[i++] = st.gid;
      nums[i++] = st.size;
      nums[i++] = st.mtimeMs;
      nums[i++] = st.ctimeMs;
      nums[i++] = st.ino;
      nums[i++] = st.dev;
      nums[i++] = st.nlink;
      names.push(e.relPath, e.linkTarget ?? '');
    }
  }
  return createHash('sha256').update(names.join('\0')).update(new Uint8Array(nums.buffer)).digest('hex');
}

/**
 * Returns the content digest of exactly the selected paths and their per-path fingerprints
 * (`type|mode|uid:gid|size|content`: content sha256 for files, link target for symlinks; never mtimes; a path
 * with extended attributes has `;x=<sha256 of them>` after its size, so a change of xattrs alone changes the key,
 * as it does BuildKit's content hash, and `cp -a` copies them).
 * Unchanged regular files are answered from `statCache` with one lstat and no read; changed or new ones are
 * read once and recorded (call `statCache.save()` afterwards to persist). Xattrs likewise: only paths whose
 * lstat changed since their xattrs were recorded are read, with one `getfattr` for all of them (so an unchanged
 * context spawns no process). Throws CacheIoError when a path cannot be stat'ed or read.
 */
export async function hashSources(root: string, selection: HashSelection, statCache: StatCache, o: HashSourcesOptions & { readonly memo: true }): Promise<SourceDigest>;
export async function hashSources(root: string, selection: HashSelection, statCache: StatCache, o?: HashSourcesOptions): Promise<SourceDigest & { readonly files: Readonly<Record<string, string>> }>;
export async function hashSources(root: string, selection: HashSelection, statCache: StatCache, o: HashSourcesOptions = {}): Promise<SourceDigest> {
  const ownership = o.ownership ?? true;
  const print = selectionPrint(root, ownership, selection.sources);
  if (o.memo && print !== undefined) {
    const remembered = statCache.lookupSelection(print);
    if (remembered !== undefined) {
      for (const s of selection.sources!) for (const e of s.entries) if (e.stat.isFile()) statCache.stats.hits++;
      return { digest: parseDigest(remembered) };
    }
  }
  // Whether every file and xattr digest is recorded in the stat cache (none racy): then the selection is remembered.
  let settled = true;
  const paths = inOrder(selection.paths) ? selection.paths : [...new Set(selection.paths)].sort(compareNames);
  const prints: string[] = new Array<string>(paths.length);
  // Paths whose xattrs must be read (not known to the stat cache for this lstat): index, absolute path, lstat.
  const unknownXattrs: { readonly i: number; readonly abs: string; readonly st: Stats }[] = [];
  // Synchronous lstat/read for the common small file: several times faster than the thread pool here
  // (20,000 files: lstat ~215 ms vs ~500 ms; read+hash ~575 ms vs ~2,300 ms). Large files stream.
  const known = knownEntries(paths, selection.sources);
  // The walk's paths are clean: joined by hand (path.join's normalising showed in profiles of 24,000 paths).
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (let i = 0; i < paths.length; i++) {
    if ((i & 1023) === 0) throwIfAborted(o.signal);
    const rel = paths[i]!;
    const pre = known(i, rel);
    const abs = rel === '.' ? root : pre ? prefix + rel : join(root, rel);
    try {
      const st = pre?.stat ?? lstatSync(fsPath(abs));
      const type = typeOf(st);
      let content = '';
      if (type === 'file') {
        content = statCache.lookup(abs, st) ?? '';
        if (content === '') {
          const at = Date.now();
          content = o.hashFile ? await o.hashFile(abs) : st.size < SMALL ? createHash('sha256').update(readFileSync(fsPath(abs))).digest('hex') : await sha256File(abs);
          settled = statCache.record(abs, st, content, at) && settled;
        }
      } else if (type === 'symlink') {
        content = pre?.linkTarget ?? readlinkNameSync(abs);
      }
      const mode = (Number(st.mode) & 0o7777).toString(8).padStart(4, '0');
      const owner = ownership ? `${st.uid}:${st.gid}` : '-';
      const x = statCache.lookupXattrs(abs, st);
      if (x === undefined) unknownXattrs.push({ i, abs, st });
      prints[i] = `${type}|${mode}|${owner}|${type === 'file' ? String(st.size) : '0'}${x ? `;x=${x}` : ''}|${content}`;
    } catch (e) {
      throw new CacheIoError(abs, { cause: e, hint: 'a selected source file vanished or is unreadable; re-run the build' });
    }
  }
  if (unknownXattrs.length > 0) settled = (await addXattrs(prints, unknownXattrs, statCache, o.signal, o.commands)) && settled;
  const files: Record<string, string> = {};
  const lines: string[] = ['tsbuild-sources-v1'];
  for (let i = 0; i < paths.length; i++) {
    files[paths[i]!] = prints[i]!;
    lines.push(`${paths[i]!}\0${prints[i]!}`);
  }
  // The names' bytes (not their UTF-8 rendering, which would map every non-UTF-8 byte to U+FFFD): two such names
  // that differ must give two digests. For UTF-8 names this is the same digest as before.
  const digest = digestOf(encodeName(lines.join('\n')));
  if (print !== undefined && settled) statCache.recordSelection(print, digest);
  return { digest, files };
}

/** Reads the xattrs of `unknown` (one getfattr), records their digests in `statCache` and adds them to `prints`; returns whether every one was recorded. */
async function addXattrs(prints: string[], unknown: readonly { readonly i: number; readonly abs: string; readonly st: Stats }[], statCache: StatCache, signal: AbortSignal | undefined, commands: CommandRunner | undefined): Promise<boolean> {
  let all = true;
  const at = Date.now();
  let table;
  try {
    table = await readXattrsOf(unknown.map((u) => u.abs), signal, commands);
  } catch (e) {
    throw new CacheIoError(unknown[0]!.abs, { cause: e, hint: 'the extended attributes of the selected sources could not be read (is getfattr, package attr, installed?); re-run the build' });
  }
  for (const u of unknown) {
    const attrs = table.get(u.abs);
    let hex = '';
    if (attrs && attrs.size > 0) {
      const h = createHash('sha256');
      for (const name of [...attrs.keys()].sort()) h.update(`${name}\0${attrs.get(name)!.toString('hex')}\n`);
      hex = h.digest('hex');
    }
    all = statCache.recordXattrs(u.abs, u.st, hex, at) && all;
    if (hex) prints[u.i] = prints[u.i]!.replace(/^([^|]*\|[^|]*\|[^|]*\|[^|]*)\|/, `$1;x=${hex}|`);
  }
  return all;
}
