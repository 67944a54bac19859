/**
 * `tsbuild run [OPTIONS] IMAGE [COMMAND] [ARG…]` stands in for `docker run` in scripts that check an image: everything
 * after IMAGE is the command (its options included, `--` optional), the exit status is the process's, `-i` passes
 * stdin, docker's -e/--env-file/-w/-u/--entrypoint/--name/--hostname/--read-only apply, and -d/-p/--rm=false (and -t
 * without a terminal) are one usage error each naming what to use instead. Against real runc with the busybox test image.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { onlyErrorLine, runCli, TSBUILD_LAUNCHER } from '../helpers/cli.js';
import type { BusyboxRootfs } from '../helpers/rootfs.js';
import { rootWithContext } from '../runtime-exec/killed-build.js';

let bb: BusyboxRootfs & { tar: string };
let env: Awaited<ReturnType<typeof rootWithContext>>;
before(async () => {
  bb = await busyboxTar();
  env = await rootWithContext(bb.tar, 'FROM busybox:latest\n');
});
after(async () => {
  await env.cleanup();
  await bb.cleanup();
});

const run = (...args: string[]) => runCli(['--root', env.root, 'run', ...args]);

test('everything after IMAGE is the command, its options included; -- works too; the exit status is the process\'s', { timeout: 60_000 }, () => {
  const grep = run('busybox', 'grep', '-v', 'root', '/etc/passwd');
  assert.equal(grep.code, 0, grep.stderr);
  assert.match(grep.stdout, /^nobody:/m);
  assert.doesNotMatch(grep.stdout, /^root:/m);
  const sep = run('-e', 'A=1', 'busybox', '--', 'sh', '-c', 'echo "A=$A"; exit 3');
  assert.equal(sep.code, 3, sep.stderr);
  assert.equal(sep.stdout, 'A=1\n');
  const flags = run('-w', '/tmp', 'busybox', 'sh', '-c', 'pwd; exit 7', '-v', '--name');
  assert.equal(flags.code, 7, flags.stderr);
  assert.equal(flags.stdout, '/tmp\n');
});

test('-i passes stdin to the process; without it the process reads nothing', { timeout: 60_000 }, () => {
  const withI = spawnSync(TSBUILD_LAUNCHER, ['--root', env.root, 'run', '-i', 'busybox', 'cat'], { input: 'hi\n', encoding: 'utf8' });
  assert.equal(withI.status, 0, withI.stderr);
  assert.equal(withI.stdout, 'hi\n');
  const head = spawnSync(TSBUILD_LAUNCHER, ['--root', env.root, 'run', '-i', 'busybox', 'head', '-1'], { input: 'x\n'.repeat(200_000), encoding: 'utf8' });
  assert.equal(head.status, 0, head.stderr);
  assert.equal(head.stdout, 'x\n');
  const without = spawnSync(TSBUILD_LAUNCHER, ['--root', env.root, 'run', 'busybox', 'cat'], { input: 'hi\n', encoding: 'utf8' });
  assert.equal(without.status, 0, without.stderr);
  assert.equal(without.stdout, '');
});

test('--env-file, -u, --entrypoint, --hostname, --read-only and --name apply', { timeout: 60_000 }, async () => {
  const file = join(env.ctx, 'vars.env');
  await writeFile(file, '# comment\n\nFROM_FILE=yes\nOVERRIDDEN=file\nTSBUILD_RUN_UNSET_VAR\n');
  const e = run('--env-file', file, '-e', 'OVERRIDDEN=flag', 'busybox', 'sh', '-c', 'echo "$FROM_FILE $OVERRIDDEN ${TSBUILD_RUN_UNSET_VAR-unset}"');
  assert.equal(e.code, 0, e.stderr);
  assert.equal(e.stdout, 'yes flag unset\n');
  const u = run('-u', '65534', '--entrypoint', 'id', 'busybox', '-u');
  assert.equal(u.code, 0, u.stderr);
  assert.equal(u.stdout, '65534\n');
  const h = run('--hostname', 'checker', '--read-only', 'busybox', 'sh', '-c', 'hostname; touch /x || echo read-only');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^checker\nread-only\n$/);
  const name = `tsbuild-run-test-${randomBytes(4).toString('hex')}`;
  const n = run('--name', name, 'busybox', 'sh', '-c', 'cat /proc/self/cgroup');
  assert.equal(n.code, 0, n.stderr);
  assert.match(n.stdout, new RegExp(name), 'the container id is the name');
  const list = spawnSync('runc', ['list', '-q'], { encoding: 'utf8' });
  assert.doesNotMatch(list.stdout, new RegExp(`^${name}$`, 'm'), 'the named container is gone');
  assert.deepEqual(await mountPoints(env.root), []);
});

test('-t without a terminal, -d, -p, --rm=false, --keep, a bad --name and an unknown option are one usage error naming the flag and what to use instead', { timeout: 60_000 }, () => {
  const cases = [
    [['-it', 'busybox', 'sh'], /the input device is not a TTY .*drop -t/],
    [['-t', 'busybox', 'sh'], /-t needs a terminal: none of stdin, stdout and stderr is one/],
    [['-d', 'busybox', 'true'], /does not support -d\/--detach: .*docker run -d \/ podman run -d/],
    [['-p', '8080:80', 'busybox', 'true'], /does not support -p\/--publish 8080:80: .*--network host/],
    [['--rm=false', 'busybox', 'true'], /does not support --rm=false/],
    [['--keep', 'busybox', 'true'], /does not support --keep/],
    [['--name', 'no/slash', 'busybox', 'true'], /invalid container name "no\/slash"/],
    [['--frobnicate', 'busybox', 'true'], /^error: unknown flag: --frobnicate: See 'tsbuild run --help'\.$/],
    [['-ix', 'busybox', 'true'], /^error: unknown shorthand flag: 'x' in -ix: See 'tsbuild run --help'\.$/],
    [['--platform', process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64', 'busybox', 'true'], /image with reference busybox was found but does not match the specified platform: wanted linux\/(arm64|amd64), actual: linux\//],
  ] as const;
  for (const [args, want] of cases) {
    const r = run(...args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(onlyErrorLine(r), want);
  }
});

test('the chroot fallback refuses -i, --name and --read-only rather than ignoring them', { timeout: 60_000 }, () => {
  for (const [args, want] of [[['-i'], /cannot apply stdin \(-i\)/], [['--read-only'], /cannot apply --read-only/], [['--name', 'chroot-run'], /cannot apply --name/]] as const) {
    const r = run('--runtime', 'chroot', ...args, 'busybox', 'true');
    assert.equal(r.code, 1, r.stderr);
    assert.match(onlyErrorLine(r), want);
  }
  const ok = run('--runtime', 'chroot', 'busybox', 'echo', 'ok');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'ok\n');
});
