import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

const run = promisify(execFile);
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

async function layerListing(image: string, i: number): Promise<string[]> {
  const img = await env.store.image(image);
  const { stdout } = await run('tar', ['-tzf', env.store.blobPath(img.manifest.layers[i]!.digest)]);
  return stdout.trim().split('\n');
}

test('rm in a RUN becomes OCI whiteouts; a removed and recreated dir becomes opaque', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN mkdir -p /d/x && echo 1 > /d/x/f && echo 2 > /gone\nRUN rm /gone && rm -rf /d && mkdir /d && echo new > /d/n\n');
  await env.build({ context: ctx, tags: ['wh:1'] });
  const l = await layerListing('wh:1', 2);
  assert.ok(l.includes('.wh.gone'), l.join(' '));
  assert.ok(l.includes('d/.wh..wh..opq'), l.join(' '));
  assert.ok(l.includes('d/n'));
  assert.ok(!l.some((p) => p.startsWith('etc/') || p.startsWith('proc') || p.startsWith('dev')), 'no init-layer files: ' + l.join(' '));
});

test('a secret is readable in its RUN but never in a layer, the history or the config', async () => {
  const secretFile = join(ctx, 'token.txt');
  await writeFile(secretFile, 's3cr3t-value');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nRUN --mount=type=secret,id=tok cat /run/secrets/tok | wc -c > /len\n');
  await env.build({ context: ctx, tags: ['sec:1'], secrets: [{ id: 'tok', src: secretFile }] });
  const img = await env.store.image('sec:1');
  const l = await layerListing('sec:1', 1);
  // Only /len (plus the /dev, /proc, /sys mountpoints busybox lacks, as BuildKit keeps them): no run/secrets stub.
  assert.deepEqual(l.sort(), ['dev/', 'len', 'proc/', 'sys/'], l.join(' '));
  const { stdout } = await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers[1]!.digest), 'len']);
  assert.equal(stdout.trim(), '12');
  for (const d of img.manifest.layers) {
    const { stdout: all } = await run('sh', ['-c', `gzip -dc < ${env.store.blobPath(d.digest)} | grep -c s3cr3t || true`]);
    assert.equal(all.trim(), '0');
  }
  assert.ok(!JSON.stringify(img.config).includes('s3cr3t'));
});

test('a cache mount keeps its contents between builds and is not in the layer', async () => {
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nARG N\nRUN --mount=type=cache,target=/var/cache/app sh -c "echo $N >> /var/cache/app/log; cat /var/cache/app/log > /seen"\n');
  await env.build({ context: ctx, tags: ['cm:1'], buildArgs: { N: 'one' } });
  await env.build({ context: ctx, tags: ['cm:2'], buildArgs: { N: 'two' } });
  const img = await env.store.image('cm:2');
  const { stdout } = await run('tar', ['-xzOf', env.store.blobPath(img.manifest.layers[1]!.digest), 'seen']);
  assert.equal(stdout, 'one\ntwo\n');
  const l = await layerListing('cm:2', 1);
  assert.ok(!l.some((p) => p.startsWith('var/cache')), l.join(' '));
});

test('--target builds only the stages it needs; ONBUILD triggers run in the child', async () => {
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest AS unused',
    'RUN exit 1',
    'FROM busybox:latest AS base',
    'ONBUILD RUN echo triggered > /onbuild',
    'RUN echo base > /base',
    'FROM busybox:latest AS other',
    'RUN echo other > /other',
    'FROM base AS final',
    'COPY --from=other /other /other',
    '',
  ].join('\n'));
  const r = await env.build({ context: ctx, tags: ['tg:base'], target: 'base' });
  assert.deepEqual(r.config.config?.OnBuild, ['RUN echo triggered > /onbuild']);
  const f = await env.build({ context: ctx, tags: ['tg:final'], target: 'final' });
  assert.ok(!f.events.some((e) => e.type === 'step.start' && /exit 1/.test(e.name)), 'the unused stage did not run');
  await writeFile(join(ctx, 'Dockerfile.child'), 'FROM tg:base\nRUN cat /onbuild /base > /both\n');
  const c = await env.build({ context: ctx, dockerfile: join(ctx, 'Dockerfile.child'), tags: ['tg:child'] });
  assert.equal(c.config.config?.OnBuild ?? null, null, 'triggers do not carry over');
  const img = await env.store.image('tg:child');
  const last = img.manifest.layers[img.manifest.layers.length - 1]!;
  const { stdout } = await run('tar', ['-xzOf', env.store.blobPath(last.digest), 'both']);
  assert.equal(stdout, 'triggered\nbase\n');
  void readFile;
});
