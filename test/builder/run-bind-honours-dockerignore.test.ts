import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { busyboxTar, layerFile, makeBuildEnv, mountPoints, type BuildEnv } from '../helpers/build-env.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-bindignore-'));
  await mkdir(join(ctx, 'logs'));
  await mkdir(join(ctx, 'src'));
  await writeFile(join(ctx, 'secret.txt'), 'TOPSECRET\n');
  await writeFile(join(ctx, 'logs', 'a.log'), 'log\n');
  await writeFile(join(ctx, 'logs', 'keep.log'), 'kept\n');
  await writeFile(join(ctx, 'src', 'main.c'), 'int main(){}\n');
  await writeFile(join(ctx, '.dockerignore'), 'secret.txt\nlogs\n!logs/keep.log\n');
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});


test('a bind mount of the context shows only what .dockerignore keeps', async () => {
  await writeFile(join(ctx, 'Dockerfile'), "FROM busybox:latest\nRUN --mount=type=bind,target=/c sh -c 'cd /c && find . | sort > /list; cat /c/secret.txt > /leak 2>/dev/null; true'\n");
  await env.build({ context: ctx, tags: ['ign:1'] });
  const list = (await layerFile(env, 'ign:1', 'list')).trim().split('\n');
  assert.deepEqual(list, ['.', './.dockerignore', './Dockerfile', './logs', './logs/keep.log', './src', './src/main.c']);
  assert.equal(await layerFile(env, 'ign:1', 'leak'), '');
  assert.deepEqual(await mountPoints(env.root), []);
});

test('an ignored bind source is an error naming it; so is a missing one', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n');
  await assert.rejects(env.build({ context: ctx, tags: ['ign:2'] }), /RUN --mount=type=bind source "secret\.txt" is excluded by \.dockerignore/);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=bind,source=nope,target=/s cat /s\n');
  await assert.rejects(env.build({ context: ctx, tags: ['ign:3'] }), /RUN --mount=type=bind source "nope" not found in the build context/);
});

test('the bound files count in the step key: an edit reruns the step, an ignored file does not', async () => {
  await writeFile(join(ctx, 'Dockerfile'), "FROM busybox:latest\nRUN --mount=type=bind,source=src,target=/s cat /s/main.c > /copy\n");
  await env.build({ context: ctx, tags: ['key:1'] });
  const again = await env.build({ context: ctx, tags: ['key:1'] });
  assert.ok(again.steps.every((s) => s.cached), 'unchanged context: every step cached');
  await writeFile(join(ctx, 'secret.txt'), 'ANOTHER SECRET\n');
  await writeFile(join(ctx, 'logs', 'a.log'), 'more log\n');
  const ignoredEdit = await env.build({ context: ctx, tags: ['key:1'] });
  assert.ok(ignoredEdit.steps.every((s) => s.cached), 'only ignored files changed: still cached');
  await writeFile(join(ctx, 'src', 'main.c'), 'int main(){return 1;}\n');
  const edited = await env.build({ context: ctx, tags: ['key:2'] });
  const runStep = edited.steps.find((s) => s.name.includes('RUN'))!;
  assert.equal(runStep.cached, false, 'the bound file changed: the step reruns');
  assert.equal(await layerFile(env, 'key:2', 'copy'), 'int main(){return 1;}\n');
});
