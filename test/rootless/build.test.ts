/**
 * Rootless builds (issue 20): an unprivileged user with subordinate ids runs `tsbuild build`; the store is under
 * its ~/.local/share/tsbuild; files owned by other uids (a base layer's service users, RUN chown, COPY --chown)
 * land in the layers with the image's uids; the layer digests equal a root build's of the same Dockerfile with
 * SOURCE_DATE_EPOCH; a rebuild hits the cache and a changed file misses; nothing is left running or mounted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chownSync, chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { layerDigests, makeRootlessUser, ok, rootlessSkip, tsbuildAsRoot, type RootlessUser } from '../helpers/rootless-user.js';

const run = promisify(execFile);
const skip = rootlessSkip();
const EPOCH = { SOURCE_DATE_EPOCH: '0' };

const DOCKERFILE = `FROM base
RUN mkdir -p /srv/data && echo x > /srv/data/f && chown -R 1000:1000 /srv && chown 33:33 /srv/data/f && chmod 2775 /srv/data
COPY --chown=33:33 a.txt /a.txt
COPY --chown=65534:65534 dir /dir
RUN rm -rf /www && mkdir /www && touch /www/new && rm /svc/file && echo y >> /srv/data/f
`;

/** `tar -tv --numeric-owner` of the layer blob `digest` in `store`: "mode uid/gid path" lines. */
async function layerListing(store: string, digest: string): Promise<string[]> {
  const blob = join(store, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const { stdout } = await run('tar', ['-tvzf', blob, '--numeric-owner']);
  return stdout.trim().split('\n').map((l) => { const f = l.split(/\s+/); return `${f[0]} ${f[1]} ${f.slice(5).join(' ')}`; });
}

describe('rootless build', { skip }, () => {
  let user: RootlessUser;
  let busybox: BusyboxRootfs;
  let work = '';
  let rootStore = '';
  let ctx = '';

  before(async () => {
    user = await makeRootlessUser();
    busybox = await makeBusyboxRootfs();
    work = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-build-'));
    rootStore = join(work, 'root-store');
    // A base whose layer has files of root and of service users (www-data 33, nobody 65534, group shadow 42).
    const rootfs = join(work, 'rootfs');
    await run('cp', ['-a', busybox.dir, rootfs]);
    mkdirSync(join(rootfs, 'www'));
    writeFileSync(join(rootfs, 'www', 'index.html'), 'hi\n');
    chownSync(join(rootfs, 'www'), 33, 33);
    chownSync(join(rootfs, 'www', 'index.html'), 33, 33);
    mkdirSync(join(rootfs, 'svc'));
    writeFileSync(join(rootfs, 'svc', 'file'), 'svc\n');
    writeFileSync(join(rootfs, 'svc', 'keep'), 'keep\n');
    chownSync(join(rootfs, 'svc', 'file'), 65534, 65534);
    writeFileSync(join(rootfs, 'etc', 'shadow'), 'root:*:1::::::\n');
    chownSync(join(rootfs, 'etc', 'shadow'), 0, 42);
    chmodSync(join(rootfs, 'etc', 'shadow'), 0o640);
    ctx = join(user.home, 'ctx');
    mkdirSync(join(ctx, 'dir'), { recursive: true });
    const tar = join(user.home, 'base.tar');
    await run('tar', ['--sort=name', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-cf', tar, '.']);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    writeFileSync(join(ctx, 'a.txt'), 'a\n');
    writeFileSync(join(ctx, 'dir', 'b'), 'b\n');
    await user.give(ctx);
    await user.give(tar);
    ok(await user.tsbuild(['import', tar, 'base:latest'], { env: EPOCH }), 'rootless import');
    await tsbuildAsRoot(rootStore, ['import', tar, 'base:latest'], EPOCH);
  });

  after(async () => {
    await user?.cleanup();
    await busybox?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds as the user into ~/.local/share/tsbuild, with the same layer digests as root', async () => {
    const r = await user.tsbuild(['build', '--progress', 'plain', '-t', 'app', ctx], { env: EPOCH });
    ok(r, 'rootless build');
    assert.ok(existsSync(join(user.store, 'index.json')), `no store at ${user.store}`);
    await tsbuildAsRoot(rootStore, ['build', '--progress', 'quiet', '-t', 'app', ctx], EPOCH);
    const rootless = await layerDigests(user.store, 'app:latest');
    assert.equal(rootless.length, 5);
    assert.deepEqual(rootless, await layerDigests(rootStore, 'app:latest'));
  });

  it('keeps the image uids in the layers, not the host ids', async () => {
    const [base, runLayer, copyA] = (await layerDigests(user.store, 'app:latest')) as [string, string, string];
    const baseList = await layerListing(user.store, base);
    assert.ok(baseList.includes('-rw-r----- 0/42 ./etc/shadow'), baseList.filter((l) => l.includes('shadow')).join('\n'));
    assert.ok(baseList.includes('-rw-r--r-- 33/33 ./www/index.html'));
    assert.ok(baseList.includes('-rw-r--r-- 65534/65534 ./svc/file'));
    const runList = await layerListing(user.store, runLayer);
    assert.ok(runList.includes('drwxrwsr-x 1000/1000 srv/data/'), runList.join('\n'));
    assert.ok(runList.includes('-rw-r--r-- 33/33 srv/data/f'), runList.join('\n'));
    assert.ok((await layerListing(user.store, copyA)).includes('-rw-r--r-- 33/33 a.txt'));
  });

  it('turns a removed file and a re-made dir into a whiteout and an opaque dir', async () => {
    const layers = await layerDigests(user.store, 'app:latest');
    const list = await layerListing(user.store, layers.at(-1)!);
    assert.ok(list.some((l) => l.endsWith('svc/.wh.file')), list.join('\n'));
    assert.ok(list.some((l) => l.endsWith('www/.wh..wh..opq')), list.join('\n'));
  });

  it('hits the cache on a rebuild and misses after a change', async () => {
    const again = await user.tsbuild(['build', '--progress', 'plain', '-t', 'app', ctx], { env: EPOCH });
    ok(again, 'rebuild');
    assert.match(again.stdout + again.stderr, /4\/4 steps cached/);
    writeFileSync(join(ctx, 'a.txt'), 'changed\n');
    await user.give(ctx);
    const changed = await user.tsbuild(['build', '--progress', 'plain', '-t', 'app', ctx], { env: EPOCH });
    ok(changed, 'changed build');
    assert.match(changed.stdout + changed.stderr, /1\/4 steps cached/);
  });

  it('leaves no process of the user running and nothing mounted', async () => {
    // Zombies (state Z) are dead already: this machine's init reaps them late.
    const ps = await run('ps', ['-o', 'pid=,stat=,args=', '-u', String(user.uid)]).then((r) => r.stdout, () => '');
    assert.deepEqual(ps.split('\n').filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l)), []);
    const { stdout } = await run('cat', ['/proc/self/mountinfo']);
    assert.ok(!stdout.includes(user.home), 'a mount under the user home is left');
  });
});
