// What --isolation chroot cannot honour is refused before the step runs, with one line naming it and the
// isolation, exit 1: RUN --mount=type=cache|bind|tmpfs|ssh (each needs mount(2)), --network none and
// RUN --network=none (no network namespace). An --isolation value other than oci and chroot is a usage error
// (exit 2) naming it. Nothing is left in the store's tmp dir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, scratchLeft } from '../helpers/build-env.js';
import { onlyErrorLine, runCli } from '../helpers/cli.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let dir: string;
let root: string;
before(async () => {
  bb = await busyboxTar();
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-chroot-refuse-'));
  root = join(dir, 'root');
  const r = runCli(['--root', root, 'import', bb.tar, 'busybox:latest']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await bb?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function buildWith(name: string, run: string, extra: readonly string[] = [], isolation = 'chroot'): Promise<ReturnType<typeof runCli>> {
  const ctx = join(dir, name);
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\n${run}\n`);
  return runCli(['--root', root, '--progress', 'quiet', 'build', '--isolation', isolation, ...extra, ctx]);
}

for (const [type, mount] of [
  ['cache', 'type=cache,target=/c'],
  ['bind', 'type=bind,target=/b'],
  ['tmpfs', 'type=tmpfs,target=/t'],
  ['ssh', 'type=ssh,target=/s'],
] as const) {
  test(`RUN --mount=${type} is refused under chroot isolation with one line`, async () => {
    const r = await buildWith(type, `RUN --mount=${mount} true`);
    assert.equal(r.code, 1, r.stderr);
    const line = onlyErrorLine(r);
    assert.match(line, new RegExp(`RUN --mount=type=${type}.*cannot run under --isolation chroot.*Dockerfile:2`));
    assert.deepEqual(await scratchLeft(root), []);
  });
}

test('--network none and RUN --network=none are refused: no network namespace', async () => {
  const a = await buildWith('net-flag', 'RUN true', ['--network', 'none']);
  assert.equal(a.code, 1, a.stderr);
  assert.match(onlyErrorLine(a), /--network none cannot be honoured under --isolation chroot: there is no network namespace, the step shares the host's network/);
  const b = await buildWith('net-run', 'RUN --network=none true');
  assert.equal(b.code, 1, b.stderr);
  assert.match(onlyErrorLine(b), /RUN --network=none cannot be honoured under --isolation chroot/);
});

test('an unknown --isolation value is a usage error naming it; --runtime excludes chroot', async () => {
  const a = await buildWith('bad', 'RUN true', [], 'rootless');
  assert.equal(a.code, 2, a.stderr);
  assert.match(onlyErrorLine(a), /--isolation "rootless" is not supported/);
  const b = await buildWith('rt', 'RUN true', ['--runtime', 'runc']);
  assert.equal(b.code, 2, b.stderr);
  assert.match(onlyErrorLine(b), /--runtime and --isolation chroot exclude each other/);
});
