import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { busyboxTar, mountPoints } from '../helpers/build-env.js';
import { cgroupsLeft, containersOf, runsInDebugLog } from '../helpers/owned.js';

const run = promisify(execFile);
const BIN = join(repoRoot(), 'bin', 'tsbuild.js');
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
let root: string;
let ctx: string;

function tsbuild(args: string[]): CliResult {
  return runCli(['--root', root, '--progress', 'plain', ...args]);
}

before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-out-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  await run('mkdir', ['-p', ctx]);
  await writeFile(join(ctx, 'a.txt'), 'A\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /a.txt\nRUN rm /bin/vi && echo b > /b.txt\n');
  assert.equal(tsbuild(['import', bb.tar, 'busybox:latest']).code, 0);
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('--output writes a flattened dir, a tar, an OCI archive (skopeo reads it) and a docker archive', async () => {
  const r = tsbuild(['build', '-t', 'out:1', '-o', `type=local,dest=${join(work, 'fs')}`, '-o', `type=tar,dest=${join(work, 'fs.tar')}`,
    '-o', `type=oci,dest=${join(work, 'img.oci.tar')}`, '-o', `type=docker,dest=${join(work, 'img.docker.tar')}`, '--iidfile', join(work, 'iid'), ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(work, 'fs', 'a.txt'), 'utf8'), 'A\n');
  assert.equal(await readFile(join(work, 'fs', 'b.txt'), 'utf8'), 'b\n');
  assert.ok(!(await readdir(join(work, 'fs', 'bin'))).includes('vi'), 'the whiteout removed /bin/vi from the flattened tree');
  const { stdout: list } = await run('tar', ['-tf', join(work, 'fs.tar')]);
  assert.ok(list.split('\n').includes('./b.txt'));
  const iid = await readFile(join(work, 'iid'), 'utf8');
  const { stdout: oci } = await run('skopeo', ['inspect', '--config', `oci-archive:${join(work, 'img.oci.tar')}`]);
  assert.equal(JSON.parse(oci).rootfs.diff_ids.length, 3);
  const { stdout: dck } = await run('skopeo', ['inspect', '--config', `docker-archive:${join(work, 'img.docker.tar')}`]);
  assert.deepEqual(JSON.parse(dck).rootfs, JSON.parse(oci).rootfs);
  assert.match(iid, /^sha256:[0-9a-f]{64}$/);
});

test('--explain lists every step with CACHED or why it ran', async () => {
  tsbuild(['build', '-t', 'out:1', ctx]);
  await writeFile(join(ctx, 'a.txt'), 'A2\n');
  const r = tsbuild(['build', '-t', 'out:1', '--explain', ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /RAN +\[2\/3\] COPY a\.txt \/a\.txt\n +because: file a\.txt: content changed/);
  assert.match(r.stderr, /RAN +\[3\/3\] RUN rm \/bin\/vi && echo b > \/b\.txt\n +because: the previous step changed/);
});

test('an interrupted build (SIGINT during RUN) exits non-zero and leaves no mount, container or scratch dir', async () => {
  await writeFile(join(ctx, 'Dockerfile.slow'), 'FROM busybox:latest\nRUN echo started && sleep 30\n');
  const mounts = await mountPoints(root);
  // --debug: the build names the container (id, cgroup) it runs, so the checks below look at that one only.
  const p = spawn(process.execPath, [BIN, '--root', root, '--progress', 'plain', '--debug', 'build', '-f', join(ctx, 'Dockerfile.slow'), '-t', 'slow:1', ctx], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let sent = false;
  p.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    if (!sent && err.includes('#2 started')) {
      sent = true;
      p.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((res) => p.on('close', res));
  assert.notEqual(code, 0, err);
  assert.match(err, /error: .*(abort|interrupt)/i);
  assert.deepEqual(await mountPoints(root), mounts);
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  const runs = runsInDebugLog(err);
  assert.equal(runs.length, 1, `the build logged the container of its RUN\n${err}`);
  assert.deepEqual(await containersOf({ runs }), [], 'its container is gone');
  assert.deepEqual(await cgroupsLeft(runs), [], 'its cgroup is gone');
  assert.ok(!tsbuild(['images']).stdout.includes('slow'), 'no image was tagged');
});

test('a build killed with SIGKILL leaves scratch and mounts that the next build removes', async () => {
  await writeFile(join(ctx, 'Dockerfile.slow'), 'FROM busybox:latest\nRUN echo started && sleep 30\n');
  const mounts = await mountPoints(root);
  const p = spawn(process.execPath, [BIN, '--root', root, '--progress', 'plain', '--debug', 'build', '-f', join(ctx, 'Dockerfile.slow'), '-t', 'slow:2', ctx], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let sent = false;
  p.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    if (!sent && err.includes('#2 started')) {
      sent = true;
      p.kill('SIGKILL');
    }
  });
  await new Promise((res) => p.on('close', res));
  assert.equal((await readdir(join(root, 'tmp'))).length, 1, 'the killed build left its scratch dir');
  const runs = runsInDebugLog(err);
  assert.equal(runs.length, 1, `the killed build logged the container of its RUN\n${err}`);
  // runc's container outlives a SIGKILLed parent: the next build must clean both up.
  const r = tsbuild(['build', '-t', 'next:1', ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  assert.deepEqual(await mountPoints(root), mounts);
  assert.deepEqual(await containersOf({ runs }), [], 'the killed build\'s container is gone');
  assert.deepEqual(await cgroupsLeft(runs), [], 'and so is its cgroup');
});
