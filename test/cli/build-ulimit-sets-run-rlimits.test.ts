/**
 * `tsbuild build --ulimit TYPE=SOFT[:HARD]` (buildx's flag, go-units' syntax) sets the resource limits of every RUN
 * through runc: soft and hard as given, HARD defaulting to SOFT, -1 unlimited; without it RUN keeps tsbuild's
 * open-files default. A bad type or a soft limit above the hard one is one usage error naming the value.
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

const DOCKERFILE = 'FROM busybox:latest\nRUN echo "limits nofile=$(ulimit -Sn):$(ulimit -Hn) core=$(ulimit -Sc):$(ulimit -Hc) nproc=$(ulimit -Su):$(ulimit -Hu)"\n';

test('--ulimit values are the rlimits RUN runs with', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const r = runCli(['--root', env.root, '--progress', 'plain', 'build', '--ulimit', 'nofile=1024:2048', '--ulimit', 'core=-1', '--ulimit', 'nproc=300', env.ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /limits nofile=1024:2048 core=unlimited:unlimited nproc=300:300$/m);
  const plain = runCli(['--root', env.root, '--progress', 'plain', 'build', env.ctx]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /0\/1 steps cached/, 'the ulimits are part of the step key');
  assert.doesNotMatch(plain.stderr + plain.stdout, /limits nofile=1024:2048/);
});

test('an --ulimit that cannot be applied is one usage error naming it', { timeout: 60_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const cases = [
    ['nofile=2048:1024', /--ulimit nofile=2048:1024: the soft limit is above the hard limit/],
    ['files=10', /--ulimit files=10:10: unknown ulimit type "files"/],
    ['nofile=lots', /--ulimit nofile=lots: not TYPE=SOFT\[:HARD\]/],
  ] as const;
  for (const [v, want] of cases) {
    const r = runCli(['--root', env.root, 'build', '--ulimit', v, env.ctx]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(onlyErrorLine(r), want);
  }
});
