// Under --isolation chroot the layer diff is taken by walking the tree (layer-store walk-diff.ts): a deleted
// file and a deleted directory give `.wh.` whiteouts, a directory replaced by another (or a file replaced by a
// directory) gives an opaque directory (`.wh..wh..opq`), a file replaced by another file is just the new file,
// and nothing of the step's set-up (/etc/hosts, /dev nodes) shows. Read with GNU tar from the stored blob.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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

test('deleted and replaced paths become whiteouts and opaque dirs in the chroot-isolation layer', async () => {
  assert.equal(env.runtime.name, 'chroot-isolation');
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'RUN mkdir -p /d/replaced /d/gone/sub /d/kept && echo a > /d/replaced/old && echo f > /d/file && echo g > /d/gone/sub/g && echo x > /d/was-file && echo 1 > /d/rewritten && echo k > /d/kept/k',
    'RUN rm /d/file && rm -rf /d/gone && rm -rf /d/replaced && mkdir /d/replaced && echo n > /d/replaced/new && rm /d/was-file && mkdir /d/was-file && echo 2 > /d/rewritten && rm /bin/vi',
    '',
  ].join('\n'));
  const r = await env.build({ context: ctx, tags: ['wh:1'], sourceDateEpoch: 0 });
  assert.ok(r.steps.every((s) => !s.cached));
  const img = await env.store.image('wh:1');
  const { stdout } = await run('tar', ['-tzvf', env.store.blobPath(img.manifest.layers.at(-1)!.digest)]);
  const names = stdout.trim().split('\n').map((l) => l.split(/\s+/).pop()!);
  assert.deepEqual(names, [
    'bin/', 'bin/.wh.vi',
    'd/', 'd/.wh.file', 'd/.wh.gone',
    'd/replaced/', 'd/replaced/.wh..wh..opq', 'd/replaced/new',
    'd/rewritten',
    'd/was-file/', 'd/was-file/.wh..wh..opq',
  ], stdout);
  for (const l of stdout.split('\n').filter((x) => /\.wh\./.test(x))) assert.match(l, /^---------- 0\/0 +0 /, l);
  const content = await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers.at(-1)!.digest), 'd/rewritten']);
  assert.equal(content.stdout, '2\n');
  assert.deepEqual(await scratchLeft(env.root), []);
});
