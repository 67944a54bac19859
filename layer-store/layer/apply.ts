/**
 * Layer → directory, safe against hostile archives.
 *
 * Path policy (the whole of it):
 * - Names are relative. A leading `./` is dropped; an absolute name (`/etc/passwd`) is REJECTED rather than
 *   silently stripped as GNU tar does: no layer written by a real builder has one, so it is a red flag.
 * - A `..` component anywhere in a name or a hardlink target is rejected.
 * - Parent directories are resolved component by component with chroot semantics: a symlink found on the way
 *   (from a lower layer or planted earlier in this tar) is followed as if `target` were `/`, so `var/run -> /run`
 *   works as it does inside the container. A symlink whose `..` would climb above the target is rejected
 *   (`symlink-escape`). The final component is never followed: an existing object there is removed first and
 *   files are created with O_CREAT|O_EXCL|O_NOFOLLOW.
 * - Hardlink targets are resolved the same way, must exist inside the target and must not be directories.
 * - Character/block devices only with `allowDevices` (default: running as root).
 * - Body sizes must match their headers (the decoder fails on a short body), and the uncompressed stream is
 *   capped at `maxUncompressedBytes`.
 * On failure, what was already applied stays in `target` (apply into a fresh directory and rename it when
 * you need all-or-nothing, as the store's snapshots do); nothing is ever written outside it.
 * The per-entry name, xattr and device-node rules live in apply-entry.ts.
 *
 * Metadata calls (lstat, mkdir, symlink, link, lchown, chmod, utimes) and small files are synchronous: a
 * thread-pool round trip per call cost ~0.4 s of a cold build's busybox base (~400 entries, 270 symlinks, each
 * lstat of its path, lstat, symlink, lchown, lutimes); large bodies and whole-tree removals stay asynchronous.
 */
import { constants as fsc, openSync, writevSync, fchownSync, fchmodSync, futimesSync, closeSync, lstatSync, chmodSync, lchownSync, linkSync, lutimesSync, mkdirSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DigestMismatchError, fsPath, inUserNamespace, overlayXattrPrefix, quoteName, throwIfAborted } from '../core/index.js';
import type { ApplyOptions, ApplyResult } from './apply-options.js';
import { checkedXattrs, enoent, entryParts, isRoot, mknod, unmappedOwner } from './apply-entry.js';
import { DEFAULT_MAX_UNCOMPRESSED, decompressed } from './compression.js';
import { readdirNames, readlinkNameSync } from './fs-names.js';
import { InvalidLayerError, UnsafeLayerEntryError, layerEntryError } from './errors.js';
import type { TarHeader } from './tar-format.js';
import { TarReader } from './tar-reader.js';
import { writeXattrs } from './xattr.js';

/** Files up to this size are written with synchronous calls in one go. */
const SMALL_FILE = 1 << 20;

export type { ApplyOptions, ApplyResult } from './apply-options.js';

const MAX_SYMLINK_HOPS = 40;
const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** One apply run: the target, the per-run caches and the deferred work. */
class Applier {
  readonly #target: string;
  readonly #o: ApplyOptions;
  readonly #chown: boolean;
  readonly #allowDevices: boolean;
  /** Resolved real directory (absolute) for a relative directory name; cleared whenever the tree's shape changes. */
  #dirs = new Map<string, string>();
  /** Absolute paths created or written by this layer (kept by an opaque marker). */
  #written = new Set<string>();
  #dirTimes: [string, number][] = [];
  #xattrs = new Map<string, Map<string, Buffer>>();

  constructor(target: string, o: ApplyOptions) {
    this.#target = target;
    this.#o = o;
    this.#chown = o.chown ?? isRoot();
    this.#allowDevices = o.allowDevices ?? isRoot();
  }

