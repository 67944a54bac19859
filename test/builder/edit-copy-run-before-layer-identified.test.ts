import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { formatError, type BuildEvent, type Digest } from '../../layer-store/index.js';
import { textSeeded } from '../../bench/workloads.js';
import { assertFailedBuildLeftNothing, buildThenEditTwice, DOCKERFILE, EPOCH as epoch } from './edit-copy-kit.js';

// Lazy layer identity (builder/execute/workspace.ts commitUpper, layer-tree.ts): the RUN after an edited COPY runs
// on the COPY's tree where the COPY wrote it, while the COPY's layer is identified (its tar read and hashed) and
// compressed behind it; the tree becomes the layer's snapshot once identified and no step uses it. The image must be
// a cold build's; a failure of that deferred work must fail the build in one line naming the COPY, move no tag and
// leave a store that fsck finds consistent.


let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

/** 300 text files in 10 dirs. */
async function context(): Promise<string> {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-lazyid-'));
  for (let i = 0; i < 300; i++) {
    const dir = join(ctx, 'files', `d${i % 10}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.txt`), textSeeded(2_000 + (i % 13) * 300, i));
  }
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  return ctx;
}

/** Wraps the store's installSnapshot: `order` gets `install <dir's step kind> <diffID>`; `fail` may throw instead. */
function watchInstalls(env: BuildEnv, order: string[], fail?: (dir: string) => Error | undefined): () => void {
  const real = env.store.installSnapshot.bind(env.store);
  env.store.installSnapshot = async (dir: string, diffId: Digest) => {
    order.push(`install ${/\/copy-[^/]+\/upper$/.test(dir) ? 'copy' : 'other'} ${diffId}`);
    const e = fail?.(dir);
    if (e) throw e;
    return real(dir, diffId);
  };
  return () => { env.store.installSnapshot = real; };
}

const stepOrder = (order: string[]) => (e: BuildEvent): void => {
  if (e.type === 'step.start' && / RUN /.test(e.name)) order.push('run start');
};

