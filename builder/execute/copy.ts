import { chmod, lchown, link, lstat, rename, rm, utimes } from 'node:fs/promises';
import { chmodSync, constants, copyFileSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import {
  execFileAsync, fsPath, isPlainName, readdirEntries, readdirNamesSync, readlinkNameSync, showName, TsbuildError, type CommandRunner,
} from '../../layer-store/index.js';
import { directRunner } from '../../runtime-exec/index.js';
import { adoptTree } from './adopt-tree.js';
import { scopedPath } from './scoped-path.js';

const execFileP = execFileAsync;

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

export interface CopyIntoOptions {
  /** Owner of every copied entry and created directory; undefined keeps the source's owner. */
  readonly owner?: Owner | undefined;
  /** Default owner for directories this copy creates when `owner` is undefined (0:0). */
  readonly createdDirOwner?: Owner;
  /** Permission bits of the destination directories this copy creates (0755; an octal --chmod's bits in BuildKit). */
  readonly dirMode?: number | undefined;
  /** Returns the mode bits (07777) for a copied entry; undefined keeps the source mode. */
  readonly chmod?: ((mode: number, isDir: boolean) => number) | undefined;
  /** Returns true for a source-relative path that must be skipped (COPY --exclude). */
  readonly exclude?: ((relPath: string, isDir: boolean) => boolean) | undefined;
  /** Forks cp and chown (a ShellRunner); default: spawned by this process. */
  readonly commands?: CommandRunner | undefined;
  /**
   * The snapshot of the layer the previous build of this step made: unchanged files of a whole-tree copy are
   * hard-linked from it instead of copied (see linkTree). `same(rel)` says whether the source file at `rel`
   * (relative to the source directory) has the content, mode and type it had then (the step's cache records).
   * Given only when no source entry has extended attributes, then or now: linkTree and adoptTree copy none.
   */
  readonly previous?: {
    readonly snapshot: string;
    /** The overlay's upper dir: the links are made there, after the unmount (`afterUnmount`), not through the mount. */
    readonly upper: string;
    afterUnmount(job: () => Promise<void>): void;
    same(rel: string): boolean;
    /**
     * Takes the previous snapshot out of the store for this copy to bring up to date (adopt-tree.ts); returns the
     * host path of the container directory `ctrPath` in it, or undefined (another build uses it, or it is gone).
     */
    take(ctrPath: string): Promise<string | undefined>;
    /** Leases the previous snapshot for linking from it; false when it is gone. */
    lease(): Promise<boolean>;
  } | undefined;
}

/** One resolved COPY source: a host path plus the name it gets when copied into a directory. */
export interface CopySource {
  readonly hostPath: string;
  readonly name: string;
  readonly stat: Stats;
  /** Every entry below a directory source is copied (nothing excluded): allows the fast whole-tree copy. */
  readonly wholeTree?: boolean;
  /** A whole-tree source's entries as the context walk saw them (`rel` relative to it, parents first), when known. */
  readonly tree?: readonly { readonly rel: string; readonly stat: Stats }[] | undefined;
}

/**
 * Copies `sources` into the root filesystem at `root` (a merged overlay view) at container path `dest`, with
 * Docker's rules: a directory source copies its contents; several sources, or a dest ending in `/`, make dest a
 * directory; a single file onto an existing directory lands inside it. Container paths are resolved inside
 * `root` (symlinks never lead outside it). Returns the number of entries written.
 */
export async function copyIntoRootfs(root: string, sources: readonly CopySource[], dest: string, destIsDir: boolean, o: CopyIntoOptions): Promise<number> {
  const dirOwner = o.owner ?? o.createdDirOwner ?? { uid: 0, gid: 0 };
  const dirMode = o.dirMode ?? 0o755;
  const counter = newState();
  const single = sources.length === 1 ? sources[0] : undefined;
  if (single && !single.stat.isDirectory() && !destIsDir) {
    let target = await scopedPath(root, dest, true);
    const st = lstatSync(fsPath(target), { throwIfNoEntry: false });
    if (st?.isDirectory()) target = join(target, single.name);
    await mkdirAllScoped(root, posix.dirname(ctrOf(root, target)), dirOwner, dirMode);
    await copyEntry(root, single.hostPath, single.stat, target, '', o, counter);
    return counter.n;
  }
  const destPath = await scopedPath(root, dest, true);
  const existedBefore = await isNonEmptyDir(destPath);
  const createdHere = lstatSync(fsPath(destPath), { throwIfNoEntry: false }) === undefined;
  const destDir = await mkdirAllScoped(root, dest, dirOwner, dirMode);
  for (const s of sources) {
    // cp takes its paths as arguments, which are strings written as UTF-8: a path that is not UTF-8 is copied here.
    if (s.stat.isDirectory() && s.wholeTree && !existedBefore && sources.length === 1 && !o.chmod && !o.exclude && isPlainName(s.hostPath) && isPlainName(destDir)) {
      // A directory this copy created is wholly in the upper dir (overlay made it there, parents copied up), so
      // the tree can be linked into the upper dir directly once the overlay is unmounted (links cannot cross
      // into an overlay mount).
      const prev = o.previous && o.owner && createdHere ? treeIn(o.previous.snapshot, ctrOf(root, destDir)) : undefined;
      if (prev && o.owner && o.previous) {
        const previous = o.previous;
        const { upper, same } = previous;
        const owner = o.owner;
        const ctrDir = ctrOf(root, destDir);
        const inUpper = join(upper, ctrDir);
        const src = s.hostPath;
        const tree = s.tree;
        previous.afterUnmount(async () => {
          if (await adoptTree(src, inUpper, { owner, same, take: () => previous.take(ctrDir), tree })) return;
          if (!(await previous.lease()) || !(await linkTree(src, inUpper, prev, owner, same))) await copyWholeTree(src, inUpper, owner, o.commands);
        });
      } else {
        await copyWholeTree(s.hostPath, destDir, o.owner, o.commands);
      }
      counter.n++;
    } else if (s.stat.isDirectory()) {
      await copyDirContents(root, s.hostPath, destDir, '', o, counter);
    } else {
      await copyEntry(root, s.hostPath, s.stat, join(destDir, s.name), s.name, o, counter);
    }
  }
  return counter.n;
}

async function isNonEmptyDir(p: string): Promise<boolean> {
  try {
    return readdirSync(fsPath(p)).length > 0;
  } catch {
    return false;
  }
}

/**
 * Copies the contents of `srcDir` into the empty directory `dstDir` with GNU cp (-a: modes, times, symlinks as
 * symlinks, hardlinks), then sets the owner. On this kind of machine file creation dominates, and cp does it with
 * a third of the system time of per-file calls from Node. Safe because `dstDir` was empty: no symlink planted in
 * the image can redirect a write, and cp never follows symlinks in the source.
 */
async function copyWholeTree(srcDir: string, dstDir: string, owner: Owner | undefined, commands: CommandRunner = directRunner()): Promise<void> {
  const exec = async (cmd: string, args: string[]): Promise<void> => {
    const r = await commands.run(cmd, args);
    if (r.code !== 0) throw Object.assign(new Error(`${cmd} exited ${r.code}`), { stderr: r.stderr });
  };
  const args = ['-a', ...(owner ? ['--no-preserve=ownership'] : []), '--', `${srcDir}/.`, `${dstDir}/`];
  // cp -a gives dstDir the source dir's metadata; the destination keeps its own (BuildKit: created 0755).
  const before = await lstat(dstDir);
  try {
    await exec('cp', args);
    if (owner && (owner.uid !== 0 || owner.gid !== 0)) await exec('chown', ['-R', '-h', `${owner.uid}:${owner.gid}`, '--', dstDir]);
    await lchown(dstDir, before.uid, before.gid);
    await chmod(dstDir, before.mode & 0o7777);
    await utimes(dstDir, before.atime, before.mtime);
  } catch (e) {
    throw new TsbuildError('BUILD', `copying ${srcDir} failed: ${((e as { stderr?: string }).stderr ?? String(e)).trim().split('\n')[0]}`, { hint: 'check the source files are readable', cause: e });
  }
}

/** `ctrPath` inside the snapshot `snap` when every component is a real directory there (no symlink), else undefined. */
function treeIn(snap: string, ctrPath: string): string | undefined {
  let cur = snap;
  for (const p of ctrPath.split('/').filter(Boolean)) {
    cur = join(cur, p);
    if (!lstatSync(fsPath(cur), { throwIfNoEntry: false })?.isDirectory()) return undefined;
  }
  return cur;
}

/**
 * The whole-tree copy of an edit rebuild: the source tree at `src` is re-created at the empty `dst` with the
 * metadata cp -a would give it (owner `owner`, source modes and mtimes), but every regular file whose content,
 * mode and type are unchanged since the previous build (`same`), and whose copy in that build's snapshot `prev`
 * has the same size, mode, whole-second mtime (what the layer records) and owner, is hard-linked from `prev`
 * instead of copied. Snapshots are never written to (overlay copies a file up before changing it), so the link
 * shares an immutable file. Creating 20,000 files costs seconds when the disk is busy; linking them is metadata.
 * Returns false, having written nothing, for a tree this does not handle (hardlinks, devices, fifos, sockets): the
 * caller copies it with cp. What it creates gets no extended attributes: the source must have none (`previous` is
 * offered only then: workspace.ts previousTree).
 */
async function linkTree(src: string, dst: string, prev: string, owner: Owner, same: (rel: string) => boolean): Promise<boolean> {
  const dirs: { rel: string; st: Stats }[] = [];
  const others: { rel: string; st: Stats }[] = [];
  const visit = (rel: string): boolean => {
    for (const n of readdirNamesSync(rel ? join(src, rel) : src)) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(fsPath(join(src, r)));
      if (st.isDirectory()) {
        dirs.push({ rel: r, st });
        if (!visit(r)) return false;
      } else if ((st.isFile() && st.nlink === 1) || st.isSymbolicLink()) {
        others.push({ rel: r, st });
      } else {
        return false;
      }
    }
    return true;
  };
  if (!visit('')) return false;
  const before = lstatSync(dst); // as in copyWholeTree: the destination keeps its own metadata
  const sec = (ms: number): number => Math.floor(ms / 1000);
  const linked = new Set<string>();
  for (const { rel, st } of others) {
    if (st.isSymbolicLink()) continue;
    const old = lstatSync(fsPath(join(prev, rel)), { throwIfNoEntry: false });
    if (old?.isFile() && old.size === st.size && (old.mode & 0o7777) === (st.mode & 0o7777) && sec(old.mtimeMs) === sec(st.mtimeMs)
      && old.uid === owner.uid && old.gid === owner.gid && same(rel)) linked.add(rel);
  }
  for (const d of dirs) mkdirSync(fsPath(join(dst, d.rel)), { mode: 0o700 });
  for (const { rel, st } of others) {
    const to = fsPath(join(dst, rel));
    const from = join(src, rel);
    if (st.isSymbolicLink()) {
      symlinkSync(fsPath(readlinkNameSync(from)), to);
      lchownSync(to, owner.uid, owner.gid);
      lutimesSync(to, st.atimeMs / 1000, st.mtimeMs / 1000);
      continue;
    }
    if (linked.has(rel)) {
      linkSync(fsPath(join(prev, rel)), to);
      continue;
    }
    copyFileSync(fsPath(from), to);
    lchownSync(to, owner.uid, owner.gid);
    chmodSync(to, st.mode & 0o7777);
    utimesSync(to, st.atimeMs / 1000, st.mtimeMs / 1000);
  }
  // Directories last, deepest first: adding entries changed their mtimes.
  for (const d of [...dirs].reverse()) {
    const p = fsPath(join(dst, d.rel));
    lchownSync(p, owner.uid, owner.gid);
    chmodSync(p, d.st.mode & 0o7777);
    utimesSync(p, d.st.atimeMs / 1000, d.st.mtimeMs / 1000);
  }
  lchownSync(dst, before.uid, before.gid);
  chmodSync(dst, before.mode & 0o7777);
  utimesSync(dst, before.atime, before.mtime);
  return true;
}

