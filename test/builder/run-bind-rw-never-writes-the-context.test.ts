import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { busyboxTar, layerFile, makeBuildEnv, mountPoints, scratchLeft, type BuildEnv } from '../helpers/build-env.js';
import { treePrint } from '../helpers/tree-print.js';

const run = promisify(execFile);
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let base: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  base = await mkdtemp(join(tmpdir(), 'tsbuild-bindrw-'));
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (base) await rm(base, { recursive: true, force: true });
});

/** A context with files, a subdirectory, a symlink and an executable, under a fresh directory. */
async function makeContext(name: string, dockerfile: string, dockerignore?: string): Promise<string> {
  const ctx = join(base, name);
  await mkdir(join(ctx, 'sub'), { recursive: true });
  await writeFile(join(ctx, 'f.txt'), 'original\n');
  await writeFile(join(ctx, 'gone.txt'), 'delete me\n');
  await writeFile(join(ctx, 'sub', 'deep.txt'), 'deep\n');
  await writeFile(join(ctx, 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(ctx, 'run.sh'), 0o755);
  await symlink('f.txt', join(ctx, 'link'));
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  if (dockerignore !== undefined) await writeFile(join(ctx, '.dockerignore'), dockerignore);
  return ctx;
}


// Creates, changes (content, mode, through a symlink) and deletes files, and records what the step saw.
const WRITER = [
  'echo new > /c/new.txt',
  'echo changed >> /c/f.txt',
  'echo via-link >> /c/link',
  'rm /c/gone.txt',
  'rm -r /c/sub',
  'chmod 600 /c/run.sh',
  'mkdir /c/made',
  'ls /c > /seen',
  'cat /c/f.txt >> /seen',
].join(' && ');

for (const filtered of [false, true]) {
  test(`RUN --mount=type=bind,rw writes only a throwaway view of the context (${filtered ? 'with' : 'without'} .dockerignore)`, async () => {
    const ctx = await makeContext(`ctx-${filtered}`, `FROM busybox:latest\nRUN --mount=type=bind,target=/c,rw sh -c '${WRITER}'\n`, filtered ? 'nothing-matches-this\n' : undefined);
    const before = treePrint(ctx);
    await env.build({ context: ctx, tags: [`bindrw:${filtered}`] });
    assert.deepEqual(treePrint(ctx), before, 'the context directory is byte-for-byte as it was');
    // The step saw its own writes while it ran.
    const seen = await layerFile(env, `bindrw:${filtered}`, 'seen');
    assert.match(seen, /new\.txt/);
    assert.match(seen, /made/);
    assert.doesNotMatch(seen, /gone\.txt/);
    assert.match(seen, /original\nchanged\nvia-link\n$/);
    // Nothing of the mount is in the layer, and nothing is left mounted or in scratch.
    const img = await env.store.image(`bindrw:${filtered}`);
    const { stdout } = await run('tar', ['-tzf', env.store.blobPath(img.manifest.layers[1]!.digest)]);
    assert.ok(!stdout.split('\n').some((p) => p.startsWith('c/')), stdout);
    assert.deepEqual(await mountPoints(env.root), []);
    assert.deepEqual(await scratchLeft(env.root), []);
  });
}

test('a bind mount of the context without rw is read-only, and the failed write changes nothing', async () => {
  const ctx = await makeContext('ctx-ro', 'FROM busybox:latest\nRUN --mount=type=bind,target=/c rm -f /c/f.txt\n');
  const before = treePrint(ctx);
  await assert.rejects(env.build({ context: ctx, tags: ['bindro:1'] }), (e: Error) => /"\/bin\/sh -c rm -f \/c\/f\.txt"/.test(e.message) && /exit/.test(e.message));
  assert.deepEqual(treePrint(ctx), before);
  assert.deepEqual(await mountPoints(env.root), []);
});

test('a writable bind of one context file or a subdirectory leaves the source untouched', async () => {
  const ctx = await makeContext('ctx-sub', [
    'FROM busybox:latest',
    "RUN --mount=type=bind,source=f.txt,target=/one.txt,rw sh -c 'echo x > /one.txt && cat /one.txt > /r1'",
    "RUN --mount=type=bind,source=sub,target=/s,rw sh -c 'rm /s/deep.txt && touch /s/other && ls /s > /r2'",
    '',
  ].join('\n'), 'run.sh\n');
  const before = treePrint(ctx);
  await env.build({ context: ctx, tags: ['bindsub:1'] });
  assert.deepEqual(treePrint(ctx), before);
  assert.equal(await layerFile(env, 'bindsub:1', 'r2'), 'other\n');
});

test('a writable bind of another stage discards its writes too', async () => {
  const ctx = await makeContext('ctx-stage', [
    'FROM busybox:latest AS src',
    'RUN mkdir /data && echo keep > /data/k',
    'FROM busybox:latest',
    "RUN --mount=type=bind,from=src,source=/data,target=/d,rw sh -c 'rm /d/k && echo w > /d/w'",
    'COPY --from=src /data /after',
    '',
  ].join('\n'));
  await env.build({ context: ctx, tags: ['bindstage:1'] });
  assert.equal(await layerFile(env, 'bindstage:1', 'after/k'), 'keep\n');
});
