import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

// `ADD --unpack=false a.tar.gz /` must not take the cached result of `ADD a.tar.gz /` (which extracted it): the
// flag changes what the step makes, so it is part of the key (BuildKit's testDockerfileAddArchive).
let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-add-unpack-'));
  await mkdir(join(ctx, 'src'));
  await writeFile(join(ctx, 'src', 'foo'), 'foo-data');
  execFileSync('tar', ['-C', join(ctx, 'src'), '-czf', join(ctx, 't.tar.gz'), 'foo']);
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

async function topLayerNames(image: string): Promise<string[]> {
  const img = await env.store.image(image);
  const top = img.manifest.layers[img.manifest.layers.length - 1]!;
  return execFileSync('tar', ['-tzf', env.store.blobPath(top.digest)], { encoding: 'utf8' }).trim().split('\n').sort();
}

test('ADD --unpack=false after ADD of the same archive copies it instead of reusing the extraction', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nADD t.tar.gz /\n');
  await env.build({ context: ctx, tags: ['unpack:default'] });
  assert.deepEqual(await topLayerNames('unpack:default'), ['foo']);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nADD --unpack=false t.tar.gz /\n');
  const r = await env.build({ context: ctx, tags: ['unpack:false'] });
  assert.equal(r.steps.find((s) => s.name.includes('ADD'))?.cached, false);
  assert.deepEqual(await topLayerNames('unpack:false'), ['t.tar.gz']);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nADD --unpack=true t.tar.gz /\n');
  await env.build({ context: ctx, tags: ['unpack:true'] });
  assert.deepEqual(await topLayerNames('unpack:true'), ['foo']);
});

test('ADD --chown of a local archive owns every extracted entry; without --chown the archive owners stay', async () => {
  await mkdir(join(ctx, 'tree', 'd'), { recursive: true });
  await writeFile(join(ctx, 'tree', 'd', 'f'), 'f');
  execFileSync('tar', ['-C', join(ctx, 'tree'), '--owner=7', '--group=8', '-czf', join(ctx, 'owned.tar.gz'), 'd']);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nADD --chown=100:200 owned.tar.gz /out/\nADD owned.tar.gz /kept/\n');
  await env.build({ context: ctx, tags: ['chown:1'] });
  const img = await env.store.image('chown:1');
  const owners = (i: number): string[] => execFileSync('tar', ['--numeric-owner', '-tvzf', env.store.blobPath(img.manifest.layers[i]!.digest)], { encoding: 'utf8' })
    .trim().split('\n').map((l) => { const f = l.split(/\s+/); return `${f[5]} ${f[1]}`; }).sort();
  assert.deepEqual(owners(1), ['out/ 100/200', 'out/d/ 100/200', 'out/d/f 100/200']);
  assert.deepEqual(owners(2), ['kept/ 0/0', 'kept/d/ 7/8', 'kept/d/f 7/8']);
});