test('the RUN after an edited COPY starts before the COPY\'s layer is identified, and the image equals a cold build\'s', async (t) => {
  const ctx = await context();
  const envs: BuildEnv[] = [];
  t.after(async () => {
    for (const e of envs) await e.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  const a = await makeBuildEnv(bb);
  envs.push(a);
  await buildThenEditTwice(a, ctx, 'lazy', 'txt');
  const order: string[] = [];
  const restore = watchInstalls(a, order);
  const warm = await a.build({ context: ctx, tags: ['lazy:2'], sourceDateEpoch: epoch, events: stepOrder(order) });
  restore();
  const copyDiffId = (await a.store.image('lazy:2')).config.rootfs.diff_ids[1]!;
  const install = order.indexOf(`install copy ${copyDiffId}`);
  assert.ok(install >= 0, `the COPY's tree was installed as its snapshot: ${order.join(', ')}`);
  assert.ok(install > order.indexOf('run start') && order.indexOf('run start') >= 0, `after the RUN had started: ${order.join(', ')}`);
  assert.ok((await a.store.existingSnapshot(copyDiffId)) !== undefined, 'the snapshot is in the store');

  const b = await makeBuildEnv(bb);
  envs.push(b);
  const cold = await b.build({ context: ctx, tags: ['lazy:cold'], sourceDateEpoch: epoch });
  const layers = async (env: BuildEnv, tag: string): Promise<string[]> => (await env.store.image(tag)).manifest.layers.map((l) => l.digest);
  assert.deepEqual(await layers(a, 'lazy:2'), await layers(b, 'lazy:cold'), 'the same layer blobs as a cold build');
  assert.equal(warm.imageDigest, cold.imageDigest, 'the same image as a cold build');
  // The next build finds the edited COPY's record and snapshot: a full hit.
  const again = await a.build({ context: ctx, tags: ['lazy:3'], sourceDateEpoch: epoch });
  assert.equal(again.imageDigest, warm.imageDigest);
  assert.ok(again.steps.every((s) => s.cached), JSON.stringify(again.steps));
});

test('a failure of the COPY\'s deferred work after the RUN ran fails the build in one line, moves no tag, leaves the store consistent', async (t) => {
  const ctx = await context();
  const env = await makeBuildEnv(bb);
  t.after(async () => {
    await env.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  await buildThenEditTwice(env, ctx, 'lazy', 'txt');
  const before = (await env.store.image('lazy:1')).manifest;
  const order: string[] = [];
  const restore = watchInstalls(env, order, (dir) => (/\/copy-[^/]+\/upper$/.test(dir) ? Object.assign(new Error('EIO: i/o error, rename (injected)'), { code: 'EIO' }) : undefined));
  const err = await env.build({ context: ctx, tags: ['lazy:1', 'lazy:2'], sourceDateEpoch: epoch, events: stepOrder(order) }).then(() => undefined, (e: unknown) => e);
  restore();
  assert.ok(err instanceof Error, 'the build failed');
  assert.ok(order.indexOf('run start') >= 0 && order.findIndex((x) => x.startsWith('install copy')) > order.indexOf('run start'), order.join(', '));
  const line = formatError(err);
  assert.match(line, /EIO: i\/o error, rename \(injected\)/, line);
  assert.match(line, /Dockerfile:2\b/, `names the COPY's line: ${line}`);
  assert.doesNotMatch(line, /\n/, 'one line');

  await assertFailedBuildLeftNothing(env, 'lazy:1', before, 'lazy:2');
  // The COPY's record was written once its blob was stored (what failed was moving its tree into place): the next
  // build takes both steps from the cache, unpacking the COPY's snapshot from that blob, and succeeds.
  const next = await env.build({ context: ctx, tags: ['lazy:2'], sourceDateEpoch: epoch });
  assert.ok(next.steps.length === 2 && next.steps.every((s) => s.cached), JSON.stringify(next.steps));
  const img = await env.store.image('lazy:2');
  for (const d of await env.store.references(img.descriptor)) assert.ok(await env.store.hasBlob(d), `blob ${d} missing`);
});

test('in a stage 30 layers deep a layer is identified and installed before the next step runs, and 53 lower dirs still mount', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-lazyid-deep-'));
  const env = await makeBuildEnv(bb);
  t.after(async () => {
    await env.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  await writeFile(join(ctx, 'a.txt'), 'a\n');
  // busybox (1 layer) + 30 WORKDIR layers: the COPY is made over 31 lower dirs, the RUN after it over 32; the last
  // RUN mounts 53, which fit in the mount's page only relative to the snapshots dir (runtime-exec overlay.ts).
  const deep = Array.from({ length: 30 }, (_, i) => `WORKDIR /w${i}`).join('\n');
  const more = Array.from({ length: 20 }, (_, i) => `WORKDIR /x${i}`).join('\n');
  await writeFile(join(ctx, 'Dockerfile'), `FROM busybox:latest\n${deep}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n${more}\nRUN test -d /w29 && test -d /x19 && cat /b.txt\n`);
  const order: string[] = [];
  const restore = watchInstalls(env, order);
  const r = await env.build({ context: ctx, tags: ['deep:1'], sourceDateEpoch: epoch, events: stepOrder(order) });
  restore();
  const img = await env.store.image('deep:1');
  assert.equal(img.manifest.layers.length, 54, 'busybox, 30 WORKDIRs, the COPY, the RUN, 20 WORKDIRs, the last RUN');
  const copyDiffId = img.config.rootfs.diff_ids[31]!;
  const install = order.indexOf(`install copy ${copyDiffId}`);
  assert.ok(install >= 0 && install < order.indexOf('run start'), `the COPY's snapshot was installed before the RUN started: ${order.join(', ')}`);
  assert.ok(r.steps.every((s) => !s.cached));
});
