import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsbuildError } from '../../layer-store/index.js';
import { busyboxTar, makeBuildEnv, mountPoints, scratchLeft, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  await writeFile(join(ctx, 'a.txt'), 'a\n');
  await writeFile(join(ctx, '.dockerignore'), 'secret.env\n');
  await writeFile(join(ctx, 'secret.env'), 'X=1\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n');
  await env.build({ context: ctx, tags: ['app:1'] });
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

async function expectFailure(dockerfile: string, code: string, line: number, message: RegExp): Promise<void> {
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  const index = await readFile(join(env.root, 'index.json'), 'utf8');
  const mounts = await mountPoints(env.root);
  await assert.rejects(env.build({ context: ctx, tags: ['app:1'] }), (e: unknown) => {
    assert.ok(TsbuildError.is(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(e.location && 'line' in e.location, 'error has a Dockerfile location');
    assert.equal((e.location as { line: number }).line, line);
    return true;
  });
  assert.equal(await readFile(join(env.root, 'index.json'), 'utf8'), index, 'index.json unchanged: no tag moved');
  assert.deepEqual(await mountPoints(env.root), mounts, 'no mount left behind');
  assert.deepEqual(await scratchLeft(env.root), [], 'no scratch dir left behind');
}

test('a failing RUN gives its exit code, output and line, and moves no tag', async () => {
  await expectFailure('FROM busybox:latest\nRUN echo about to fail && exit 3\n', 'RUN_FAILED', 2, /did not complete successfully: exit code: 3.*about to fail/);
});

test('a COPY source that does not exist names the source and line', async () => {
  await expectFailure('FROM busybox:latest\n\nCOPY nope.txt /x\n', 'CONTEXT', 3, /nope\.txt/);
});

test('a COPY source excluded by .dockerignore says so', async () => {
  await expectFailure('FROM busybox:latest\nCOPY secret.env /x\n', 'CONTEXT', 2, /excluded by \.dockerignore/);
});

test('--chown naming a user the image does not have fails on its line', async () => {
  await expectFailure('FROM busybox:latest\nCOPY --chown=nosuchuser a.txt /x\n', 'BUILD', 2, /nosuchuser/);
});

test('a missing base image fails on the FROM line with what to do', async () => {
  await expectFailure('FROM nosuch/image:1\nRUN true\n', 'BUILD', 1, /base image nosuch\/image:1 not found/);
});

test('COPY --from naming no stage and no valid image fails', async () => {
  await expectFailure('FROM busybox:latest\nCOPY --from=Not_A_Stage /x /y\n', 'DOCKERFILE_STAGE', 2, /Not_A_Stage/i);
});
