import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { busyboxTar, makeBuildEnv, mountPoints, scratchLeft } from '../helpers/build-env.js';
import type { BuildEvent, Descriptor } from '../../layer-store/index.js';
import { textSeeded } from '../../bench/workloads.js';

// A step's layer is packed (and its cache record written) behind the steps after it (lazy layer identity,
// builder/execute/workspace.ts commitUpper). When a later step fails, that finished step's work goes on and its
// record lands, as BuildKit keeps a finished step's result: the next build, with the failing step fixed, takes the
// COPY from the cache instead of walking, copying and packing it again. Only the caller's signal stops it.
// The COPY's blob write is held until the RUN has failed (and the build's stage abort has fired), so the case does
// not depend on which of the two finishes first: before the fix the held write saw the abort and the record was lost.

let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

const dockerfile = (run: string): string => `FROM busybox:latest\nCOPY files/ /app/files/\nRUN ${run}\n`;

test('a RUN that fails after a COPY leaves the COPY\'s record: the fixed build takes the COPY from the cache', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-failkeep-'));
  const env = await makeBuildEnv(bb);
  t.after(async () => {
    await env.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  for (let i = 0; i < 40; i++) {
    await mkdir(join(ctx, 'files', `d${i % 4}`), { recursive: true });
    await writeFile(join(ctx, 'files', `d${i % 4}`, `f${i}.txt`), textSeeded(3_000 + i * 50, i));
  }
  await writeFile(join(ctx, 'Dockerfile'), dockerfile('echo failing on purpose; exit 3'));

  let failed = false;
  const held: string[] = [];
  const realPut = env.store.putBlob.bind(env.store);
  env.store.putBlob = async (body: Readable, want?: Partial<Descriptor>, o?: { signal?: AbortSignal }) => {
    held.push('put');
    for (let waited = 0; !failed && waited < 30_000; waited += 10) await sleep(10);
    await sleep(50); // the stage's rejection, and the build's abort of its other steps, come in the meantime
    return realPut(body, want, o);
  };
  const events = (e: BuildEvent): void => { if (e.type === 'step.done' && e.error !== undefined) failed = true; };
  await assert.rejects(env.build({ context: ctx, tags: ['keep:bad'], events }), (e: Error) => /did not complete successfully: exit code: 3/.test(e.message));
  env.store.putBlob = realPut;
  assert.ok(failed, 'the RUN failed');
  assert.ok(held.length >= 1, 'the COPY\'s blob was written after the RUN failed');
  assert.deepEqual(await mountPoints(env.root), [], 'no mount of this root left');
  assert.deepEqual(await scratchLeft(env.root), [], 'no scratch dir left');

  await writeFile(join(ctx, 'Dockerfile'), dockerfile('true'));
  const fixed = await env.build({ context: ctx, tags: ['keep:good'] });
  const copy = fixed.events.find((e): e is Extract<BuildEvent, { type: 'step.start' }> => e.type === 'step.start' && / COPY /.test(e.name));
  assert.ok(copy, 'the fixed build has a COPY step');
  const misses = fixed.events.filter((e): e is Extract<BuildEvent, { type: 'step.miss' }> => e.type === 'step.miss' && e.id === copy.id);
  assert.deepEqual(misses.map((m) => m.reason), [], 'the COPY is not run again');
  assert.ok(fixed.events.some((e) => e.type === 'step.cached' && e.id === copy.id), 'the COPY is a cache hit');
  assert.ok(fixed.events.some((e) => e.type === 'step.miss' && e.id !== copy.id), 'the fixed RUN runs');
});
