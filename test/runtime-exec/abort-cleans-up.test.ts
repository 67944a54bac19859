import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

import { AbortedError } from '../../layer-store/core/index.js';
import { collector } from './harness.js';

test('aborting a running step kills it quickly and leaves no mount, container, cgroup or temp dir', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 300);
  await assert.rejects(
    rt.run(specFor([rootfs.dir], s, ['sh', '-c', 'sleep 30 & sleep 30']), { stdout: collector(), stderr: collector() }, ac.signal),
    (e: unknown) => e instanceof AbortedError,
  );
  const took = Date.now() - t0;
  assert.ok(took < 5000, `settled after ${took} ms`);
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('an already aborted signal runs nothing', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  await assert.rejects(rt.run(specFor([rootfs.dir], s, ['true']), { stdout: collector(), stderr: collector() }, AbortSignal.abort()), AbortedError);
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('aborts at any moment of setup or run leave nothing behind', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  for (const ms of [1, 10, 25, 50, 80, 120, 200]) {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), ms);
    const p = rt.run(specFor([rootfs.dir], s, ['sleep', '30']), { stdout: collector(), stderr: collector() }, ac.signal);
    await assert.rejects(p, AbortedError, `abort after ${ms} ms`);
  }
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
  // No /etc or mount stubs; only the /dev, /proc, /sys mountpoints the image lacks, as BuildKit keeps them.
  const left = (await import('node:fs/promises').then((fs) => fs.readdir(s.upper))).sort();
  assert.ok(left.every((n) => ['dev', 'proc', 'sys'].includes(n)), `no stubs left in the upper dir: ${left.join(' ')}`);
});
