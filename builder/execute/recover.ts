/**
 * Recovery after a crash: a build killed with SIGKILL cannot clean up. Its scratch dir under `<root>/tmp`
 * (named `build-<pid>-…`) stays, and so may the overlay mounts over it and the runc container still running on
 * them. Before a new build starts, dirs whose owning process is gone are reclaimed: containers whose bundle
 * rootfs is mounted over a stale dir are killed and deleted, those mounts are lazily unmounted, the dirs removed.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../layer-store/index.js';

const run = promisify(execFile);

/** Returns true when a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The scratch dir name for this process: stale-detection reads the pid back. */
export function scratchName(prefix: string, id: string): string {
  return `${prefix}-${process.pid}-${id}`;
}

interface MountEntry {
  readonly point: string;
  readonly options: string;
}

async function mounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter(Boolean).map((l) => {
    const f = l.split(' ');
    const sep = f.indexOf('-');
    return { point: (f[4] ?? '').replace(/\\040/g, ' '), options: f[sep + 3] ?? '' };
  });
}

/** Reclaims stale scratch dirs under `tmpRoot` (see the module comment). Never throws; logs what it did. */
export async function reclaimStaleScratch(tmpRoot: string, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = await readdir(tmpRoot);
  } catch {
    return;
  }
  const stale = names.filter((n) => {
    const m = /^(?:build|run)-(\d+)-/.exec(n);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  }).map((n) => join(tmpRoot, n));
  if (stale.length === 0) return;
  const inStale = (p: string): boolean => stale.some((d) => p === d || p.startsWith(d + '/'));
  const all = await mounts();
  // Mounts that live in a stale dir, or overlays whose upper dir is in one (a runc bundle's rootfs).
  const victims = all.filter((m) => inStale(m.point) || /(?:^|,)upperdir=([^,]+)/.exec(m.options)?.[1] !== undefined && inStale(/(?:^|,)upperdir=([^,]+)/.exec(m.options)![1]!));
  if (victims.length > 0) {
    const bundles = new Set(victims.filter((m) => m.point.endsWith('/rootfs')).map((m) => dirname(m.point)));
    try {
      const { stdout } = await run('runc', ['list', '--format', 'json']);
      const list = (JSON.parse(stdout || '[]') ?? []) as { id: string; bundle: string }[];
      for (const c of list) {
        if (!bundles.has(c.bundle)) continue;
        await run('runc', ['kill', c.id, 'KILL']).catch(() => undefined);
        await run('runc', ['delete', '-f', c.id]).catch(() => undefined);
        log.warn('removed a container left by a killed build', { id: c.id });
      }
    } catch {
      // runc missing or no containers: nothing to kill
    }
    for (const m of victims.sort((a, b) => b.point.length - a.point.length)) {
      await run('umount', [m.point]).catch(() => run('umount', ['-l', m.point]).catch(() => undefined));
    }
    for (const b of bundles) if (!inStale(b)) await rm(b, { recursive: true, force: true }).catch(() => undefined);
  }
  for (const d of stale) {
    await rm(d, { recursive: true, force: true }).catch(() => undefined);
    log.warn('removed scratch left by a killed build', { dir: d });
  }
}
