/**
 * Harness of the killed-build tests: a real `tsbuild build` in a child process whose RUN step sleeps, and probes
 * of the runc container that build made (found by the build's pid in the container id, runtime-exec's
 * newContainerId), so that the tests look only at their own container.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSBUILD_BIN } from '../helpers/cli.js';

const RUNC_STATE = '/run/runc';

/** Runs `tsbuild ARGS` to completion (no shell). */
export function tsbuild(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSBUILD_BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A store root with busybox:latest imported from `tar`, and a context whose Dockerfile is `dockerfile`. */
export async function rootWithContext(tar: string, dockerfile: string): Promise<{ root: string; ctx: string; cleanup(): Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-test-killed-'));
  const root = join(base, 'root');
  const ctx = join(base, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  const r = tsbuild(['--root', root, 'import', tar, 'busybox:latest']);
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
  return { root, ctx, cleanup: () => rm(base, { recursive: true, force: true }) };
}

/** Starts `tsbuild --root ROOT build --no-cache CTX` and returns the child (its pid names its containers). */
export function startBuild(root: string, ctx: string): ChildProcess {
  const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, '--progress', 'plain', 'build', '--no-cache', ctx], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  return child;
}

export interface ContainerProbe {
  readonly id: string;
  /** Every process in the container's cgroup when found (the init first). */
  readonly pids: readonly number[];
  /** The bundle's rootfs mount point. */
  readonly rootfs: string;
}

/** cgroup.procs of container `id` (cgroup v1 `pids` hierarchy, else v2), [] when gone. */
async function cgroupPids(id: string): Promise<number[]> {
  for (const p of [`/sys/fs/cgroup/pids/${id}/cgroup.procs`, `/sys/fs/cgroup/${id}/cgroup.procs`]) {
    const text = await readFile(p, 'utf8').catch(() => undefined);
    if (text !== undefined) return text.split('\n').filter(Boolean).map(Number);
  }
  return [];
}

/** Waits (up to `ms`) for a running container of the build with pid `owner` with at least `minProcs` processes. */
export async function waitForContainer(owner: number, minProcs: number, ms = 60_000): Promise<ContainerProbe> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const id of (await readdir(RUNC_STATE).catch(() => [] as string[])).filter((n) => n.startsWith(`tsbuild-${owner}-`))) {
      const st = await readFile(join(RUNC_STATE, id, 'state.json'), 'utf8').then((t) => JSON.parse(t) as { init_process_pid: number; config: { rootfs: string } }, () => undefined);
      if (!st) continue;
      const pids = await cgroupPids(id);
      if (pids.length >= minProcs) return { id, pids: [st.init_process_pid, ...pids.filter((p) => p !== st.init_process_pid)], rootfs: st.config.rootfs };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no running container of build process ${owner} after ${ms} ms`);
}

/** True when `pid` is a live process (a zombie is dead: it only waits to be reaped). */
export async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** True while runc still has state for container `id`. */
export async function containerExists(id: string): Promise<boolean> {
  return readdir(join(RUNC_STATE, id)).then(() => true, () => false);
}

/** True while `point` is a mount point in this mount namespace. */
export async function mounted(point: string): Promise<boolean> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === point);
}

/** Polls `cond` every 50 ms for up to `ms`; returns how long it took, or undefined when it never held. */
export async function within(ms: number, cond: () => Promise<boolean>): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await cond()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return (await cond()) ? Date.now() - t0 : undefined;
}

/** Returns the pid of the runc supervisor of container `id` (runtime-exec supervisor.ts), if running. */
export async function supervisorOf(id: string, name: string): Promise<number | undefined> {
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const argv = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[3] === name && argv[4] === id) return Number(p);
  }
  return undefined;
}

/**
 * Returns the pid of the helper shell (runtime-exec ShellRunner, `$0` `name`) of the build with pid `owner`: the
 * tie of that build's RUN steps (their exit scripts run when the build is gone).
 */
export async function helperShellOf(owner: number, name: string): Promise<number | undefined> {
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const argv = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[3] !== name) continue;
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === owner) return Number(p);
  }
  return undefined;
}

/** Best-effort removal of container `id` (a failed test's leftover). */
export function forceDelete(id: string): void {
  spawnSync('runc', ['delete', '--force', id]);
}
