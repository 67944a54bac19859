/**
 * What a test's own runs left behind, found by ownership instead of by name. Every process on the machine shares
 * the mount table, runc's state dir (/run/runc) and the cgroup tree, and every tsbuild names its bundles,
 * containers and cgroups `tsbuild-*`: a check over all such names fails whenever another build runs beside the
 * test. So mounts count when they use the test's own dirs, and containers and cgroups when the test's own runtime
 * started them (the `runc run` debug line names the id, bundle and cgroup path of each container).
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../layer-store/core/index.js';

const run = promisify(execFile);
const CGROUP_ROOT = '/sys/fs/cgroup';

/** One container a runc runtime started, as its `runc run` debug line names it. */
export interface LoggedRun {
  readonly id: string;
  readonly bundle: string;
  /** The spec's `linux.cgroupsPath`, relative to each cgroup hierarchy (`/tsbuild-…`). */
  readonly cgroupsPath: string;
}

function loggedRun(data: Readonly<Record<string, unknown>> | undefined): LoggedRun | undefined {
  const { id, bundle, cgroupsPath } = data ?? {};
  return typeof id === 'string' && typeof bundle === 'string' && typeof cgroupsPath === 'string' ? { id, bundle, cgroupsPath } : undefined;
}

/** Returns a Logger that records in `runs` every container the runtime it is given to starts. */
export function runRecorder(): Logger & { readonly runs: LoggedRun[] } {
  const runs: LoggedRun[] = [];
  return {
    runs,
    debug(msg, data) {
      const r = msg === 'runc run' ? loggedRun(data) : undefined;
      if (r) runs.push(r);
    },
    info: () => undefined,
    warn: () => undefined,
  };
}

/** Returns the containers named by the `debug: runc run {…}` lines of a `tsbuild --debug` stderr. */
export function runsInDebugLog(stderr: string): LoggedRun[] {
  const out: LoggedRun[] = [];
  for (const m of stderr.matchAll(/^debug: runc run (\{.*\})$/gm)) {
    const r = loggedRun(JSON.parse(m[1]!) as Record<string, unknown>);
    if (r) out.push(r);
  }
  return out;
}

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir + '/');
/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * Returns the mount points that use `dir`: mounted at or below it, or overlays with a lower, upper or work dir in
 * it (a runc bundle's rootfs lives in os.tmpdir(), but its layers are the test's).
 */
export async function mountsUsing(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n').filter(Boolean)) {
    const f = line.split(' ');
    const point = unescape(f[4] ?? '');
    const sep = f.indexOf('-');
    const layerDirs = (f[sep + 3] ?? '').split(',')
      .flatMap((o) => /^(?:lowerdir|upperdir|workdir)=(.*)$/.exec(o)?.[1]?.split(':') ?? [])
      .map(unescape);
    if (under(point, dir) || layerDirs.some((d) => under(d, dir))) out.push(point);
  }
  return out.sort();
}

/**
 * Returns the ids of the containers in runc's default state dir that are one of `runs`, or (with `bundlesUnder`)
 * whose bundle is in that dir.
 */
export async function containersOf(o: { runs: readonly LoggedRun[]; bundlesUnder?: string }): Promise<string[]> {
  const { stdout } = await run('runc', ['list', '--format', 'json']);
  const list = (JSON.parse(stdout.trim() || 'null') ?? []) as { id: string; bundle: string }[];
  const ids = new Set(o.runs.map((r) => r.id));
  return list.filter((c) => ids.has(c.id) || (o.bundlesUnder !== undefined && under(c.bundle, o.bundlesUnder))).map((c) => c.id).sort();
}

/** Returns the cgroups of `runs` that exist: `<hierarchy><path>` under cgroup v1, `<path>` under v2. */
export async function cgroupsLeft(runs: readonly LoggedRun[]): Promise<string[]> {
  const hierarchies = ['', ...(await readdir(CGROUP_ROOT).catch(() => [] as string[]))];
  const out: string[] = [];
  for (const r of runs) {
    for (const h of hierarchies) {
      const st = await stat(join(CGROUP_ROOT, h, r.cgroupsPath)).catch(() => undefined);
      if (st?.isDirectory()) out.push(`${h}${r.cgroupsPath}`);
    }
  }
  return out.sort();
}
