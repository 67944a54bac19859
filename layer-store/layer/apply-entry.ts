/**
 * The entry-level rules of apply (apply.ts), each a small unit: which tar names are acceptable at all
 * (entryParts: relative, no NUL, no `..`), which xattrs can exist on Linux (checkedXattrs), and how device nodes,
 * fifos and overlay whiteouts are made (mknod, through coreutils), what a failed chown means (unmappedOwner). Rejections are UnsafeLayerEntryError or
 * InvalidLayerError naming the entry; nothing here resolves paths against the target (apply.ts does, with
 * chroot semantics).
 */
import { execFile } from 'node:child_process';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { freeSubordinateRange, fsPath, inUserNamespace, isMappedId, isPlainName, mappedIdCount, quoteName } from '../core/index.js';
import { InvalidLayerError, LayerToolError, UnmappedIdError, UnsafeLayerEntryError } from './errors.js';
import type { TarHeader } from './tar-format.js';

/** True when this process runs as root (the default for chown and device nodes). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Returns the components of a tar name; throws UnsafeLayerEntryError for absolute names and `..`. */
export function entryParts(name: string, what: 'entry' | 'hardlink' = 'entry', entry = name): string[] {
  const shown = what === 'entry' ? '' : ` ${quoteName(name.slice(0, 200))}`;
  if (name.includes('\0')) throw new UnsafeLayerEntryError(entry, 'bad-name', `${what} name contains a NUL byte`);
  if (name.startsWith('/')) {
    throw new UnsafeLayerEntryError(entry, what === 'entry' ? 'absolute-path' : 'hardlink-escape', `absolute ${what === 'entry' ? 'path' : 'hardlink target'}${shown}`);
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new UnsafeLayerEntryError(entry, what === 'entry' ? 'dot-dot' : 'hardlink-escape', `'..' in ${what === 'entry' ? 'path' : 'hardlink target'}${shown}`);
  }
  return parts;
}

/** True for a missing-file error. */
export function enoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Creates a device node or fifo at `path` with coreutils mknod. A name that is not UTF-8 cannot be a command
 * argument (arguments are strings, written as UTF-8), so such a node is made under a plain temporary name in the
 * directory `plainDir` (on the same file system, with a plain path) and renamed to its bytes.
 */
export async function mknod(path: string, type: 'c' | 'b' | 'p', major: number, minor: number, mode: number, plainDir: string): Promise<void> {
  if (isPlainName(path)) return mknodPlain(path, type, major, minor, mode);
  const tmp = join(plainDir, `.tsbuild-mknod-${process.pid}-${Date.now()}`);
  await mknodPlain(tmp, type, major, minor, mode);
  await rename(tmp, fsPath(path));
}

function mknodPlain(path: string, type: 'c' | 'b' | 'p', major: number, minor: number, mode: number): Promise<void> {
  const args = ['-m', (mode & 0o7777).toString(8), '--', path, type];
  if (type !== 'p') args.push(String(major), String(minor));
  return new Promise((resolve, reject) => {
    execFile('mknod', args, (err, _o, stderr) => {
      if (err) reject(new LayerToolError('mknod', `${path}: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

/** Linux xattr limits: a name is `namespace.rest` (≤ 255 bytes), a value ≤ 64 KiB (XATTR_NAME_MAX, XATTR_SIZE_MAX). */
const XATTR_NAME = /^(user|trusted|security|system)\.[^\0]+$/;

/**
 * Returns the entry's xattrs after checking they can exist on Linux at all; a name without a known namespace,
 * or over the limits, is InvalidLayerError here (instead of a setfattr failure after the whole layer was applied).
 */
export function checkedXattrs(h: TarHeader): Map<string, Buffer> {
  for (const [k, v] of h.xattrs ?? []) {
    if (!XATTR_NAME.test(k) || Buffer.byteLength(k) > 255 || v.length > 65536) {
      throw new InvalidLayerError(`entry ${JSON.stringify(h.name.slice(0, 200))}: invalid extended attribute ${JSON.stringify(k.slice(0, 80))} (${v.length} bytes)`);
    }
  }
  return new Map(h.xattrs);
}

/**
 * Returns the error for a chown of `entry` to uid:gid that failed with `e`: in a user namespace, an EINVAL means
 * an id the namespace does not map (UnmappedIdError, with the fix); else `e` unchanged.
 */
export function unmappedOwner(e: unknown, entry: string, uid: number, gid: number): unknown {
  if ((e as NodeJS.ErrnoException | undefined)?.code !== 'EINVAL' || !inUserNamespace()) return e;
  const kind = isMappedId('uid', uid) ? 'gid' : 'uid';
  const id = kind === 'uid' ? uid : gid;
  const mapped = mappedIdCount(kind);
  const user = process.env['USER'] && process.env['USER'] !== 'root' ? process.env['USER'] : 'USER';
  return new UnmappedIdError(entry, { uid, gid, kind, id, mapped, user, range: freeSubordinateRange(id - mapped + 1) });
}
