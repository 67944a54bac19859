/**
 * fuse-overlayfs, rootless mode's overlay where the kernel refuses an unprivileged one (issue 20). The kernel here
 * allows it, so these builds force it (TSBUILD_OVERLAY=fuse-overlayfs): every equivalence fixture, and a build with
 * whiteouts, opaque dirs, new dirs, service-user files and copy-ups of setuid files and setgid/sticky dirs, give
 * root's (kernel overlay) layer digests with SOURCE_DATE_EPOCH; a RUN step sees a fuse-overlayfs root; a killed
 * build leaves no fuse-overlayfs daemon (nor anything else) of the user running; bad values are one-line errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { defaultBundleParent } from '../../runtime-exec/index.js';
import { layerDigests, makeRootlessUser, ok, rootlessSkip, tsbuildAsRoot, type RootlessUser } from '../helpers/rootless-user.js';
import { listFixtures, prepareContext } from '../equivalence/describe.js';

const run = promisify(execFile);
const EPOCH = { SOURCE_DATE_EPOCH: '0' };
const FUSE = { ...EPOCH, TSBUILD_OVERLAY: 'fuse-overlayfs' };
const FIXTURES = join(repoRoot(), 'fixtures', 'equivalence');

function fuseSkip(): string | false {
  const base = rootlessSkip();
  if (base) return base;
  if (spawnSync('sh', ['-c', 'command -v fuse-overlayfs']).status !== 0) return 'fuse-overlayfs is not installed (npm run setup)';
  try {
    if ((statSync('/dev/fuse').mode & 0o006) !== 0o006) return '/dev/fuse is not open to users (npm run setup gives it udev\'s 0666)';
  } catch {
    return 'no /dev/fuse';
  }
  return false;
}
const skip = fuseSkip();

// Copy-ups that fuse-overlayfs gets wrong by itself (setuid file, setgid and sticky dirs), a dir removed and
// made again (opaque), a new dir tree (not opaque), a whiteout, files of service users.
const DOCKERFILE = `FROM busybox
RUN mkdir -p /srv/data /srv/tmp && echo x > /srv/data/f && cp /bin/busybox /srv/su && chmod 4755 /srv/su \\
 && chown -R 1000:1000 /srv && chown 33:33 /srv/data/f && chmod 2775 /srv/data && chmod 1777 /srv/tmp && chmod 4755 /srv/su
RUN echo y >> /srv/data/f && touch /srv/tmp/t && touch -m -d @5 /srv/su && rm -rf /root && mkdir -p /root/a/b && rm /bin/zcat \\
 && mkdir -p /new/x/y && chown 33:33 /new/x
RUN grep -c fuse-overlayfs /proc/self/mountinfo || true
`;

describe('rootless builds with fuse-overlayfs match root builds', { skip }, () => {
  let user: RootlessUser;
  let work = '';
  let rootStore = '';

  before(async () => {
    user = await makeRootlessUser();
    work = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-fuse-'));
    chmodSync(work, 0o755);
    rootStore = join(work, 'root-store');
    await run('sh', [join(repoRoot(), 'fixtures/scripts/make-busybox-rootfs.sh'), join(work, 'rootfs'), '-o', join(work, 'busybox.tar')], { env: { ...process.env, ...EPOCH } });
    const tar = join(user.home, 'busybox.tar');
    copyFileSync(join(work, 'busybox.tar'), tar);
    await user.give(tar);
    ok(await user.tsbuild(['import', tar, 'busybox:latest'], { env: EPOCH }), 'rootless import');
    await tsbuildAsRoot(rootStore, ['import', tar, 'busybox:latest'], EPOCH);
  });

  after(async () => {
    await user?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs the steps on fuse-overlayfs and gives root\'s layers (copy-ups, opaque and new dirs, whiteouts)', async () => {
    const ctx = join(user.home, 'app');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    await user.give(ctx);
    const r = await user.tsbuild(['build', '--progress', 'plain', '-t', 'app', ctx], { env: FUSE });
    const out = ok(r, 'fuse-overlayfs build') + r.stderr;
    // The last RUN counted the fuse-overlayfs mounts it saw: its root at least.
    assert.match(out, /#\d+ [1-9]\d*\n/, out);
    await tsbuildAsRoot(rootStore, ['build', '--progress', 'quiet', '-t', 'app', ctx], EPOCH);
    const digests = await layerDigests(user.store, 'app:latest');
    assert.equal(digests.length, 4);
    assert.deepEqual(digests, await layerDigests(rootStore, 'app:latest'));
  });

  it('leaves no fuse-overlayfs daemon or other process of the user when a build is killed', async () => {
    const slow = join(user.home, 'slow');
    mkdirSync(slow);
    writeFileSync(join(slow, 'Dockerfile'), 'FROM busybox\nRUN sleep 60\n');
    await user.give(slow);
    const bundles = defaultBundleParent(); // where the user's runs make their bundles (the same rule for every user)
    const ownBundles = () => readdirSync(bundles).filter((n) => n.startsWith('tsbuild-run-') && statSync(join(bundles, n), { throwIfNoEntry: false })?.uid === user.uid);
    const before = new Set(ownBundles()); // of an earlier user with the same uid
    const child = spawn('runuser', ['-u', user.name, '--', 'env', '-i', `PATH=${process.env['PATH']}`, `HOME=${user.home}`, 'TSBUILD_OVERLAY=fuse-overlayfs', user.launcher, 'build', '--progress', 'plain', slow], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const closed = new Promise((resolve) => child.once('close', resolve));
    const processes = async (): Promise<string[]> => {
      const ps = await run('ps', ['-o', 'pid=,stat=,comm=', '-u', String(user.uid)]).then((x) => x.stdout, () => '');
      return ps.split('\n').filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l)); // zombies are dead already
    };
    const t0 = Date.now();
    // Killed once the step runs (its supervisor started): the daemon and the container are both there.
    const running = async () => { const p = await processes(); return p.some((l) => l.includes('fuse-overlayfs')) && p.some((l) => / sleep$/.test(l)); };
    while (!(await running()) && Date.now() - t0 < 30_000) await new Promise((res) => setTimeout(res, 100));
    assert.ok(await running(), `the step did not start on fuse-overlayfs: ${(await processes()).join('; ')}`);
    process.kill(-child.pid!, 'SIGKILL');
    await closed;
    let left = await processes();
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((res) => setTimeout(res, 200));
      left = await processes();
    }
    assert.deepEqual(left, []);
    const { stdout } = await run('cat', ['/proc/self/mountinfo']);
    assert.ok(!stdout.includes(user.home), 'a mount under the user home is left');
    // The step's runc bundle (in the temp dir, outside the store) is removed by its supervisor.
    assert.deepEqual(ownBundles().filter((n) => !before.has(n)), []);
    const fsck = await user.tsbuild(['fsck']);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  });

  it('uses the kernel\'s overlay with TSBUILD_OVERLAY=kernel (and by default, where the kernel allows it)', async () => {
    const ctx = join(user.home, 'app');
    for (const env of [{ TSBUILD_OVERLAY: 'kernel' }, {}]) {
      const r = await user.tsbuild(['build', '--no-cache', '--progress', 'plain', ctx], { env: { ...EPOCH, ...env } });
      assert.match(ok(r, `build with ${JSON.stringify(env)}`) + r.stderr, /#\d+ 0\n/);
    }
  });

  it('refuses a TSBUILD_OVERLAY it does not know, and fuse-overlayfs as root, with one line', async () => {
    const ctx = join(user.home, 'app');
    const bad = await user.tsbuild(['build', '--no-cache', '--progress', 'quiet', ctx], { env: { TSBUILD_OVERLAY: 'fuse' } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /TSBUILD_OVERLAY=fuse is not an overlay program.*kernel, fuse-overlayfs/);
    await assert.rejects(tsbuildAsRoot(rootStore, ['build', '--no-cache', '--progress', 'quiet', ctx], FUSE), /TSBUILD_OVERLAY=fuse-overlayfs applies only to rootless mode/);
  });

  for (const name of listFixtures(FIXTURES)) {
    it(`equivalence fixture ${name}`, async () => {
      const ctx = join(work, 'ctx', name);
      prepareContext(join(FIXTURES, name), ctx);
      await user.give(ctx);
      const ref = `eq-${name}:latest`;
      ok(await user.tsbuild(['build', '--progress', 'plain', '-t', ref, ctx], { env: FUSE }), `fuse-overlayfs build of ${name}`);
      await tsbuildAsRoot(rootStore, ['build', '--progress', 'quiet', '-t', ref, ctx], EPOCH);
      assert.deepEqual(await layerDigests(user.store, ref), await layerDigests(rootStore, ref));
    });
  }
});