function ctrOf(root: string, hostPath: string): string {
  const rel = hostPath.slice(root.length);
  return rel === '' ? '/' : rel;
}

/** Creates the container directory `ctrDir` and its missing parents inside `root` (`mode`, default 0755, `owner`); returns its host path. */
export async function mkdirAllScoped(root: string, ctrDir: string, owner: Owner, mode = 0o755): Promise<string> {
  const parts = posix.normalize('/' + ctrDir).split('/').filter(Boolean);
  let cur = root;
  // Synchronous metadata calls: an async one waits in the thread pool behind the previous layer's compression
  // (a W5 edit's WORKDIR: up to 28 ms for one chmod).
  for (const p of parts) {
    const next = join(cur, p);
    const st = lstatSync(fsPath(next), { throwIfNoEntry: false });
    if (st === undefined) {
      mkdirSync(fsPath(next), { mode });
      chmodSync(fsPath(next), mode);
      lchownSync(fsPath(next), owner.uid, owner.gid);
      cur = next;
    } else if (st.isSymbolicLink()) {
      cur = await scopedPath(root, ctrOf(root, next), true);
      const st2 = await lstat(fsPath(cur)).catch(() => undefined);
      if (!st2) {
        await mkdirAllScoped(root, ctrOf(root, cur), owner, mode);
      } else if (!st2.isDirectory()) {
        throw new TsbuildError('BUILD', `cannot copy to ${ctrDir}: ${ctrOf(root, next)} is not a directory`, { hint: 'choose a destination whose parents are directories' });
      }
    } else if (st.isDirectory()) {
      cur = next;
    } else {
      throw new TsbuildError('BUILD', `cannot copy to ${ctrDir}: ${ctrOf(root, next)} is not a directory`, { hint: 'choose a destination whose parents are directories' });
    }
  }
  return cur;
}

