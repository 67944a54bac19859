/** Shared harness of the runtime-exec tests: layer dirs, a collecting run, and a leak check. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { findRuntime, type Runtime, type RunSpec } from '../../runtime-exec/index.js';

const run = promisify(execFile);

/** A fresh temp area with `upper`, `work` and a private bundle dir (`tmp`) for one test. */
export async function scratch(): Promise<{ base: string; upper: string; work: string; tmp: string; cleanup(): Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-test-run-'));
  const upper = join(base, 'upper');
  const work = join(base, 'work');
  const tmp = join(base, 'tmp');
  await Promise.all([mkdir(upper), mkdir(work), mkdir(tmp)]);
  return { base, upper, work, tmp, cleanup: () => rm(base, { recursive: true, force: true }) };
}

/** A Writable that keeps what it receives. */
export function collector(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  }) as Writable & { text(): string };
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

export const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A RunSpec for `args` over `lower` with root user, cwd /, network none; `over` overrides fields. */
export function specFor(lower: readonly string[], s: { upper: string; work: string }, args: readonly string[], over: Partial<RunSpec> = {}): RunSpec {
  return {
    rootfs: { lower, upper: s.upper, work: s.work },
    args,
    env: [PATH_ENV],
    cwd: '/',
    user: { uid: 0, gid: 0 },
    network: 'none',
    mounts: [],
    ...over,
  };
}

/** Runs `spec` and returns exit code, stdout and stderr. */
export async function runCollect(rt: Runtime, spec: RunSpec, signal = new AbortController().signal): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const stdout = collector();
  const stderr = collector();
  const { exitCode } = await rt.run(spec, { stdout, stderr }, signal);
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

/** The runc runtime with bundles in `tmp`. */
export function runcRuntime(tmp: string): Promise<Runtime> {
  return findRuntime({ runtime: 'runc', tmpDir: tmp });
}

export interface Snapshot {
  readonly mounts: readonly string[];
  readonly containers: readonly string[];
  readonly cgroups: readonly string[];
  readonly bundles: readonly string[];
}

/** The prefix of the container ids (and cgroup names) of runs made by this test process (runc.ts newContainerId). */
const OWN_IDS = `tsbuild-${process.pid}-`;

async function cgroupDirs(): Promise<string[]> {
  const out: string[] = [];
  for (const h of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    for (const d of await readdir(join('/sys/fs/cgroup', h)).catch(() => [] as string[])) {
      if (d.startsWith(OWN_IDS)) out.push(`${h}/${d}`);
    }
  }
  return out;
}

/**
 * Takes the state a run must restore: mount points below the test's scratch (`dirname(tmp)`), runc containers
 * and cgroups of this test process, bundle dirs in `tmp`. Only the test's own resources count: other builds on
 * the machine (other engineers' runs, a benchmark's dockerd) mount and start containers at any time.
 */
export async function snapshot(tmp: string): Promise<Snapshot> {
  const mine = dirname(tmp) + '/';
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts = mountinfo.split('\n').filter(Boolean).map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(mine)).sort();
  const { stdout } = await run('runc', ['list', '-q']);
  const containers = stdout.split('\n').filter((s) => s.startsWith(OWN_IDS)).sort();
  return { mounts, containers, cgroups: (await cgroupDirs()).sort(), bundles: (await readdir(tmp)).sort() };
}

/** Returns what is in `after` but not in `before`, per kind (all empty when nothing leaked). */
export function leaks(before: Snapshot, after: Snapshot): Record<keyof Snapshot, string[]> {
  const diff = (a: readonly string[], b: readonly string[]) => b.filter((x) => !a.includes(x));
  return {
    mounts: diff(before.mounts, after.mounts),
    containers: diff(before.containers, after.containers),
    cgroups: diff(before.cgroups, after.cgroups),
    bundles: diff(before.bundles, after.bundles),
  };
}

export const NO_LEAKS = { mounts: [], containers: [], cgroups: [], bundles: [] };
