/**
 * Everything else works rootless too (issue 20): push to and pull from a loopback registry, `run` with a bind of
 * the user's own files, save and load, prune, fsck clean after a rootless build is killed, and a foreign-platform
 * RUN through the host's binfmt handler (QEMU).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { makeBusyboxRootfs, type BusyboxRootfs } from '../helpers/rootfs.js';
import { makeRootlessUser, ok, rootlessSkip, type RootlessUser } from '../helpers/rootless-user.js';

const run = promisify(execFile);
const skip = rootlessSkip();
const ARM64_BUSYBOX = join(repoRoot(), '.tmp', 'arm64', 'bin', 'busybox');

describe('rootless image commands', { skip }, () => {
  let user: RootlessUser;
  let busybox: BusyboxRootfs;
  let reg: RegistryHandle;
  let ctx = '';

  before(async () => {
    user = await makeRootlessUser();
    busybox = await makeBusyboxRootfs({ tar: true });
    reg = await startRegistry();
    const tar = join(user.home, 'busybox.tar');
    copyFileSync(busybox.tar!, tar);
    ctx = join(user.home, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built && chown 1000:1000 /built\n');
    await user.give(tar);
    await user.give(ctx);
    ok(await user.tsbuild(['import', tar, 'busybox:latest']), 'import');
    ok(await user.tsbuild(['build', '--progress', 'quiet', '-t', 'app', ctx]), 'build');
  });

  after(async () => {
    await reg?.stop();
    await user?.cleanup();
    await busybox?.cleanup();
  });

  it('pushes to a loopback registry and pulls it back', async () => {
    const ref = `${reg.host}/rootless/app:1`;
    ok(await user.tsbuild(['push', 'app', ref]), 'push');
    ok(await user.tsbuild(['pull', ref]), 'pull');
    const r = await user.tsbuild(['run', '--rm', ref, 'ls', '-n', '/built']);
    assert.match(ok(r, 'run pulled'), /1000\s+1000/);
  });

  it('runs with a bind of the user\'s own files', async () => {
    const data = join(user.home, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'f'), 'mine\n');
    await user.give(data);
    const r = await user.tsbuild(['run', '--rm', '-v', `${data}:/data`, 'app', 'sh', '-c', 'cat /data/f && echo out > /data/g']);
    assert.equal(ok(r, 'run -v'), 'mine\n');
    const st = await run('stat', ['-c', '%u', join(data, 'g')]);
    assert.equal(st.stdout.trim(), String(user.uid), 'a file written through the bind belongs to the user');
    // -v with a missing host directory creates it (dockerd's rule), as the user: rootless, the user's own.
    const made = join(user.home, 'made', 'by-v');
    const m = await user.tsbuild(['run', '--rm', '-v', `${made}:/data`, 'app', 'sh', '-c', 'echo x > /data/f']);
    ok(m, 'run -v missing');
    const owner = await run('stat', ['-c', '%u %a', made, join(made, 'f')]);
    assert.equal(owner.stdout.split('\n')[0], `${user.uid} 755`, 'the created directory is the user\'s, 0755');
    assert.match(owner.stdout.split('\n')[1]!, new RegExp(`^${user.uid} `));
  });

  it('saves, loads and prunes', async () => {
    const file = join(user.home, 'app.tar');
    // --format docker: loading tsbuild's default (OCI) archive fails as root too (a bug outside rootless mode).
    ok(await user.tsbuild(['save', '--format', 'docker', '-o', file, 'app']), 'save');
    ok(await user.tsbuild(['rmi', 'app']), 'rmi');
    ok(await user.tsbuild(['load', '-i', file]), 'load');
    ok(await user.tsbuild(['run', '--rm', 'app', 'cat', '/built']), 'run loaded');
    ok(await user.tsbuild(['prune']), 'prune');
  });

  it('keeps the store consistent when a rootless build is killed', async () => {
    const slow = join(user.home, 'slow');
    mkdirSync(slow);
    writeFileSync(join(slow, 'Dockerfile'), 'FROM busybox\nRUN sleep 60\n');
    await user.give(slow);
    const child = spawn('runuser', ['-u', user.name, '--', 'env', '-i', `PATH=${process.env['PATH']}`, `HOME=${user.home}`, user.launcher, 'build', '--progress', 'plain', slow], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const closed = new Promise((resolve) => child.once('close', resolve));
    const t0 = Date.now();
    while (!out.includes('RUN sleep 60') && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(-child.pid!, 'SIGKILL');
    await closed;
    await new Promise((r) => setTimeout(r, 2000)); // the supervisor kills the container once its tie is gone
    const fsck = await user.tsbuild(['fsck']);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  });

  it('runs a foreign-platform RUN under the host\'s binfmt handler', { skip: existsSync(ARM64_BUSYBOX) ? false : 'no .tmp/arm64 (npm run setup)' }, async () => {
    const base = join(user.home, 'arm');
    await run('sh', [join(repoRoot(), 'fixtures', 'scripts', 'make-busybox-rootfs.sh'), join(base, 'rootfs'), '-o', join(base, 'arm64.tar'), '-b', ARM64_BUSYBOX]);
    writeFileSync(join(base, 'Dockerfile'), 'FROM bb-arm\nRUN uname -m > /arch && cat /arch\n');
    await user.give(base);
    ok(await user.tsbuild(['import', '--platform', 'linux/arm64', join(base, 'arm64.tar'), 'bb-arm:latest']), 'import arm64');
    const r = await user.tsbuild(['build', '--progress', 'plain', '--platform', 'linux/arm64', '-t', 'arm', base]);
    assert.match(ok(r, 'arm64 build') + r.stderr, /aarch64/);
  });
});
