import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar, makeBuildEnv, mountPoints } from '../helpers/build-env.js';

let bb: Awaited<ReturnType<typeof busyboxTar>>;
before(async () => { bb = await busyboxTar(); });
after(async () => { await bb?.cleanup(); });

// COPY --from looks at the source stage's files only when the step runs (a cache hit mounts nothing of it), with
// the source view mounted beside the step's own overlay. A missing source must still fail with one error that
// names the stage, not the temporary mount, and leave no mount behind.
test('COPY --from a missing path names the stage and leaves no mount; a present one copies', async (t) => {
  const env = await makeBuildEnv(bb);
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-from-'));
  t.after(async () => {
    await env.cleanup();
    await rm(ctx, { recursive: true, force: true });
  });
  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest AS a\nRUN echo hi > /x\nFROM busybox:latest\nCOPY --from=a /nope /y\n');
  await assert.rejects(env.build({ context: ctx, tags: ['from:bad'] }), (e: Error) => {
    assert.match(e.message, /COPY source "\/nope": not found in a\b/);
    assert.doesNotMatch(e.message, /merged|view-/);
    return true;
  });
  assert.deepEqual(await mountPoints(env.root), []);

  await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox:latest AS a\nRUN echo hi > /x\nFROM busybox:latest\nCOPY --from=a /x /y\n');
  const ok = await env.build({ context: ctx, tags: ['from:ok'] });
  assert.equal(ok.steps.filter((s) => !s.cached).length, 1, 'only the COPY ran (the RUN was cached by the failed build)');
  const again = await env.build({ context: ctx, tags: ['from:ok'] });
  assert.ok(again.steps.every((s) => s.cached), 'a rebuild hits every step');
  assert.deepEqual(await mountPoints(env.root), []);
});
