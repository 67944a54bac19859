import { existsSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { type CommandRunner, inUserNamespace, noteFuseOverlayfsUppers, type OverlayProgram, requestedOverlayProgram } from '../layer-store/core/index.js';
import { ContainerStartError } from './errors.js';
import { execCapture } from './exec.js';
import { isFuseOverlay, mountFuseOverlay, reapFuseOverlay } from './fuse-overlay.js';

/**
 * mount(8) and umount(8) as static busybox applets when busybox-static is installed (setup installs it): the
 * util-linux binaries load libmount, libselinux, libblkid, pcre2 and the locale first, ~1.2 ms more per call,
 * and a build step mounts and unmounts once or twice. Both only pass our options to the mount system call.
 */
const BUSYBOX = '/bin/busybox';
function mountTool(name: 'mount' | 'umount'): { cmd: string; args: string[] } {
  return existsSync(BUSYBOX) ? { cmd: BUSYBOX, args: [name] } : { cmd: name, args: [] };
}
/** umount's messages (util-linux and busybox) for a target that is not mounted or does not exist. */
const NOT_MOUNTED = /not mounted|no mount point|not found|Invalid argument|No such file or directory/i;

/** mount's messages (util-linux, busybox) when the kernel refuses the mount itself (EPERM). */
const REFUSED = /permission denied|not permitted|must be superuser/i;

/**
 * The overlay program of this process once known: TSBUILD_OVERLAY's choice, else (rootless) what the first mount
 * found (the kernel's overlay, or fuse-overlayfs after the kernel refused it); root always uses the kernel's.
 */
let program: OverlayProgram | undefined;

/** Returns the program TSBUILD_OVERLAY forces, or undefined (auto); fuse-overlayfs is refused outside rootless mode. */
function forcedProgram(): OverlayProgram | undefined {
  const asked = requestedOverlayProgram();
  if (asked === 'auto') return undefined;
  if (asked === 'fuse-overlayfs' && !inUserNamespace()) {
    throw new ContainerStartError('TSBUILD_OVERLAY=fuse-overlayfs applies only to rootless mode (a user other than root)', {
      hint: 'unset TSBUILD_OVERLAY: as root, tsbuild mounts the kernel\'s overlayfs',
    });
  }
  return asked;
}

/** The kernel limits mount data to one page; longer lowerdir lists are passed relative to a common dir. */
const MAX_MOUNT_DATA = 4000;

function commonDir(paths: readonly string[]): string {
  let c = dirname(paths[0] ?? '/');
  for (const p of paths) while (c !== '/' && !(p + sep).startsWith(c + sep)) c = dirname(c);
  return c;
}

/**
 * Mounts an overlay of `lower` (top first; a repeated dir counts once, at its topmost place) + `upper` + `work`
 * at `target`. With no lower dirs, an empty directory `emptyLower` (created here) is used, since overlayfs needs
 * at least one lowerdir.
 *
 * The mount is `volatile` (Linux 5.10+) unless `o.volatile` is false: unmounting a normal overlay calls
 * syncfs on the upper dir's filesystem, which waits for every dirty page on that disk, other programs'
 * included (measured: an unmount behind 600 MB of someone else's unwritten data took 1.1 s instead of 3 ms).
 * A step's upper dir needs no durability of its own: it is packed into a blob that the store fsyncs, and a
 * snapshot made from it is re-created from that blob after a reboot (layer-store/store/snapshot.ts). A kernel
 * without the option gets a plain mount.
 */
export async function mountOverlay(
  o: { lower: readonly string[]; upper: string; work: string; target: string; emptyLower: string; volatile?: boolean; commands?: CommandRunner | undefined },
): Promise<void> {
  // The same layer twice in a chain (two identical COPY steps give one diffID, so one snapshot dir) is one lower
  // dir: overlayfs refuses a repeated lowerdir. Keeping only its topmost place gives the same merged view, since
  // that copy overrides, and its whiteouts and opaque dirs hide, everything below it, the lower copy included.
  let lower = [...new Set(o.lower)];
  if (lower.length === 0) {
    await mkdir(o.emptyLower, { recursive: true });
    lower = [o.emptyLower];
  }
  for (const p of [...lower, o.upper, o.work]) {
    if (/[,:\n]/.test(p)) throw new ContainerStartError(`overlay path ${JSON.stringify(p)} contains ',' or ':'`, { hint: 'use a store root path without commas or colons' });
  }
  program ??= forcedProgram();
  // In a user namespace (rootless) overlayfs keeps its whiteout and opaque xattrs as user.overlay.*.
  const userxattr = inUserNamespace() ? ',userxattr' : '';
  let dirs = `lowerdir=${lower.join(':')},upperdir=${o.upper},workdir=${o.work}`;
  let cwd: string | undefined;
  if (dirs.length + userxattr.length > MAX_MOUNT_DATA) {
    cwd = commonDir(lower);
    dirs = `lowerdir=${lower.map((l) => relative(cwd as string, l) || '.').join(':')},upperdir=${o.upper},workdir=${o.work}`;
    if (dirs.length + userxattr.length > MAX_MOUNT_DATA) {
      throw new ContainerStartError(`too many layers for one overlay mount (${lower.length} lower dirs)`, {
        hint: 'squash the base image or move the store to a shorter --root path',
      });
    }
  }
  // A volatile mount leaves `work/incompat/volatile` behind, and overlayfs refuses that workdir until it is gone
  // (its guard against reusing an upper dir that a crash may have cut short). Our upper dirs are never reused
  // across a crash (scratch of a dead build is removed), so a reused one comes from a clean unmount: clear it.
  rmSync(join(o.work, 'work', 'incompat'), { recursive: true, force: true });
  if (program === 'fuse-overlayfs') {
    noteFuseOverlayfsUppers();
    await mountFuseOverlay({ data: dirs, target: o.target, cwd });
    return;
  }
  const data = dirs + userxattr;
  const tool = mountTool('mount');
  const mount = (opts: string) => execCapture(tool.cmd, [...tool.args, '-t', 'overlay', 'overlay', '-o', opts, o.target], { ...(cwd ? { cwd } : {}), commands: o.commands });
  let r = await mount(o.volatile === false ? data : `${data},volatile`);
  if (r.code !== 0 && o.volatile !== false) r = await mount(data); // a kernel before 5.10 knows no `volatile`
  if (r.code !== 0 && program === undefined && inUserNamespace() && REFUSED.test(r.stderr)) {
    // Rootless, and the kernel will not mount an overlay for this user (before Linux 5.11, or an upper dir on
    // a filesystem it refuses): fuse-overlayfs from now on, as Podman's mount_program.
    program = 'fuse-overlayfs';
    noteFuseOverlayfsUppers();
    await mountFuseOverlay({ data: dirs, target: o.target, cwd, refused: r.stderr.trim() });
    return;
  }
  if (r.code === 0) program ??= 'kernel';
  if (r.code !== 0) {
    throw new ContainerStartError(`overlay mount failed: ${r.stderr.trim()}`, {
      hint: 'overlayfs needs root, a kernel with overlay support, and upper/work on the same non-overlay filesystem',
    });
  }
}

/** Unmounts `target`; falls back to a lazy unmount when it is busy. Succeeds when it is not mounted. */
export async function unmount(target: string, commands?: CommandRunner): Promise<void> {
  try {
    await unmountOnce(target, commands);
  } finally {
    // A fuse-overlayfs mount: its daemon exits once unmounted (killed if it does not), never left running.
    if (isFuseOverlay(target)) await reapFuseOverlay(target);
  }
}

async function unmountOnce(target: string, commands?: CommandRunner): Promise<void> {
  const tool = mountTool('umount');
  const r = await execCapture(tool.cmd, [...tool.args, target], { commands });
  if (r.code === 0) return;
  if (NOT_MOUNTED.test(r.stderr)) return;
  const lazy = await execCapture(tool.cmd, [...tool.args, '-l', target], { commands });
  if (lazy.code !== 0 && !NOT_MOUNTED.test(lazy.stderr)) {
    throw new ContainerStartError(`umount ${target} failed: ${lazy.stderr.trim()}`);
  }
}
