import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { RACY_MARGIN_MS } from '../../layer-store/index.js';
import type { BuildResult } from '../../builder/index.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

const EPOCH = 1_700_000_000;
const copyStep = (r: BuildResult): BuildResult['steps'][number] => r.steps.find((s) => s.name.includes('COPY'))!;
const lastLayer = (r: BuildResult): string => r.config.rootfs.diff_ids.at(-1)!;

// BuildKit's content hash of a COPY source covers its extended attributes, and `cp -a` (a cold COPY) copies them:
// so setting, changing or removing an xattr alone (a `setcap` on a binary, a directory's `user.*`) must re-run the
// COPY and give the layer a cold build of that context gives, never the cached layer without them.
test('a change of extended attributes alone re-runs the COPY, says so, and gives the cold build\'s layer', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-xattrctx-'));
  const envs: BuildEnv[] = [];
  t.after(async () => {
    for (const e of envs) await e.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  await mkdir(join(ctx, 'app', 'd'), { recursive: true });
  for (let i = 0; i < 20; i++) await writeFile(join(ctx, 'app', `f${i}.txt`), `file ${i}\n`);
  await writeFile(join(ctx, 'app', 'd', 'b.txt'), 'b\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY app/ /app/\nRUN cat /app/f1.txt > /copied\n');
  const warm = await makeBuildEnv(bb);
  envs.push(warm);
  /** A build in a fresh store: what the context gives without any cache. */
  const cold = async (): Promise<string> => {
    const e = await makeBuildEnv(bb);
    envs.push(e);
    return lastLayer(await e.build({ context: ctx, tags: ['x:cold'], sourceDateEpoch: EPOCH })) + copyLayer(await e.store.image('x:cold'));
  };
  const copyLayer = (img: { config: { rootfs: { diff_ids: readonly string[] } } }): string => ` copy=${img.config.rootfs.diff_ids.at(-2)!}`;
  const rebuild = async (tag: string): Promise<{ r: BuildResult; layers: string }> => {
    await sleep(RACY_MARGIN_MS + 50); // so the stat cache records what it read (cache/stat-cache.ts)
    const r = await warm.build({ context: ctx, tags: [tag], sourceDateEpoch: EPOCH });
    return { r, layers: lastLayer(r) + copyLayer(r) };
  };

  const plain = await rebuild('x:0');
  assert.equal((await rebuild('x:0b')).r.steps.every((s) => s.cached), true, 'a no-change rebuild hits');

  // An xattr on a file, then on a directory: each alone re-runs the COPY, with the reason.
  await run('setfattr', ['-n', 'user.note', '-v', 'one', join(ctx, 'app', 'f3.txt')]);
  const file = await rebuild('x:1');
  assert.equal(copyStep(file.r).cached, false, 'the COPY re-ran after an xattr was set on a file');
  assert.equal(copyStep(file.r).reason?.kind, 'file');
  assert.match(JSON.stringify(copyStep(file.r).reason), /app\/f3\.txt.*extended attributes changed/);
  assert.notEqual(file.layers, plain.layers);
  assert.equal(file.layers, await cold(), 'the layers are a cold build\'s (the xattr is in them)');
  assert.equal((await rebuild('x:1b')).r.steps.every((s) => s.cached), true, 'and a rebuild with no change hits again');

  // A content edit elsewhere, the xattr unchanged: the edit fast paths (which copy no xattrs) must not drop it.
  await appendFile(join(ctx, 'app', 'f9.txt'), 'edited\n');
  const edit = await rebuild('x:1c');
  assert.equal(copyStep(edit.r).cached, false);
  assert.match(JSON.stringify(copyStep(edit.r).reason), /app\/f9\.txt.*content changed/);
  assert.equal(edit.layers, await cold(), 'the unchanged file keeps its xattr in the layer');
  // A new file with an xattr: the edit fast paths would create it afresh, without it; cp -a copies it.
  await writeFile(join(ctx, 'app', 'new.txt'), 'new\n');
  await run('setfattr', ['-n', 'user.note', '-v', 'new', join(ctx, 'app', 'new.txt')]);
  const added = await rebuild('x:1d');
  assert.match(JSON.stringify(copyStep(added.r).reason), /app\/new\.txt was added/);
  assert.equal(added.layers, await cold(), 'the new file has its xattr in the layer');

  await run('setfattr', ['-n', 'user.note', '-v', 'dir', join(ctx, 'app', 'd')]);
  const dir = await rebuild('x:2');
  assert.equal(copyStep(dir.r).cached, false, 'the COPY re-ran after an xattr was set on a directory');
  assert.match(JSON.stringify(copyStep(dir.r).reason), /app\/d.*extended attributes changed/);
  assert.equal(dir.layers, await cold());

  // A changed value, with a content edit elsewhere (the edit fast paths must not keep the old value).
  await run('setfattr', ['-n', 'user.note', '-v', 'dir2', join(ctx, 'app', 'd')]);
  await appendFile(join(ctx, 'app', 'f7.txt'), 'edited\n');
  const changed = await rebuild('x:3');
  assert.equal(copyStep(changed.r).cached, false);
  assert.equal(changed.layers, await cold());

  // Removed again: back to the plain layers.
  await run('setfattr', ['-x', 'user.note', join(ctx, 'app', 'd')]);
  await run('setfattr', ['-x', 'user.note', join(ctx, 'app', 'f3.txt')]);
  const removed = await rebuild('x:4');
  assert.equal(copyStep(removed.r).cached, false);
  assert.equal(removed.layers, await cold());
  assert.notEqual(removed.layers, file.layers);
});
