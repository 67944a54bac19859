import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { leaks, NO_LEAKS, runCollect, runcRuntime, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

import { lstat, access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

test('/etc/hosts, resolv.conf and hostname are provided inside but never land in the upper dir', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const snap = await snapshot(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hostname; hostname; echo x > /etc/hosts'], {
    hostname: 'stepbox',
    extraHosts: [{ host: 'registry.local', ip: '10.1.2.3' }],
  }));
  const [hosts, resolv, hostname] = r.stdout.split('---\n');
  assert.match(hosts ?? '', /^127\.0\.0\.1\tlocalhost stepbox$/m);
  assert.match(hosts ?? '', /^10\.1\.2\.3\tregistry\.local$/m);
  assert.match(resolv ?? '', /nameserver /);
  assert.equal(hostname, 'stepbox\nstepbox\n');
  assert.match(r.stderr, /Read-only file system/, 'the bind mounts are read-only');
  assert.notEqual(r.exitCode, 0);
  for (const f of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname']) {
    await assert.rejects(access(join(s.upper, f)), `${f} must not be in the upper dir`);
  }
  // As in BuildKit, the /proc, /sys and /dev mountpoints the image lacked stay as empty directories.
  for (const d of ['proc', 'sys', 'dev']) {
    const st = await lstat(join(s.upper, d));
    assert.ok(st.isDirectory() && (st.mode & 0o7777) === 0o755, `${d} is an empty 0755 dir`);
  }
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('an /etc/hosts the image already has keeps its content in the layer', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await runcRuntime(s);
  const lower = join(s.base, 'lower');
  await import('node:fs/promises').then((fs) => fs.mkdir(join(lower, 'etc'), { recursive: true }));
  await writeFile(join(lower, 'etc/hosts'), 'image hosts\n');
  const r = await runCollect(rt, specFor([lower, rootfs.dir], s, ['cat', '/etc/hosts']));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /localhost/);
  await assert.rejects(access(join(s.upper, 'etc/hosts')));
  assert.equal(await readFile(join(lower, 'etc/hosts'), 'utf8'), 'image hosts\n');
});
