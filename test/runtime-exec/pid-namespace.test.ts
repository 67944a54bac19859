import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { runCollect, runcRuntime, scratch, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

test('the process is pid 1 of its own PID namespace and sees no host processes', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo $$; ps -o pid,comm; echo end']));
  assert.equal(r.exitCode, 0, r.stderr);
  const [pid, _header, ...ps] = r.stdout.trim().split('\n').slice(0, -1);
  assert.equal(pid, '1');
  const procs = ps.map((l) => l.trim().split(/\s+/));
  assert.deepEqual(procs[0], ['1', 'sh']);
  assert.ok(procs.length <= 2, `only sh and ps are visible:\n${r.stdout}`);
});
