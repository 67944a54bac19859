/**
 * The launcher's rootless fast path (bin/tsbuild): for a user with subordinate ids it runs unshare itself, so a
 * rootless command is one Node process (not a Node parent waiting for a Node child); help runs without a
 * namespace; and when the launcher shell is killed (SIGKILL, nothing forwarded), the command stops by itself
 * as on SIGTERM, leaving nothing running or mounted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { makeRootlessUser, ok, rootlessSkip, type RootlessUser } from '../helpers/rootless-user.js';

const run = promisify(execFile);
const skip = rootlessSkip();

/** The user's live processes (not zombies) as "pid ppid comm args" lines. */
async function processes(uid: number): Promise<string[]> {
  const ps = await run('ps', ['-o', 'pid=,ppid=,stat=,comm=,args=', '-u', String(uid)]).then((r) => r.stdout, () => '');
  return ps.split('\n').filter((l) => l.trim() && !/^\s*\d+\s+\d+\s+Z/.test(l));
}

/** Waits until `pred` holds on the user's processes (or `ms` pass) and returns them. */
async function waitFor(uid: number, pred: (p: string[]) => boolean, ms: number): Promise<string[]> {
  const end = Date.now() + ms;
  let p = await processes(uid);
  while (!pred(p) && Date.now() < end) { await sleep(100); p = await processes(uid); }
  return p;
}

describe('rootless launcher fast path', { skip }, () => {
  let user: RootlessUser;
  let busybox: BusyboxRootfs;

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

  it('runs a rootless command as one Node process, and help without a namespace', async () => {
    const launcher = spawn('runuser', ['-u', user.name, '--', 'env', '-i', `PATH=${process.env['PATH']}`, `HOME=${user.home}`, user.launcher, 'run', '--rm', 'busybox', 'sleep', '3'], { stdio: 'ignore' });
    try {
      const ps = await waitFor(user.uid, (p) => p.some((l) => / sleep 3$/.test(l) && !l.includes('tsbuild')), 20_000);
      const nodes = ps.filter((l) => /^\s*\d+\s+\d+\s+\S+\s+node\s/.test(l));
      assert.equal(nodes.length, 1, ps.join('\n'));
    } finally {
      await new Promise((r) => launcher.once('close', r));
    }
    assert.equal(launcher.exitCode, 0);
    const help = await user.tsbuild(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /tsbuild/);
  });

  it('stops the command, and what it ran, when the launcher shell is killed', async () => {
    // A build (SIGTERM aborts it; `run` would pass SIGTERM to the container, where sleep as PID 1 ignores it).
    const ctx = join(user.home, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN sleep 60\n');
    await user.give(ctx);
    const launcher = spawn('runuser', ['-u', user.name, '--', 'env', '-i', `PATH=${process.env['PATH']}`, `HOME=${user.home}`, user.launcher, 'build', '-t', 'slow', ctx], { stdio: 'ignore' });
    const closed = new Promise((r) => launcher.once('close', r));
    const ps = await waitFor(user.uid, (p) => p.some((l) => / sleep 60$/.test(l) && !l.includes('tsbuild')), 20_000);
    // The launcher shell: `/bin/sh …/bin/tsbuild build …` (its comm is the script's name).
    const sh = ps.find((l) => l.includes(`/bin/sh ${user.launcher} build`));
    assert.ok(sh, ps.join('\n'));
    process.kill(Number(sh.trim().split(/\s+/)[0]), 'SIGKILL');
    await closed;
    const left = await waitFor(user.uid, (p) => p.length === 0, 15_000);
    assert.deepEqual(left, []);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(user.home), 'a mount under the user home is left');
  });
});
