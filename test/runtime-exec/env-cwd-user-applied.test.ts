import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveUser } from '../../runtime-exec/index.js';
import { PATH_ENV } from './harness.js';

test('env, cwd (created when missing) and the user resolved from the image passwd are applied', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  const user = await resolveUser([rootfs.dir], 'app');
  assert.deepEqual(user, { uid: 1000, gid: 1000, additionalGids: [10] });
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo "$GREETING"; pwd; id -u; id -g; id -G; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status'], {
    env: [PATH_ENV, 'GREETING=hi there'],
    cwd: '/work/dir',
    user,
  }));
  assert.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'hi there');
  assert.equal(lines[1], '/work/dir');
  assert.equal(lines[2], '1000');
  assert.equal(lines[3], '1000');
  assert.deepEqual(lines[4]?.split(' ').sort(), ['10', '1000']);
  assert.match(lines[5] ?? '', /CapEff:\s+0+$/, 'a non-root user has no effective capabilities');
  assert.match(lines[6] ?? '', /NoNewPrivs:\s+1/);
  assert.ok((await lstat(join(s.upper, 'work/dir'))).isDirectory(), 'the cwd is created like Docker does');
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('root gets Docker default capabilities only', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'grep CapEff /proc/self/status']));
  // Docker's default set: chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap
  assert.match(r.stdout, /CapEff:\s+00000000a80425fb/);
});