  /**
   * Returns the real absolute path of the directory named by `parts` (relative to the target), following
   * symlinks with the target as root and creating missing directories (0755) when `create`.
   * Returns undefined when a component is missing and !create.
   */
  async resolveDir(parts: readonly string[], entry: string, create: boolean, reason: 'symlink-escape' | 'hardlink-escape'): Promise<string | undefined> {
    const key = parts.join('/');
    const hit = this.#dirs.get(key);
    if (hit !== undefined) return hit;
    const cur: string[] = [];
    const queue = [...parts];
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (cur.length === 0) throw new UnsafeLayerEntryError(entry, reason, 'a symlink on its path points outside the target directory');
        cur.pop();
        continue;
      }
      const p = join(this.#target, ...cur, c);
      let st;
      try {
        st = lstatSync(fsPath(p));
      } catch (e) {
        if (!enoent(e)) throw e;
        if (!create) return undefined;
        mkdirSync(fsPath(p), { mode: 0o755 });
        this.#written.add(p);
        cur.push(c);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeLayerEntryError(entry, reason, 'too many levels of symbolic links');
        const l = readlinkNameSync(p);
        if (l.startsWith('/')) cur.length = 0;
        queue.unshift(...l.split('/'));
        continue;
      }
      if (!st.isDirectory()) {
        throw new InvalidLayerError(`entry ${quoteName(entry)}: parent ${quoteName([...cur, c].join('/'))} is not a directory`);
      }
      this.#written.add(p);
      cur.push(c);
    }
    const real = join(this.#target, ...cur);
    this.#dirs.set(key, real);
    return real;
  }

  /** Removes whatever is at `p` (not following symlinks); a directory is removed only when `keepDir` is false. */
  async clear(p: string, keepDir: boolean): Promise<boolean> {
    let st;
    try {
      st = lstatSync(fsPath(p));
    } catch (e) {
      if (enoent(e)) return false;
      throw e;
    }
    if (st.isDirectory()) {
      if (keepDir) return true;
      await rm(fsPath(p), { recursive: true, force: true }); // a whole tree: off the event loop
      this.#dirs.clear();
      return false;
    }
    rmSync(fsPath(p), { force: true });
    if (st.isSymbolicLink()) this.#dirs.clear();
    return false;
  }

