import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, readdir, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
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
}

/**
 * Copies `sources` into the root filesystem at `root` (a merged overlay view) at container path `dest`, with
 * Docker's rules: a directory source copies its contents; several sources, or a dest ending in `/`, make dest a
 * directory; a single file onto an existing directory lands inside it. Container paths are resolved inside
 * `root` (symlinks never lead outside it). Returns the number of entries written.
 */
export async function copyIntoRootfs(root: string, sources: readonly CopySource[], dest: string, destIsDir: boolean, o: CopyIntoOptions): Promise<number> {
  const dirOwner = o.owner ?? o.createdDirOwner ?? { uid: 0, gid: 0 };
  const counter = { n: 0, links: new Map<string, string>() };
  const single = sources.length === 1 ? sources[0] : undefined;
  if (single && !single.stat.isDirectory() && !destIsDir) {
    let target = await scopedPath(root, dest, true);
    const st = await lstat(target).catch(() => undefined);
    if (st?.isDirectory()) target = join(target, single.name);
    await mkdirAllScoped(root, posix.dirname(ctrOf(root, target)), dirOwner);
    await copyEntry(root, single.hostPath, single.stat, target, '', o, counter);
    return counter.n;
  }
  const destDir = await mkdirAllScoped(root, dest, dirOwner);
  for (const s of sources) {
    if (s.stat.isDirectory()) {
      await copyDirContents(root, s.hostPath, destDir, '', o, counter);
    } else {
      await copyEntry(root, s.hostPath, s.stat, join(destDir, s.name), s.name, o, counter);
    }
  }
  return counter.n;
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

async function copyDirContents(root: string, srcDir: string, dstDir: string, rel: string, o: CopyIntoOptions, c: { n: number; links: Map<string, string> }): Promise<void> {
  const names = (await readdir(srcDir)).sort();
  for (const name of names) {
    const src = join(srcDir, name);
    const st = await lstat(src);
    const childRel = rel ? `${rel}/${name}` : name;
    if (o.exclude?.(childRel, st.isDirectory())) continue;
    await copyEntry(root, src, st, join(dstDir, name), childRel, o, c);
  }
}

async function copyEntry(root: string, src: string, st: Stats, dst: string, rel: string, o: CopyIntoOptions, c: { n: number; links: Map<string, string> }): Promise<void> {
  let existing = await lstat(dst).catch(() => undefined);
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
    if (!existing) await mkdir(dst);
    await copyDirContents(root, src, dst, rel, o, c);
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
      await link(first, dst);
      return;
    }
    c.links.set(key, dst);
  }
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dst);
    await lchown(dst, uid, gid);
    await lutimes(dst, st.atime, st.mtime);
    return;
  }
  if (st.isFile()) {
    await copyFile(src, dst, constants.COPYFILE_FICLONE);
  } else if (st.isFIFO()) {
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
