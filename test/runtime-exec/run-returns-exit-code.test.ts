import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

test('a non-zero exit code is returned, not thrown, and nothing is left behind', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo failing >&2; exit 42']));
  assert.equal(r.exitCode, 42);
  assert.equal(r.stderr, 'failing\n');
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
