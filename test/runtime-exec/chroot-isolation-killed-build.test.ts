/**
 * Nothing outlives a killed build under --isolation chroot either: after `kill -9` of a `tsbuild build` whose RUN
 * step runs (a shell and a background sleep in a chroot, no pid namespace), every process of the step is gone
 * within seconds (runtime-exec chroot-isolation.ts: the supervisor's watcher kills the step's process group when
 * its pipe to tsbuild closes), nothing is mounted, and fsck finds the store consistent: only the killed build's
 * scratch is left over, which `fsck --repair` removes, after which fsck finds nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { busyboxTar } from '../helpers/build-env.js';
import { TSBUILD_BIN } from '../helpers/cli.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { CHROOT_SUPERVISOR_NAME } from '../../runtime-exec/index.js';
import { mountsUsing } from '../helpers/owned.js';
import { alive, rootWithContext, tsbuild, within } from './killed-build.js';

let bb: BusyboxRootfs & { tar: string };
before(async () => {
  bb = await busyboxTar();
});
after(() => bb.cleanup());

/** `/proc/<pid>/stat` fields: [ppid, pgid], or undefined when gone. */
async function stat(pid: string): Promise<[number, number] | undefined> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!s) return undefined;
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return [Number(f[1]), Number(f[2])];
}

/** The pids in the process group of the chroot supervisor that `owner` started (the supervisor first). */
async function stepProcesses(owner: number): Promise<number[]> {
  let sup: number | undefined;
  const all = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  for (const p of all) {
    const argv = (await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[3] === CHROOT_SUPERVISOR_NAME && (await stat(p))?.[0] === owner) sup = Number(p);
  }
  if (sup === undefined) return [];
  const group: number[] = [sup];
  for (const p of all) if (Number(p) !== sup && (await stat(p))?.[1] === sup) group.push(Number(p));
  return group;
}

test('SIGKILL of a chroot-isolation build stops its step; fsck is clean after repair', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, 'FROM busybox:latest\nRUN sleep 300 & sleep 301; true\n');
  t.after(() => env.cleanup());
  const child = spawn(process.execPath, [TSBUILD_BIN, '--root', env.root, '--progress', 'plain', 'build', '--isolation', 'chroot', '--no-cache', env.ctx], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.resume();
  t.after(() => { child.kill('SIGKILL'); });
  let pids: number[] = [];
  const started = await within(60_000, async () => (pids = await stepProcesses(child.pid!)).length >= 4);
  assert.ok(started !== undefined, `the step did not start: ${pids.join(' ')}`);
  t.after(() => { for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } });

  child.kill('SIGKILL');
  const took = await within(5_000, async () => !(await Promise.all(pids.map(alive))).some(Boolean));
  const left = [];
  for (const p of pids) if (await alive(p)) left.push(p);
  assert.ok(took !== undefined, `5 s after the kill, step processes ${left.join(' ')} still run`);
  assert.deepEqual(await mountsUsing(env.root), []);

  const check = tsbuild(['--root', env.root, 'fsck']);
  assert.equal(check.code, 0, `fsck after the kill: ${check.stdout}${check.stderr}`);
  const repair = tsbuild(['--root', env.root, 'fsck', '--repair']);
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  const clean = tsbuild(['--root', env.root, 'fsck', '--json']);
  assert.equal(clean.code, 0, clean.stderr);
  const report = JSON.parse(clean.stdout) as { consistent: boolean; findings?: unknown[] };
  assert.equal(report.consistent, true);
  assert.deepEqual(report.findings ?? [], [], clean.stdout);
});
