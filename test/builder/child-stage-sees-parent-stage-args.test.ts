// FROM <stage> starts where that stage ended (BuildKit's dispatchState.init copies its state and build args): a
// parent's ARG value is in the child's RUN environment, its expansions and its RUN history (`|1 X=1`), and a
// changed parent ARG changes the child RUN's key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, layerFile, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test("a child stage's RUN sees the parent's ARG in its env and expansion, and records it in history", async () => {
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest AS base',
    'ARG X=1',
    'FROM base',
    'RUN echo "env=$X" > /x',
    'WORKDIR /w$X',
    '',
  ].join('\n'));
  const r = await env.build({ context: ctx, tags: ['child:1'] });
  assert.equal((await layerFile(env, 'child:1', 'x', 1)).trim(), 'env=1');
  assert.equal(r.config.config?.WorkingDir, '/w1');
  const runEntry = r.config.history?.find((h) => h.created_by?.includes('/x'));
  assert.match(runEntry?.created_by ?? '', /^RUN \|1 X=1 \/bin\/sh -c /);
  assert.ok(!(r.config.config?.Env ?? []).some((e) => e.startsWith('X=')), 'an ARG never enters the config Env');
  const again = await env.build({ context: ctx, tags: ['child:2'], buildArgs: { X: '2' } });
  assert.equal(again.config.config?.WorkingDir, '/w2');
  assert.equal(again.steps.find((s) => s.name?.includes('RUN'))?.cached, false, 'a changed parent ARG misses');
  assert.equal((await layerFile(env, 'child:2', 'x', 1)).trim(), 'env=2');
});
