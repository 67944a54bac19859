import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

test('bind and tmpfs mounts work, and their mountpoints do not end up in the upper dir', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const src = join(s.base, 'src');
  const rw = join(s.base, 'rw');
  await mkdir(src);
  await mkdir(rw);
  await writeFile(join(src, 'in.txt'), 'from host\n');
  const snap = await snapshot(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'cat /mnt/ro/deep/in.txt; touch /mnt/ro/deep/x 2>/dev/null || echo ro; echo out > /cache/o.txt; echo t > /scratch/t; echo kept > /tmp/k'], {
    mounts: [
      { type: 'bind', source: src, target: '/mnt/ro/deep', readonly: true },
      { type: 'bind', source: rw, target: '/cache' },
      { type: 'tmpfs', target: '/scratch', size: 1 << 20 },
    ],
  }));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'from host\nro\n');
  assert.equal(await readFile(join(rw, 'o.txt'), 'utf8'), 'out\n');
  assert.deepEqual((await readdir(s.upper)).sort(), ['dev', 'proc', 'sys', 'tmp'], 'only the step\'s own write (and the /dev, /proc, /sys mountpoints BuildKit keeps) is in the layer');
  await assert.rejects(access(join(s.upper, 'mnt')));
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
