import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { runImage } from '../../builder/index.js';
import { repoRoot } from '../helpers/paths.js';
import { busyboxTar, makeBuildEnv, mountPoints, scratchLeft, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
let env: BuildEnv;
before(async () => {
  bb = await busyboxTar();
  env = await makeBuildEnv(bb);
});
after(async () => {
  await env?.cleanup();
  await bb?.cleanup();
});

test('fixtures/hello builds into an image whose layers and config are what the Dockerfile says, and runs', async () => {
  const mountsBefore = await mountPoints(env.root);
  const r = await env.build({ context: join(repoRoot(), 'fixtures', 'hello'), tags: ['hello:latest'] });
  assert.deepEqual(await mountPoints(env.root), mountsBefore, 'no mount left behind');
  assert.deepEqual(await scratchLeft(env.root), [], 'no scratch dir left behind');
  const img = await env.store.image('hello:latest');
  assert.equal(img.descriptor.digest, r.imageDigest);
  assert.equal(img.id, r.configDigest);
  const c = img.config.config!;
  assert.deepEqual(c.Cmd, ['/app/greet.sh']);
  assert.equal(c.WorkingDir, '/app');
  assert.ok(c.Env!.includes('GREETING=hello from tsbuild'));
  // busybox + WORKDIR + COPY + RUN = 4 layers; ENV and CMD are empty_layer history entries.
  assert.equal(img.manifest.layers.length, 4);
  assert.equal(img.config.rootfs.diff_ids.length, 4);
  const hist = img.config.history!;
  assert.equal(hist.filter((h) => !h.empty_layer).length, 4);
  assert.match(hist.find((h) => h.created_by?.startsWith('RUN'))!.created_by!, /^RUN \/bin\/sh -c chmod 0755 greet\.sh .* # buildkit$/);

  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const code = await runImage({ store: env.store, runtime: env.runtime, image: 'hello:latest', stdout: out, stderr: process.stderr });
  assert.equal(code, 0);
  assert.equal(Buffer.concat(chunks).toString(), 'hello from tsbuild\nbuilt on x86_64 as root\n'.replace('x86_64', process.arch === 'arm64' ? 'aarch64' : 'x86_64'));
  assert.deepEqual(await mountPoints(env.root), mountsBefore);
});
