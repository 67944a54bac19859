/** nearest(stepId) returns the latest build of a step with its per-file detail; prune drops old and least recently used records. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheStore, RACY_MARGIN_MS, StatCache, explainMiss, hashSources, stepKey, type CacheRecord, type StepInputs } from '../../cache/index.js';
import { digestOf, type Digest } from '../../layer-store/core/index.js';

function rec(inputs: StepInputs, layer?: { digest: Digest; size: number }, at = 1000): CacheRecord {
  return {
    key: stepKey(inputs),
    inputs,
    result: layer ? { emptyLayer: false, layer: { ...layer, diffId: digestOf(`diff ${layer.digest}`), mediaType: 'application/vnd.oci.image.layer.v1.tar' } } : { emptyLayer: true },
    createdAt: at,
    lastUsedAt: at,
  };
}

test('a COPY miss is explained against the nearest previous build, naming the edited file', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-root-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(ctx, 'src'));
  await writeFile(join(ctx, 'src', 'a.ts'), 'a');
  await writeFile(join(ctx, 'src', 'b.ts'), 'b');
  await sleep(RACY_MARGIN_MS + 50);
  const store = await CacheStore.open(join(root, 'cache'));
  const stat = await StatCache.open(join(root, 'cache'), { name: ctx });
  const sel = { paths: ['src', 'src/a.ts', 'src/b.ts'] };
  const inputs = (sources: StepInputs['sources']): StepInputs => ({
    v: 1, parent: digestOf('p'), parentKind: 'step', instruction: 'COPY src/ /app/', platform: 'linux/amd64', env: [], mounts: [], stepId: 'app/2',
    ...(sources ? { sources } : {}),
  });
  const first = inputs(await hashSources(ctx, sel, stat));
  await store.put(rec(first, { digest: digestOf('l1'), size: 5 }));
  assert.ok(await store.get(stepKey(first)), 'hit for unchanged inputs');

  await writeFile(join(ctx, 'src', 'b.ts'), 'b changed');
  const now = inputs(await hashSources(ctx, sel, stat));
  assert.equal(await store.get(stepKey(now)), undefined, 'an edited file is a miss');
  const nearest = await store.nearest('app/2');
  assert.ok(nearest);
  assert.equal(Object.keys(nearest.inputs.sources?.files ?? {}).length, 3, 'per-file detail comes back with the nearest record');
  const why = explainMiss(now, nearest.inputs);
  assert.equal(why.kind, 'file');
  assert.equal(why.kind === 'file' && why.path, 'src/b.ts');
  assert.equal(await store.nearest('other/1'), undefined);
});

test('prune: older-than drops stale records; keep-bytes drops least recently used first and counts shared layers once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await CacheStore.open(dir);
  const mk = (n: string): StepInputs => ({ v: 1, parent: digestOf('p'), instruction: `RUN ${n}`, platform: 'linux/amd64', env: [], mounts: [], stepId: `s/${n}` });
  const shared = { digest: digestOf('shared'), size: 1_000_000 };
  const a = rec(mk('a'), shared);
  const b = rec(mk('b'), shared);
  const c = rec(mk('c'), { digest: digestOf('c'), size: 2_000_000 });
  const d = rec(mk('d'), { digest: digestOf('d'), size: 3_000_000 });
  for (const r of [a, b, c, d]) await store.put(r);
  const DAY = 86_400_000;
  const now = Date.now();
  await store.touch(a.key, now - 10 * DAY);
  await store.touch(b.key, now - 3 * DAY);
  await store.touch(c.key, now - 2 * DAY);
  await store.touch(d.key, now - 1 * DAY);

  const usage = await store.usage();
  assert.equal(usage.records, 4);
  assert.equal(usage.layerBytes, 6_000_000);

  const r1 = await store.prune({ olderThanMs: 7 * DAY, now });
  assert.deepEqual(r1.removed, [a.key]);
  assert.deepEqual(r1.releasedLayers, [], 'the shared layer is still used by b');
  assert.equal(await store.get(a.key), undefined);
  assert.equal(await store.nearest('s/a'), undefined, 'the step index of a pruned record is gone');

  const r2 = await store.prune({ keepBytes: 4_000_000, now });
  assert.deepEqual(r2.removed, [b.key, c.key], 'least recently used first, until the rest fits');
  assert.deepEqual(r2.releasedLayers, [shared.digest, digestOf('c')]);
  assert.ok(r2.keptBytes <= 4_000_000);
  assert.ok(await store.get(d.key));
  assert.equal((await readdir(join(dir, 'steps'))).length, 1);

  await store.touch(d.key, now);
  const r3 = await store.prune({ olderThanMs: DAY / 2, now });
  assert.deepEqual(r3.removed, [], 'touch refreshes the LRU time');
});
