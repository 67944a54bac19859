/**
 * The layer diff of a plain directory, taken by walking it (chroot isolation: no overlayfs records the changes).
 * `recordTree` notes the state of every path before a step (type, mode, owner, size, mtime, ctime, inode and
 * birth time, device numbers, link target, xattrs); `diffIntoUpper` walks the tree again afterwards and writes
 * what changed into an empty dir in overlayfs upper-dir form (what the overlay would have held), so the same
 * packer (diffToLayer) makes the layer and the same snapshot is installed:
 *  - an added or changed non-directory is moved (renamed) there, with its hard links when they moved too;
 *  - a directory that is new, replaced (another inode, or another type before) or changed in itself, and every
 *    ancestor of anything moved, is made there with the tree's mode, owner, mtime and xattrs;
 *  - a replaced directory gets `trusted.overlay.opaque=y`, as overlayfs marks a directory made over a whiteout
 *    (without CAP_SYS_ADMIN, where trusted.* cannot be set, each old entry gets a whiteout instead: the same
 *    filesystem, other bytes);
 *  - a path that is gone gets a whiteout (a 0/0 character device), only at the topmost gone path.
 * Changes are seen by metadata, never by content: a file is changed when its inode, birth time, ctime, size,
 * mtime, mode, owner or xattrs differ (a write always moves ctime). A directory is compared without ctime (tools
 * that set up a step, such as chroot isolation, put back what they touched but cannot put ctime back).
 *
 * The tree is consumed: files are moved out of it. Synchronous fs calls (as pack-tar.ts: far fewer thread-pool
 * round trips), with a turn of the event loop every 64 directories.
 */
import { chmodSync, constants, copyFileSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, renameSync, rmdirSync, symlinkSync, utimesSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fsPath, throwIfAborted, type CommandRunner } from '../core/index.js';
import { mknod } from './apply-entry.js';
import { LayerToolError } from './errors.js';
import { readdirNamesSync, readlinkNameSync } from './fs-names.js';
import { readXattrTree, writeXattrs, type XattrTable } from './xattr.js';

const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;
/** How far a directory's mtime may move without counting as a change (see changed()). */
const DIR_MTIME_SLACK_NS = 5000n;

/** What recordTree keeps of one path. */
export interface TreeEntry {
  readonly st: BigIntStats;
  /** A symlink's target. */
  readonly link?: string;
}

/** The state of a tree: relative path ('' is the root, '/'-separated, no leading '/') → entry, parents first. */
export interface TreeState {
  readonly root: string;
  readonly entries: Map<string, TreeEntry>;
  /** Relative path → xattrs (every namespace getfattr shows). */
  readonly xattrs: Map<string, Map<string, Buffer>>;
}

export interface WalkOptions {
  readonly signal?: AbortSignal | undefined;
  /** Forks getfattr (a ShellRunner); default: spawned by this process. */
  readonly commands?: CommandRunner | undefined;
  /**
   * Files compared without ctime (relative paths): originals a tool put aside during the step and renamed back,
   * which the step could not reach (chroot isolation's generated /etc files). Only for diffIntoUpper.
   */
  readonly ctimeExempt?: ReadonlySet<string> | undefined;
  /**
   * Copy what changed into the upper dir (clones where the filesystem can) instead of moving it, so the tree stays
   * whole and can be the next step's root filesystem (its state is WalkDiffResult.state). Only for diffIntoUpper.
   */
  readonly keepTree?: boolean | undefined;
}

function relOf(root: string, abs: string): string {
  return abs === root ? '' : abs.slice(root.length + 1);
}

/** Returns the state of every path under `root` (root included), parents before children. */
export async function recordTree(root: string, o: WalkOptions = {}): Promise<TreeState> {
  const table: XattrTable = await readXattrTree(root, o.signal, o.commands);
  const xattrs = new Map<string, Map<string, Buffer>>();
  for (const [abs, m] of table) if (m.size > 0) xattrs.set(relOf(root, abs), m);
  const entries = new Map<string, TreeEntry>();
  entries.set('', { st: lstatSync(fsPath(root), { bigint: true }) });
  let dirs = 0;
  const visit = async (dirAbs: string, dirRel: string): Promise<void> => {
    throwIfAborted(o.signal);
    if (++dirs % 64 === 0) await yieldToLoop();
    for (const n of readdirNamesSync(dirAbs)) {
      const abs = join(dirAbs, n);
      const rel = dirRel === '' ? n : `${dirRel}/${n}`;
      const st = lstatSync(fsPath(abs), { bigint: true });
      entries.set(rel, st.isSymbolicLink() ? { st, link: readlinkNameSync(abs) } : { st });
      if (st.isDirectory()) await visit(abs, rel);
    }
  };
  await visit(root, '');
  return { root, entries, xattrs };
}

