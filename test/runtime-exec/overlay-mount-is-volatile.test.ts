import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

// A plain overlay's unmount syncs the whole disk under the upper dir, other programs' dirty pages included; the
// step's root is mounted `volatile` so that it does not (runtime-exec/overlay.ts). Twice over the same upper/work:
// the marker a volatile mount leaves in the workdir must not block the next mount.
test('a step runs on a volatile overlay, and the same upper dir can be mounted again', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  for (const round of [1, 2]) {
    const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'grep " / / " /proc/self/mountinfo']));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, / - overlay overlay .*\bvolatile\b/, `round ${round}: ${r.stdout}`);
  }
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
