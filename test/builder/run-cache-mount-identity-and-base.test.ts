// A RUN cache mount's directory is keyed as BuildKit keys it: its id (default the target), plus its base. uid/gid/mode
// give a fresh directory with that owner and mode even when the plain id already exists; from= starts the cache as a
// copy of a stage; source= mounts a directory of the cache, resolved inside it (a symlink cannot lead out).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-cachemount-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('uid/gid/mode get their own cache dir; from= seeds it; source= mounts a dir inside it', async () => {
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest AS seed',
    'RUN mkdir -p /data && echo seeded > /data/f',
    'FROM busybox:latest',
    'RUN --mount=type=cache,target=/c touch /c/plain',
    'RUN --mount=type=cache,target=/c,uid=1001,gid=1002,mode=0751 [ "$(stat -c "%u %g %a" /c)" = "1001 1002 751" ] && [ ! -e /c/plain ]',
    'RUN --mount=type=cache,target=/c [ -e /c/plain ]',
    'RUN --mount=type=cache,target=/s,from=seed,source=data [ "$(cat /s/f)" = seeded ] && touch /s/g',
    'RUN --mount=type=cache,target=/s,from=seed [ -e /s/data/g ] && [ -d /s/bin ]',
    'RUN --mount=type=cache,id=shared,target=/x mkdir -p /x/sub && ln -sfn /etc /x/out',
    'RUN --mount=type=cache,id=shared,source=sub,target=/y touch /y/ok',
    'RUN --mount=type=cache,id=shared,target=/x [ -e /x/sub/ok ]',
    '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['cachemount:1'] });
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=cache,id=shared,source=out,target=/y cat /y/hostname\n');
  await assert.rejects(env.build({ context: ctx, tags: ['cachemount:2'] }), /cache mount shared: source "out" is not a directory in the cache/);
});