function sameXattrs(a: Map<string, Buffer> | undefined, b: Map<string, Buffer> | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [k, v] of a ?? []) if (!b?.get(k)?.equals(v)) return false;
  return true;
}

/** The same object (not a new one with a reused inode number): inode and birth time. */
function sameObject(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.birthtimeNs === b.birthtimeNs && (a.mode & S_IFMT) === (b.mode & S_IFMT);
}

/** Whether the metadata of `rel` differs from what `before` recorded (same object assumed). */
function changed(rel: string, b: TreeEntry, a: TreeEntry, before: TreeState, after: TreeState, exempt: ReadonlySet<string> | undefined): boolean {
  const x = b.st;
  const y = a.st;
  if (x.mode !== y.mode || x.uid !== y.uid || x.gid !== y.gid) return true;
  if (!sameXattrs(before.xattrs.get(rel), after.xattrs.get(rel))) return true;
  // A directory's mtime put back by utimes (chroot isolation's set-up) is off by up to ~1.5 µs: libuv keeps whole
  // microseconds of a double. Any real change moves it to the time of the step, far beyond that.
  if ((y.mode & S_IFMT) === S_IFDIR) return (x.mtimeNs > y.mtimeNs ? x.mtimeNs - y.mtimeNs : y.mtimeNs - x.mtimeNs) >= DIR_MTIME_SLACK_NS;
  if (x.mtimeNs !== y.mtimeNs || x.size !== y.size || x.rdev !== y.rdev || b.link !== a.link) return true;
  return x.ctimeNs !== y.ctimeNs && !exempt?.has(rel);
}

/** What diffIntoUpper wrote. */
export interface WalkDiffResult {
  /** Paths moved or made in the upper dir (directories included), whiteouts and opaque directories. */
  readonly added: number;
  readonly whiteouts: number;
  readonly opaque: number;
  /** The tree's state after the step: with keepTree, the state the next step on the same tree starts from. */
  readonly state: TreeState;
}

/** Whether this process may set `trusted.*` xattrs in `dir` (CAP_SYS_ADMIN): tried once on a temp dir there. */
async function canSetTrusted(dir: string, signal: AbortSignal | undefined): Promise<boolean> {
  const probe = join(dir, `.tsbuild-trusted-probe-${process.pid}`);
  mkdirSync(probe);
  try {
    await writeXattrs([[probe, new Map([['trusted.tsbuild.probe', Buffer.from('y')]])]], signal);
    return true;
  } catch (e) {
    if (e instanceof LayerToolError && e.tool === 'setfattr') return false;
    throw e;
  } finally {
    rmdirSync(probe);
  }
}

/**
 * Walks `before.root` again and writes the difference from `before` into the empty directory `upper` in
 * overlayfs upper-dir form (see the header). Returns counts. The tree is consumed (changed files move out).
 */
