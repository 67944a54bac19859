/**
 * Rootless RUN steps (issue 20): `--network none` gives only loopback, the host network is the default;
 * `--memory` without cgroup delegation fails with one line that says so (never silently unlimited); a RUN that
 * needs a privilege the user lacks (mknod of a device) fails with one line naming the step.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onlyErrorLine } from '../helpers/cli.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { makeRootlessUser, ok, rootlessSkip, type RootlessUser } from '../helpers/rootless-user.js';

const skip = rootlessSkip();

describe('rootless network modes, limits and privileges', { skip }, () => {
  let user: RootlessUser;
  let busybox: BusyboxRootfs;
  const ctx = (name: string, dockerfile: string): string => {
    const dir = join(user.home, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    return dir;
  };

  before(async () => {
    user = await makeRootlessUser();
    busybox = await makeBusyboxRootfs({ tar: true });
    const tar = join(user.home, 'busybox.tar');
    copyFileSync(busybox.tar!, tar);
    await user.give(tar);
    ok(await user.tsbuild(['import', tar, 'busybox:latest']), 'import');
  });

  after(async () => {
    await user?.cleanup();
    await busybox?.cleanup();
  });

  it('RUN --network=none sees only loopback; the default is the host network', async () => {
    const dir = ctx('net', 'FROM busybox\nRUN --network=none ls /sys/class/net > /none.txt\nRUN ls /sys/class/net > /host.txt && cat /none.txt /host.txt\n');
    await user.give(dir);
    const r = await user.tsbuild(['build', '--progress', 'plain', '-t', 'net', dir]);
    ok(r, 'build');
    const out = r.stdout + r.stderr;
    const host = (await import('node:fs')).readdirSync('/sys/class/net').sort();
    assert.match(out, /#\d+ lo\n/);
    for (const n of host.filter((n) => n !== 'lo')) assert.ok(out.includes(n), `host interface ${n} not seen:\n${out}`);
  });

  it('--memory fails with one line saying it needs cgroup delegation', async () => {
    const dir = ctx('mem', 'FROM busybox\nRUN true\n');
    await user.give(dir);
    const r = await user.tsbuild(['build', '--progress', 'quiet', '--memory', '64m', '-t', 'mem', dir]);
    assert.equal(r.code, 1);
    const line = onlyErrorLine(r);
    assert.match(line, /--memory cannot be applied rootless.*cgroup v2 delegation/);
  });

  it('a RUN that makes a device node fails with one line naming the step', async () => {
    const dir = ctx('dev', 'FROM busybox\nRUN mknod /dev-null c 1 3\n');
    await user.give(dir);
    const r = await user.tsbuild(['build', '--progress', 'quiet', '-t', 'dev', dir]);
    assert.equal(r.code, 1);
    const line = onlyErrorLine(r);
    assert.match(line, /mknod/);
    assert.match(line, /Dockerfile:2/);
    assert.match(line, /rootless/);
  });
});
