import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { chmodSync, constants, copyFileSync, lchownSync, lstatSync, lutimesSync, readlinkSync, symlinkSync, utimesSync, type Stats } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TsbuildError } from '../../layer-store/index.js';
import { scopedPath } from './scoped-path.js';

const execFileP = promisify(execFile);

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

export interface CopyIntoOptions {
  /** Owner of every copied entry and created directory; undefined keeps the source's owner. */
  readonly owner?: Owner | undefined;
  /** Default owner for directories this copy creates when `owner` is undefined (0:0). */
  readonly createdDirOwner?: Owner;
  /** Returns the mode bits (07777) for a copied entry; undefined keeps the source mode. */
  readonly chmod?: ((mode: number, isDir: boolean) => number) | undefined;
  /** Returns true for a source-relative path that must be skipped (COPY --exclude). */
  readonly exclude?: ((relPath: string, isDir: boolean) => boolean) | undefined;
}

/** One resolved COPY source: a host path plus the name it gets when copied into a directory. */
export interface CopySource {
  readonly hostPath: string;
  readonly name: string;
  readonly stat: Stats;
  /** Every entry below a directory source is copied (nothing excluded): allows the fast whole-tree copy. */
  readonly wholeTree?: boolean;
}

/**
 * Copies `sources` into the root filesystem at `root` (a merged overlay view) at container path `dest`, with
 * Docker's rules: a directory source copies its contents; several sources, or a dest ending in `/`, make dest a
 * directory; a single file onto an existing directory lands inside it. Container paths are resolved inside
 * `root` (symlinks never lead outside it). Returns the number of entries written.
 */
