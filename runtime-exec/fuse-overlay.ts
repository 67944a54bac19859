/**
 * fuse-overlayfs (Debian's `fuse-overlayfs`, Podman's `mount_program`): the overlay of rootless mode where the
 * kernel refuses an unprivileged overlay mount (before Linux 5.11, or an upper filesystem it will not take), or
 * when TSBUILD_OVERLAY=fuse-overlayfs asks for it. It reads the store's snapshots as they are (0/0 character
 * devices, `user.overlay.opaque`) and writes upper dirs in its own format, which the packer reads
 * (layer-store/layer/pack-tar.ts): whiteouts as 0/0 character devices (or `.wh.NAME` files where mknod is
 * refused), opaque dirs as `user.fuseoverlayfs.opaque=y` plus `.wh..wh..opq` and a `.wh..opq` device.
 *
 * Never leaked: the daemon runs in the foreground (`-f`) as a child of this process, under `setpriv --pdeathsig
 * KILL`, so it dies with tsbuild however tsbuild ends; rootless mode runs in a mount namespace of its own, which
 * takes the mount with it. A normal unmount waits for the daemon to exit, so its writes are all in the upper dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerStartError } from './errors.js';

const PROGRAM = 'fuse-overlayfs';
/** How long the mount may take to appear, and the daemon to exit after its unmount (ms). */
const MOUNT_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5_000;

interface Daemon {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

/** The running daemons, by mount target. */
const daemons = new Map<string, Daemon>();

function deviceOf(path: string): number | undefined {
  try {
    return statSync(path).dev;
  } catch {
    return undefined;
  }
}

/**
 * Mounts fuse-overlayfs with the overlay options `data` (lowerdir, upperdir, workdir; relative lower dirs are
 * read from `cwd`) at `target`, and returns once the mount is there. `refused` is the kernel's refusal that led
 * here, named in the error if fuse-overlayfs cannot mount either.
 */
export async function mountFuseOverlay(o: { data: string; target: string; cwd?: string | undefined; refused?: string | undefined }): Promise<void> {
  const before = deviceOf(o.target);
  const why = o.refused ? `the kernel refused the overlay mount (${o.refused}) and ` : '';
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', PROGRAM, '-f', '-o', o.data, o.target], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: a Ctrl-C for tsbuild must not stop it before the steps' cleanup has unmounted it.
    detached: true,
    ...(o.cwd ? { cwd: o.cwd } : {}),
  });
  let stderr = '';
  let exitedAt: string | undefined;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<void>((resolve) => {
    child.once('error', (e: NodeJS.ErrnoException) => { exitedAt = e.code === 'ENOENT' ? 'setpriv not found' : e.message; resolve(); });
    child.once('exit', (code, sig) => { exitedAt ??= sig ? `killed by ${sig}` : `exit code ${code}`; resolve(); });
  });
  child.unref();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
    if (exitedAt !== undefined) {
      const msg = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/unknown argument ignored/.test(l)).join('; ') || exitedAt;
      throw new ContainerStartError(`${why}fuse-overlayfs could not mount ${o.target}: ${msg}`, {
        hint: /not found|No such file/.test(msg) && /fuse-overlayfs|setpriv/.test(msg)
          ? 'as root: apt-get install -y fuse-overlayfs'
          : /\/dev\/fuse/.test(msg)
            ? 'fuse-overlayfs needs /dev/fuse readable and writable by the user; as root: chmod 0666 /dev/fuse (udev gives it that mode)'
            : 'check that fuse-overlayfs works here (Debian: apt-get install -y fuse-overlayfs), or set TSBUILD_OVERLAY=kernel',
      });
    }
    const now = deviceOf(o.target);
    if (now !== undefined && now !== before) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ContainerStartError(`${why}fuse-overlayfs did not mount ${o.target} within ${MOUNT_TIMEOUT_MS / 1000} s`, { hint: 'check that fuse-overlayfs works here, or set TSBUILD_OVERLAY=kernel' });
    }
    await sleep(wait);
  }
  daemons.set(o.target, { child, exited });
}

/** Whether `target` is a mount of fuse-overlayfs made by this process and not yet unmounted. */
export function isFuseOverlay(target: string): boolean {
  return daemons.has(target);
}

/**
 * After `target` was unmounted (or when its unmount failed): waits for its daemon to exit, and kills it when it
 * has not exited in time.
 */
export async function reapFuseOverlay(target: string): Promise<void> {
  const d = daemons.get(target);
  if (!d) return;
  const timer = setTimeout(() => { d.child.kill('SIGKILL'); }, EXIT_TIMEOUT_MS);
  try {
    await d.exited;
  } finally {
    clearTimeout(timer);
    daemons.delete(target);
  }
}
