import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

import { ContainerStartError } from '../../runtime-exec/index.js';

test('a command missing from the image rejects with ContainerStartError and cleans up', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  await assert.rejects(runCollect(rt, specFor([rootfs.dir], s, ['no-such-tool', '--x'])), (e: unknown) =>
    e instanceof ContainerStartError && /executable file not found/.test(e.message) && /no-such-tool/.test(e.hint ?? ''));
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
