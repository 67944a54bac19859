import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

test('runc runs echo in the container and streams its stdout and stderr', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  assert.equal(rt.name, 'runc');
  const snap = await snapshot(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo hello world; echo oops >&2']));
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'hello world\n');
  assert.equal(r.stderr, 'oops\n');
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
