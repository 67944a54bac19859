import assert from 'node:assert/strict';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AbortedError, type Logger } from '../../layer-store/core/index.js';
import { ContainerStartError, findRuntime, RuntimeMissingError } from '../../runtime-exec/index.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { collector, leaks, NO_LEAKS, PATH_ENV, runCollect, scratch, snapshot, specFor } from './harness.js';

let rootfs: BusyboxRootfs;
before(async () => {
  rootfs = await makeBusyboxRootfs();
});
after(() => rootfs.cleanup());

test('the chroot fallback isolates with unshare, is logged, and leaves nothing behind', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const warnings: string[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (m) => warnings.push(m) };
  const rt = await findRuntime({ runtime: 'chroot', tmpDir: s.tmp, logger });
  assert.equal(rt.name, 'chroot');
  assert.match(warnings.join('\n'), /unshare fallback/);
  const snap = await snapshot(s);
  const r = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo $$; id -u; pwd; echo "$V"; ls /sys/class/net; cat /etc/hostname; echo x > /data.txt; rm /bin/vi'], {
    env: [PATH_ENV, 'V=val'], cwd: '/w', user: { uid: 1000, gid: 1000 }, hostname: 'chrooted',
  }));
  assert.match(r.stderr, /can't create \/data.txt: Permission denied/, 'uid 1000 cannot write /: the user was applied');
  assert.equal(r.exitCode, 1);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(0, 4), ['1', '1000', '/w', 'val']);
  assert.deepEqual(lines.slice(4, 6), ['lo', 'chrooted']);
  const root = await runCollect(rt, specFor([rootfs.dir], s, ['sh', '-c', 'echo x > /data.txt; rm /bin/vi']));
  assert.equal(root.exitCode, 0, root.stderr);
  assert.ok((await lstat(join(s.upper, 'bin/vi'))).isCharacterDevice());
  assert.deepEqual((await readdir(s.upper)).sort(), ['bin', 'data.txt', 'dev', 'proc', 'sys', 'w']);
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('aborting a chroot-isolated step kills it and cleans up', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await findRuntime({ runtime: 'chroot', tmpDir: s.tmp });
  const snap = await snapshot(s);
  const t0 = Date.now();
  await assert.rejects(rt.run(specFor([rootfs.dir], s, ['sleep', '30']), { stdout: collector(), stderr: collector() }, AbortSignal.timeout(300)), AbortedError);
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});

test('findRuntime names what to install when the asked runtime is missing', async () => {
  await assert.rejects(findRuntime({ runtime: '/nonexistent/runc' }), (e: unknown) => e instanceof RuntimeMissingError && /apt-get install -y runc/.test(e.hint ?? ''));
});

test('the chroot fallback refuses a mount below the host\'s /dev that is missing (a RUN <<EOF script\'s /dev/pipes)', async (t) => {
  const s = await scratch();
  t.after(() => s.cleanup());
  const rt = await findRuntime({ runtime: 'chroot', tmpDir: s.tmp, logger: { debug: () => undefined, info: () => undefined, warn: () => undefined } });
  const target = `/dev/tsbuild-test-${process.pid}`;
  const snap = await snapshot(s);
  await assert.rejects(runCollect(rt, specFor([rootfs.dir], s, ['true'], { mounts: [{ type: 'bind', source: s.tmp, target, readonly: true }] })),
    (e: Error) => e instanceof ContainerStartError && e.message.includes(`cannot mount ${target}: /dev is the host's`));
  await assert.rejects(lstat(target), 'nothing was made in the host\'s /dev');
  assert.deepEqual(leaks(snap, await snapshot(s)), NO_LEAKS);
});
