import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, type Stats } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

// What BuildKit makes of the context's special files (fsutil): a socket is sent with its type bit cleared and
// arrives as an empty regular file with the socket's permissions (testCopySocket); fifos and device nodes are
// sent and copied as they are (fsutil's diskwriter and copier mknod them).
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
let server: Server;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-special-'));
  server = createServer();
  await new Promise<void>((resolve) => server.listen(join(ctx, 's.sock'), resolve));
  await chmod(join(ctx, 's.sock'), 0o640);
  execFileSync('mkfifo', ['-m', '0620', join(ctx, 'p')]);
  execFileSync('mknod', ['-m', '0600', join(ctx, 'c'), 'c', '1', '3']);
  execFileSync('mknod', ['-m', '0660', join(ctx, 'b'), 'b', '250', '7']);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /ctx/\nCOPY s.sock /one\n');
});
after(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

/** lstat of `path` in the snapshot of layer `index` of `image` (the layer that wrote it). */
async function inLayer(image: string, index: number, path: string): Promise<Stats> {
  const img = await env.store.image(image);
  const dir = await env.store.snapshot(img.config.rootfs.diff_ids[index]!);
  return lstatSync(join(dir, path));
}

test('COPY turns a context socket into an empty file and keeps fifos and device nodes', async () => {
  await env.build({ context: ctx, tags: ['special:1'] });
  const sock = (await inLayer('special:1', 1, 'ctx/s.sock'));
  assert.ok(sock.isFile(), 'the socket is a regular file');
  assert.equal(sock.size, 0);
  assert.equal(sock.mode & 0o7777, 0o640);
  assert.equal(sock.uid, 0);
  const fifo = (await inLayer('special:1', 1, 'ctx/p'));
  assert.ok(fifo.isFIFO());
  assert.equal(fifo.mode & 0o7777, 0o620);
  const chr = (await inLayer('special:1', 1, 'ctx/c'));
  assert.ok(chr.isCharacterDevice());
  assert.equal(chr.rdev, 0x103);
  const blk = (await inLayer('special:1', 1, 'ctx/b'));
  assert.ok(blk.isBlockDevice(), 'a block device stays one (fsutil would make it a character device: see the README)');
  assert.equal(blk.rdev, (250 << 8) | 7);
  const one = (await inLayer('special:1', 2, 'one'));
  assert.ok(one.isFile() && one.size === 0, 'a socket named as the source is copied as an empty file');
});

test('a context socket replaced by a fifo of the same mode is a cache miss', async () => {
  await env.build({ context: ctx, tags: ['special:2'] });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(join(ctx, 's.sock'), { force: true });
  execFileSync('mkfifo', ['-m', '0640', join(ctx, 's.sock')]);
  const r = await env.build({ context: ctx, tags: ['special:3'] });
  assert.deepEqual(r.steps.filter((s) => s.name.includes('COPY')).map((s) => s.cached), [false, false]);
  assert.ok((await inLayer('special:3', 1, 'ctx/s.sock')).isFIFO());
});
