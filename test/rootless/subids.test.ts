/**
 * IDs above 65535 rootless (issue 20): the user namespace maps every subordinate range of the user's, so a user
 * with 200,000 ids (one range) or 131,072 (two ranges) builds on a base with files of uid 70000 and 100000 and
 * gets root's layer digests, through the launcher's fast path and the Node way alike; a user with 65,536 ids
 * gets one error line naming the file, the id, the mapped count and the usermod fix; ranges that newuidmap refuses
 * give one line with its message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { layerDigests, makeRootlessUser, ok, rootlessSkip, tsbuildAsRoot, type RootlessUser } from '../helpers/rootless-user.js';

const run = promisify(execFile);
const skip = rootlessSkip();
const EPOCH = { SOURCE_DATE_EPOCH: '0' };
const DOCKERFILE = 'FROM base\nRUN ls -ln /data && echo x >> /data/big && chown 100001:70001 /data/small\n';

describe('rootless ids above 65535', { skip }, () => {
  const users: RootlessUser[] = [];
  let busybox: BusyboxRootfs;
  let work = '';
  let tar = '';
  let rootStore = '';

  /** Makes a user with ranges of `counts` ids and gives it the base tar and the build context. */
  async function userWith(counts: readonly number[]): Promise<{ user: RootlessUser; ctx: string }> {
    const user = await makeRootlessUser({ counts });
    users.push(user);
    const ctx = join(user.home, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    await run('cp', [tar, join(user.home, 'base.tar')]);
    await user.give(ctx);
    await user.give(join(user.home, 'base.tar'));
    ok(await user.tsbuild(['import', join(user.home, 'base.tar'), 'base:latest'], { env: EPOCH }), 'rootless import');
    return { user, ctx };
  }

  before(async () => {
    busybox = await makeBusyboxRootfs();
    work = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-subids-'));
    rootStore = join(work, 'root-store');
    const rootfs = join(work, 'rootfs');
    await run('cp', ['-a', busybox.dir, rootfs]);
    mkdirSync(join(rootfs, 'data'));
    writeFileSync(join(rootfs, 'data', 'big'), 'big\n');
    chownSync(join(rootfs, 'data', 'big'), 100000, 100000);
    writeFileSync(join(rootfs, 'data', 'small'), 'small\n');
    chownSync(join(rootfs, 'data', 'small'), 70000, 65535);
    tar = join(work, 'base.tar');
    await run('tar', ['--sort=name', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-cf', tar, '.']);
    await tsbuildAsRoot(rootStore, ['import', tar, 'base:latest'], EPOCH);
    const ctx = join(work, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    await tsbuildAsRoot(rootStore, ['build', '--progress', 'quiet', '-t', 'app', ctx], EPOCH);
  });

  after(async () => {
    for (const u of users) await u.cleanup();
    await busybox?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a user with one range of 200,000 ids builds files of uid 100000 with root\'s digests', async () => {
    const { user, ctx } = await userWith([200000]);
    const r = await user.tsbuild(['build', '--progress', 'plain', '-t', 'app', ctx], { env: EPOCH });
    assert.match(ok(r, 'rootless build') + r.stderr, /100000\s+100000\s+4 Jan/);
    assert.deepEqual(await layerDigests(user.store, 'app:latest'), await layerDigests(rootStore, 'app:latest'));
  });

  it('a user with two ranges of 65,536 ids gets both mapped, through the launcher and the Node way', async () => {
    const { user, ctx } = await userWith([65536, 65536]);
    const launched = await user.tsbuild(['run', '--rm', 'base', 'cat', '/proc/self/uid_map']);
    const lines = ok(launched, 'run through the launcher').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    assert.deepEqual(lines.map(([inner, , count]) => [inner, count]), [[0, 1], [1, 65536], [65537, 65536]]);
    const viaNode = await user.exec(process.execPath, [join(user.launcher, '..', '..', 'dist', 'bin', 'tsbuild.mjs'), 'build', '--progress', 'quiet', '-t', 'app', ctx], { env: EPOCH });
    ok(viaNode, 'build the Node way');
    assert.deepEqual(await layerDigests(user.store, 'app:latest'), await layerDigests(rootStore, 'app:latest'));
  });

  it('ranges that newuidmap refuses (overlapping) give one line with its message and the fix, and leave nothing', async () => {
    const user = await makeRootlessUser({ counts: [65536] });
    users.push(user);
    for (const f of ['/etc/subuid', '/etc/subgid']) {
      const start = Number(readFileSync(f, 'utf8').split('\n').find((l) => l.startsWith(`${user.name}:`))!.split(':')[1]);
      appendFileSync(f, `${user.name}:${start + 1000}:10\n`);
    }
    const r = await user.tsbuild(['images']);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^error: cannot map the user namespace for rootless mode: new([ug])idmap 0 \d+ 1 1 \d+ 65536 65537 \d+ 10: new\1idmap: write to \1id_map failed: Invalid argument: .*\/etc\/sub\1id \(no overlaps.*usermod --add-subuids/);
    const ps = await run('ps', ['-o', 'pid=,stat=,comm=', '-u', String(user.uid)]).then((x) => x.stdout, () => '');
    assert.deepEqual(ps.split('\n').filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l)), []);
    const own = readdirSync(tmpdir()).filter((n) => n === `tsbuild-xdg-${user.uid}`).flatMap((n) => readdirSync(join(tmpdir(), n)));
    assert.deepEqual(own.filter((n) => n.startsWith('tsbuild-map.') || n.startsWith('tsbuild-start.')), []);
  });

  it('a user with 65,536 ids gets one line naming the file, the id, the mapped count and the fix', async () => {
    const { user, ctx } = await userWith([65536]);
    const r = await user.tsbuild(['build', '--progress', 'quiet', '-t', 'app', ctx], { env: EPOCH });
    assert.notEqual(r.code, 0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /"\.\/data\/big" \(owner 100000:100000\): uid 100000 is outside the 65537 uids \(0-65536\) this rootless user namespace maps/);
    assert.match(lines[0]!, new RegExp(`usermod --add-subuids \\d+-\\d+ --add-subgids \\d+-\\d+ ${user.name}`));
  });
});
