import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { type Logger, noopLogger } from '../layer-store/core/index.js';
import { ChrootRuntime } from './chroot.js';
import { ChrootIsolationRuntime } from './chroot-isolation.js';
import type { Isolation } from './isolation.js';
import { RuntimeMissingError } from './errors.js';
import { RuncRuntime } from './runc.js';
import type { Runtime } from './types.js';

export interface FindRuntimeOptions {
  /** `runc` (default), a runtime name on PATH or a path to one, or `chroot` to force the unshare fallback. */
  readonly runtime?: string;
  readonly logger?: Logger;
  /** Where each run creates its `tsbuild-run-*` bundle dir (default defaultBundleParent(): /dev/shm when a tmpfs, else os.tmpdir()). */
  readonly tmpDir?: string;
  /** runc's state root (`runc --root`); default runc's own. */
  readonly root?: string;
  /** The store root the containers belong to (RuncOptions.owner): lets `fsck` of that root find leftovers. */
  readonly owner?: string;
  /**
   * `oci` (default): runc over an overlay (or what `runtime` names). `chroot`: chroot isolation for locked-down
   * containers (chroot-isolation.ts; never chosen by itself), which needs util-linux nsenter.
   */
  readonly isolation?: Isolation;
}

/**
 * The first of PATH's dirs (then the sbin dirs) where `name` is executable. Synchronous: a build looks runc up at
 * its first RUN, while the layer before it is compressed behind it, and an async access(2) per dir then waits in
 * the thread pool behind that layer's deflate, writes and fsync (W1's edit: 25-40 ms before the RUN's mount).
 */
function onPath(name: string): string | undefined {
  const dirs = isAbsolute(name) || name.includes('/') ? [''] : [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = d ? join(d, name) : name;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * Returns the runtime to run steps with: the OCI runtime `o.runtime` (default runc, from PATH); when none is
 * given and runc is missing, the `unshare` + chroot fallback (logged as a warning). Rejects with
 * RuntimeMissingError when the asked runtime, or any runtime at all, is missing.
 */
export async function findRuntime(o: FindRuntimeOptions = {}): Promise<Runtime> {
  const logger = o.logger ?? noopLogger;
  if (o.isolation === 'chroot') {
    if (o.runtime !== undefined) throw new RuntimeMissingError(`--runtime ${o.runtime} and --isolation chroot exclude each other`, { hint: 'chroot isolation runs no OCI runtime: drop one of them' });
    if (process.getuid?.() !== 0) {
      throw new RuntimeMissingError('chroot isolation needs root in the container: chroot(2), chown and mknod need CAP_SYS_CHROOT, CAP_CHOWN and CAP_MKNOD', { hint: 'run tsbuild as root in the container, as kaniko runs' });
    }
    const nsenter = onPath('nsenter');
    if (!nsenter) throw new RuntimeMissingError('chroot isolation needs util-linux nsenter, which is not installed', { hint: 'apt-get install -y util-linux' });
    return new ChrootIsolationRuntime({ nsenter, logger });
  }
  const common = { logger, ...(o.tmpDir ? { tmpDir: o.tmpDir } : {}) };
  const chroot = async (): Promise<Runtime | undefined> => {
    const unshare = onPath('unshare');
    return unshare ? new ChrootRuntime({ unshare, ...common }) : undefined;
  };
  if (o.runtime === 'chroot') {
    const r = await chroot();
    if (!r) throw new RuntimeMissingError('the unshare fallback (--runtime chroot) needs util-linux unshare, which is not installed', { hint: 'apt-get install -y util-linux' });
    logger.warn('using the unshare fallback (unshare + chroot, not --isolation chroot): weaker than an OCI runtime, no cgroup limits');
    return r;
  }
  const want = o.runtime ?? 'runc';
  const path = onPath(want);
  if (path) {
    // Not probed with `--version` here (a Go binary's start, ~10 ms, on every build that runs a step): a runtime
    // that does not work fails its first `run`, and RuncRuntime names it then.
    logger.debug('using OCI runtime', { path });
    return new RuncRuntime({ path, ...common, ...(o.root ? { root: o.root } : {}), ...(o.owner !== undefined ? { owner: o.owner } : {}) });
  }
  if (o.runtime !== undefined) {
    throw new RuntimeMissingError(`OCI runtime ${JSON.stringify(o.runtime)} not found`, {
      hint: 'pass --runtime with the path of an installed runc-compatible runtime, or install runc (apt-get install -y runc)',
    });
  }
  const r = await chroot();
  if (r) {
    logger.warn('runc not found: using the unshare fallback (unshare + chroot); install runc for full isolation and cgroup limits');
    return r;
  }
  throw new RuntimeMissingError('no container runtime found: neither runc nor util-linux unshare is installed');
}

/** Where `docker run --init` puts its init in the container, and where tsbuild puts it. */
export const INIT_PATH = '/sbin/docker-init';

/**
 * Returns the host's static init for `tsbuild run --init`, as dockerd looks for its `docker-init` (tini):
 * `docker-init` on PATH, else Debian's `tini-static` (a static binary runs in any image, with or without a libc).
 * Rejects with RuntimeMissingError when none is installed.
 */
export async function findInit(): Promise<string> {
  for (const name of ['docker-init', 'tini-static', '/usr/libexec/docker/docker-init']) {
    const p = onPath(name);
    if (p) return p;
  }
  throw new RuntimeMissingError('--init needs a static init (docker-init or tini-static), and none is installed', {
    hint: 'apt-get install -y tini (it ships /usr/bin/tini-static), or drop --init',
  });
}
