/**
 * `tsbuild build --cgroup-parent PATH` (buildx's flag) creates every RUN container's cgroup under PATH, as
 * BuildKit does (`PATH/tsbuild/<container id>`; BuildKit's level is `buildkit`). A systemd slice (runc here uses
 * cgroupfs) or a path with `..` is one usage error naming it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
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

const DOCKERFILE = 'FROM busybox:latest\nRUN sed "s/^/cgroup /" /proc/self/cgroup\n';
const CGROUP_ROOT = '/sys/fs/cgroup';

/** Removes this test's parent cgroup dirs (runc leaves the parents it made, as Docker's do) in every hierarchy. */
async function removeParent(parent: string): Promise<void> {
  const hierarchies = ['', ...(await readdir(CGROUP_ROOT).catch(() => [] as string[]))];
  for (const h of hierarchies) {
    for (const p of [`${parent}/tsbuild`, parent]) await rmdir(join(CGROUP_ROOT, h, p)).catch(() => undefined);
  }
}

test('RUN runs in a cgroup below --cgroup-parent', { timeout: 120_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  const parent = `tsbuild-test-${randomBytes(4).toString('hex')}`;
  t.after(() => removeParent(parent));
  const r = runCli(['--root', env.root, '--progress', 'plain', 'build', '--cgroup-parent', parent, env.ctx]);
  assert.equal(r.code, 0, r.stderr);
  const lines = (r.stderr + r.stdout).split('\n').filter((l) => / cgroup \d+:/.test(l));
  assert.ok(lines.length > 0, r.stderr);
  for (const l of lines) assert.match(l, new RegExp(`:/${parent}/tsbuild/tsbuild-\\d+-[0-9a-f]{12}$`), l);
});

test('a --cgroup-parent that cannot be honoured is one usage error naming it', { timeout: 60_000 }, async (t) => {
  const env = await rootWithContext(bb.tar, DOCKERFILE);
  t.after(() => env.cleanup());
  for (const [v, want] of [['user.slice:tsbuild:', /--cgroup-parent user\.slice:tsbuild:: a systemd slice/], ['a/../b', /--cgroup-parent a\/\.\.\/b: not a cgroup path/]] as const) {
    const r = runCli(['--root', env.root, 'build', '--cgroup-parent', v, env.ctx]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(onlyErrorLine(r), want);
  }
});
