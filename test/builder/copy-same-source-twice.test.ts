import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { imageTree } from '../conformance/image-tree.js';

// The same source copied twice in one stage: by two COPY steps with the same text (the second over a RUN that
// changed the first's result), and twice in one COPY. Each step copies the source as it is now, on a rebuild
// after an edit too (where a whole-tree COPY links the unchanged files of its own previous layer).
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-twice-'));
  await mkdir(join(ctx, 'dir'));
  await writeFile(join(ctx, 'dir', 'a'), 'a1');
  await writeFile(join(ctx, 'dir', 'b'), 'b1');
  await writeFile(join(ctx, 'f'), 'f1');
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest',
    'COPY dir /t/',
    'COPY f /x',
    'RUN echo changed > /x && rm -rf /t && mkdir /t && echo stale > /t/a',
    'COPY dir /t/',
    'COPY f /x',
    'COPY f f /dup/',
    '',
  ].join('\n'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

async function contents(tag: string): Promise<Record<string, string | undefined>> {
  const tree = await imageTree(env.store, tag);
  return Object.fromEntries(['/t/a', '/t/b', '/x', '/dup/f'].map((p) => [p, tree.get(p)?.content?.toString('utf8')]));
}

test('the same source copied by two COPY steps and twice in one COPY', async () => {
  await env.build({ context: ctx, tags: ['twice:1'] });
  assert.deepEqual(await contents('twice:1'), { '/t/a': 'a1', '/t/b': 'b1', '/x': 'f1', '/dup/f': 'f1' });
  const again = await env.build({ context: ctx, tags: ['twice:2'] });
  assert.ok(again.steps.every((s) => s.cached), 'a rebuild hits every step');
  await writeFile(join(ctx, 'dir', 'a'), 'a2');
  await writeFile(join(ctx, 'f'), 'f2');
  const edited = await env.build({ context: ctx, tags: ['twice:3'] });
  assert.deepEqual(edited.steps.map((s) => s.cached), [false, false, false, false, false, false]);
  assert.deepEqual(await contents('twice:3'), { '/t/a': 'a2', '/t/b': 'b1', '/x': 'f2', '/dup/f': 'f2' });
});
