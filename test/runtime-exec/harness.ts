/** Shared harness of the runtime-exec tests: layer dirs, a collecting run, and a leak check. */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { findRuntime, type Runtime, type RunSpec } from '../../runtime-exec/index.js';
import { cgroupsLeft, containersOf, mountsUsing, runRecorder } from '../helpers/owned.js';

/** One test's temp area: `upper`, `work`, a private bundle dir `tmp`, and a logger recording its runs. */
export interface Scratch {
  readonly base: string;
  readonly upper: string;
  readonly work: string;
  readonly tmp: string;
  /** Give it to the runtime (runcRuntime does): it records the containers the runtime starts. */
  readonly log: ReturnType<typeof runRecorder>;
  cleanup(): Promise<void>;
}

/** Returns a fresh Scratch for one test. */
export async function scratch(): Promise<Scratch> {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-test-run-'));
  const upper = join(base, 'upper');
  const work = join(base, 'work');
  const tmp = join(base, 'tmp');
  await Promise.all([mkdir(upper), mkdir(work), mkdir(tmp)]);
  return { base, upper, work, tmp, log: runRecorder(), cleanup: () => rm(base, { recursive: true, force: true }) };
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

/** The runc runtime with bundles in `s.tmp`, logging to `s.log`. */
export function runcRuntime(s: Scratch): Promise<Runtime> {
  return findRuntime({ runtime: 'runc', tmpDir: s.tmp, logger: s.log });
}

/**
 * What a run must restore, limited to what this test owns (other tsbuild runs on the machine share the mount
 * table, runc's state and the cgroup tree): mounts using the scratch area, the containers and cgroups of the
 * runs its runtime logged (or with a bundle in the scratch area), and the bundle dirs in its `tmp`.
 */
export interface Snapshot {
  readonly mounts: readonly string[];
  readonly containers: readonly string[];
  readonly cgroups: readonly string[];
  readonly bundles: readonly string[];
}

/** Takes the state a run must restore for scratch area `s` (see Snapshot). */
export async function snapshot(s: Scratch): Promise<Snapshot> {
  return {
    mounts: await mountsUsing(s.base),
    containers: await containersOf({ runs: s.log.runs, bundlesUnder: s.base }),
    cgroups: await cgroupsLeft(s.log.runs),
    bundles: (await readdir(s.tmp)).sort(),
  };
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
