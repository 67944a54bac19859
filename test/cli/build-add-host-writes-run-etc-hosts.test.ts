/**
 * `tsbuild build --add-host NAME:IP` (buildx's flag) adds lines to every RUN's /etc/hosts: NAME:IP and NAME=IP,
 * several IPs separated by commas, IPv6 in brackets, names lower-cased, and `host-gateway` as 127.0.0.1 (RUN shares
 * the host's network). Host names enter the step's cache key, their IPs do not (as BuildKit's exec op). A value that
 * is not NAME:IP is one usage error naming it.
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

const DOCKERFILE = 'FROM busybox:latest\nRUN cat /etc/hosts\n';

test('--add-host entries are in RUN\'s /etc/hosts; a changed IP keeps the cache, a new name does not', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const base = ['--root', env.root, '--progress', 'plain', 'build'];
  const r = runCli([...base, '--add-host', 'db:10.1.2.3', '--add-host', 'Cache=10.0.0.7,[fd00::1]', '--add-host', 'gw:host-gateway', env.ctx]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stderr + r.stdout;
  assert.match(out, /^#\d+ 10\.1\.2\.3\tdb$/m);
  assert.match(out, /^#\d+ 10\.0\.0\.7\tcache$/m);
  assert.match(out, /^#\d+ fd00::1\tcache$/m);
  assert.match(out, /^#\d+ 127\.0\.0\.1\tgw$/m);
  const sameNames = runCli([...base, '--add-host', 'db:10.9.9.9', '--add-host', 'Cache=10.0.0.7,[fd00::1]', '--add-host', 'gw:host-gateway', env.ctx]);
  assert.equal(sameNames.code, 0, sameNames.stderr);
  assert.match(sameNames.stderr, /1\/1 steps cached/, 'only the IP changed: BuildKit keeps host IPs out of the key');
  const otherName = runCli([...base, '--add-host', 'other:10.1.2.3', env.ctx]);
  assert.equal(otherName.code, 0, otherName.stderr);
  assert.match(otherName.stderr, /0\/1 steps cached/);
  assert.match(otherName.stderr + otherName.stdout, /^#\d+ 10\.1\.2\.3\tother$/m);
});

test('an --add-host value without a name or with a bad IP is one usage error naming it', { timeout: 60_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  for (const [v, want] of [['db:10.1.2', /--add-host db:10\.1\.2: "10\.1\.2" is not an IP address/], ['10.1.2.3', /--add-host 10\.1\.2\.3: not NAME:IP/]] as const) {
    const r = runCli(['--root', env.root, 'build', '--add-host', v, env.ctx]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(onlyErrorLine(r), want);
  }
});