/** Shared state of one copy: the entry count and hardlink groups (the first copy's promise resolves to its path). */
interface CopyState {
  n: number;
  readonly links: Map<string, Promise<string>>;
}

function newState(): CopyState {
  return { n: 0, links: new Map() };
}

/**
 * Copies the children of `srcDir` into `dstDir`, siblings concurrently (files with synchronous calls); directories recurse. `fresh`
 * means `dstDir` was just created by this copy, so nothing can exist in it and no destination lstat is needed.
 */
async function copyDirContents(root: string, srcDir: string, dstDir: string, rel: string, o: CopyIntoOptions, c: CopyState, fresh = false): Promise<void> {
  const entries = await readdirEntries(srcDir);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await Promise.all(entries.map(async (e) => {
    const src = join(srcDir, e.name);
    const childRel = rel ? `${rel}/${e.name}` : e.name;
    if (o.exclude?.(childRel, e.isDir)) return;
    if (e.isDir) {
      const st = await lstat(fsPath(src));
      await copyEntry(root, src, st, join(dstDir, e.name), childRel, o, c, fresh);
    } else {
      await copyEntry(root, src, lstatSync(fsPath(src)), join(dstDir, e.name), childRel, o, c, fresh);
    }
  }));
}

async function copyEntry(root: string, src: string, st: Stats, dst: string, rel: string, o: CopyIntoOptions, c: CopyState, fresh = false): Promise<void> {
  // Metadata calls are synchronous (as copyNode's): an async one waits in the thread pool behind the compression of
  // the layer before (a W4 edit's COPY --from: up to 11 ms for one lstat).
  let existing = fresh ? undefined : lstatSync(fsPath(dst), { throwIfNoEntry: false });
  if (existing?.isSymbolicLink() && st.isDirectory()) {
    // A directory copied onto a symlink follows it, inside the root (as BuildKit's scoped copy does).
    dst = await scopedPath(root, ctrOf(root, dst), true);
    existing = lstatSync(fsPath(dst), { throwIfNoEntry: false });
  }
  const uid = o.owner?.uid ?? st.uid;
  const gid = o.owner?.gid ?? st.gid;
  const perm = o.chmod ? o.chmod(st.mode & 0o7777, st.isDirectory()) : st.mode & 0o7777;
  c.n++;
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) {
      await rm(fsPath(dst), { force: true });
      existing = undefined;
    }
    const created = !existing;
    if (created) mkdirSync(fsPath(dst));
    await copyDirContents(root, src, dst, rel, o, c, created);
    lchownSync(fsPath(dst), uid, gid);
    chmodSync(fsPath(dst), perm);
    utimesSync(fsPath(dst), st.atime, st.mtime);
    return;
  }
  if (existing) await rm(fsPath(dst), { recursive: existing.isDirectory(), force: true });
  if (st.isFile() && st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = c.links.get(key);
    if (first) {
      await link(fsPath(await first), fsPath(dst));
      return;
    }
    let done!: (p: string) => void;
    c.links.set(key, new Promise<string>((r) => (done = r)));
    try {
      await copyNode(root, src, st, dst, uid, gid, perm);
    } finally {
      done(dst);
    }
    return;
  }
  await copyNode(root, src, st, dst, uid, gid, perm);
}

