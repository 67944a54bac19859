import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { busyboxTar, makeBuildEnv, type BuildEnv } from '../helpers/build-env.js';
import { formatError, type BuildEvent, type Logger } from '../../layer-store/index.js';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';
import { assertFailedBuildLeftNothing, buildThenEditTwice, DOCKERFILE, EPOCH as epoch } from './edit-copy-kit.js';

// An edited COPY of a tree bigger than the 32 MiB a layer may hold in memory (builder/execute/workspace.ts,
// DEFER_COMPRESSION_MAX_BYTES) still has its blob compressed behind the RUN that follows: only the new tar bytes are
// held, and the segments taken from the previous blob are read again from it when the blob is made
// (layer-store/layer/pack.ts diffToLayerDeferred). The blob must be a cold build's, byte for byte; a failure while
// it is made must fail the build, move no tag and leave a store that fsck finds consistent.

let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

/** ~37 MB in 600 files: four in five random (stored, quick to pack), the rest text. */
async function bigContext(): Promise<string> {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-bigedit-'));
  for (let i = 0; i < 600; i++) {
    const dir = join(ctx, 'files', `d${i % 20}`);
    await mkdir(dir, { recursive: true });
    const size = 60_000 + (i % 7) * 1000;
    await writeFile(join(dir, `f${i}.bin`), i % 5 === 0 ? textSeeded(size, i) : randomBytesSeeded(size, i));
  }
  await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
  return ctx;
}

function segmentLog(): Logger & { seen: { step: string; reused: number; compressed: number; unread: number }[] } {
  const seen: { step: string; reused: number; compressed: number; unread: number }[] = [];
  return {
    seen,
    debug: (msg, data) => { if (msg === 'layer segments') seen.push(data as { step: string; reused: number; compressed: number; unread: number }); },
    info: () => undefined,
    warn: () => undefined,
  };
}

test('an edited COPY over 32 MiB is compressed behind the RUN, and its image equals a cold build\'s', async (t) => {
  const ctx = await bigContext();
  const envs: BuildEnv[] = [];
  t.after(async () => {
    for (const e of envs) await e.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  const a = await makeBuildEnv(bb);
  envs.push(a);
  await buildThenEditTwice(a, ctx, 'big', 'bin'); // the edit rebuild records the segments' fingerprints
  const log = segmentLog();
  const events: BuildEvent[] = [];
  const warm = await a.build({ context: ctx, tags: ['big:2'], sourceDateEpoch: epoch, logger: log, events: (e) => events.push(e) });

  const copy = log.seen.find((x) => x.reused > 0);
  assert.ok(copy, JSON.stringify(log.seen));
  assert.ok(copy.unread >= 10 && copy.compressed <= 3, `the unchanged segments were taken unread (${JSON.stringify(copy)})`);
  // The COPY's blob was made after the RUN had started: its pack progress goes on past the RUN's start.
  const runStart = events.findIndex((e) => e.type === 'step.start' && / RUN /.test(e.name));
  const copyStart = events.findIndex((e) => e.type === 'step.start' && / COPY /.test(e.name));
  assert.ok(runStart > copyStart && copyStart >= 0, 'both steps ran');
  const copyId = (events[copyStart] as { id: string }).id;
  let lastPack = -1;
  events.forEach((e, i) => { if (e.type === 'transfer' && e.op === 'pack' && e.id === copyId) lastPack = i; });
  assert.ok(lastPack > runStart, `the COPY's blob was compressed behind the RUN (last pack event ${lastPack}, RUN start ${runStart})`);

  const b = await makeBuildEnv(bb);
  envs.push(b);
  const cold = await b.build({ context: ctx, tags: ['big:cold'], sourceDateEpoch: epoch });
  const layers = async (env: BuildEnv, tag: string): Promise<string[]> => (await env.store.image(tag)).manifest.layers.map((l) => l.digest);
  assert.deepEqual(await layers(a, 'big:2'), await layers(b, 'big:cold'), 'the same layer blobs as a cold build');
  assert.equal(warm.imageDigest, cold.imageDigest, 'the same image as a cold build');
});

test('a failure while the deferred blob is written fails the build in one line, moves no tag, leaves the store consistent', async (t) => {
  const ctx = await bigContext();
  const env = await makeBuildEnv(bb);
  t.after(async () => {
    await env.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  await buildThenEditTwice(env, ctx, 'big', 'bin');
  const before = (await env.store.image('big:1')).manifest;

  // The store's own putBlob, fed a stream that breaks after 1 MiB: only the COPY's layer blob is that big.
  const real = env.store.putBlob.bind(env.store);
  let broken = 0;
  env.store.putBlob = (body: Readable, ...rest) => {
    let n = 0;
    const breaking = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        if (n > 1 << 20) { broken++; cb(Object.assign(new Error('EIO: i/o error, write (injected)'), { code: 'EIO' })); } else cb(null, chunk);
      },
    });
    body.on('error', (e) => breaking.destroy(e));
    return real(body.pipe(breaking), ...rest);
  };
  const events: BuildEvent[] = [];
  const err = await env.build({ context: ctx, tags: ['big:1', 'big:2'], sourceDateEpoch: epoch, events: (e) => events.push(e) }).then(() => undefined, (e: unknown) => e);
  env.store.putBlob = real;
  assert.ok(err instanceof Error, 'the build failed');
  assert.equal(broken, 1, 'the COPY\'s blob was the one broken');
  const line = formatError(err);
  assert.match(line, /EIO: i\/o error, write \(injected\)/, line);
  assert.match(line, /Dockerfile:2\b/, `names the COPY's line: ${line}`);
  assert.doesNotMatch(line, /\n/, 'one line');
  // The RUN ran on the COPY's snapshot meanwhile: the blob was being written behind it.
  assert.ok(events.some((e) => e.type === 'step.start' && / RUN /.test(e.name)), 'the RUN ran while the blob was being written');

  await assertFailedBuildLeftNothing(env, 'big:1', before, 'big:2');
});
