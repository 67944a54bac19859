import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
const envs: BuildEnv[] = [];
let ctx: string;
before(async () => {
  bb = await busyboxTar();
  ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  await mkdir(join(ctx, 'src'));
  await writeFile(join(ctx, 'src', 'a.txt'), 'alpha\n');
  await writeFile(join(ctx, 'src', 'b.txt'), 'beta\n');
  await writeFile(join(ctx, 'Dockerfile'), [
    'FROM busybox:latest AS builder',
    'WORKDIR /work',
    'COPY src/ ./',
    'RUN cat a.txt b.txt > all.txt && mkdir -p out && cp all.txt out/ && touch out/stamp',
    'FROM busybox:latest',
    'COPY --from=builder /work/out /out',
    'RUN rm -rf /tmp && mkdir /tmp && chmod 1777 /tmp',
    'CMD ["cat", "/out/all.txt"]',
    '',
  ].join('\n'));
});
after(async () => {
  for (const e of envs) await e.cleanup();
  await bb?.cleanup();
  if (ctx) await rm(ctx, { recursive: true, force: true });
});

test('with SOURCE_DATE_EPOCH, a multi-stage build into two empty roots gives the same image digest', async () => {
  const digests: string[] = [];
  for (let i = 0; i < 2; i++) {
    const env = await makeBuildEnv(bb);
    envs.push(env);
    const r = await env.build({ context: ctx, tags: ['repro:1'], sourceDateEpoch: 1700000000 });
    digests.push(r.imageDigest);
    assert.equal(r.config.created, '2023-11-14T22:13:20.000Z');
    assert.ok(r.config.history!.slice(1).every((h) => h.created === '2023-11-14T22:13:20.000Z'), 'every history entry the build added uses the epoch');
    await new Promise((res) => setTimeout(res, 1100)); // a later second: without clamping, mtimes would differ
  }
  assert.equal(digests[0], digests[1]);
});

test('without SOURCE_DATE_EPOCH the layers (diffIDs) are still the same', async () => {
  const env = await makeBuildEnv(bb);
  envs.push(env);
  await writeFile(join(ctx, 'Dockerfile.copy'), 'FROM busybox:latest\nWORKDIR /app\nCOPY --chmod=640 src/ ./\nLABEL a=b\n');
  const a = await env.build({ context: ctx, dockerfile: join(ctx, 'Dockerfile.copy'), tags: ['repro:2'], cache: false });
  await new Promise((res) => setTimeout(res, 1100));
  const env2 = await makeBuildEnv(bb);
  envs.push(env2);
  const b = await env2.build({ context: ctx, dockerfile: join(ctx, 'Dockerfile.copy'), tags: ['repro:2'], cache: false });
  assert.equal(a.config.rootfs.diff_ids.length, 3);
  // Only times differ: GNU tar lists the same entries, modes, owners and sizes in both COPY layers.
  const listing = async (e: BuildEnv, digest: string): Promise<string[]> => {
    const { stdout } = await run('tar', ['-tvzf', e.store.blobPath(digest as never)]);
    return stdout.trim().split('\n').map((l) => { const f = l.split(/\s+/); return [f[0], f[1], f[2], ...f.slice(5)].join(' '); });
  };
  const la = await listing(env, (await env.store.image('repro:2')).manifest.layers[2]!.digest);
  const lb = await listing(env2, (await env2.store.image('repro:2')).manifest.layers[2]!.digest);
  assert.deepEqual(la, lb);
  assert.ok(la.some((l) => /^-rw-r----- 0\/0 6 app\/a\.txt$/.test(l)), la.join('\n'));
  assert.notEqual(a.config.created, b.config.created);
});