/**
 * Creates `dst` as a copy of the non-directory `src` with the given owner and mode, and the source's times.
 * Regular files and symlinks use synchronous calls: for many small files they are several times faster than
 * Node's thread-pool round trips, and a step's copy is the only work in flight. A fifo or device whose path is
 * not UTF-8 is made under a plain temporary name in `root` (command arguments are UTF-8 strings) and renamed.
 */
async function copyNode(root: string, src: string, st: Stats, dst: string, uid: number, gid: number, perm: number): Promise<void> {
  const to = fsPath(dst);
  if (st.isSymbolicLink()) {
    symlinkSync(fsPath(readlinkNameSync(src)), to);
    lchownSync(to, uid, gid);
    lutimesSync(to, st.atime, st.mtime);
    return;
  }
  if (st.isSocket()) {
    // BuildKit sends the context with the socket type bit cleared and fsutil's copy makes the same stub: an empty
    // regular file with the socket's permissions.
    writeFileSync(to, '', { flag: 'wx' });
  } else if (st.isFile()) {
    copyFileSync(fsPath(src), to, constants.COPYFILE_FICLONE);
  }
  if (st.isFile() || st.isSocket()) {
    lchownSync(to, uid, gid);
    chmodSync(to, perm);
    utimesSync(to, st.atime, st.mtime);
    return;
  }
  const made = isPlainName(dst) ? dst : join(root, `.tsbuild-node-${process.pid}-${Date.now()}`);
  if (st.isFIFO()) {
    await execFileP('mkfifo', [made]);
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const major = Math.floor(st.rdev / 256) & 0xfff;
    const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
    await execFileP('mknod', [made, st.isCharacterDevice() ? 'c' : 'b', String(major), String(minor)]);
  } else {
    throw new TsbuildError('BUILD', `cannot copy ${showName(posix.basename(src))}: unsupported file type`, { hint: 'remove it from the source, or exclude it with --exclude or .dockerignore' });
  }
  if (made !== dst) await rename(made, to);
  await lchown(to, uid, gid);
  await chmod(to, perm);
  await utimes(to, st.atime, st.mtime);
}
