/**
 * Where rootless mode cannot have a user namespace, the first command says what is missing and the exact fix in
 * one line, before any work (issue 20): a user without subordinate ids, newuidmap/newgidmap missing from PATH,
 * and user namespaces used up (the user's tsbuild runs in a namespace whose parent allows no more: its
 * user.max_user_namespaces is 0, set by root there, which leaves the host's sysctl alone).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyErrorLine } from '../helpers/cli.js';
import { makeRootlessUser, rootlessSkip, type RootlessUser, type UserResult } from '../helpers/rootless-user.js';

const skip = rootlessSkip();

describe('rootless prerequisites', { skip }, () => {
  let user: RootlessUser;
  let bare: RootlessUser;
  let work = '';
  let ctx = '';

  before(async () => {
    user = await makeRootlessUser();
    bare = await makeRootlessUser({ ranges: false });
    work = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-prereq-'));
    chmodSync(work, 0o755);
    ctx = join(work, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /\n');
  });

  after(async () => {
    await user?.cleanup();
    await bare?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('names the missing subordinate ranges and the usermod line', async () => {
    const r = await bare.tsbuild(['build', '-t', 'x', ctx]);
    assert.equal(r.code, 1);
    const line = onlyErrorLine(r);
    assert.match(line, new RegExp(`no subordinate uid and gid range for user ${bare.name} in /etc/subuid and /etc/subgid`));
    assert.ok(line.includes(`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${bare.name}`), line);
    assert.equal(existsSync(bare.store), false, 'work was done before the check');
  });

  it('names newuidmap and newgidmap when they are not on PATH', async () => {
    // A PATH with node and unshare but not the uidmap tools.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/usr/bin/unshare', join(bin, 'unshare'));
    const r = await user.tsbuild(['build', '-t', 'x', ctx], { env: { PATH: bin } });
    assert.equal(r.code, 1);
    const line = onlyErrorLine(r);
    assert.match(line, /newuidmap and newgidmap not found on PATH/);
    assert.match(line, /apt-get install -y uidmap/);
    assert.equal(existsSync(user.store), false, 'work was done before the check');
  });

  // util-linux 2.38's unshare forks a helper (for newuidmap/newgidmap) that waits on an eventfd for unshare(2)
  // to succeed; when it fails, the helper is never told and waits forever, holding the pipes: this test waited
  // for their close, a shell does not (it passed by hand, leaking the helper). tsbuild now kills it.
  it('says that user namespaces are used up, with the sysctl', { timeout: 60_000 }, async () => {
    // Root makes namespace A (root only mapped) and, in it, B with the user's uid; then sets A's
    // user.max_user_namespaces to 0, so the user's tsbuild in B cannot make the namespace it needs.
    const flag = join(work, 'limit-set');
    const script = `unshare --user --map-user=${user.uid} --map-group=${user.gid} sh -c 'until [ -e ${flag} ]; do sleep 0.05; done; exec "$@"' sh env -i PATH=/usr/bin:/bin HOME=${user.home} XDG_RUNTIME_DIR=${join(work, 'xdg')} "$@" &
b=$!
until [ "$(readlink /proc/$b/ns/user)" != "$(readlink /proc/self/ns/user)" ]; do sleep 0.05; done
echo 0 > /proc/sys/user/max_user_namespaces
touch ${flag}
wait $b`;
    mkdirSync(join(work, 'xdg'), { mode: 0o700 }); // root's here: the user's in B, where it is mapped to root
    const r = await new Promise<UserResult>((resolve, reject) => {
      const child = spawn('unshare', ['--user', '--map-root-user', 'sh', '-c', script, 'sh', user.launcher, 'build', '-t', 'x', ctx], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
    const line = onlyErrorLine(r);
    assert.match(line, /cannot create a user namespace for rootless mode: .*No space left on device/);
    assert.match(line, /sysctl -w user\.max_user_namespaces=15000/);
    // No unshare helper left waiting (the processes named unshare in this process group, zombies aside).
    const pgrp = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[2];
    const left = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        return st.includes(' (unshare) ') && f[0] !== 'Z' && f[2] === pgrp;
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, []);
  });
});
