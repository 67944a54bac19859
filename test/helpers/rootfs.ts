import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.js';

const run = promisify(execFile);

export interface BusyboxRootfs {
  /** The root filesystem directory (bin/busybox + applets, etc/passwd with root, app (1000), nobody, tmp, root). */
  readonly dir: string;
  /** A reproducible tar of `dir` (owner 0:0, fixed mtimes) when asked for with `{ tar: true }`. */
  readonly tar?: string;
  /** Removes everything this helper created. */
  cleanup(): Promise<void>;
}

/**
 * Builds the busybox root filesystem (fixtures/scripts/make-busybox-rootfs.sh) into a fresh temp dir and
 * returns its path. Call it once per test file (in `before`) and call `cleanup` in `after`.
 */
export async function makeBusyboxRootfs(o: { tar?: boolean } = {}): Promise<BusyboxRootfs> {
  const script = join(repoRoot(), 'fixtures', 'scripts', 'make-busybox-rootfs.sh');
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-test-rootfs-'));
  const dir = join(base, 'rootfs');
  const tar = join(base, 'rootfs.tar');
  try {
    await run('sh', [script, dir, ...(o.tar ? ['-o', tar] : [])]);
  } catch (e) {
    await rm(base, { recursive: true, force: true });
    throw e;
  }
  return { dir, ...(o.tar ? { tar } : {}), cleanup: () => rm(base, { recursive: true, force: true }) };
}
