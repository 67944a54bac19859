import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tsbuild from '../../cli/api.js';
import { busyboxTar } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let work: string;
before(async () => {
  bb = await busyboxTar();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-api-'));
});
after(async () => {
  await bb?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a Node program embeds tsbuild through its typed API: parse, import, build, inspect', async () => {
  const ast = tsbuild.parseDockerfile('FROM busybox\nRUN echo hi\n');
  assert.deepEqual(tsbuild.astToJson(ast).map((i) => i.cmd), ['from', 'run']);
  const store = await tsbuild.LayerStore.open(join(work, 'root'));
  await tsbuild.importRootfs(store, bb.tar, 'busybox:latest');
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN echo embedded > /e\n');
  const events: tsbuild.BuildEvent[] = [];
  const r = await tsbuild.build({ context: ctx, tags: ['emb:1'], store, runtime: await tsbuild.findRuntime(), events: (e) => events.push(e) });
  assert.equal((await store.image('emb:1')).descriptor.digest, r.imageDigest);
  assert.ok(events.some((e) => e.type === 'step.done'));
  assert.equal(tsbuild.parseReference('alpine').repository, 'library/alpine');
});
