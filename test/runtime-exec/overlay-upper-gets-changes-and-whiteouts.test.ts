import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

import { lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

test('writes land in the upper dir and a deleted lower file becomes a 0/0 char device whiteout', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo data > /tmp/new.txt && rm /bin/vi && mkdir -p /opt/x']));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(await readFile(join(s.upper, 'tmp/new.txt'), 'utf8'), 'data\n');
  const wh = await lstat(join(s.upper, 'bin/vi'));
  assert.ok(wh.isCharacterDevice(), 'whiteout is a character device');
  assert.equal(wh.rdev, 0);
  assert.ok((await lstat(join(s.upper, 'opt/x'))).isDirectory());
  // the lower dir is untouched
  assert.ok((await lstat(join(rootfs.dir, 'bin/vi'))).isSymbolicLink());
  // only what the step changed is in the upper dir, plus the /dev, /proc, /sys mountpoints the image lacked
  // (BuildKit keeps those too); no /etc/hosts or /etc/resolv.conf stubs.
  assert.deepEqual((await readdir(s.upper)).sort(), ['bin', 'dev', 'opt', 'proc', 'sys', 'tmp']);
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('several lower dirs stack top first, and an empty lower list runs on the upper dir alone', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  // step 1 writes /layer.txt into s.upper; step 2 uses [s.upper, rootfs] as lower
  const r1 = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo top > /etc/passwd-extra; echo one > /layer.txt']));
  assert.equal(r1.exitCode, 0, r1.stderr);
  const s2 = await scratch();
  t.after(() => s2.cleanup());
  const r2 = await runCollect(rt, specFor([s.upper, rootfs.dir], s2, ['cat', '/layer.txt']));
  assert.equal(r2.stdout, 'one\n');
  // empty lower: the upper dir is a whole rootfs here (copy of busybox made by a first run is overkill; bind the busybox dir)
  const s3 = await scratch();
  t.after(() => s3.cleanup());
  const rt3 = await runcRuntime(s3); // its own runtime: the leak check covers the containers of s3's runtime
  const snap = await snapshot(s3);
  const r3 = await runCollect(rt3, specFor([], s3, ['/bb/busybox', 'sh', '-c', '/bb/busybox echo alone > /out; /bb/busybox cat /out'], {
    env: ['PATH=/bb'],
    mounts: [{ type: 'bind', source: join(rootfs.dir, 'bin'), target: '/bb', readonly: true }],
  }));
  assert.equal(r3.exitCode, 0, r3.stderr);
  assert.equal(r3.stdout, 'alone\n');
  assert.deepEqual((await readdir(s3.upper)).sort(), ['bb', 'dev', 'out', 'proc', 'sys'].filter((n) => n !== 'bb'));
  assert.deepEqual(leaks(snap, await snapshot(s3)), NO_LEAKS);
});
