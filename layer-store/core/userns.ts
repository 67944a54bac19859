/**
 * Whether this process runs in a user namespace (rootless mode, cli/rootless.ts), and the names that change with
 * it: overlayfs's xattr prefix and runc's state root. Read once from /proc/self/uid_map; the answer cannot change
 * while the process lives.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from './errors.js';

/** The uid map of the initial user namespace: every uid maps to itself. */
const INITIAL_UID_MAP = /^\s*0\s+0\s+4294967295\s*$/;

let cached: boolean | undefined;

/** Returns true when this process is in a user namespace other than the initial one (a missing map counts as not). */
export function inUserNamespace(): boolean {
  if (cached === undefined) {
    try {
      cached = !INITIAL_UID_MAP.test(readFileSync('/proc/self/uid_map', 'utf8'));
    } catch {
      cached = false;
    }
  }
  return cached;
}

/** One line of /proc/self/uid_map or gid_map: `count` ids from `inner` are `outer` in the parent namespace. */
export interface IdMapLine { readonly inner: number; readonly outer: number; readonly count: number }

const idMaps = new Map<'uid' | 'gid', IdMapLine[]>();

/** Returns this process's uid or gid map (/proc/self/uid_map, gid_map), read once; [] when unreadable. */
export function idMapOf(kind: 'uid' | 'gid'): IdMapLine[] {
  let m = idMaps.get(kind);
  if (!m) {
    try {
      m = readFileSync(`/proc/self/${kind}_map`, 'utf8').split('\n').map((l) => l.trim().split(/\s+/).map(Number))
        .filter((f) => f.length === 3 && f.every((n) => Number.isFinite(n))).map(([inner, outer, count]) => ({ inner: inner!, outer: outer!, count: count! }));
    } catch {
      m = [];
    }
    idMaps.set(kind, m);
  }
  return m;
}

/** Whether `id` is a uid (gid) of this user namespace, i.e. within one line of its map. */
export function isMappedId(kind: 'uid' | 'gid', id: number): boolean {
  return idMapOf(kind).some((l) => id >= l.inner && id - l.inner < l.count);
}

/** How many uids (gids) this user namespace maps. */
export function mappedIdCount(kind: 'uid' | 'gid'): number {
  return idMapOf(kind).reduce((n, l) => n + l.count, 0);
}

/**
 * Returns a range of at least `count` ids (rounded up to 65536) that starts past every range in /etc/subuid and
 * /etc/subgid, as `start-end` for `usermod --add-subuids`.
 */
export function freeSubordinateRange(count: number): string {
  let start = 100000;
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) {
      const [, s, c] = l.trim().split(':');
      if (/^\d+$/.test(s ?? '') && /^\d+$/.test(c ?? '')) start = Math.max(start, Number(s) + Number(c));
    }
  }
  const n = Math.ceil(Math.max(count, 1) / 65536) * 65536;
  return `${start}-${start + n - 1}`;
}

/**
 * Returns overlayfs's xattr prefix here: `user.overlay.` in a user namespace (the mount has the `userxattr`
 * option, since `trusted.*` needs CAP_SYS_ADMIN in the initial namespace), else `trusted.overlay.`.
 */
export function overlayXattrPrefix(): 'user.overlay.' | 'trusted.overlay.' {
  return inUserNamespace() ? 'user.overlay.' : 'trusted.overlay.';
}

/** How overlays are mounted: the kernel's overlayfs, or fuse-overlayfs (Podman's `mount_program`). */
export type OverlayProgram = 'kernel' | 'fuse-overlayfs';

/** The values of TSBUILD_OVERLAY: unset (or `auto`) lets tsbuild choose. */
const OVERLAY_CHOICES = ['auto', 'kernel', 'fuse-overlayfs'] as const;

/**
 * Returns the overlay program TSBUILD_OVERLAY asks for, or 'auto' when it is unset, empty or `auto`; throws a
 * USAGE error naming any other value.
 */
export function requestedOverlayProgram(env: NodeJS.ProcessEnv = process.env): OverlayProgram | 'auto' {
  const v = env['TSBUILD_OVERLAY'] ?? '';
  if (v === '') return 'auto';
  if (!(OVERLAY_CHOICES as readonly string[]).includes(v)) {
    throw new TsbuildError('USAGE', `TSBUILD_OVERLAY=${v} is not an overlay program`, { hint: `use one of ${OVERLAY_CHOICES.join(', ')}` });
  }
  return v as OverlayProgram | 'auto';
}

let fuseUppers = false;

/**
 * Records that this process mounts its overlays with fuse-overlayfs (runtime-exec decides, once per process),
 * so that upper dirs are read in fuse-overlayfs's format: `user.fuseoverlayfs.opaque`, `.wh..wh..opq` files.
 */
export function noteFuseOverlayfsUppers(): void {
  fuseUppers = true;
}

/** Whether this process's overlay upper dirs are written by fuse-overlayfs (see noteFuseOverlayfsUppers). */
export function fuseOverlayfsUppers(): boolean {
  return fuseUppers;
}

/**
 * Returns runc's default state root (what `runc` without `--root` uses), by runc's own rule: /run/runc, except
 * `$XDG_RUNTIME_DIR/runc` for a user, which in a user namespace means $USER set and not root.
 */
export function runcStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  const user = env['USER'];
  const honour = process.geteuid?.() !== 0 || (inUserNamespace() && user !== undefined && user !== '' && user !== 'root');
  return xdg && honour ? join(xdg, 'runc') : '/run/runc';
}