export async function diffIntoUpper(before: TreeState, upper: string, o: WalkOptions = {}): Promise<WalkDiffResult> {
  const root = before.root;
  const after = await recordTree(root, o);
  /** Paths whose whole subtree is new (added or replaced directories), and the replaced ones among them. */
  const fresh = new Set<string>();
  const replaced = new Set<string>();
  const dirsToMake = new Map<string, TreeEntry>(); // rel → entry; parents first (insertion order)
  const moves: string[] = [];
  const parentOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
  const withAncestors = (rel: string): void => {
    const chain: string[] = [];
    for (let p = parentOf(rel); p !== ''; p = parentOf(p)) {
      if (dirsToMake.has(p)) break;
      chain.push(p);
    }
    for (const p of chain.reverse()) dirsToMake.set(p, after.entries.get(p)!);
  };
  for (const [rel, a] of after.entries) {
    if (rel === '') continue;
    const isDir = a.st.isDirectory();
    const b = before.entries.get(rel);
    const inFresh = fresh.has(parentOf(rel));
    let include = inFresh || !b;
    if (!include && b && !sameObject(b.st, a.st)) {
      include = true;
      if (isDir) replaced.add(rel);
    }
    if (!include && b && changed(rel, b, a, before, after, o.ctimeExempt)) include = true;
    if (!include) continue;
    withAncestors(rel);
    if (isDir) {
      dirsToMake.set(rel, a);
      if (inFresh || !b || replaced.has(rel)) fresh.add(rel);
    } else moves.push(rel);
  }
  const gone: string[] = [];
  for (const rel of before.entries.keys()) {
    if (rel === '' || after.entries.has(rel)) continue;
    const p = parentOf(rel);
    const pa = after.entries.get(p);
    // Only the topmost gone path: a gone, replaced or non-directory parent hides it already.
    if (!pa || !pa.st.isDirectory() || fresh.has(p)) continue;
    gone.push(rel);
    withAncestors(rel);
  }
  throwIfAborted(o.signal);
  const trusted = replaced.size === 0 || await canSetTrusted(upper, o.signal);
  // Without trusted.* xattrs, a replaced directory's old entries that are not there now each get a whiteout.
  if (!trusted) {
    for (const rel of replaced) {
      const prefix = `${rel}/`;
      for (const old of before.entries.keys()) {
        if (!old.startsWith(prefix) || old.slice(prefix.length).includes('/') || after.entries.has(old)) continue;
        gone.push(old);
      }
    }
  }
  for (const rel of dirsToMake.keys()) mkdirSync(fsPath(join(upper, rel)), { mode: 0o700 });
  if (o.keepTree) await copyInto(root, upper, moves, after);
  else for (const rel of moves) renameSync(fsPath(join(root, rel)), fsPath(join(upper, rel)));
  for (const rel of gone) await mknod(join(upper, rel), 'c', 0, 0, 0, upper);
  const xattrs: [string, Map<string, Buffer>][] = [];
  for (const rel of dirsToMake.keys()) {
    const m = new Map([...after.xattrs.get(rel) ?? []].filter(([k]) => !k.startsWith('trusted.overlay.')));
    if (trusted && replaced.has(rel)) m.set('trusted.overlay.opaque', Buffer.from('y'));
    if (m.size > 0) xattrs.push([join(upper, rel), m]);
  }
  await writeXattrs(xattrs, o.signal);
  // Directory metadata last (deepest first), after everything was made in them.
  for (const [rel, a] of [...dirsToMake].reverse()) {
    const p = fsPath(join(upper, rel));
    lchownSync(p, Number(a.st.uid), Number(a.st.gid));
    chmodSync(p, Number(a.st.mode & 0o7777n));
    utimesSync(p, Number(a.st.atimeNs) / 1e9, Number(a.st.mtimeNs) / 1e9);
  }
  return { added: dirsToMake.size + moves.length, whiteouts: gone.length, opaque: trusted ? replaced.size : 0, state: after };
}

/**
 * Copies the non-directories `rels` from `root` to `upper` (their parents exist there) with mode, owner, times and
 * xattrs; names of one inode among them stay hard links of each other. Sockets are left out (never in a layer).
 */
async function copyInto(root: string, upper: string, rels: readonly string[], after: TreeState): Promise<void> {
  const first = new Map<string, string>(); // dev:ino → its first copy
  const xattrs: [string, Map<string, Buffer>][] = [];
  for (const rel of rels) {
    const { st, link } = after.entries.get(rel)!;
    const src = fsPath(join(root, rel));
    const dst = join(upper, rel);
    const key = `${st.dev}:${st.ino}`;
    const linked = st.nlink > 1n ? first.get(key) : undefined;
    if (linked !== undefined) {
      linkSync(fsPath(linked), fsPath(dst));
      continue;
    }
    if (st.isFile()) copyFileSync(src, fsPath(dst), constants.COPYFILE_FICLONE);
    else if (st.isSymbolicLink()) symlinkSync(fsPath(link!), fsPath(dst));
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const rdev = Number(st.rdev);
      await mknod(dst, st.isCharacterDevice() ? 'c' : 'b', Math.floor(rdev / 256) & 0xfff, (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00), 0o600, upper);
    } else if (st.isFIFO()) await mknod(dst, 'p', 0, 0, 0o600, upper);
    else continue;
    if (st.nlink > 1n) first.set(key, dst);
    lchownSync(fsPath(dst), Number(st.uid), Number(st.gid));
    if (!st.isSymbolicLink()) chmodSync(fsPath(dst), Number(st.mode & 0o7777n));
    lutimesSync(fsPath(dst), Number(st.atimeNs) / 1e9, Number(st.mtimeNs) / 1e9);
    const x = after.xattrs.get(rel);
    if (x) xattrs.push([dst, new Map([...x].filter(([k]) => !k.startsWith('trusted.overlay.')))]);
  }
  await writeXattrs(xattrs);
}
