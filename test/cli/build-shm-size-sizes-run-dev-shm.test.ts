/**
 * `tsbuild build --shm-size SIZE` (buildx's flag) sets the size of RUN's /dev/shm (default 64 MiB); zero or a
 * value that is not a size is one usage error naming it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { busyboxTar } from '../helpers/build-env.js';
import { onlyErrorLine, runCli } from '../helpers/cli.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { rootWithContext } from '../runtime-exec/killed-build.js';

let bb: BusyboxRootfs & { tar: string };
before(async () => {
  bb = await busyboxTar();
});
after(() => bb.cleanup());

const DOCKERFILE = 'FROM busybox:latest\nRUN echo "shm-kb=$(df -k /dev/shm | awk \'NR == 2 { print $2 }\')"\n';

test('--shm-size is the size of /dev/shm in RUN', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const r = runCli(['--root', env.root, '--progress', 'plain', 'build', '--shm-size', '128m', env.ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /shm-kb=131072$/m);
  const dflt = runCli(['--root', env.root, '--progress', 'plain', 'build', env.ctx]);
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.match(dflt.stderr + dflt.stdout, /shm-kb=65536$/m, 'the default is 64 MiB, and the size is part of the key');
});

test('a --shm-size of zero or not a size is one usage error naming it', { timeout: 60_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  for (const [v, want] of [['0', /--shm-size 0: the size must be a positive/], ['big', /--shm-size big: not a size/]] as const) {
    const r = runCli(['--root', env.root, 'build', '--shm-size', v, env.ctx]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(onlyErrorLine(r), want);
  }
});
