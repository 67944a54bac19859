/**
 * Two stages of one build with the same step (same cache key) run concurrently; the step runs once and the
 * other stage takes the cache hit. The step writes random bytes, so `cmp` in the last stage fails if it ran twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

let busybox: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;

before(async () => {
  busybox = await busyboxTar();
  env = await makeBuildEnv(busybox);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-stages-once-'));
});

after(async () => {
  await env?.cleanup();
  await rm(ctx, { recursive: true, force: true });
  await busybox?.cleanup();
});

test('identical steps of two concurrent stages run once', async () => {
  const step = 'RUN sleep 1; head -c 64 /dev/urandom > /r';
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox AS a\n${step}\nFROM busybox AS b\n${step}\nFROM busybox\nCOPY --from=a /r /ra\nCOPY --from=b /r /rb\nRUN cmp /ra /rb\n`);
  const r = await env.build({ context: ctx });
  const shared = r.steps.filter((s) => s.name.includes('head -c 64'));
  assert.equal(shared.length, 2);
  assert.deepEqual(shared.map((s) => s.cached).sort(), [false, true]);
});
