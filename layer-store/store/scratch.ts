/**
 * Scratch left by killed processes: a build or run killed with SIGKILL cannot clean up. Its scratch dir under
 * `<root>/tmp` (named `build-<pid>-…` or `run-<pid>-…`) stays, and so may the overlay mounts over it and the runc
 * container still running on them. A dir whose owning pid is gone is stale. `findStaleScratch` lists them (fsck
 * reports them); `reclaimStaleScratch` kills such containers, lazily unmounts the mounts and removes the dirs
 * (run by every build before it starts, and by `fsck --repair`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execFileAsync, type Logger } from '../core/index.js';

const run = execFileAsync;

/** USER_HZ: the unit of /proc/<pid>/stat times (100 on every Linux architecture Node supports). */
const CLOCK_TICKS = 100;
/** btime has one-second resolution and clocks drift: a process counts as newer only when later by this much. */
const START_SLACK_MS = 2_000;

/** Age (ms) after which a scratch dir with no pid in its name (`out-*`) counts as left over. */
const ANONYMOUS_SCRATCH_MS = 60 * 60 * 1000;

/** Returns true when a process with this pid exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Returns when process `pid` started (epoch ms, from /proc), or undefined when unknown. */
export function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; starttime is field 22 (index 19 after the name).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[19]);
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    if (!Number.isFinite(ticks) || btime === undefined) return undefined;
    return Number(btime) * 1000 + (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * Returns true when the process `pid`, which wrote something at `since` (epoch ms), is gone: no such pid, or the
 * pid now belongs to a process started later (pids are reused quickly when pid_max is 32768).
 */
export function ownerGone(pid: number, since: number): boolean {
  if (pid === process.pid) return false;
  if (!pidAlive(pid)) return true;
  const start = processStartMs(pid);
  return start !== undefined && start > since + START_SLACK_MS;
}

/** Returns the pid a scratch or temp name carries (`<prefix>-<pid>-…`), if any. */
export function ownerPid(name: string, prefix: RegExp = /^(?:build|run)-(\d+)-/): number | undefined {
  const m = prefix.exec(name);
  const pid = m ? Number(m[1]) : NaN;
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export interface MountEntry {
  readonly point: string;
  readonly options: string;
}

/** Returns this mount namespace's mounts (mount point and super options). */
export async function listMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter(Boolean).map((l) => {
    const f = l.split(' ');
    const sep = f.indexOf('-');
    return { point: (f[4] ?? '').replace(/\\040/g, ' '), options: f[sep + 3] ?? '' };
  });
}

export interface StaleScratch {
  /** Scratch dirs whose owner is gone, absolute. */
  readonly dirs: readonly string[];
  /** Mounts inside those dirs, or overlays whose upper dir is in one (a runc bundle's rootfs). */
  readonly mounts: readonly MountEntry[];
}

/** Returns the scratch dirs under `tmpRoot` whose owner is gone, and the mounts still held over them. */
export async function findStaleScratch(tmpRoot: string, o: { now?: number } = {}): Promise<StaleScratch> {
  let names: string[];
  try {
    // Synchronous: at every build's start, usually a directory of one or two entries.
    names = readdirSync(tmpRoot);
  } catch {
    return { dirs: [], mounts: [] };
  }
  const now = o.now ?? Date.now();
  const dirs: string[] = [];
  for (const n of names) {
    const pid = ownerPid(n);
    if (pid === undefined && !/^out-/.test(n)) continue;
    let st;
    try { st = statSync(join(tmpRoot, n)); } catch { st = undefined; }
    if (!st) continue;
    if (pid !== undefined ? ownerGone(pid, createdMs(st)) : now - st.mtimeMs > ANONYMOUS_SCRATCH_MS) dirs.push(join(tmpRoot, n));
  }
  if (dirs.length === 0) return { dirs, mounts: [] };
  const inStale = (p: string): boolean => dirs.some((d) => p === d || p.startsWith(d + '/'));
  const mounts = (await listMounts()).filter((m) => {
    const upper = /(?:^|,)upperdir=([^,]+)/.exec(m.options)?.[1];
    return inStale(m.point) || (upper !== undefined && inStale(upper));
  });
  return { dirs, mounts };
}

/** Reclaims stale scratch dirs under `tmpRoot` (see the module comment). Never throws; logs what it did. */
export async function reclaimStaleScratch(tmpRoot: string, log: Logger): Promise<StaleScratch> {
  const found = await findStaleScratch(tmpRoot).catch(() => ({ dirs: [], mounts: [] }) as StaleScratch);
  const { dirs, mounts } = found;
  if (dirs.length === 0) return found;
  const inStale = (p: string): boolean => dirs.some((d) => p === d || p.startsWith(d + '/'));
  if (mounts.length > 0) {
    const bundles = new Set(mounts.filter((m) => m.point.endsWith('/rootfs')).map((m) => dirname(m.point)));
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
    for (const m of [...mounts].sort((a, b) => b.point.length - a.point.length)) {
      await run('umount', [m.point]).catch(() => run('umount', ['-l', m.point]).catch(() => undefined));
    }
    for (const b of bundles) if (!inStale(b)) await rm(b, { recursive: true, force: true }).catch(() => undefined);
  }
  for (const d of dirs) {
    await rm(d, { recursive: true, force: true }).catch(() => undefined);
    log.warn('removed scratch left by a killed build', { dir: d });
  }
  return found;
}

/** Returns the earliest time a file or dir is known to have existed (birth time where the fs records it). */
export function createdMs(st: { birthtimeMs: number; mtimeMs: number; ctimeMs: number }): number {
  return st.birthtimeMs > 0 ? st.birthtimeMs : Math.min(st.mtimeMs, st.ctimeMs);
}
