// Chroot isolation copies the layers' snapshots into a plain directory for each step, never hard-linking them: a
// RUN that appends to a file of the base (an in-place write, which would reach a linked inode) changes only its
// copy. The snapshot keeps its bytes and link count, the layer holds the appended file; a failing step leaves
// nothing in the store's tmp dir, moves no tag and leaves the snapshot as it was; fsck finds the store clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { busyboxTar, makeBuildEnv, scratchLeft, type BuildEnv } from '../helpers/build-env.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb, { isolation: 'chroot' });
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('an append to a base file reaches the layer, never the shared snapshot; a failing step leaves nothing', async () => {
  const base = await env.store.image('busybox:latest');
  const snap = await env.store.snapshot(base.config.rootfs.diff_ids[0]!);
  const passwd = readFileSync(join(snap, 'etc/passwd'));
  const group = readFileSync(join(snap, 'etc/group'));
  const links = statSync(join(snap, 'etc/passwd')).nlink;

  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN echo appended:x:1:1::/:/bin/sh >> /etc/passwd\n');
  await env.build({ context: ctx, tags: ['append:1'] });
  assert.deepEqual(readFileSync(join(snap, 'etc/passwd')), passwd, 'the RUN wrote into the base snapshot');
  assert.equal(statSync(join(snap, 'etc/passwd')).nlink, links);
  const img = await env.store.image('append:1');
  const top = env.store.blobPath(img.manifest.layers.at(-1)!.digest);
  // dev/, proc/ and sys/: the mountpoints runc makes on this base (which has none) are kept as runc leaves them.
  assert.deepEqual((await run('tar', ['-tzf', top])).stdout.trim().split('\n'), ['dev/', 'etc/', 'etc/passwd', 'proc/', 'sys/']);
  assert.equal((await run('tar', ['-xzOf', top, 'etc/passwd'])).stdout, passwd.toString() + 'appended:x:1:1::/:/bin/sh\n');

  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN echo more >> /etc/group && mkdir /half-done && exit 3\n');
  await assert.rejects(env.build({ context: ctx, tags: ['fail:1'] }), /exit code: 3/);
  assert.deepEqual(readFileSync(join(snap, 'etc/group')), group);
  assert.deepEqual(await scratchLeft(env.root), []);
  await assert.rejects(env.store.image('fail:1'));
  const report = await env.store.fsck();
  assert.ok(report.consistent, JSON.stringify(report));
});
