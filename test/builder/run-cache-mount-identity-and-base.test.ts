// A RUN cache mount's directory is keyed as BuildKit keys it: its id (default the target), plus its base. uid/gid/mode
// give a fresh directory with that owner and mode even when the plain id already exists; from= starts the cache as a
// copy of a stage; source= mounts a directory of the cache, resolved inside it (a symlink cannot lead out).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

const run = promisify(execFile);
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

test('sharing=private gives steps that run at once their own instance; sharing=locked makes them take turns', async () => {
  const step = (s: string, sharing: string) => `RUN --mount=type=cache,id=${sharing}-c,sharing=${sharing},target=/c touch /c/${s} && sleep 2 && ls /c | tr '\\n' ' ' > /seen`;
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest AS a', step('a', 'private'),
    'FROM busybox:latest AS b', step('b', 'private'),
    'FROM busybox:latest AS c', step('c', 'locked'),
    'FROM busybox:latest AS d', step('d', 'locked'),
    'FROM scratch', 'COPY --from=a /seen /a', 'COPY --from=b /seen /b', 'COPY --from=c /seen /c', 'COPY --from=d /seen /d', '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['cachemount:3'] });
  const img = await env.store.image('cachemount:3');
  const seen = async (i: number) => (await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers[i]!.digest)])).stdout.trim();
  assert.deepEqual([await seen(0), await seen(1)], ['a', 'b'], 'each private step saw only its own file');
  const locked = [await seen(2), await seen(3)].sort((x, y) => x.length - y.length);
  assert.ok(['c', 'd'].includes(locked[0]!) && locked[1] === 'c d', `the locked steps ran one after the other on one cache: ${locked.join(' / ')}`);
});

test('a cache mount\'s id and sharing stay out of the step key (BuildKit clears them); its owner does not', async () => {
  const build = async (opts: string, tag: string) => {
    await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\nRUN --mount=type=cache,target=/k${opts} echo keyed\n`);
    return (await env.build({ context: ctx, tags: [tag] })).steps.at(-1)!.cached;
  };
  assert.equal(await build(',id=k1', 'ck:1'), false);
  assert.equal(await build(',id=k2,sharing=locked', 'ck:2'), true, 'another id and sharing: the same step');
  assert.equal(await build(',id=k2,uid=7', 'ck:3'), false, 'uid is part of the mount');
});
