import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

test('pids limit 5 stops a fork loop; the cgroup is removed afterwards', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  // The step prints its own cgroups first (with the shell's read builtin: no fork to spend).
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'while read -r l; do echo "$l"; done < /proc/self/cgroup; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; wait'], { limits: { pidsLimit: 5 } }));
  // Positive control for the leak check: the step ran in the cgroup its runtime logged, which cgroupsLeft looks for.
  assert.equal(s.log.runs.length, 1, 'the runtime logged the container it ran');
  const { cgroupsPath } = s.log.runs[0]!;
  assert.ok(r.stdout.split('\n').some((l) => l.endsWith(`:${cgroupsPath}`)), `the step ran in ${cgroupsPath}:\n${r.stdout}`);
  assert.match(r.stderr, /can't fork|Resource temporarily unavailable/i);
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('memory limit kills a process that allocates more', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  // dd fills one 40 MB buffer
  const hog = ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=40M count=1 2>/dev/null; echo rc=$?'];
  const r = await runCollect(rt, specFor([rootfs.dir], s, hog, { limits: { memoryBytes: 16 * 1024 * 1024 } }));
  assert.equal(r.stdout, 'rc=137\n', 'dd was OOM-killed');
  const free = await runCollect(rt, specFor([rootfs.dir], s, hog));
  assert.equal(free.stdout, 'rc=0\n');
});
