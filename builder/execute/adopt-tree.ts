/**
 * The whole-tree COPY of an edit rebuild, without re-creating the tree: the previous build's layer of this step
 * is taken out of the store (LayerStore.takeSnapshot: only when nothing else uses it) and the copied directory in
 * it is brought up to date with the source, as rsync would: files whose content, mode, mtime (whole seconds, what
 * the layer records) and owner are what a fresh copy would give stay untouched (the same inodes, so the layer
 * packer can reuse their compressed bytes: layer-store/layer/segment-files.ts); every other file is replaced by a
 * fresh copy, missing entries are created, extra ones removed, and every directory gets the source's metadata.
 * Then the tree is renamed into the step's upper dir. Creating 20,000 files (or even 4,000 directories and 20,000
 * hard links) costs seconds on a busy disk; this costs a walk of both trees and the changed files.
 *
 * The result is the tree copyWholeTree (cp -a) would make, except sub-second mtimes of unchanged files (the
 * layer records whole seconds). Entries copied afresh get no extended attributes (Node has no call for them), and
 * kept ones keep the ones they had: the caller (workspace.ts previousTree) offers this only when no source had any,
 * then or now (the `;x=` of the step's source prints, which cover every path below the source dir, with
 * .dockerignore applied to none), and a tree with any is cp -a's. The old snapshot is gone afterwards: a later build
 * that needs that layer again unpacks it from its blob.
 *
 * Left behind on failure: the taken tree stays in the step's scratch dir (removed with the build's tmp dir) and
 * the destination is untouched, so the caller can still copy.
 */