  async meta(p: string, h: TarHeader, isLink: boolean): Promise<void> {
    if (this.#chown) {
      const uid = this.#o.owner?.uid ?? h.uid;
      const gid = this.#o.owner?.gid ?? h.gid;
      try {
        lchownSync(fsPath(p), uid, gid);
      } catch (e) {
        throw unmappedOwner(e, h.name, uid, gid);
      }
    }
    if (!isLink) chmodSync(fsPath(p), h.mode & 0o7777);
    if (h.xattrs && h.xattrs.size > 0 && this.#o.xattrs !== false) this.#xattrs.set(p, checkedXattrs(h));
  }

  async entry(h: TarHeader, r: TarReader): Promise<void> {
    const parts = entryParts(h.name);
    if (parts.length === 0) {
      // the root itself ("./"): take its metadata only
      if (h.type === 'dir' && this.#o.rootEntry !== 'skip') {
        await this.meta(this.#target, h, false);
        this.#dirTimes.push([this.#target, h.mtime]);
      }
      return;
    }
    const base = parts[parts.length - 1]!;
    const dir = await this.resolveDir(parts.slice(0, -1), h.name, true, 'symlink-escape');
    if (dir === undefined) throw new InvalidLayerError(`cannot create the parent of ${quoteName(h.name)}`);
    const dest = join(dir, base);

    if (base.startsWith(WH)) {
      await this.whiteout(dir, base, h);
      return;
    }
    this.#written.add(dest);
    switch (h.type) {
      case 'dir': {
        if (!(await this.clear(dest, true))) mkdirSync(fsPath(dest), { mode: 0o700 });
        await this.meta(dest, h, false);
        this.#dirs.set(parts.join('/'), dest);
        this.#dirTimes.push([dest, h.mtime]);
        return;
      }
      case 'file': {
        await this.clear(dest, false);
        if (h.size <= SMALL_FILE) {
          // Small files: gather the body, then create, write, own and stamp it with synchronous calls (several
          // times cheaper than thread-pool round trips per file; the bytes are already in memory).
          const chunks: Buffer[] = [];
          for await (const c of r.body()) chunks.push(c);
          const fd = openSync(fsPath(dest), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
          try {
            if (chunks.length > 0) writevSync(fd, chunks);
            if (this.#chown) {
              const uid = this.#o.owner?.uid ?? h.uid;
              const gid = this.#o.owner?.gid ?? h.gid;
              try {
                fchownSync(fd, uid, gid);
              } catch (e) {
                throw unmappedOwner(e, h.name, uid, gid);
              }
            }
            fchmodSync(fd, h.mode & 0o7777);
            futimesSync(fd, h.mtime, h.mtime);
          } finally {
            closeSync(fd);
          }
          if (h.xattrs && h.xattrs.size > 0 && this.#o.xattrs !== false) this.#xattrs.set(dest, checkedXattrs(h));
          return;
        }
        const fh = await open(fsPath(dest), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
        try {
          // One write stays in flight while the next megabyte is decompressed and parsed (double buffering).
          let pending: Buffer[] = [];
          let plen = 0;
          let inflight: Promise<unknown> | undefined;
          for await (const c of r.body()) {
            pending.push(c);
            plen += c.length;
            if (plen >= 1 << 20) {
              await inflight;
              inflight = fh.writev(pending);
              pending = [];
              plen = 0;
            }
          }
          await inflight;
          if (plen > 0) await fh.writev(pending);
        } finally {
          await fh.close();
        }
        await this.meta(dest, h, false);
        utimesSync(fsPath(dest), h.mtime, h.mtime);
        return;
      }
      case 'symlink': {
        if ((h.linkname ?? '').includes('\0')) throw new UnsafeLayerEntryError(h.name, 'bad-name', 'symlink target contains a NUL byte');
        await this.clear(dest, false);
        symlinkSync(fsPath(h.linkname ?? ''), fsPath(dest));
        this.#dirs.clear();
        await this.meta(dest, h, true);
        lutimesSync(fsPath(dest), h.mtime, h.mtime);
        return;
      }
      case 'link': {
        const lparts = entryParts(h.linkname ?? '', 'hardlink', h.name);
        if (lparts.length === 0) throw new UnsafeLayerEntryError(h.name, 'hardlink-target', 'hardlink to the root directory');
        const ldir = await this.resolveDir(lparts.slice(0, -1), h.name, false, 'hardlink-escape');
        const src = ldir === undefined ? undefined : join(ldir, lparts[lparts.length - 1]!);
        const st = src === undefined ? undefined : lstatSync(fsPath(src), { throwIfNoEntry: false });
        if (src === undefined || st === undefined) {
          throw new UnsafeLayerEntryError(h.name, 'hardlink-target', `hardlink target ${quoteName(h.linkname ?? '')} does not exist in the target`);
        }
        if (st.isDirectory()) throw new UnsafeLayerEntryError(h.name, 'hardlink-target', 'hardlink to a directory');
        if (src === dest) return;
        await this.clear(dest, false);
        linkSync(fsPath(src), fsPath(dest));
        return;
      }
      case 'char':
      case 'block': {
        if (!this.#allowDevices) throw new UnsafeLayerEntryError(h.name, 'device', `${h.type} device ${h.devmajor}:${h.devminor} not allowed (not root, or allowDevices is false)`);
        // Rootless (a user namespace) cannot make device nodes: a snapshot leaves them out, as Podman and moby
        // do (a RUN step gets /dev from the runtime, and layer digests come from the blob, not the snapshot).
        if (this.#o.whiteouts === 'overlay' && inUserNamespace() && !(h.type === 'char' && !h.devmajor && !h.devminor)) return;
        await this.clear(dest, false);
        await mknod(dest, h.type === 'char' ? 'c' : 'b', h.devmajor ?? 0, h.devminor ?? 0, 0o600, this.#target);
        await this.meta(dest, h, false);
        utimesSync(fsPath(dest), h.mtime, h.mtime);
        return;
      }
      case 'fifo': {
        await this.clear(dest, false);
        await mknod(dest, 'p', 0, 0, 0o600, this.#target);
        await this.meta(dest, h, false);
        utimesSync(fsPath(dest), h.mtime, h.mtime);
        return;
      }
    }
  }

  async whiteout(dir: string, base: string, h: TarHeader): Promise<void> {
    const overlay = this.#o.whiteouts === 'overlay';
    if (base === OPAQUE) {
      if (overlay) {
        const m = this.#xattrs.get(dir) ?? new Map<string, Buffer>();
        m.set(`${overlayXattrPrefix()}opaque`, Buffer.from('y'));
        this.#xattrs.set(dir, m);
        return;
      }
      for (const n of await readdirNames(dir)) {
        const p = join(dir, n);
        if (!this.#written.has(p)) await rm(fsPath(p), { recursive: true, force: true });
      }
      this.#dirs.clear();
      return;
    }
    if (base.startsWith(`${WH}${WH}`)) return; // other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): ignored
    const victim = base.slice(WH.length);
    if (victim === '' || victim === '.' || victim === '..') throw new UnsafeLayerEntryError(h.name, 'whiteout', 'whiteout of an invalid name');
    const p = join(dir, victim);
    if (overlay) {
      if (!isRoot()) throw new UnsafeLayerEntryError(h.name, 'device', 'overlay whiteouts are 0/0 character devices and need root');
      await this.clear(p, false);
      await mknod(p, 'c', 0, 0, 0o000, this.#target);
      this.#written.add(p);
      return;
    }
    if (!this.#written.has(p)) {
      await rm(fsPath(p), { recursive: true, force: true });
      this.#dirs.clear();
    }
  }

  /**
   * Returns the kind of object at absolute path `p` (inside the target) when every directory on the way to it
   * is still a real directory, else undefined. Deferred work re-checks its paths with this because a later
   * entry may have replaced a parent directory with a symlink: `d/`, `d/x/`, then `d -> /` would otherwise
   * make the deferred utimes/setfattr of `d/x` land on the host's `/x` (both follow intermediate symlinks).
   */
  #stillInside(p: string): 'dir' | 'symlink' | 'other' | undefined {
    if (p === this.#target) return 'dir';
    if (!p.startsWith(this.#target + '/')) return undefined;
    let cur = this.#target;
    const parts = p.slice(this.#target.length + 1).split('/');
    for (let i = 0; i < parts.length; i++) {
      cur = join(cur, parts[i]!);
      let st;
      try {
        st = lstatSync(fsPath(cur));
      } catch (e) {
        if (enoent(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw e;
      }
      if (i === parts.length - 1) return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
      if (!st.isDirectory()) return undefined;
    }
    return undefined;
  }

  /** Deferred work: xattrs (after chown, which clears security.capability), then directory mtimes. */
  async finish(): Promise<void> {
    if (this.#xattrs.size > 0) {
      const safe = [...this.#xattrs].filter(([p]) => this.#stillInside(p) !== undefined);
      await writeXattrs(safe, this.#o.signal);
    }
    for (let i = this.#dirTimes.length - 1; i >= 0; i--) {
      const [p, t] = this.#dirTimes[i]!;
      if (this.#stillInside(p) !== 'dir') continue; // replaced since (by a file, a symlink, a whiteout)
      try {
        utimesSync(fsPath(p), t, t);
      } catch (e) {
        if (!enoent(e)) throw e;
      }
    }
  }
}

/**
 * Applies the layer `tar` (gzip, zstd or plain, autodetected) onto `target` (which must exist) and returns its
 * diffID, computed over every uncompressed byte while applying. Hostile entries throw UnsafeLayerEntryError;
 * truncated or corrupt archives throw InvalidLayerError. See the file comment for the exact policy.
 */
export async function applyLayer(tar: Readable, target: string, o: ApplyOptions = {}): Promise<ApplyResult> {
  throwIfAborted(o.signal);
  const st = lstatSync(target);
  if (!st.isDirectory()) throw new InvalidLayerError(`apply target ${target} is not a directory`);
  const reader = new TarReader(decompressed(tar, o.signal), { maxBytes: o.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED, end: o.end });
  const a = new Applier(target, o);
  let entries = 0;
  try {
    for (;;) {
      const h = await reader.next();
      if (h === null) break;
      if (++entries % 256 === 0) {
        throwIfAborted(o.signal);
        o.events?.({ type: 'transfer', id: o.id ?? target, op: 'unpack', current: reader.digest().size });
      }
      try {
        await a.entry(h, reader);
      } catch (e) {
        throw layerEntryError(e, h.name);
      }
    }
    try {
      await a.finish();
    } catch (e) {
      throw layerEntryError(e, '(directory times and xattrs)');
    }
  } finally {
    tar.destroy();
    await reader.close();
  }
  const { digest, size } = reader.digest();
  if (o.expectDiffId !== undefined && digest !== o.expectDiffId) throw new DigestMismatchError(o.expectDiffId, digest, size);
  return { diffId: digest, uncompressedSize: size, entries };
}
