// A RUN, or a WORKDIR of an existing dir, that changes nothing still adds a layer (an empty tar), as BuildKit's exec
// and mkdir always make a snapshot (testExportedHistory: RUN ["ls"] is not empty_layer); WORKDIR / adds none. A
// cached rebuild gives the same image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN mkdir -p /dev /proc /sys\nWORKDIR /\nWORKDIR /tmp\nRUN ["ls"]\nRUN true\n');
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('RUN and WORKDIR that change nothing add empty layers; WORKDIR / adds none; a rebuild is the same image', async () => {
  const base = await env.store.image('busybox:latest');
  const r = await env.build({ context: ctx, tags: ['noop:1'] });
  const img = await env.store.image('noop:1');
  // (the first RUN makes the mount points runc needs, which this busybox rootfs lacks: a real layer)
  assert.equal(img.manifest.layers.length, base.manifest.layers.length + 4);
  const tail = r.config.history!.slice(-4).map((h) => [h.created_by, h.empty_layer ?? false]);
  assert.deepEqual(tail, [['WORKDIR /', true], ['WORKDIR /tmp', false], ['RUN ls # buildkit', false], ['RUN /bin/sh -c true # buildkit', false]]);
  const added = img.manifest.layers.slice(-3);
  assert.equal(new Set(added.map((l) => l.digest)).size, 1, 'the same empty layer three times');
  const { stdout } = await promisify(execFile)('tar', ['-tzf', env.store.blobPath(added[0]!.digest)]);
  assert.equal(stdout, '', 'an empty tar');
  const again = await env.build({ context: ctx, tags: ['noop:2'] });
  assert.ok(again.steps.every((s) => s.cached), JSON.stringify(again.steps));
  assert.equal(again.imageDigest, r.imageDigest);
});
