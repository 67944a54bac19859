import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

test('network none gives a namespace with only lo; host shares the host interfaces', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  const none = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'ls /sys/class/net; cat /sys/class/net/lo/operstate']));
  assert.equal(none.exitCode, 0, none.stderr);
  const ifs = none.stdout.trim().split(/\s+/);
  assert.deepEqual(ifs.slice(0, -1), ['lo']);
  const host = await runCollect(rt, specFor([rootfs.dir], s, ['ls', '/sys/class/net'], { network: 'host' }));
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual(host.stdout.trim().split(/\s+/).sort(), (await readdir('/sys/class/net')).sort());
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