export async function copyIntoRootfs(root: string, sources: readonly CopySource[], dest: string, destIsDir: boolean, o: CopyIntoOptions): Promise<number> {
  const dirOwner = o.owner ?? o.createdDirOwner ?? { uid: 0, gid: 0 };
  const counter = newState();
  const single = sources.length === 1 ? sources[0] : undefined;
  if (single && !single.stat.isDirectory() && !destIsDir) {
    let target = await scopedPath(root, dest, true);
    const st = await lstat(target).catch(() => undefined);
    if (st?.isDirectory()) target = join(target, single.name);
    await mkdirAllScoped(root, posix.dirname(ctrOf(root, target)), dirOwner);
    await copyEntry(root, single.hostPath, single.stat, target, '', o, counter);
    return counter.n;
  }
  const existedBefore = await isNonEmptyDir(await scopedPath(root, dest, true));
  const destDir = await mkdirAllScoped(root, dest, dirOwner);
  for (const s of sources) {
    if (s.stat.isDirectory() && s.wholeTree && !existedBefore && sources.length === 1 && !o.chmod && !o.exclude) {
      await copyWholeTree(s.hostPath, destDir, o.owner);
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
    return (await readdir(p)).length > 0;
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
async function copyWholeTree(srcDir: string, dstDir: string, owner: Owner | undefined): Promise<void> {
  const args = ['-a', ...(owner ? ['--no-preserve=ownership'] : []), '--', `${srcDir}/.`, `${dstDir}/`];
  // cp -a gives dstDir the source dir's metadata; the destination keeps its own (BuildKit: created 0755).
  const before = await lstat(dstDir);
  try {
    await execFileP('cp', args, { maxBuffer: 16 * 1024 * 1024 });
    if (owner && (owner.uid !== 0 || owner.gid !== 0)) await execFileP('chown', ['-R', '-h', `${owner.uid}:${owner.gid}`, '--', dstDir]);
    await lchown(dstDir, before.uid, before.gid);
    await chmod(dstDir, before.mode & 0o7777);
    await utimes(dstDir, before.atime, before.mtime);
  } catch (e) {
    throw new TsbuildError('BUILD', `copying ${srcDir} failed: ${((e as { stderr?: string }).stderr ?? String(e)).trim().split('\n')[0]}`, { hint: 'check the source files are readable', cause: e });
  }
}

function ctrOf(root: string, hostPath: string): string {
  const rel = hostPath.slice(root.length);
  return rel === '' ? '/' : rel;
}

/** Creates the container directory `ctrDir` and its missing parents inside `root` (0755, `owner`); returns its host path. */
export async function mkdirAllScoped(root: string, ctrDir: string, owner: Owner): Promise<string> {
  const parts = posix.normalize('/' + ctrDir).split('/').filter(Boolean);
  let cur = root;
  for (const p of parts) {
    const next = join(cur, p);
    const st = await lstat(next).catch(() => undefined);
    if (st === undefined) {
      await mkdir(next, { mode: 0o755 });
      await chmod(next, 0o755);
      await lchown(next, owner.uid, owner.gid);
      cur = next;
    } else if (st.isSymbolicLink()) {
      cur = await scopedPath(root, ctrOf(root, next), true);
      const st2 = await lstat(cur).catch(() => undefined);
      if (!st2) {
        await mkdirAllScoped(root, ctrOf(root, cur), owner);
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
  const entries = await readdir(srcDir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await Promise.all(entries.map(async (e) => {
    const src = join(srcDir, e.name);
    const childRel = rel ? `${rel}/${e.name}` : e.name;
    if (o.exclude?.(childRel, e.isDirectory())) return;
    if (e.isDirectory()) {
      const st = await lstat(src);
      await copyEntry(root, src, st, join(dstDir, e.name), childRel, o, c, fresh);
    } else {
      await copyEntry(root, src, lstatSync(src), join(dstDir, e.name), childRel, o, c, fresh);
    }
  }));
}

async function copyEntry(root: string, src: string, st: Stats, dst: string, rel: string, o: CopyIntoOptions, c: CopyState, fresh = false): Promise<void> {
  let existing = fresh ? undefined : await lstat(dst).catch(() => undefined);
  if (existing?.isSymbolicLink() && st.isDirectory()) {
    // A directory copied onto a symlink follows it, inside the root (as BuildKit's scoped copy does).
    dst = await scopedPath(root, ctrOf(root, dst), true);
    existing = await lstat(dst).catch(() => undefined);
  }
  const uid = o.owner?.uid ?? st.uid;
  const gid = o.owner?.gid ?? st.gid;
  const perm = o.chmod ? o.chmod(st.mode & 0o7777, st.isDirectory()) : st.mode & 0o7777;
  c.n++;
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) {
      await rm(dst, { force: true });
      existing = undefined;
    }
    const created = !existing;
    if (created) await mkdir(dst);
    await copyDirContents(root, src, dst, rel, o, c, created);
    await lchown(dst, uid, gid);
    await chmod(dst, perm);
    await utimes(dst, st.atime, st.mtime);
    return;
  }
  if (existing) await rm(dst, { recursive: existing.isDirectory(), force: true });
  if (st.isFile() && st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = c.links.get(key);
    if (first) {
      await link(await first, dst);
      return;
    }
    let done!: (p: string) => void;
    c.links.set(key, new Promise<string>((r) => (done = r)));
    try {
      await copyNode(src, st, dst, uid, gid, perm);
    } finally {
      done(dst);
    }
    return;
  }
  await copyNode(src, st, dst, uid, gid, perm);
}

/**
 * Creates `dst` as a copy of the non-directory `src` with the given owner and mode, and the source's times.
 * Regular files and symlinks use synchronous calls: for many small files they are several times faster than
 * Node's thread-pool round trips, and a step's copy is the only work in flight.
 */
async function copyNode(src: string, st: Stats, dst: string, uid: number, gid: number, perm: number): Promise<void> {
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
    lchownSync(dst, uid, gid);
    lutimesSync(dst, st.atime, st.mtime);
    return;
  }
  if (st.isFile()) {
    copyFileSync(src, dst, constants.COPYFILE_FICLONE);
    lchownSync(dst, uid, gid);
    chmodSync(dst, perm);
    utimesSync(dst, st.atime, st.mtime);
    return;
  }
  if (st.isFIFO()) {
    await execFileP('mkfifo', [dst]);
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const major = Math.floor(st.rdev / 256) & 0xfff;
    const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
    await execFileP('mknod', [dst, st.isCharacterDevice() ? 'c' : 'b', String(major), String(minor)]);
  } else {
    throw new TsbuildError('BUILD', `cannot copy ${basename(src)}: unsupported file type`, { hint: 'sockets cannot be copied into an image' });
  }
  await lchown(dst, uid, gid);
  await chmod(dst, perm);
  await utimes(dst, st.atime, st.mtime);
}

/**
 * Returns a chmod function for `--chmod` (octal like `755`, or symbolic like `u+x,g-w`), as BuildKit accepts.
 * Throws a DOCKERFILE-level TsbuildError for an invalid value.
 */
export function parseChmod(spec: string): (mode: number, isDir: boolean) => number {
  if (/^[0-7]{1,4}$/.test(spec)) {
    const m = parseInt(spec, 8);
    return () => m;
  }
  const clauses = spec.split(',');
  const ops: { who: number; op: string; perm: string }[] = [];
  for (const cl of clauses) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(cl);
    if (!m) throw new TsbuildError('DOCKERFILE_BAD_FLAG', `invalid --chmod value ${JSON.stringify(spec)}`, { hint: 'use octal (e.g. 755) or symbolic (e.g. u+x,g-w) mode' });
    const who = m[1] ?? '';
    let mask = 0;
    for (const w of who === '' || who.includes('a') ? 'ugo' : who) mask |= w === 'u' ? 0o4700 : w === 'g' ? 0o2070 : 0o1007;
    ops.push({ who: mask, op: m[2]!, perm: m[3] ?? '' });
  }
  return (mode, isDir) => {
    let cur = mode;
    for (const { who, op, perm } of ops) {
      let bits = 0;
      for (const p of perm) {
        if (p === 'r') bits |= 0o444;
        else if (p === 'w') bits |= 0o222;
        else if (p === 'x') bits |= 0o111;
        else if (p === 'X') { if (isDir || (cur & 0o111) !== 0) bits |= 0o111; }
        else if (p === 's') bits |= 0o6000;
        else if (p === 't') bits |= 0o1000;
      }
      bits &= who;
      if (op === '+') cur |= bits;
      else if (op === '-') cur &= ~bits;
      else cur = (cur & ~who) | bits;
    }
    return cur & 0o7777;
  };
}
