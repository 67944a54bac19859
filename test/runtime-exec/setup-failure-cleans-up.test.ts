import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ContainerStartError } from '../../runtime-exec/index.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

test('a failing overlay mount or a bad spec rejects with ContainerStartError and leaves nothing', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  await assert.rejects(runCollect(rt, specFor([rootfs.dir], { upper: s.upper, work: join(s.base, 'missing-work') }, ['true'])),
    (e: unknown) => e instanceof ContainerStartError && /overlay mount failed/.test(e.message));
  await assert.rejects(runCollect(rt, specFor([rootfs.dir], s, ['true'], { cwd: 'relative' })), /not absolute/);
  await assert.rejects(runCollect(rt, specFor([rootfs.dir], s, [])), /command is empty/);
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
