/**
 * A stage's root filesystem as a plain directory (chroot isolation: no overlay mount). `materialiseRootfs`
 * merges overlay-style lower dirs (the store's snapshots: whiteouts are 0/0 character devices, opaque dirs carry
 * `trusted.overlay.opaque=y`) into an empty directory, bottom layer first, as overlayfs would show them.
 *
 * Never a hard link into a lower dir: a step running as root may write any file it sees in place (an append to
 * /etc/passwd keeps the inode), and a linked file would carry that write into the shared snapshot. Regular files
 * are cloned where the filesystem can (FICLONE: a reflink, copy-on-write, on btrfs and XFS) and copied otherwise;
 * hard links within one lower dir stay hard links in the copy. Mode, owner, times and xattrs (trusted.overlay.*
 * excepted) are kept. Synchronous fs calls, a turn of the event loop every 64 directories.
 */
import { chmodSync, constants, copyFileSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, rmSync, symlinkSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fsPath, throwIfAborted, type CommandRunner } from '../core/index.js';
import { mknod } from './apply-entry.js';
import { readdirNamesSync, readlinkNameSync } from './fs-names.js';
import { readXattrTree, writeXattrs } from './xattr.js';

export interface MaterialiseOptions {
  readonly signal?: AbortSignal | undefined;
  /** Forks getfattr (a ShellRunner); default: spawned by this process. */
  readonly commands?: CommandRunner | undefined;
}

/** The counts of what materialiseRootfs made. */
export interface MaterialiseResult {
  readonly files: number;
  /** Regular files cloned or copied (the rest of `files` are dirs, links, devices, fifos). */
  readonly copied: number;
}

function lstatOrUndefined(p: string): Stats | undefined {
  return lstatSync(fsPath(p), { throwIfNoEntry: false });
}

/**
 * Fills the empty directory `target` with the merged view of `lower` (top first, overlay lowerdir order),
 * never linking to them (see the header). Returns counts.
 */
export async function materialiseRootfs(lower: readonly string[], target: string, o: MaterialiseOptions = {}): Promise<MaterialiseResult> {
  let files = 0;
  let copied = 0;
  /** rel → the lower dir whose copy of that directory is on top (its metadata wins). */
  const dirMeta = new Map<string, { st: Stats; xattrs: Map<string, Buffer> | undefined }>();
  /** Drops the directory `r` and everything below it from dirMeta (it was removed from the target). */
  const forget = (r: string): void => {
    dirMeta.delete(r);
    for (const k of [...dirMeta.keys()]) if (k.startsWith(`${r}/`)) dirMeta.delete(k);
  };
  // A repeated dir (two identical steps) counts once, at its topmost place, as for the overlay mount.
  const layers = [...new Set(lower)].reverse();
  for (const layer of layers) {
    const table = await readXattrTree(layer, o.signal, o.commands);
    const xattrsOf = (abs: string): Map<string, Buffer> | undefined => {
      const m = table.get(abs);
      if (!m) return undefined;
      const keep = new Map([...m].filter(([k]) => !k.startsWith('trusted.overlay.')));
      return keep.size ? keep : undefined;
    };
    const fileXattrs: [string, Map<string, Buffer>][] = [];
    const links = new Map<string, string>(); // dev:ino in this layer → the copy's path
    let dirs = 0;
    const visit = async (srcDir: string, rel: string): Promise<void> => {
      throwIfAborted(o.signal);
      if (++dirs % 64 === 0) await yieldToLoop();
      for (const n of readdirNamesSync(srcDir)) {
        const src = join(srcDir, n);
        const r = rel === '' ? n : `${rel}/${n}`;
        const dst = join(target, r);
        const st = lstatSync(fsPath(src));
        const have = lstatOrUndefined(dst);
        if (st.isCharacterDevice() && st.rdev === 0) {
          if (have) {
            rmSync(fsPath(dst), { recursive: true, force: true });
            forget(r);
          }
          continue;
        }
        if (st.isDirectory()) {
          const opaque = table.get(src)?.get('trusted.overlay.opaque')?.toString() === 'y';
          if (have && (!have.isDirectory() || opaque)) rmSync(fsPath(dst), { recursive: true, force: true });
          if (!have || !have.isDirectory() || opaque) {
            mkdirSync(fsPath(dst), { mode: 0o700 });
            forget(r);
          }
          dirMeta.set(r, { st, xattrs: xattrsOf(src) });
          files++;
          await visit(src, r);
          continue;
        }
        if (have) {
          if (have.isDirectory()) {
            rmSync(fsPath(dst), { recursive: true, force: true });
            forget(r);
          } else unlinkSync(fsPath(dst));
        }
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        files++;
        if (first !== undefined) {
          linkSync(fsPath(first), fsPath(dst));
          continue;
        }
        if (st.isFile()) {
          copyFileSync(fsPath(src), fsPath(dst), constants.COPYFILE_FICLONE);
          copied++;
        } else if (st.isSymbolicLink()) symlinkSync(fsPath(readlinkNameSync(src)), fsPath(dst));
        else if (st.isCharacterDevice() || st.isBlockDevice()) {
          await mknod(dst, st.isCharacterDevice() ? 'c' : 'b', Math.floor(st.rdev / 256) & 0xfff, (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00)), 0o600, target);
        } else if (st.isFIFO()) await mknod(dst, 'p', 0, 0, 0o600, target);
        else continue; // a socket: never in a layer
        if (st.nlink > 1) links.set(key, dst);
        lchownSync(fsPath(dst), st.uid, st.gid);
        if (!st.isSymbolicLink()) chmodSync(fsPath(dst), st.mode & 0o7777);
        lutimesSync(fsPath(dst), st.atime, st.mtime);
        const x = xattrsOf(src);
        if (x) fileXattrs.push([dst, x]);
      }
    };
    await visit(layer, '');
    await writeXattrs(fileXattrs, o.signal);
  }
  // Directory metadata last, deepest first (making entries in a directory moves its mtime).
  const dirXattrs: [string, Map<string, Buffer>][] = [];
  for (const [r, m] of [...dirMeta].reverse()) {
    const p = fsPath(join(target, r));
    lchownSync(p, m.st.uid, m.st.gid);
    chmodSync(p, m.st.mode & 0o7777);
    lutimesSync(p, m.st.atime, m.st.mtime);
    if (m.xattrs) dirXattrs.push([join(target, r), m.xattrs]);
  }
  await writeXattrs(dirXattrs, o.signal);
  return { files, copied };
}