import {
  chmodSync, copyFileSync, lchownSync, lstatSync, lutimesSync, mkdirSync, renameSync, rmdirSync, rmSync, symlinkSync,
  unlinkSync, utimesSync, type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { fsPath, readdirNamesSync, readlinkNameSync } from '../../layer-store/index.js';

/** Owner of the copied entries (copy.ts's Owner; not imported: copy.ts imports this file). */
interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** One entry of the source tree: its lstat, and for a directory its children by name. */
interface Node {
  readonly st: Stats;
  readonly kids?: Map<string, Node>;
}

/** Returns the source tree below `dir` (children of a directory by name), or undefined when it holds something adoptTree does not handle (hard links, devices, fifos, sockets). */
function readSource(dir: string): Map<string, Node> | undefined {
  const kids = new Map<string, Node>();
  for (const n of readdirNamesSync(dir)) {
    const p = join(dir, n);
    const st = lstatSync(fsPath(p));
    if (st.isDirectory()) {
      const sub = readSource(p);
      if (!sub) return undefined;
      kids.set(n, { st, kids: sub });
    } else if ((st.isFile() && st.nlink === 1) || st.isSymbolicLink()) {
      kids.set(n, { st });
    } else {
      return undefined;
    }
  }
  return kids;
}

/** As readSource, from the source's entries as the context walk saw them (`rel` relative to the source dir, parents first). */
function fromEntries(entries: readonly { readonly rel: string; readonly stat: Stats }[]): Map<string, Node> | undefined {
  const root = new Map<string, Node>();
  const dirs = new Map<string, Map<string, Node>>([['', root]]);
  for (const { rel, stat: st } of entries) {
    const slash = rel.lastIndexOf('/');
    const parent = dirs.get(slash < 0 ? '' : rel.slice(0, slash));
    if (!parent) return undefined;
    const name = rel.slice(slash + 1);
    if (st.isDirectory()) {
      const kids = new Map<string, Node>();
      dirs.set(rel, kids);
      parent.set(name, { st, kids });
    } else if ((st.isFile() && st.nlink === 1) || st.isSymbolicLink()) {
      parent.set(name, { st });
    } else {
      return undefined;
    }
  }
  return root;
}

const sec = (ms: number): number => Math.floor(ms / 1000);

/** What one sync needs besides the two trees. */
interface Sync {
  readonly owner: Owner;
  /** Whether the source file at `rel` has the content, mode and type it had in the previous build. */
  readonly same: (rel: string) => boolean;
  /** Inodes of regular files kept so far: a second path to one (a hard link of the old tree) is replaced. */
  readonly kept: Set<number>;
}

function setMeta(path: string, st: Stats, owner: Owner): void {
  const p = fsPath(path);
  lchownSync(p, owner.uid, owner.gid);
  chmodSync(p, st.mode & 0o7777);
  utimesSync(p, st.atimeMs / 1000, st.mtimeMs / 1000);
}

/** Creates `to` as a fresh copy of the source entry `from` (a directory with everything below it). */
function create(from: string, node: Node, to: string, owner: Owner): void {
  const st = node.st;
  if (st.isSymbolicLink()) {
    symlinkSync(fsPath(readlinkNameSync(from)), fsPath(to));
    lchownSync(fsPath(to), owner.uid, owner.gid);
    lutimesSync(fsPath(to), st.atimeMs / 1000, st.mtimeMs / 1000);
    return;
  }
  if (node.kids) {
    mkdirSync(fsPath(to), { mode: 0o700 });
    for (const [n, k] of node.kids) create(join(from, n), k, join(to, n), owner);
  } else {
    copyFileSync(fsPath(from), fsPath(to));
  }
  setMeta(to, st, owner);
}

/** Whether the old entry `old` is what a fresh copy of the source entry `node` (at `rel`) would give, so it can stay. */
function keeps(node: Node, old: Stats, rel: string, s: Sync): boolean {
  const st = node.st;
  if (old.uid !== s.owner.uid || old.gid !== s.owner.gid || sec(old.mtimeMs) !== sec(st.mtimeMs)) return false;
  if (st.isSymbolicLink()) return old.isSymbolicLink();
  if (!st.isFile() || !old.isFile() || old.size !== st.size || (old.mode & 0o7777) !== (st.mode & 0o7777) || s.kept.has(old.ino)) return false;
  return s.same(rel);
}

/** Whether the directory `old` already has what setMeta would give it from `st` (mtime in whole seconds, what the layer records). */
function metaKept(old: Stats, st: Stats, owner: Owner): boolean {
  return old.uid === owner.uid && old.gid === owner.gid && (old.mode & 0o7777) === (st.mode & 0o7777) && sec(old.mtimeMs) === sec(st.mtimeMs);
}

/**
 * Makes the directory `to` (of the old tree) hold what `kids` (of the source dir `from`) holds; sets its metadata to
 * `st` unless `old` (its lstat before) shows it has that metadata already and no entry in it was added or removed
 * (which set its mtime to now). Paths are joined by hand: names never hold '/', and join's normalising showed up in
 * profiles of 24,000 entries.
 */
function syncDir(from: string, kids: Map<string, Node>, to: string, rel: string, st: Stats, s: Sync, old?: Stats): void {
  const here = new Set(readdirNamesSync(to));
  let touched = false;
  for (const n of here) {
    if (!kids.has(n)) {
      rmSync(fsPath(`${to}/${n}`), { recursive: true, force: true });
      touched = true;
    }
  }
  for (const [n, node] of kids) {
    const src = `${from}/${n}`;
    const dst = `${to}/${n}`;
    const r = rel ? `${rel}/${n}` : n;
    const was = here.has(n) ? lstatSync(fsPath(dst)) : undefined;
    if (was && node.kids && was.isDirectory()) {
      syncDir(src, node.kids, dst, r, node.st, s, was);
      continue;
    }
    if (was && !node.kids && keeps(node, was, r, s)) {
      if (node.st.isSymbolicLink() && readlinkNameSync(dst) === readlinkNameSync(src)) continue;
      if (node.st.isFile()) {
        s.kept.add(was.ino);
        continue;
      }
    }
    if (was) {
      if (was.isDirectory()) rmSync(fsPath(dst), { recursive: true, force: true });
      else unlinkSync(fsPath(dst));
    }
    create(src, node, dst, s.owner);
    touched = true;
  }
  if (touched || !old || !metaKept(old, st, s.owner)) setMeta(to, st, s.owner);
}

export interface AdoptOptions {
  /** Owner of every entry (COPY's --chown, else 0:0). */
  readonly owner: Owner;
  /** Whether the source file at `rel` (relative to `src`) has the content, mode and type it had in the previous build. */
  readonly same: (rel: string) => boolean;
  /** Takes the previous build's snapshot out of the store; returns the host path, in it, of the copied directory, or undefined. */
  readonly take: () => Promise<string | undefined>;
  /** Every entry below `src` as the context walk saw it (`rel` relative to `src`, parents first); default: walked here. */
  readonly tree?: readonly { readonly rel: string; readonly stat: Stats }[] | undefined;
}

/**
 * Returns true after making the empty directory `dst` hold a copy of the tree at `src` (metadata as cp -a gives
 * it, owner `o.owner`; `dst` keeps its own), made from the previous build's copy (see the header). Returns false,
 * with `dst` untouched, when the source holds what this does not handle or the previous tree cannot be taken. The
 * source must have no extended attributes (see the header).
 */
export async function adoptTree(src: string, dst: string, o: AdoptOptions): Promise<boolean> {
  if (readdirNamesSync(dst).length > 0) return false;
  const kids = o.tree ? fromEntries(o.tree) : readSource(src);
  if (!kids) return false;
  const old = await o.take();
  if (!old || !lstatSync(fsPath(old), { throwIfNoEntry: false })?.isDirectory()) return false;
  const before = lstatSync(fsPath(dst));
  try {
    syncDir(src, kids, old, '', before, { owner: o.owner, same: o.same, kept: new Set() });
  } catch {
    return false; // the caller copies into the untouched dst
  }
  rmdirSync(fsPath(dst));
  renameSync(fsPath(old), fsPath(dst));
  lchownSync(fsPath(dst), before.uid, before.gid);
  chmodSync(fsPath(dst), before.mode & 0o7777);
  utimesSync(fsPath(dst), before.atime, before.mtime);
  return true;
}
