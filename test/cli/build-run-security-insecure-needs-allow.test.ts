/**
 * `RUN --security=insecure` needs the security.insecure entitlement, as in BuildKit: without
 * `--allow security.insecure` the build fails before any step runs, with one error line naming the Dockerfile
 * line and the flag to pass; with it, that step runs without seccomp and with every capability, while the
 * other RUN steps keep Docker's default seccomp profile. A wrong `--allow` value is one clear error too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { busyboxTar } from '../helpers/build-env.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { rootWithContext, tsbuild } from '../runtime-exec/killed-build.js';

let bb: BusyboxRootfs & { tar: string };
before(async () => {
  bb = await busyboxTar();
});
after(() => bb.cleanup());

const DOCKERFILE = [
  'FROM busybox:latest',
  'RUN echo first-step-ran',
  // The default step: a filter, and creating a user namespace is refused by the profile.
  'RUN grep -q "^Seccomp:.*2$" /proc/self/status && ! unshare -U true',
  'RUN --security=insecure grep -q "^Seccomp:.*0$" /proc/self/status && unshare -U true && echo insecure-step-ran',
  '',
].join('\n');

test('RUN --security=insecure without --allow fails before running, with one error line', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const r = tsbuild(['--root', env.root, '--progress', 'plain', 'build', '--no-cache', env.ctx]);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n').filter((l) => /error/i.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /security=insecure.*Dockerfile:4.*--allow security\.insecure/);
  assert.doesNotMatch(r.stderr + r.stdout, /first-step-ran/, 'no step ran');
});

test('with --allow security.insecure the insecure step runs unconfined and the others stay filtered', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const r = tsbuild(['--root', env.root, '--progress', 'plain', 'build', '--no-cache', '--allow', 'security.insecure', env.ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /insecure-step-ran/);
});

test('an unknown --allow value is one clear error', { timeout: 60_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const r = tsbuild(['--root', env.root, 'build', '--allow', 'security.bogus', env.ctx]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /unknown entitlement --allow "security\.bogus".*security\.insecure, network\.host/);
});
